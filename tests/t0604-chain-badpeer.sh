#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0604-chain-badpeer: a peer speaking garbage, a silent stage and a half-closed link are reported, never hang.
. "$(dirname "$0")/lib.sh"
export STDPKT_RUNDIR=$T/run
pktgen -c 100 -s 70 > frames.txt || exit 1

# Garbage instead of the handshake: refused with the reason; the forward pipe still carries the frames.
timeout 20 bash -c 'pktlink -G < frames.txt | pktlink -v > out-g.txt 2>e1'
ok "garbage: the stage still exits 0" test $? = 0
cmp_files out-g.txt frames.txt "garbage: frames pass one-way"
ok "garbage: reported as a bad handshake" \
	grep -q "^pktlink: meeting failed: upstream link: stage [0-9]*: bad handshake: no SPCHAIN magic" e1
ok "garbage: the link is none" grep -q '^pktlink: up none' e1

# A stage named pktlink that never meets: waited for up to -t only.
mkdir fake && ln -s "$(command -v sleep)" fake/pktlink
start=$(date +%s%3N)
timeout 20 bash -c 'fake/pktlink 1 | pktlink -v -n -t 400 2>e2'
end=$(date +%s%3N)
ok "silent stage: reported" grep -q 'did not meet us within 400 ms' e2
ok "silent stage: gave up at the timeout, not later ($((end - start)) ms with a 1 s writer)" test $((end - start)) -lt 10000
# Downstream too.
timeout 20 bash -c 'pktlink -v -n -t 400 2>e3 < /dev/null | fake/pktlink 1'
ok "silent downstream stage: reported" grep -q 'did not meet us within 400 ms' e3

# Half-closed: the first stage's input ends at once (a file), its forward direction closes,
# while the return direction stays open until the last frame has come back.
pktgen -c 2000 -s 200 > many.txt
timeout 20 bash -c 'pktlink -v -o ret.txt < many.txt 2>h1 | pktlink -v -e > out-h.txt 2>h2'
cmp_files out-h.txt many.txt "half-closed: all forward frames"
cmp_files ret.txt many.txt "half-closed: all 2000 return frames after the forward end"
done_testing
