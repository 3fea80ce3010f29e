#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# ethpipe.sh: transmit and receive packets per second of 60-byte (64 on the wire) frames over a veth pair, ethpipe in ASCII and pcap against tcpreplay --topspeed and tcpdump -w in the same run.
# Receive is measured twice: drops at the rate tcpreplay offers, and frames per CPU second of the receiver.
#   bench/ethpipe.sh [FRAMES]      (root; default 1000000 frames per run)
set -u
cd "$(dirname "$0")/.." || exit 1
BIN=${BUILD:-build}/bin
N=${1:-1000000}
for c in "$BIN/ethpipe" "$BIN/pktgen" tcpreplay tcpdump; do
	command -v "$c" >/dev/null || { echo "ethpipe.sh: missing '$c'" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "ethpipe.sh: needs root (namespaces)" >&2; exit 1; }
T=$(mktemp -d /tmp/bench-ethpipe.XXXXXX)
a=bench$$-a b=bench$$-b
cleanup() { ip netns del "$a" 2>/dev/null; ip netns del "$b" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
ip netns add "$a" && ip netns add "$b" || exit 1
for ns in $a $b; do ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1; done
ip link add a0 netns "$a" type veth peer name b0 netns "$b" || exit 1
ip -n "$a" link set a0 up && ip -n "$b" link set b0 up
# The frames are for b0's MAC, so its kernel takes them in (and drops them at IP, no address).
ip -n "$b" link set b0 address 02:00:00:00:00:02

"$BIN/pktgen" -c "$N" -s 60 >"$T/f.txt"
"$BIN/pktgen" -c "$N" -s 60 -F pcap >"$T/f.pcap"
now() { date +%s%N; }
pps() { awk -v n="$1" -v ns="$2" 'BEGIN { printf "%.0f", n / (ns / 1e9) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? a / b : 0 }'; }
rxpk() { ip netns exec "$b" cat /sys/class/net/b0/statistics/rx_packets; }

echo "# $N frames of 60 bytes per run, veth between two namespaces, $(nproc) cores, kernel $(uname -r)"
echo "# transmit (frames from a file, sent on a0; b0's rx_packets must grow by $N)"
tx() { # NAME CMD...
	local name=$1; shift
	local r0 s e r1
	r0=$(rxpk); s=$(now)
	ip netns exec "$a" "$@" >/dev/null 2>"$T/err" || { echo "ethpipe.sh: '$name' failed: $(head -1 "$T/err")" >&2; }
	e=$(now); r1=$(rxpk)
	local p; p=$(pps "$N" $((e - s)))
	printf '  %-22s %9s pps   arrived %s/%s\n' "$name" "$p" $((r1 - r0)) "$N"
	echo "$p"  >"$T/tx.$name"
}
tx ethpipe-ascii "$BIN/ethpipe" -s a0 <"$T/f.txt"
tx ethpipe-pcap "$BIN/ethpipe" -s a0 <"$T/f.pcap"
tx tcpreplay tcpreplay --topspeed -q -i a0 "$T/f.pcap"
tr=$(cat "$T/tx.tcpreplay")
echo "  ratio ethpipe-ascii / tcpreplay: $(ratio "$(cat "$T/tx.ethpipe-ascii")" "$tr")"
echo "  ratio ethpipe-pcap  / tcpreplay: $(ratio "$(cat "$T/tx.ethpipe-pcap")" "$tr")"
echo "  (EtherPIPE's slide: 1,481,481 pps ASCII on its FPGA NIC)"

echo "# receive (tcpreplay --topspeed floods a0; the receiver on b0 writes into a pipe read by cat)"
bound() { # waits for a bound packet socket in b
	for _ in $(seq 100); do
		ip netns exec "$b" cat /proc/net/packet | awk '$4 == "0003"' | grep -q . && return 0
		sleep 0.05
	done
	return 1
}
rx() { # NAME CMD... (the receiver; it prints its counts to $T/rx.err at SIGTERM)
	local name=$1; shift
	ip netns exec "$b" sh -c 'echo $$ >"$0/rx.pid"; exec "$@"' "$T" "$@" 2>"$T/rx.err" | cat >/dev/null &
	local job=$!
	bound || echo "ethpipe.sh: '$name' did not start" >&2
	sleep 0.2
	local s e
	s=$(now)
	ip netns exec "$a" tcpreplay --topspeed -q -i a0 "$T/f.pcap" >/dev/null 2>&1
	e=$(now)
	sleep 1
	local pid ticks
	pid=$(cat "$T/rx.pid")
	# utime + stime of the receiver alone (not cat), in clock ticks.
	ticks=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
	kill -TERM "$pid"
	wait $job
	local got drop
	case $name in
	tcpdump*)
		got=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$T/rx.err")
		drop=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$T/rx.err") ;;
	*)
		got=$(sed -n 's/.*: \([0-9]*\) received.*/\1/p' "$T/rx.err" | tail -1)
		drop=$(sed -n 's/.* \([0-9]*\) dropped.*/\1/p' "$T/rx.err" | tail -1) ;;
	esac
	local p; p=$(pps "${got:-0}" $((e - s)))
	printf '  %-22s %9s pps   received %s/%s, dropped %s (offered at %s pps)\n' "$name" "$p" "${got:-?}" "$N" \
		"${drop:-?}" "$(pps "$N" $((e - s)))"
	awk -v n="${got:-0}" -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f\n", t ? n / (t / hz) : 0 }' \
		>"$T/cap.$name"
}
rx ethpipe-ascii "$BIN/ethpipe" -r -v b0
rx ethpipe-pcap "$BIN/ethpipe" -r -v -F pcap b0
rx tcpdump-w tcpdump -i b0 -n -w - -s 262144 -B 32768

td=$(cat "$T/cap.tcpdump-w")
echo "  receive capacity = frames / the receiver's own CPU seconds (the sender bounds the rates above)"
for n in ethpipe-ascii ethpipe-pcap tcpdump-w; do printf '  %-22s %9s pps of CPU\n' "$n" "$(cat "$T/cap.$n")"; done
echo "  ratio ethpipe-ascii / tcpdump -w: $(ratio "$(cat "$T/cap.ethpipe-ascii")" "$td")"
echo "  ratio ethpipe-pcap  / tcpdump -w: $(ratio "$(cat "$T/cap.ethpipe-pcap")" "$td")"
