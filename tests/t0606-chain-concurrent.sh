#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0606-chain-concurrent: many pipelines of one script (one process group) pair by pipe inode, never across.
. "$(dirname "$0")/lib.sh"
export STDPKT_RUNDIR=$T/run

N=8
for i in $(seq 1 $N); do
	# Distinct frames per pipeline: the source address says which one.
	pktgen -c $((20 + i)) -s 64 -S "198.51.100.$i" > "in$i.txt" || exit 1
done

# Without job control every pipeline is in the script's own process group.
for i in $(seq 1 $N); do
	if [ $((i % 2)) = 0 ]; then
		timeout 30 bash -c "pktlink -v -o ret$i.txt < in$i.txt 2>e$i.1 | pktlink -v -e > out$i.txt 2>e$i.2" &
	else
		timeout 30 bash -c "pktlink -v -o ret$i.txt < in$i.txt 2>e$i.1 | awk -W interactive '{ print }' | pktlink -v -e > out$i.txt 2>e$i.2" &
	fi
done
wait
bad=0
for i in $(seq 1 $N); do
	cmp -s "out$i.txt" "in$i.txt" && cmp -s "ret$i.txt" "in$i.txt" || { bad=$((bad + 1)); diag "pipeline $i mixed up"; }
done
is "$bad" 0 "$N concurrent pipelines of one process group: each got its own frames back"
linked=$(cat e*.1 e*.2 | grep -c -E '^pktlink: (up|down) (direct|filtered): met')
is "$linked" $((2 * N)) "every stage linked with its own neighbour"
# The pids each pair names must be the pair: stage 1 of pipeline i names stage 2 of pipeline i and back.
pairs=0
for i in $(seq 1 $N); do
	a=$(sed -n 's/^pktlink: down [a-z]*: met pktlink \([0-9]*\).*/\1/p' "e$i.1")
	b=$(sed -n 's/^pktlink: up [a-z]*: met pktlink \([0-9]*\).*/\1/p' "e$i.2")
	# Each names the other, so the two are distinct, and no pid appears in two pipelines.
	[ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ] && pairs=$((pairs + 1))
	echo "$a $b" >> pids
done
is "$pairs" $N "each pipeline's stages name each other"
is "$(tr ' ' '\n' < pids | sort | uniq -d | wc -l)" 0 "no stage was claimed by two pipelines"

# Each pipeline in its own session and process group (as a terminal's jobs are, or a service's).
rm -f out*.txt ret*.txt
for i in $(seq 1 $N); do
	timeout 30 setsid -w bash -c "pktlink -o ret$i.txt < in$i.txt | pktlink -e > out$i.txt" &
done
wait
bad=0
for i in $(seq 1 $N); do
	cmp -s "out$i.txt" "in$i.txt" && cmp -s "ret$i.txt" "in$i.txt" || bad=$((bad + 1))
done
is "$bad" 0 "one session per pipeline: $N pipelines each got their own frames back"
done_testing
