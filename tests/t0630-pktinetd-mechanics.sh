#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0630-pktinetd-mechanics: one child per key in each key mode, frames in == frames out per key, template words, formats, bad input.
. "$(dirname "$0")/lib.sh"
need_cmd pktinetd pktgen tcpdump

# `cat` as the template: each child echoes its key's frames, so what comes out is what went in.
counts() { grep -E '^pktinetd: (frames in|children started) ' "$2" | grep -o "$1 [0-9]*" | head -1 | awk '{ print $NF }'; }

pktgen -c 500 -D 192.0.2.10-192.0.2.19 >in.txt
timeout 20 pktinetd -k dst -c -v -- cat <in.txt >out.txt 2>err.txt
is "$?" 0 "dst mode: exits 0 when the input and every child have ended"
is "$(sort out.txt | md5sum)" "$(sort in.txt | md5sum)" "dst mode: the 500 frames come back, byte for byte"
is "$(counts 'children started' err.txt)" 10 "dst mode: one child per destination (10)"
is "$(grep -c "started .* for 'dst-192.0.2.1[0-9]'" err.txt)" 10 "dst mode: -v names each key"
is "$(counts 'exited' err.txt)" 10 "all 10 children exited by themselves at the end of input"
for a in 10 15 19; do
	is "$(grep -c " C0 00 02 $(printf %02X $a) " out.txt)" 50 "dst mode: 50 frames for 192.0.2.$a"
done
# Per key the order is kept: each child's share of the output is its share of the input, in order.
grep ' C0 00 02 0D ' in.txt >k13.in; grep ' C0 00 02 0D ' out.txt >k13.out
cmp_files k13.in k13.out "dst mode: one key's frames keep their order"

pktgen -c 300 -S 192.0.2.100-192.0.2.105 >in.txt
timeout 20 pktinetd -k src -c -- cat <in.txt >out.txt 2>err.txt
is "$(sort out.txt | md5sum)" "$(sort in.txt | md5sum)" "src mode: all frames come back"
is "$(counts 'children started' err.txt)" 6 "src mode: one child per source (6)"

pktgen -c 400 -p tcp -P 1000-1019 -Q 80 >in.txt
timeout 20 pktinetd -k flow -c -- cat <in.txt >out.txt 2>err.txt
is "$(sort out.txt | md5sum)" "$(sort in.txt | md5sum)" "flow mode: all frames come back"
is "$(counts 'children started' err.txt)" 20 "flow mode: one child per 5-tuple (20 source ports)"

# Both directions of a flow are one key.
{ pktgen -c 1 -p udp -S 192.0.2.1 -D 192.0.2.2 -P 5000 -Q 53; pktgen -c 1 -p udp -S 192.0.2.2 -D 192.0.2.1 -P 53 -Q 5000; } |
	timeout 10 pktinetd -c -- cat >/dev/null 2>err.txt
is "$(counts 'children started' err.txt)" 1 "flow mode: a reply belongs to its request's flow"

# Template words, from the first frame of the key.
pktgen -c 1 -p udp -S 192.0.2.1 -D 192.0.2.2 -P 9 -Q 7 |
	timeout 10 pktinetd -- sh -c 'echo "%s %d %S %D %P %k %n %%" >words.txt; exec cat' >/dev/null
is "$(cat words.txt)" "192.0.2.1 192.0.2.2 9 7 udp udp-192.0.2.1-9-192.0.2.2-7 1 %" "template words %s %d %S %D %P %k %n %%"
pktgen -c 1 -p udp -6 -S 2001:db8::1 -D 2001:db8::2 -P 9 -Q 7 |
	timeout 10 pktinetd -k dst -- sh -c 'echo "%s %d %k" >words.txt; exec cat' >/dev/null
is "$(cat words.txt)" "2001:db8::1 2001:db8::2 dst-2001:db8::2" "IPv6 addresses in template words"

# Formats: the output follows the input's unless -F says otherwise.
pktgen -c 100 -F pcap -D 192.0.2.10-192.0.2.13 | timeout 10 pktinetd -k dst -- cat >out.pcap
is "$(tcpdump -r out.pcap -n 2>/dev/null | wc -l)" 100 "pcap in, pcap out (tcpdump reads 100 frames)"
pktgen -c 100 -F pcap -D 192.0.2.10-192.0.2.13 | timeout 10 pktinetd -k dst -F ascii -- cat >out.txt
pktgen -c 100 -D 192.0.2.10-192.0.2.13 >in.txt
is "$(sort out.txt | md5sum)" "$(sort in.txt | md5sum)" "-F ascii: pcap in, ASCII out, the same frames"
pktgen -c 50 -F vde -D 192.0.2.10-192.0.2.13 | timeout 10 pktinetd -k dst -F vde -- cat | pktconv -i vde -F ascii >out.txt 2>/dev/null
pktgen -c 50 -D 192.0.2.10-192.0.2.13 >in.txt
is "$(sort out.txt | md5sum)" "$(sort in.txt | md5sum)" "VDE in and out"

# Bad input: named, counted, skipped; the frames around it go through.
pktgen -c 20 -D 192.0.2.10-192.0.2.11 >good.txt
{ head -5 good.txt; echo "this is no frame"; sed -n 6,15p good.txt; echo "0200 zz"; tail -5 good.txt; } >mixed.txt
timeout 10 pktinetd -k dst -c -- cat <mixed.txt >out.txt 2>err.txt
is "$?" 0 "bad lines do not stop it"
is "$(sort out.txt | md5sum)" "$(sort good.txt | md5sum)" "the 20 good frames around 2 bad lines come back"
is "$(grep -c "^pktinetd: skipped bad record 'stdin': line [0-9]*" err.txt)" 2 "each bad line is reported with its line number"
is "$(counts 'bad' err.txt)" 2 "and counted"
# Frames that name no key: a truncated IPv4 header is dropped and counted; a non-IP frame is flooded.
{ echo "020000000002 020000000001 0800 45 00 00"; echo "020000000002 020000000001 88B5 00 01 02 03"; head -3 good.txt; } |
	timeout 10 pktinetd -k dst -c -- cat >out.txt 2>err.txt
is "$(counts 'unparsable' err.txt)" 1 "a truncated IPv4 header is counted as unparsable"
is "$(wc -l <out.txt)" 3 "the frames after it go through"
is "$(counts 'flooded' err.txt)" 1 "a non-IP frame with no child yet is flooded to none"
is "$(grep -o 'no child [0-9]*' err.txt)" "no child 1" "and counted as reaching no child"
# Random frames behind the ethertypes the classifier parses (IPv4, IPv6, ARP, VLAN), cut at every
# length from 14 to 100 bytes: nothing is read past a frame's end (the suite runs under ASan too),
# and each key mode reads all of them.
awk 'BEGIN { srand(630); split("0800 86DD 0806 8100 88A8 0800 86DD", ty, " ");
	for (i = 0; i < 500; i++) {
		n = 14 + i % 87; t = ty[1 + i % 7];
		printf "020000000002 0200000000%02X %s", i % 256, t
		for (j = 14; j < n; j++) {
			b = int(rand() * 256)
			if (j == 14 && t == "0800") b = 69 + 16 * int(rand() * 2) - 16 * int(rand() * 2)
			if (j == 14 && t == "86DD") b = 96
			if ((j == 16 || j == 20) && (t == "8100" || t == "88A8")) b = 8 * (rand() < 0.5) + 129 * 0
			printf " %02X", b
		}
		printf "\n" } }' >random.txt
for m in flow src dst; do
	timeout 20 pktinetd -k $m -n 4096 -c -- cat <random.txt >out.txt 2>err.txt
	r=$?
	in=$(counts 'frames in' err.txt) un=$(counts 'unparsable' err.txt)
	is "$r $in $((un + $(wc -l <out.txt) > 0))" "0 500 1" "-k $m: random frames, no crash, all 500 read"
done
done_testing
