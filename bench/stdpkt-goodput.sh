#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# stdpkt-goodput.sh: iperf3 TCP goodput and ping RTT through one stdpkt pipe hop, a veth pair and VDE over a pipe, in one run.
#
#   bench/stdpkt-goodput.sh            (as root; SECS=5 seconds per iperf3 run, FORMATS="pcap ascii vde")
#
# Every link joins two fresh namespaces with 198.51.100.1/24 and .2/24; iperf3 runs in them through
# `ip netns exec`, so the three links are measured by the very same commands.  Prints Gbit/s, the ping
# RTT and the ratios against the peers (targets: stdpkt >= 5x VDE, >= 0.5x veth, RTT <= VDE's).
set -u
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$SRCDIR/build/bin}
PATH=$BIN:$PATH
SECS=${SECS:-5}
FORMATS=${FORMATS:-pcap ascii vde}
PINGS=${PINGS:-100}

die() { echo "stdpkt-goodput: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (namespaces, TAP)"
for c in iperf3 ping perl ip ss dpipe vde_plug; do command -v $c >/dev/null || die "needs $c"; done
HAVE_STDPKT=1
[ -x "$BIN/stdpkt" ] || { HAVE_STDPKT=0; echo "stdpkt-goodput: $BIN/stdpkt not built, measuring the peers only" >&2; }

d=$(mktemp -d /tmp/stdpkt-goodput.XXXXXX)
P=spg$$
pids=""
nslist=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	sleep 0.2
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	for ns in $nslist; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$d"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits up to 10 s for a command to succeed.
wait_for() { local i; for i in $(seq 200); do eval "$1" && return 0; sleep 0.05; done; return 1; }

# measure NS_CLIENT NS_SERVER: prints "GBITS RTT_MS" for iperf3 client -> server at 198.51.100.2.
measure() {
	local c=$1 s=$2 gbits rtt
	ip netns exec "$c" ping -c 3 -W 2 -q 198.51.100.2 >/dev/null || { echo "0 0"; return 1; }
	ip netns exec "$s" timeout $((SECS + 30)) iperf3 -s -1 >/dev/null 2>&1 &
	local spid=$!
	wait_for "ip netns exec $s ss -Hltn 'sport = :5201' | grep -q ." || { echo "0 0"; return 1; }
	ip netns exec "$c" timeout $((SECS + 30)) iperf3 -c 198.51.100.2 -t "$SECS" -J >"$d/iperf.json" 2>&1
	wait "$spid"
	gbits=$(perl -MJSON::PP -e 'local $/; my $j = eval { decode_json(<STDIN>) } or exit 1;
		exit 1 if $j->{error}; printf "%.3f", $j->{end}{sum_received}{bits_per_second} / 1e9' <"$d/iperf.json") || {
		echo "stdpkt-goodput: iperf3 failed: $(head -c 300 "$d/iperf.json")" >&2; echo "0 0"; return 1; }
	rtt=$(ip netns exec "$c" ping -c "$PINGS" -i 0.01 -q 198.51.100.2 | sed -n 's|^rtt [^=]*= [^/]*/\([^/]*\)/.*|\1|p')
	echo "$gbits ${rtt:-0}"
}

# Two namespaces, lo up, addresses on IFNAME in each (made by the caller).
mk2ns() {
	ip netns add "$1" && ip netns add "$2" || die "cannot make namespaces"
	nslist="$nslist $1 $2"
	ip -n "$1" link set lo up; ip -n "$2" link set lo up
}
addr2() {
	ip -n "$1" addr add 198.51.100.1/24 dev "$2" && ip -n "$1" link set "$2" up &&
	ip -n "$3" addr add 198.51.100.2/24 dev "$4" && ip -n "$3" link set "$4" up
}

printf '%-22s %10s %12s\n' link Gbit/s "ping RTT ms"
report() { printf '%-22s %10s %12s\n' "$1" "$2" "$3"; }

# The veth pair: the kernel's own path between two namespaces, the upper bound.
mk2ns $P-va $P-vb
ip link add veth0 netns $P-va type veth peer name veth1 netns $P-vb || die "cannot make the veth pair"
addr2 $P-va veth0 $P-vb veth1
read -r veth_g veth_rtt <<<"$(measure $P-va $P-vb)"
report veth "$veth_g" "$veth_rtt"

# VDE over a pipe: each vde_plug makes its TAP in its own namespace and dpipe joins their stdio.
mk2ns $P-da $P-db
dpipe ip netns exec $P-da vde_plug tap://vde0 = ip netns exec $P-db vde_plug tap://vde1 2>/dev/null &
pids="$pids $!"
wait_for "ip -n $P-da link show vde0 >/dev/null 2>&1 && ip -n $P-db link show vde1 >/dev/null 2>&1" ||
	die "vde_plug made no TAP"
addr2 $P-da vde0 $P-db vde1
read -r vde_g vde_rtt <<<"$(measure $P-da $P-db)"
report "vde (dpipe vde_plug)" "$vde_g" "$vde_rtt"

# stdpkt: two stages, one pipe each way (the same kernel pipe as `|`, named so each stage has a pid).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
if [ "$HAVE_STDPKT" = 1 ]; then
	for fmt in $FORMATS; do
		a=$P-s${fmt}a b=$P-s${fmt}b
		nslist="$nslist $a $b"
		rm -f "$d/a2b" "$d/b2a"; mkfifo "$d/a2b" "$d/b2a"
		stdpkt -n "$a" -I "$d/b2a,$d/a2b" -F "$fmt" -a 198.51.100.1/24 2>"$d/$a.err" &
		pa=$!
		stdpkt -n "$b" -I "$d/a2b,$d/b2a" -F "$fmt" -a 198.51.100.2/24 2>"$d/$b.err" &
		pb=$!
		pids="$pids $pa $pb"
		if wait_for "[ -e /run/netns/$a ] && [ -e /run/netns/$b ]"; then
			read -r g rtt <<<"$(measure "$a" "$b")"
		else
			echo "stdpkt-goodput: stdpkt stages did not start: $(cat "$d/$a.err" "$d/$b.err")" >&2
			g=0 rtt=0
		fi
		report "stdpkt -F $fmt" "$g" "$rtt"
		eval "sp_g_$fmt=$g sp_rtt_$fmt=$rtt"
		kill "$pa" "$pb" 2>/dev/null
		wait "$pa" "$pb" 2>/dev/null
		for ns in $a $b; do [ -e "/run/netns/$ns" ] && echo "stdpkt-goodput: $ns left behind after SIGTERM" >&2; done
	done
	echo
	for fmt in $FORMATS; do
		eval "g=\$sp_g_$fmt rtt=\$sp_rtt_$fmt"
		printf 'stdpkt -F %-5s goodput %sx VDE (target >= 5), %sx veth (target >= 0.5); RTT %sx VDE (target <= 1)\n' \
			"$fmt" "$(ratio "$g" "$vde_g")" "$(ratio "$g" "$veth_g")" "$(ratio "$rtt" "$vde_rtt")"
	done
fi
