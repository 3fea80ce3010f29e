#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0605-chain-death: a stage killed mid-stream is seen by its neighbour as a broken link or an end, not a hang.
. "$(dirname "$0")/lib.sh"
export STDPKT_RUNDIR=$T/run

# peer_of FILE DIR: the pid the stage's -v report names for its DIR link.
peer_of() { sed -n "s/^pktlink: $2 [a-z]*: met pktlink \([0-9]*\).*/\1/p" "$1"; }

# Downstream killed: the upstream stage's writes fail with EPIPE and it exits 1 saying so.
timeout 30 bash -c 'pktgen -c 0 -r 2000 | pktlink -v -o ret1.txt 2>a1 | pktlink -v -e > out1.txt 2>a2; echo "${PIPESTATUS[1]}" > rc1' &
job=$!
wait_for 'grep -q "up direct" a2 2>/dev/null && test -s out1.txt' 5
victim=$(peer_of a1 down)
ok "downstream victim found ($victim)" test -n "$victim"
sleep 0.3
kill -9 "$victim"
wait "$job"
is "$(cat rc1)" 1 "upstream stage exits 1"
ok "upstream stage says the link broke" grep -q "^pktlink: relay failed 'forward': .*roken pipe" a1
ok "frames got through before the kill" test "$(wc -l < out1.txt)" -gt 10

# Upstream killed: the downstream stage sees the end of its link and finishes.
timeout 30 bash -c 'pktgen -c 0 -r 2000 | pktlink -v 2>b1 | pktlink -v -e > out2.txt 2>b2; echo "${PIPESTATUS[2]}" > rc2' &
job=$!
wait_for 'grep -q "down direct" b1 2>/dev/null && test -s out2.txt' 5
victim=$(peer_of b2 up)
ok "upstream victim found ($victim)" test -n "$victim"
sleep 0.3
kill -9 "$victim"
wait "$job"
ok "downstream stage ended by itself (exit $(cat rc2))" test "$(cat rc2)" = 0 -o "$(cat rc2)" = 1
ok "downstream stage counted what it relayed" grep -q '^pktlink: forward [1-9][0-9]* frames' b2

# A middle stage killed in a three-stage chain with a filter: both neighbours notice.
timeout 30 bash -c 'pktgen -c 0 -r 2000 | pktlink -v 2>c1 | cat | pktlink -v 2>c2 | pktlink -v -e > out3.txt 2>c3; echo "${PIPESTATUS[@]}" > rc3' &
job=$!
wait_for 'grep -q "up direct" c3 2>/dev/null && grep -q "down filtered" c1 2>/dev/null && test -s out3.txt' 5
victim=$(peer_of c3 up)
ok "middle victim found ($victim)" test -n "$victim"
sleep 0.3
kill -9 "$victim"
wait "$job"
ok "the whole chain ended ($(cat rc3))" test -s rc3
ok "the last stage finished its count" grep -q '^pktlink: forward' c3
done_testing
