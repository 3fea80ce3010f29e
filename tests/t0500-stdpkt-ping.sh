#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# t0500-stdpkt-ping.sh: two stages joined by a pipe and a FIFO ping each other over IPv4 and IPv6; a stage without a command answers.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd stdpkt pktconv ping

mkfifo b2a
# a pings b; b has no command and ends when a's output (its input) ends.
timeout 30 stdpkt -a 192.0.2.1/24 -o "$T/a.log" -- ping -c3 -i0.2 -W2 192.0.2.2 <b2a 2>a.err |
	tee -p a2b.txt | timeout 30 stdpkt -c -a 192.0.2.2/24 2>b.err | tee -p b2a.txt >b2a
st=("${PIPESTATUS[@]}")
for f in a.err a.log b.err; do [ -s $f ] && sed "s/^/# $f: /" $f | tail -3; done
is "${st[0]}" 0 "the pinging stage exits with ping's status 0"
is "${st[2]}" 0 "the stage without a command ends by itself, status 0, when its input ends"
ok "ping got all three IPv4 replies" grep -q '3 packets transmitted, 3 received' a.log
is "$(pktconv -F pcap a2b.txt | tcpdump -nr - 2>/dev/null | grep -c 'ICMP echo request')" 3 "three echo requests on a -> b"
is "$(pktconv -F pcap b2a.txt | tcpdump -nr - 2>/dev/null | grep -c 'ICMP echo reply')" 3 "three echo replies on b -> a"
# Interfaces without an IPv6 address carry no IPv6 at all (no DAD, MLD or router solicitations).
is "$(awk '$3 == "86DD"' a2b.txt b2a.txt | wc -l | tr -d ' ')" 0 "no IPv6 frame on an IPv4-only link"
# -c counts: what b read is what a wrote, record for record.
is "$(sed -n 's/.*eth0: rx \([0-9]*\) packets.*/\1/p' b.err)" "$(grep -c . a2b.txt)" "b's rx count equals the frames on a -> b"
is "$(sed -n 's/.*; tx \([0-9]*\) packets.*/\1/p' b.err)" "$(grep -c . b2a.txt)" "b's tx count equals the frames on b -> a"

# IPv6 both ways, on one stage given both families, the other only IPv6.
rm -f b2a; mkfifo b2a
timeout 30 stdpkt -a 192.0.2.1/24 -a 2001:db8::1/64 -o "$T/a6.log" -- \
	sh -c 'ping -6 -c3 -i0.2 -W2 2001:db8::2 && ping -c1 -W2 192.0.2.2' <b2a 2>a6.err |
	timeout 30 stdpkt -a 2001:db8::2/64 -a 192.0.2.2/24 >b2a 2>b6.err
st=("${PIPESTATUS[@]}")
for f in a6.err a6.log b6.err; do [ -s $f ] && sed "s/^/# $f: /" $f | tail -3; done
is "${st[0]}" 0 "IPv6 then IPv4 ping stage exits 0"
ok "ping -6 got all three replies" grep -q '3 packets transmitted, 3 received' a6.log
ok "and the IPv4 ping on the same link too" grep -q '1 packets transmitted, 1 received' a6.log
is "${st[1]}" 0 "the IPv6 peer stage ends with status 0"
done_testing
