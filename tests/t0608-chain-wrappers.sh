#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0608-chain-wrappers: stages started through env, nice, stdbuf, setpriv or timeout still meet their neighbours.
. "$(dirname "$0")/lib.sh"
export STDPKT_RUNDIR=$T/run
pktgen -c 100 -s 90 > frames.txt || exit 1

for w in "env X=1" "nice -n 1" "stdbuf -o0" "setpriv --inh-caps=-all" "timeout 20"; do
	name=${w%% *}
	timeout 30 bash -c "$w pktlink -v -o ret-$name.txt < frames.txt 2>a-$name | $w pktlink -v -e > out-$name.txt 2>b-$name"
	cmp_files "out-$name.txt" frames.txt "$name: forward"
	cmp_files "ret-$name.txt" frames.txt "$name: return"
	ok "$name: both stages linked directly" test "$(cat a-$name b-$name | grep -c -E '^pktlink: (up|down) direct')" = 2
done
# Wrapped stages around a filter, several pipelines at once.  (A forking wrapper such as timeout
# keeps its own copy of the stage's stdout: in front of a filter, the filter's input would then end
# only when the wrapper does -- see pktlink(1), NOTES.  So timeout wraps the last stage here.)
for i in 1 2 3 4; do
	timeout 30 bash -c "nice pktlink -o r$i.txt < frames.txt | sed -u p | timeout 20 pktlink -e > o$i.txt" &
done
wait
sed p frames.txt > twice.txt
bad=0
for i in 1 2 3 4; do cmp -s o$i.txt twice.txt && cmp -s r$i.txt twice.txt || bad=$((bad + 1)); done
is "$bad" 0 "four wrapped pipelines with a filter at once: every frame both ways"
done_testing
