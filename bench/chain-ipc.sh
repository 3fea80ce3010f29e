#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# chain-ipc.sh: frames between two neighbouring stages on the shell's pipe against the chain's socket, in one run.
#
#   bench/chain-ipc.sh          (RUNS=3 runs of each, interleaved; the best of each is printed)
#
# Two pktlink stages, `A < file | B > /dev/null`: with -1 they stay one-way and the frames travel on the
# pipe the shell made; without it they meet (lib/chain.c) and the frames travel on their AF_UNIX
# socket, the pipe serving only to find each other.  Both sides run the same reader/writer code, so the
# ratio is the IPC's.  Frames of 1500 bytes and 64 KB (65535, the most VDE can frame), in pcap (binary)
# and ASCII (hex text, the default).  Also the pipes grown to 1 MiB (pktlink -P), the cheap way to a
# faster pipe, and `cat file | cat`, the bare pipe's rate on the same bytes.
set -u
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$SRCDIR/build/bin}
RUNS=${RUNS:-3}
for t in pktlink pktgen; do
	[ -x "$BIN/$t" ] || { echo "chain-ipc: $BIN/$t not built (make)" >&2; exit 1; }
done
D=$(mktemp -d /dev/shm/chain-ipc.XXXXXX) || exit 1
trap 'rm -rf "$D"' EXIT
export STDPKT_RUNDIR=$D/run

# secs CMD: wall time of one shell command, in seconds.
secs() {
	local t0 t1
	t0=$(date +%s%N)
	bash -c "$1" || { echo "chain-ipc: failed: $1" >&2; exit 1; }
	t1=$(date +%s%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }'
}
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }'; }

printf '%-6s %-6s %7s %5s | %9s %9s | %9s | %9s %9s | %6s %6s | %8s\n' format frame frames MB \
	"pipe kf/s" "pipe MB/s" "1M pipe" "sock kf/s" "sock MB/s" "/pipe" "/1M" "cat|cat"
for fmt in pcap ascii; do
	for size in 1500 65535; do
		# About 512 MB of frames in pcap, a quarter of that in ASCII (three text bytes a byte).
		if [ "$fmt" = pcap ]; then n=$((512 * 1000000 / size)); else n=$((128 * 1000000 / size)); fi
		f=$D/in.$fmt
		"$BIN/pktgen" -c "$n" -s "$size" -F "$fmt" > "$f" || exit 1
		mb=$(awk -v n="$n" -v s="$size" 'BEGIN { printf "%.0f", n * s / 1e6 }')
		# The socket run must really link: check once, outside the timing.
		"$BIN/pktlink" -v -n < /dev/null 2>/dev/null | "$BIN/pktlink" -v -n 2>"$D/meet" >/dev/null
		grep -q 'up direct' "$D/meet" || { echo "chain-ipc: the stages did not meet: $(cat "$D/meet")" >&2; exit 1; }
		pipe="" big="" sock="" cat=""
		for _ in $(seq 1 "$RUNS"); do
			pipe=$(min "$pipe" "$(secs "$BIN/pktlink -1 -F $fmt < $f | $BIN/pktlink -1 -F $fmt > /dev/null")")
			big=$(min "$big" "$(secs "$BIN/pktlink -1 -P 1m -F $fmt < $f | $BIN/pktlink -1 -P 1m -F $fmt > /dev/null")")
			sock=$(min "$sock" "$(secs "$BIN/pktlink -F $fmt < $f | $BIN/pktlink -F $fmt > /dev/null")")
			cat=$(min "$cat" "$(secs "cat $f | cat > /dev/null")")
		done
		fbytes=$(stat -c %s "$f")
		awk -v fmt="$fmt" -v size="$size" -v n="$n" -v mb="$mb" -v p="$pipe" -v g="$big" -v s="$sock" -v c="$cat" -v fb="$fbytes" 'BEGIN {
			printf "%-6s %-6d %7d %5d | %9.1f %9.0f | %9.0f | %9.1f %9.0f | %5.2fx %5.2fx | %8.0f\n",
				fmt, size, n, mb, n / p / 1e3, mb / p, mb / g, n / s / 1e3, mb / s, p / s, g / s, fb / 1e6 / c }'
		rm -f "$f"
	done
done
echo "MB and MB/s count frame bytes; 1M pipe = the pipes grown to 1 MiB (F_SETPIPE_SZ); /pipe, /1M = socket"
echo "rate over pipe rate; cat|cat = the bare pipe on the same stream bytes (MB/s); best of $RUNS runs; $(nproc) cpus"
