#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0120-pktconv-split: pktconv reads every format identically whether its input arrives at once or one byte per write, and several pktconv writers can share one FIFO without tearing a record.
. "$(dirname "$0")/lib.sh"
need_cmd dd awk
[ -x "$BIN/pktconv" ] || skip_all "pktconv is not built"

# 300 frames of 14..1600 bytes and two jumbo frames, each with a timestamp; some lines in
# lowercase, with tabs, CRLF, comments and a bad line, as a person might write them.
awk 'BEGIN {
	srand(11)
	for (i = 0; i < 302; i++) {
		len = i < 300 ? 14 + int(rand() * 1587) : 9014
		line = sprintf("%016X %012X 02AA0000%04X 88B5", 1700000000000000000 + i * 1000, 0x02AA00000002, i)
		for (j = 14; j < len; j++) line = line sprintf(" %02X", (i * 7 + j) % 256)
		if (i % 50 == 3) { line = tolower(line); gsub(/ /, "\t", line) }
		if (i % 60 == 5) line = line "\r"
		if (i % 70 == 9) print "# comment"
		if (i == 100) print "FFFFFFFFFFFF 02AA00000001 0806 0G"
		print line
	}
}' >in.txt
pktconv -t <in.txt >canon.txt 2>/dev/null
is "$(wc -l <canon.txt)" 302 "the input holds 302 frames"
pktconv -F pcap <in.txt >ns.pcap 2>/dev/null
pktconv -F vde <in.txt >in.vde 2>/dev/null

# Splits at every byte: dd bs=1 writes one byte per write(2).
trickle() { timeout 60 dd bs=1 status=none <"$1"; }
for f in in.txt ns.pcap; do
	trickle $f | pktconv -t >split.txt 2>split.err
	pktconv -t <$f >bulk.txt 2>bulk.err
	cmp_files split.txt bulk.txt "$f one byte per write: the same output as a bulk read"
	cmp_files split.err bulk.err "$f one byte per write: the same messages"
	cmp_files bulk.txt canon.txt "$f: all 302 frames"
done
trickle in.vde | pktconv -i vde >split.txt
pktconv -i vde <in.vde >bulk.txt
cmp_files split.txt bulk.txt "vde one byte per write: the same output as a bulk read"
cut -d' ' -f2- canon.txt >canon-nots.txt
cmp_files bulk.txt canon-nots.txt "vde: all 302 frames (without times, which vde has no room for)"
if command -v editcap >/dev/null; then
	editcap -F pcapng ns.pcap ng.pcapng
	trickle ng.pcapng | pktconv -t >split.txt
	cmp_files split.txt canon.txt "pcapng (editcap) one byte per write: all 302 frames"
else
	skip "editcap not installed"
fi

# Several writers into one FIFO: each pktconv writes whole records of at most PIPE_BUF bytes,
# so the reader sees four pcap files interleaved record by record, headers and all.
mkfifo fifo
grep -v '^#' in.txt | awk 'NF < 3000' | head -200 >small.txt # records of at most 1616 bytes
pktconv -t <small.txt 2>/dev/null >small-canon.txt
ns=$(wc -l <small-canon.txt)
timeout 60 pktconv -t fifo >merged.txt 2>merged.err &
rd=$!
# The shell holds a write end too, so the reader cannot see an end before every writer has opened.
exec 3>fifo
pids=
for w in 1 2 3 4; do
	# Each writer marks its frames in the source MAC (02AA00000w..) so the reader can tell them apart.
	sed "s/^\([0-9A-F]* [0-9A-F]* 02AA0000\)../\10$w/" small-canon.txt | timeout 60 pktconv -F pcap -w fifo &
	pids="$pids $!"
done
wait $pids
exec 3>&-
wait $rd
is "$(wc -l <merged.txt)" "$((4 * ns))" "4 writers x $ns records through one FIFO: all arrive"
ok "no bad or torn record reported" test ! -s merged.err
sed "s/^\([0-9A-F]* [0-9A-F]* 02AA0000\)../\1??/" small-canon.txt >want
for w in 1 2 3 4; do
	grep "^[0-9A-F]* [0-9A-F]* 02AA00000$w" merged.txt | sed "s/^\([0-9A-F]* [0-9A-F]* 02AA0000\)../\1??/" >got.$w
	cmp_files got.$w want "writer $w's records arrive whole and in order"
done
done_testing
