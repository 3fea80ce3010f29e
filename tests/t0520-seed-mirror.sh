#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# t0520-seed-mirror.sh: port mirroring with tee into pktconv | tcpdump shows every frame that crossed each link of a chain.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd stdpkt pktconv tcpdump ping

# a --| tee -p mirror.a2b |--> b --| tee -p mirror.b2a |--> FIFO b2a --> a
# Each mirror FIFO is read as in the seed: a converter into pcap, then `tcpdump -r -`.
mkfifo b2a mirror.a2b mirror.b2a
timeout 40 pktconv -u -c -F pcap <mirror.a2b 2>a2b.count | timeout 40 tcpdump -enr - >a2b.dump 2>/dev/null &
m1=$!
timeout 40 pktconv -u -c -F pcap <mirror.b2a 2>b2a.count | timeout 40 tcpdump -enr - >b2a.dump 2>/dev/null &
m2=$!
timeout 40 stdpkt -c -I "$T/b2a",- -a 192.0.2.1/24 -o "$T/a.log" -- ping -c3 -W2 192.0.2.2 2>a.err |
	timeout 40 tee -p mirror.a2b |
	timeout 40 stdpkt -c -a 192.0.2.2/24 2>b.err |
	timeout 40 tee -p mirror.b2a >b2a
st=("${PIPESTATUS[@]}")
wait $m1 $m2
for f in a.err a.log b.err a2b.count b2a.count; do [ -s $f ] && sed "s/^/# $f: /" $f | tail -6; done

is "${st[0]}" 0 "stage a exits with ping's status 0"
ok "ping got its three replies" grep -q '3 packets transmitted, 3 received' a.log
is "${st[2]}" 0 "stage b ends by itself when its input ends"

# The mirrors show the conversation.
is "$(grep -c '(0x0800), length 98: 192\.0\.2\.1 > 192\.0\.2\.2: ICMP echo request' a2b.dump)" 3 "mirror a->b: three echo requests"
is "$(grep -c '(0x0800), length 98: 192\.0\.2\.2 > 192\.0\.2\.1: ICMP echo reply' b2a.dump)" 3 "mirror b->a: three echo replies"
ok "mirror a->b: the ARP request for 192.0.2.2" grep -q 'ARP.*Request who-has 192\.0\.2\.2 tell 192\.0\.2\.1' a2b.dump
ok "mirror b->a: the ARP reply" grep -q 'ARP.*Reply 192\.0\.2\.2 is-at' b2a.dump

# Frames and bytes: tcpdump's view of the mirror against pktconv's count of it.
for dir in a2b b2a; do
	read -r cn cb cbad < <(sed -n 's/^pktconv: \([0-9]*\) packets, \([0-9]*\) bytes, \([0-9]*\) bad$/\1 \2 \3/p' $dir.count)
	is "$(wc -l <$dir.dump | tr -d ' ')" "${cn:-none}" "mirror $dir: tcpdump shows every frame pktconv converted"
	is "$(awk '{ for (i = 1; i < NF; i++) if ($i == "length") { s += $(i + 1); break } } END { print s + 0 }' $dir.dump)" \
		"${cb:-none}" "mirror $dir: frame lengths in tcpdump add up to pktconv's byte count"
	is "${cbad:-none}" 0 "mirror $dir: no bad record"
done

# What crossed each link, as the stages count it (-c): the mirror must hold exactly those frames.
# stdpkt: eth0: rx N packets, N bytes, N bad; tx N packets, N bytes, N dropped
counts() { sed -n "s/^stdpkt: eth0: rx \([0-9]*\) packets, \([0-9]*\) bytes, [0-9]* bad; tx \([0-9]*\) packets, \([0-9]*\) bytes, \([0-9]*\) dropped$/\1 \2 \3 \4 \5/p" "$1"; }
read -r arx arxb atx atxb adrop < <(counts a.err)
read -r brx brxb btx btxb bdrop < <(counts b.err)
mirror() { sed -n 's/^pktconv: \([0-9]*\) packets, \([0-9]*\) bytes.*/\1 \2/p' "$1"; }
is "$(mirror a2b.count)" "${atx:-none} ${atxb:-none}" "mirror a->b holds what stage a sent (frames, bytes)"
is "$(mirror a2b.count)" "${brx:-none} ${brxb:-none}" "mirror a->b holds what stage b received"
is "$(mirror b2a.count)" "${btx:-none} ${btxb:-none}" "mirror b->a holds what stage b sent"
is "$(mirror b2a.count)" "${arx:-none} ${arxb:-none}" "mirror b->a holds what stage a received"
is "${adrop:-none} ${bdrop:-none}" "0 0" "neither stage dropped a frame"
done_testing
