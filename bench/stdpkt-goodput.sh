#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# stdpkt-goodput.sh: iperf3 TCP goodput and ping RTT through one stdpkt pipe hop, a veth pair and VDE over a pipe, in one run.
#
#   bench/stdpkt-goodput.sh    (as root; SECS=3 s per iperf3 run, ROUNDS=3, FORMATS="pcap ascii vde")
#
# Every link joins two fresh namespaces with 198.51.100.1/24 and .2/24; iperf3 runs in them through
# `ip netns exec`, so the three links are measured by the very same commands.  Prints Gbit/s, the ping
# RTT and the ratios against the peers (targets: stdpkt >= 5x VDE, >= 0.5x veth, RTT <= VDE's).
set -u
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$SRCDIR/build/bin}
PATH=$BIN:$PATH
SECS=${SECS:-3}
ROUNDS=${ROUNDS:-3}
FORMATS=${FORMATS:-pcap ascii vde}
PINGS=${PINGS:-50}

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

# All links stay up for the whole run and are measured round-robin, ROUNDS times each; the medians
# and their ratios then share the machine's state, even when its load drifts.
links=""
sp_pids=""
sp_ns=""
add_link() { links="$links $1"; eval "name_$1=\"\$2\" c_$1=$3 s_$1=$4"; }

# The veth pair: the kernel's own path between two namespaces, the upper bound.
mk2ns $P-va $P-vb
ip link add veth0 netns $P-va type veth peer name veth1 netns $P-vb || die "cannot make the veth pair"
addr2 $P-va veth0 $P-vb veth1
add_link veth "veth" $P-va $P-vb

# VDE over a pipe: each vde_plug makes its TAP in its own namespace and dpipe joins their stdio.
mk2ns $P-da $P-db
dpipe ip netns exec $P-da vde_plug tap://vde0 = ip netns exec $P-db vde_plug tap://vde1 2>/dev/null &
pids="$pids $!"
wait_for "ip -n $P-da link show vde0 >/dev/null 2>&1 && ip -n $P-db link show vde1 >/dev/null 2>&1" ||
	die "vde_plug made no TAP"
addr2 $P-da vde0 $P-db vde1
add_link vde "vde (dpipe vde_plug)" $P-da $P-db

# stdpkt: two stages, one pipe each way (the same kernel pipe as `|`, named so each stage has a pid).
if [ "$HAVE_STDPKT" = 1 ]; then
	for fmt in $FORMATS; do
		a=$P-s${fmt}a b=$P-s${fmt}b
		nslist="$nslist $a $b"
		mkfifo "$d/a2b$fmt" "$d/b2a$fmt"
		stdpkt -n "$a" -I "$d/b2a$fmt,$d/a2b$fmt" -F "$fmt" -a 198.51.100.1/24 2>"$d/$a.err" &
		sp_pids="$sp_pids $!"
		stdpkt -n "$b" -I "$d/a2b$fmt,$d/b2a$fmt" -F "$fmt" -a 198.51.100.2/24 2>"$d/$b.err" &
		sp_pids="$sp_pids $!"
		pids="$pids $sp_pids"
		sp_ns="$sp_ns $a $b"
		wait_for "[ -e /run/netns/$a ] && [ -e /run/netns/$b ]" ||
			die "stdpkt stages did not start: $(cat "$d/$a.err" "$d/$b.err")"
		add_link "sp$fmt" "stdpkt -F $fmt" "$a" "$b"
	done
fi

for r in $(seq "$ROUNDS"); do
	for l in $links; do
		eval "c=\$c_$l s=\$s_$l"
		measure "$c" "$s" >>"$d/$l.res"
	done
done

# Median of column $2 of file $1.
med() { awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
printf '%-22s %10s %12s   (medians of %s rounds of %s s)\n' link Gbit/s "ping RTT ms" "$ROUNDS" "$SECS"
for l in $links; do
	eval "n=\$name_$l"
	eval "g_$l=$(med "$d/$l.res" 1) rtt_$l=$(med "$d/$l.res" 2)"
	eval "printf '%-22s %10s %12s\n' \"\$n\" \$g_$l \$rtt_$l"
done
if [ "$HAVE_STDPKT" = 1 ]; then
	echo
	for fmt in $FORMATS; do
		eval "g=\$g_sp$fmt rtt=\$rtt_sp$fmt"
		printf 'stdpkt -F %-5s goodput %sx VDE (target >= 5), %sx veth (target >= 0.5); RTT %sx VDE (target <= 1)\n' \
			"$fmt" "$(ratio "$g" "$g_vde")" "$(ratio "$g" "$g_veth")" "$(ratio "$rtt" "$rtt_vde")"
	done
	# SIGTERM must take each stage down with its named namespace.
	kill $sp_pids 2>/dev/null
	wait $sp_pids 2>/dev/null
	for ns in $sp_ns; do [ -e "/run/netns/$ns" ] && echo "stdpkt-goodput: $ns left behind after SIGTERM" >&2; done
fi
