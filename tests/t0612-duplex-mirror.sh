#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# t0612-duplex-mirror.sh: the seed's port mirror with plain pipes: tee copies one direction, the last stage's stdout the other, read by pktconv | tcpdump.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd stdpkt pktconv tcpdump ping

# a --| tee a2b.txt |-- b, replies on the link around tee; b's stdout is a file, so b also writes
# there every frame it sends back: the b -> a mirror.  No FIFO anywhere.
timeout 30 stdpkt -c -a 192.0.2.1/24 -o "$T/a.log" -- ping -c3 -i0.3 -W2 192.0.2.2 2>a.err |
	timeout 30 tee a2b.txt |
	timeout 30 stdpkt -c -a 192.0.2.2/24 >b2a.txt 2>b.err
st=("${PIPESTATUS[@]}")
for f in a.err a.log b.err; do [ -s $f ] && sed "s/^/# $f: /" $f | tail -4; done
is "${st[*]}" "0 0 0" "a exits with ping's 0, tee and b end by themselves"
ok "ping got its three replies" grep -q '3 packets transmitted, 3 received' a.log

pktconv -c -F pcap a2b.txt 2>a2b.count | tcpdump -enr - >a2b.dump 2>/dev/null
pktconv -c -F pcap b2a.txt 2>b2a.count | tcpdump -enr - >b2a.dump 2>/dev/null
is "$(grep -c 'length 98: 192\.0\.2\.1 > 192\.0\.2\.2: ICMP echo request' a2b.dump)" 3 "mirror a->b: three echo requests"
is "$(grep -c 'length 98: 192\.0\.2\.2 > 192\.0\.2\.1: ICMP echo reply' b2a.dump)" 3 "mirror b->a: three echo replies"
ok "mirror a->b: the ARP request for 192.0.2.2" grep -q 'ARP.*Request who-has 192\.0\.2\.2 tell 192\.0\.2\.1' a2b.dump
ok "mirror b->a: the ARP reply" grep -q 'ARP.*Reply 192\.0\.2\.2 is-at' b2a.dump
is "$(grep -c 'ICMP echo reply' a2b.dump)" 0 "mirror a->b: no reply (returns go around tee)"

# Counts in against counts out: what each stage says it sent and received equals the mirrors.
rx() { sed -n 's/^stdpkt: eth0: rx \([0-9]*\) packets, \([0-9]*\) bytes.*/\1 \2/p' "$1"; }
tx() { sed -n 's/^stdpkt: eth0: rx .*; tx \([0-9]*\) packets, \([0-9]*\) bytes.*/\1 \2/p' "$1"; }
cnt() { sed -n 's/^pktconv: \([0-9]*\) packets, \([0-9]*\) bytes, 0 bad$/\1 \2/p' "$1"; }
is "$(cnt a2b.count)" "$(tx a.err)" "a->b mirror: frames and bytes equal what a sent"
is "$(cnt a2b.count)" "$(rx b.err)" "a->b mirror: frames and bytes equal what b received"
is "$(cnt b2a.count)" "$(tx b.err)" "b->a mirror: frames and bytes equal what b sent"
is "$(cnt b2a.count)" "$(rx a.err)" "b->a mirror: frames and bytes equal what a received"
is "$(wc -l <a2b.dump | tr -d ' ') $(wc -l <b2a.dump | tr -d ' ')" "$(cnt a2b.count | cut -d' ' -f1) $(cnt b2a.count | cut -d' ' -f1)" \
	"tcpdump shows every mirrored frame"
done_testing
