#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# conv.sh: pktconv's ASCII decode, encode and pcap pass-through rates against text2pcap and tcpdump on the same 1,000,000 frames, in one run.
#
#   bench/conv.sh        N=1000000 frames of 60 bytes (64 on the wire); RUNS=5 for pktconv, PEER_RUNS=1
#
# decode:  pktconv -F pcap < frames.txt           vs  text2pcap -F pcap frames.od   (od -Ax -tx1 dumps)
# encode:  pktconv < frames.pcap                  vs  tcpdump -xx -r frames.pcap
# pcap->pcap pass-through: pktconv -F pcap         vs  tcpdump -r frames.pcap -w -
# The inputs are built once, outside the timing; outputs go to /dev/null; files live on tmpfs.
# Each figure is the best of its runs.  Issue targets: decode and encode >= 10 Mpps and >= 30x
# text2pcap, pass-through >= 20 Mpps.
set -u
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$SRCDIR/build/bin}
N=${N:-1000000}
RUNS=${RUNS:-5}
PEER_RUNS=${PEER_RUNS:-1}
[ -x "$BIN/pktconv" ] || { echo "conv: $BIN/pktconv not built (make)" >&2; exit 1; }
for c in text2pcap tcpdump awk; do
	command -v $c >/dev/null || { echo "conv: $c not installed (scripts/install-deps)" >&2; exit 1; }
done
D=$(mktemp -d /dev/shm/conv.XXXXXX) || exit 1
trap 'rm -rf "$D"' EXIT

# secs CMD: wall time of one shell command, in seconds, timed by the shell itself (no extra fork);
# a failing command ends the bench.
secs() {
	local TIMEFORMAT=%R t
	t=$( { time eval "$1" || echo "conv: failed: $1" >&2; } 2>&1 ) || exit 1
	case $t in *failed*) echo "$t" >&2; exit 1 ;; esac
	echo "$t"
}
best() { # best CMD RUNS
	local b="" t
	for _ in $(seq 1 "$2"); do
		t=$(secs "$1")
		b=$(awk -v a="$b" -v t="$t" 'BEGIN { print (a == "" || t < a) ? t : a }')
	done
	echo "$b"
}

# The frames: pktgen's UDP frames with a synthetic 1 Mpps clock if it is built, else an awk generator.
if [ -x "$BIN/pktgen" ]; then
	"$BIN/pktgen" -c "$N" -s 60 -T 1700000000000000000 -r 1000000 -F pcap >"$D/f.pcap" || exit 1
else
	awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) {
		printf "%016X 020000000002 020000000001 0800 45 00 00 2E %02X %02X", 1700000000000000000 + i * 1000, int(i / 256) % 256, i % 256
		for (j = 20; j < 60; j++) printf " %02X", (i + j) % 256
		printf "\n" } }' | "$BIN/pktconv" -F pcap >"$D/f.pcap" || exit 1
fi
"$BIN/pktconv" <"$D/f.pcap" >"$D/f.txt"
# text2pcap's input: each frame as `od -Ax -tx1` prints it (awk writes the same bytes as od, far faster).
awk '{ n = 0; line = ""; hex = $1 $2 $3; for (i = 4; i <= NF; i++) hex = hex $i
	for (k = 1; k <= length(hex); k += 2) {
		if (n % 16 == 0) { if (n) print line; line = sprintf("%06x", n) }
		line = line " " tolower(substr(hex, k, 2)); n++ }
	print line; printf "%06x\n", n }' "$D/f.txt" >"$D/f.od"
# Sanity, untimed: every tool sees N frames, and text2pcap's frames are ours.
got=$("$BIN/pktconv" -c -F pcap <"$D/f.txt" 2>&1 >/dev/null)
[ "$got" = "pktconv: $N packets, $((N * 60)) bytes, 0 bad" ] || { echo "conv: pktconv decode: $got" >&2; exit 1; }
head -1000 "$D/f.od" >"$D/s.od" # 200 frames of five lines
text2pcap -q -F pcap "$D/s.od" "$D/s.pcap" 2>/dev/null
"$BIN/pktconv" "$D/s.pcap" | cmp -s - <(head -200 "$D/f.txt") || { echo "conv: text2pcap input differs" >&2; exit 1; }

dec=$(best "$BIN/pktconv -F pcap < $D/f.txt > /dev/null" "$RUNS")
enc=$(best "$BIN/pktconv < $D/f.pcap > /dev/null" "$RUNS")
enct=$(best "$BIN/pktconv -t < $D/f.pcap > /dev/null" "$RUNS")
pass=$(best "$BIN/pktconv -F pcap < $D/f.pcap > /dev/null" "$RUNS")
t2p=$(best "text2pcap -q -F pcap $D/f.od $D/t2p.pcap 2>/dev/null" "$PEER_RUNS")
txx=$(best "tcpdump -nn -xx -r $D/f.pcap > /dev/null 2>&1" "$PEER_RUNS")
tpass=$(best "tcpdump -r $D/f.pcap -w - 2>/dev/null > /dev/null" "$PEER_RUNS")

awk -v n="$N" -v dec="$dec" -v enc="$enc" -v enct="$enct" -v pass="$pass" -v t2p="$t2p" -v txx="$txx" \
	-v tpass="$tpass" 'BEGIN {
	printf "%d frames of 60 bytes (64 on the wire); Mpps = million frames per second\n", n
	printf "%-34s %8s %8s   %-30s %8s %8s %8s\n", "pktconv", "s", "Mpps", "peer", "s", "Mpps", "ratio"
	row("decode ascii -> pcap", dec, "text2pcap (od -Ax -tx1)", t2p)
	row("encode pcap -> ascii", enc, "tcpdump -xx -r", txx)
	row("encode pcap -> ascii -t", enct, "tcpdump -xx -r", txx)
	row("pass-through pcap -> pcap", pass, "tcpdump -r -w -", tpass)
	printf "targets: decode >= 10 Mpps: %s; decode >= 30x text2pcap: %s; encode >= 10 Mpps: %s; pass-through >= 20 Mpps: %s\n",
		met(n / dec >= 10e6), met(t2p / dec >= 30), met(n / enc >= 10e6), met(n / pass >= 20e6)
}
function row(what, s, peer, ps) {
	printf "%-34s %8.3f %8.2f   %-30s %8.3f %8.3f %7.1fx\n", what, s, n / s / 1e6, peer, ps, n / ps / 1e6, ps / s
}
function met(c) { return c ? "met" : "MISSED" }'
