#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# t0613-duplex-loadbalance.sh: the seed's load balancer with plain pipes: both servers on one segment of one-interface stages, and a real nth balancer (iptables) in front of them.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd stdpkt fping ping iptables

# 1. The seed's shape: the client's frames reach both servers, each answers its own.  A middle
# stage with one interface and two neighbours is a hub, so `client | srv1 | srv2` is one segment:
# srv1 passes what is not its own on to srv2 and srv2's answers back to the client.
timeout 40 stdpkt -a 192.0.2.1/24 -o "$T/client.log" -- fping -c 20 -p 25 -b 1000 -t 1000 192.0.2.2 192.0.2.3 2>c.err |
	timeout 40 stdpkt -c -a 192.0.2.2/24 2>s1.err |
	timeout 40 stdpkt -c -a 192.0.2.3/24 >/dev/null 2>s2.err
st=("${PIPESTATUS[@]}")
for f in c.err client.log s1.err s2.err; do [ -s $f ] && sed "s/^/# $f: /" $f | tail -4; done
is "${st[*]}" "0 0 0" "fping reached both servers (0); both servers end by themselves"
ok "server 192.0.2.2 answered all 20 pings" grep -q '^192\.0\.2\.2 *: xmt/rcv/%loss = 20/20/0%' client.log
ok "server 192.0.2.3 answered all 20 pings" grep -q '^192\.0\.2\.3 *: xmt/rcv/%loss = 20/20/0%' client.log
# srv2's stream carries every request (the hub passes srv1's on too, as a hub would), but its kernel
# answers only its own 20.
rx2=$(sed -n 's/^stdpkt: eth0: rx \([0-9]*\) packets.*/\1/p' s2.err)
tx2=$(sed -n 's/^stdpkt: eth0: rx .*; tx \([0-9]*\) packets.*/\1/p' s2.err)
ok "srv2's link carried both servers' requests ($rx2 >= 40) and its 20 replies ($tx2 >= 20)" \
	test "${rx2:-0}" -ge 40 -a "${tx2:-0}" -ge 20 -a "${tx2:-0}" -lt 40

# 2. A real balancer: lb's nat table sends every other new flow to 198.51.100.10 or .11 (iptables
# statistic nth), set by -x so lb has no command and ends with the chain.  The two servers differ
# by their default TTL (64 and 50), so the client can tell who answered each separate ping.
RULE="iptables -t nat -A PREROUTING -p icmp -d 192.0.2.254"
timeout 40 stdpkt -a 192.0.2.1/24 -g 192.0.2.254 -o "$T/lbc.log" -- \
	sh -c 'for i in $(seq 10); do ping -n -c1 -W2 192.0.2.254 || exit 1; done' 2>lbc.err |
	timeout 40 stdpkt -a 192.0.2.254/24 -a 198.51.100.1/24 -f \
		-x "$RULE -m statistic --mode nth --every 2 --packet 0 -j DNAT --to-destination 198.51.100.10" \
		-x "$RULE -j DNAT --to-destination 198.51.100.11" 2>lb.err |
	timeout 40 stdpkt -a 198.51.100.10/24 -g 198.51.100.1 2>lbs1.err |
	timeout 40 stdpkt -a 198.51.100.11/24 -g 198.51.100.1 -s net.ipv4.ip_default_ttl=50 >/dev/null 2>lbs2.err
st=("${PIPESTATUS[@]}")
for f in lbc.err lb.err lbs1.err lbs2.err; do [ -s $f ] && sed "s/^/# $f: /" $f | tail -4; done
grep 'bytes from' lbc.log | sed 's/^/# /'
is "${st[*]}" "0 0 0 0" "all ten pings answered; lb and both servers end with the chain"
is "$(grep -c 'bytes from 192\.0\.2\.254: icmp_seq=1 ttl=63 ' lbc.log)" 5 "server .10 (ttl 64, one hop) answered five flows"
is "$(grep -c 'bytes from 192\.0\.2\.254: icmp_seq=1 ttl=49 ' lbc.log)" 5 "server .11 (ttl 50, one hop) answered the other five"
done_testing
