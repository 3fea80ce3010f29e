#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# t0508-stdpkt-router.sh: a two-interface router stage from a -C config file, joined to two hosts by unix:PATH endpoints.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd stdpkt socat ping

# a 192.0.2.1 == socat == eth0 router eth1 == socat == b 198.51.100.2; each socat joins two UNIX
# listeners into one cable, and each stage uses one connection for both directions (unix:P,unix:P).
timeout 30 socat UNIX-LISTEN:"$T/a.sock" UNIX-LISTEN:"$T/r0.sock" 2>/dev/null &
timeout 30 socat UNIX-LISTEN:"$T/b.sock" UNIX-LISTEN:"$T/r1.sock" 2>/dev/null &
cat >r.conf <<CONF
# the router: one option per line, as on the command line
-I unix:$T/r0.sock,unix:$T/r0.sock
-a 192.0.2.254/24
-a 2001:db8:1::254/64
-I unix:$T/r1.sock,unix:$T/r1.sock   # the far side
-a 198.51.100.254/24
-a 2001:db8:2::254/64
-f
-c
CONF
timeout 30 stdpkt -C r.conf 2>r.err &
rp=$!
timeout 30 stdpkt -I unix:"$T/b.sock",unix:"$T/b.sock" -a 198.51.100.2/24 -a 2001:db8:2::2/64 \
	-g 198.51.100.254 -g 2001:db8:2::254 2>b.err &
bp=$!
timeout 30 stdpkt -I unix:"$T/a.sock",unix:"$T/a.sock" -a 192.0.2.1/24 -g 192.0.2.254 \
	-a 2001:db8:1::1/64 -g 2001:db8:1::254 -o "$T/a.log" -- \
	sh -c 'ping -c3 -i0.2 -W2 198.51.100.2 && ping -6 -c3 -i0.2 -W2 2001:db8:2::2' 2>a.err
ast=$?
sed 's/^/# a.log: /' a.log | tail -3
is "$ast" 0 "the host stage exits with ping's status 0"
ok "ping through the router got all three replies" grep -q '3 packets transmitted, 3 received' a.log
ok "the replies crossed one router hop (ttl 63)" grep -q 'from 198.51.100.2: icmp_seq=1 ttl=63' a.log
is "$(grep -c '3 packets transmitted, 3 received' a.log)" 2 "ping -6 through the router got all three replies too"
ok "the IPv6 replies crossed one hop (hop limit 63)" grep -q 'from 2001:db8:2::2: icmp_seq=1 ttl=63' a.log
# The router and b have no command: SIGTERM ends them, with their counts.
kill -TERM "$(pgrep -x -P $rp stdpkt)" "$(pgrep -x -P $bp stdpkt)"
wait $rp; rst=$?
wait $bp; bst=$?
is "$rst" 143 "the router stage ends on SIGTERM with 143"
is "$bst" 143 "the far host stage too"
ok "the router counted frames on eth0 (-c from the config file)" grep -q '^stdpkt: eth0: rx [1-9][0-9]* packets' r.err
ok "and on eth1" grep -q '^stdpkt: eth1: rx [1-9][0-9]* packets' r.err
done_testing
