#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0601-chain-filters: awk, sed, grep and tee between two stages keep the forward path; returns go around them.
. "$(dirname "$0")/lib.sh"
export STDPKT_RUNDIR=$T/run

# Frames to 192.0.2.1..192.0.2.4 in turn; the grep below keeps those to .2 only (C0 00 02 02).
pktgen -c 200 -s 80 -D 192.0.2.1-192.0.2.4 > frames.txt || exit 1
grep 'C0 00 02 02 00 09' frames.txt > only2.txt
ok "the grep fixture keeps a quarter of the frames" test "$(wc -l < only2.txt)" = 50

# run NAME FILTER EXPECTED: first stage | FILTER | echoing last stage.
run() {
	local name=$1 filter=$2 want=$3
	timeout 20 bash -c "pktlink -v -o ret-$name.txt < frames.txt 2>e1-$name | $filter | pktlink -v -e > out-$name.txt 2>e2-$name"
	ok "$name: exit 0" test $? = 0
	cmp_files "out-$name.txt" "$want" "$name: forward frames went through the filter"
	cmp_files "ret-$name.txt" "$want" "$name: returns reached the first stage around the filter"
	ok "$name: both stages see a link through 1 filter" \
		test "$(cat e1-$name e2-$name | grep -c 'filtered: met pktlink [0-9]* through 1 filter$')" = 2
}
run awk "awk -W interactive '{ print }'" frames.txt
run sed "sed -u 's/^020000000002 /020000000002 /'" frames.txt
run grep "grep --line-buffered 'C0 00 02 02 00 09'" only2.txt
run tee "tee mirror.txt" frames.txt
cmp_files mirror.txt frames.txt "tee: the mirror file holds every forward frame"

# A filter that rewrites: awk changes the destination MAC on the way; the echo carries the rewrite back.
timeout 20 bash -c "pktlink -o ret-mac.txt < frames.txt | awk -W interactive '{ \$1 = \"02AA00000001\"; print }' | pktlink -e > out-mac.txt"
sed 's/^020000000002 /02AA00000001 /' frames.txt > want-mac.txt
cmp_files out-mac.txt want-mac.txt "awk rewrite: forward frames rewritten"
cmp_files ret-mac.txt want-mac.txt "awk rewrite: the rewritten frames come back"

# Two filters in a row, and a middle stage with a filter on each side.
timeout 20 bash -c "pktlink -v -o ret-2f.txt < frames.txt 2>g1 | sed -u p | awk -W interactive '{ print }' | pktlink -v -e > out-2f.txt 2>g2"
sed p frames.txt > twice.txt
cmp_files out-2f.txt twice.txt "two filters: sed doubled every frame, awk kept them"
cmp_files ret-2f.txt twice.txt "two filters: all 400 came back"
ok "two filters: counted as 2" grep -q 'through 2 filters$' g1
timeout 20 bash -c "pktlink -v -o ret-3s.txt < frames.txt 2>h1 | cat | pktlink -v 2>h2 | grep --line-buffered 'C0 00 02 02 00 09' | pktlink -v -e > out-3s.txt 2>h3"
cmp_files out-3s.txt only2.txt "three stages, two filters: forward"
cmp_files ret-3s.txt only2.txt "three stages, two filters: return through the middle stage"
ok "middle stage: filtered on both sides" \
	test "$(grep -c -E '^pktlink: (up|down) filtered: met pktlink [0-9]* through 1 filter$' h2)" = 2
done_testing
