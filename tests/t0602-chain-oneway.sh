#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0602-chain-oneway: with no stage next to it (file, FIFO, another program) a stage is one-way at once, as before.
. "$(dirname "$0")/lib.sh"
export STDPKT_RUNDIR=$T/run

pktgen -c 100 -s 70 > frames.txt || exit 1
ms() { date +%s%3N; }

# oneway NAME CMD: CMD must copy frames.txt to out-NAME.txt one-way, without waiting for the
# 20 s meeting timeout (a 5 s bound checks the logic, not the speed), each stage reporting none.
oneway() {
	local name=$1 cmd=$2 t0 t1
	t0=$(ms)
	timeout 30 bash -c "$cmd" 2>"e-$name"
	ok "$name: exit 0" test $? = 0
	t1=$(ms)
	cmp_files "out-$name.txt" frames.txt "$name: frames pass one-way"
	ok "$name: no link found" test "$(grep -c -E '^pktlink: (up|down) none' "e-$name")" -ge 2 -a \
		"$(grep -c -E '^pktlink: (up|down) (direct|filtered)' "e-$name")" = 0
	ok "$name: no waiting for a meeting ($((t1 - t0)) ms, timeout 20000)" test $((t1 - t0)) -lt 5000
	diag "$name: $(grep 'met in' "e-$name" | tr '\n' ' ')"
}
oneway file "pktlink -v -t 20000 < frames.txt > out-file.txt"
oneway cat-in "cat frames.txt | pktlink -v -t 20000 > out-cat-in.txt"
oneway cat-out "pktlink -v -t 20000 < frames.txt | cat > out-cat-out.txt"
oneway cat-both "cat frames.txt | pktlink -v -t 20000 | cat > out-cat-both.txt"
oneway subshell "( cat frames.txt ) | pktlink -v -t 20000 > out-subshell.txt"
oneway slow-writer "{ sleep 0.5; cat frames.txt; } | pktlink -v -t 20000 > out-slow-writer.txt"
oneway awk-between-none "awk '{ print }' frames.txt | pktlink -v -t 20000 | awk -W interactive '{ print }' > out-awk-between-none.txt"
mkfifo fifo
oneway fifo "cat frames.txt > fifo & pktlink -v -t 20000 < fifo > out-fifo.txt; wait"
ok "fifo: reported as not an anonymous pipe" grep -q '^pktlink: up none: chain start: stdin is not an anonymous pipe' e-fifo

# -1 turns the meeting off on both sides.
timeout 20 bash -c "pktlink -1 -v < frames.txt 2>o1 | pktlink -1 -v > out-1.txt 2>o2"
cmp_files out-1.txt frames.txt "-1: frames pass one-way"
ok "-1: nothing looked for" test "$(cat o1 o2 | grep -c 'none: not looked for')" = 4

# A stage that does not take part (-1) holds up its neighbour only up to the timeout, then one-way.
timeout 20 bash -c "{ cat frames.txt; sleep 1; } | pktlink -1 | pktlink -v -t 300 > out-t.txt 2>o3"
cmp_files out-t.txt frames.txt "silent neighbour: frames still pass one-way"
ok "silent neighbour: reported, with the timeout" grep -q 'did not meet us within 300 ms' o3
done_testing
