#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0635-pktinetd-src-ipv6: one stack per client (-k src) for two clients sharing one server address, and IPv6 destinations booted on their neighbour solicitation.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd pktinetd stdpkt ping tee

counts() { grep -E '^pktinetd: (frames in|children started) ' "$2" | grep -o "$1 [0-9]*" | head -1 | awk '{ print $NF }'; }

# Two clients write into one FIFO (whole records), the replies go to both (each kernel keeps its own);
# tee -p goes on writing to one client when the other has ended.
mkfifo in r1 r2
timeout 30 pktinetd -k src -i 1 -c -v -- stdpkt -a 192.0.2.2/24 -m 02:00:00:00:00:02 -o srv%n.txt -- \
	sh -c 'ping -c1 -W3 %s >/dev/null && echo "reached %s"; sleep 1' <in 2>inetd.err | tee -p r1 >r2 &
timeout 30 stdpkt -a 192.0.2.1/24 -I r1,in -o c1.txt -- ping -c3 -i 0.2 -W3 192.0.2.2 2>c1.err &
timeout 30 stdpkt -a 192.0.2.3/24 -I r2,in -o c2.txt -- ping -c3 -i 0.2 -W3 192.0.2.2 2>c2.err &
wait
is "$(grep -c 'bytes from 192.0.2.2' c1.txt) $(grep -c 'bytes from 192.0.2.2' c2.txt)" "3 3" "both clients get their 3 replies"
is "$(counts 'children started' inetd.err)" 2 "two children, one per client"
is "$(grep -o "started [0-9]* for 'src-[0-9.]*'" inetd.err | awk '{ print $4 }' | sort | tr '\n' ' ')" \
	"'src-192.0.2.1' 'src-192.0.2.3' " "keyed by the clients' addresses (their ARP included)"
is "$(cat srv*.txt | sort | tr '\n' ' ')" "reached 192.0.2.1 reached 192.0.2.3 " \
	"each server stack reaches its own client by %s (its ARP reply came back to it)"

# IPv6: the neighbour solicitation for each address boots its stack.
timeout 30 stdpkt -a 2001:db8::1/64 -I r1,- -o p6.txt -- sh -c \
	'for i in a b c d e; do ping -c1 -W3 2001:db8::$i & done; wait; sleep 1.5' |
	timeout 30 pktinetd -k dst -i 0.5 -c -v -- stdpkt -a %d/64 2>inetd6.err >r1
is "$(grep -c 'bytes from 2001:db8::' p6.txt)" 5 "5 IPv6 addresses answered"
is "$(grep -o "started [0-9]* for 'dst-2001:db8::[a-e]'" inetd6.err | wc -l)" 5 "each by a stack booted for it"
is "$(counts 'ended idle' inetd6.err)" 5 "all ended idle"
done_testing
