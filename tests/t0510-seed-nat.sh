#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# t0510-seed-nat.sh: the seed's NAT chain host | nat | dest: replies come back and the far host sees only the NAT's address.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd stdpkt pktconv tcpdump ping
command -v iptables >/dev/null || command -v nft >/dev/null || skip_all "needs iptables or nft"

# Forward path: `|` with a tee on each link (the seed's mirror) so both sides of the NAT are on record;
# return paths: FIFOs, as in the seed.  The far host runs tcpdump on its eth0 as its command; the host
# pings only once that capture listens, so all six ICMP frames are caught.
mkfifo nat2host dest2nat
DEST=$NSPREFIX-dest
own_ns "$DEST"
timeout 40 stdpkt -I "$T/nat2host",- -a 192.0.2.1/24 -g 192.0.2.254 -o "$T/host.log" -- \
	sh -c 'for i in $(seq 200); do grep -qs listening "$0" && break; sleep 0.05; done
	       exec ping -c3 -W2 203.0.113.8' "$T/dest.log" 2>host.err |
	tee -p h2n.txt |
	timeout 40 stdpkt -I -,"$T/nat2host" -a 192.0.2.254/24 -I "$T/dest2nat",- -a 203.0.113.4/24 --nat 2>nat.err |
	tee -p n2d.txt |
	timeout 40 stdpkt -n "$DEST" -I -,"$T/dest2nat" -a 203.0.113.8/24 -g 203.0.113.4 -o "$T/dest.log" -- \
		timeout 20 tcpdump -Z root -U -i eth0 -w "$T/dest.pcap" -c 6 icmp 2>dest.err
st=("${PIPESTATUS[@]}")
for f in host.err host.log nat.err dest.err dest.log; do [ -s $f ] && sed "s/^/# $f: /" $f | head -8; done

is "${st[0]}" 0 "host stage exits with ping's status 0"
ok "ping on the host got all three replies" grep -q '3 packets transmitted, 3 received' host.log
is "${st[2]}" 0 "nat stage ends by itself once both its inputs end"
is "${st[4]}" 0 "dest stage exits with tcpdump's status 0 (six ICMP frames seen)"
ok "the dest stage's namespace name is gone after it exits" test ! -e "/run/netns/$DEST"

# What crossed each link, as tcpdump reads it.
pktconv -F pcap h2n.txt | tcpdump -nr - 2>/dev/null >h2n.dump
pktconv -F pcap n2d.txt | tcpdump -nr - 2>/dev/null >n2d.dump
tcpdump -nr dest.pcap 2>/dev/null >dest.dump
is "$(grep -c 'IP 192\.0\.2\.1 > 203\.0\.113\.8: ICMP echo request' h2n.dump)" 3 \
	"host -> nat link: three echo requests from 192.0.2.1"
is "$(grep -c 'IP 203\.0\.113\.4 > 203\.0\.113\.8: ICMP echo request' n2d.dump)" 3 \
	"nat -> dest link: three echo requests, source translated to 203.0.113.4"
is "$(grep -c '192\.0\.2\.' n2d.dump)" 0 "nat -> dest link: no 192.0.2.x address leaks past the NAT"
is "$(grep -c 'IP 203\.0\.113\.4 > 203\.0\.113\.8: ICMP echo request' dest.dump)" 3 \
	"tcpdump inside the far host: three requests from 203.0.113.4"
is "$(grep -c 'IP 203\.0\.113\.8 > 203\.0\.113\.4: ICMP echo reply' dest.dump)" 3 \
	"tcpdump inside the far host: three replies to 203.0.113.4"
is "$(grep -c '192\.0\.2\.' dest.dump)" 0 "tcpdump inside the far host: 192.0.2.1 never seen"

# The NAT rewrites addresses and checksums, never the ICMP data: compare the 56 data bytes of each
# echo request (IPv4 proto 01, ICMP type 08) before and after it.
payloads() { awk '$3 == "0800" && $13 == "01" && $24 == "08" { s = ""; for (i = NF - 55; i <= NF; i++) s = s $i; print s }' "$1"; }
payloads h2n.txt >h2n.data
payloads n2d.txt >n2d.data
is "$(wc -l <h2n.data | tr -d ' ')" 3 "three echo-request payloads on the host side"
cmp_files h2n.data n2d.data "the echo data crossed the NAT byte for byte"
done_testing
