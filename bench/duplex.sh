#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# duplex.sh: iperf3 goodput and ping RTT through two stdpkt stages joined the old way (a pipe and a FIFO back) and the duplex way (plain `|`, met on a socket), against a veth pair and VDE, in one run.
#
#   bench/duplex.sh    (as root; SECS=3 s per iperf3 run, ROUNDS=3, FORMAT=pcap)
#
# Every link joins two namespaces with 198.51.100.1/24 and .2/24 and is measured by the same commands
# (iperf3 and ping through `ip netns exec`), round-robin, medians of ROUNDS.  The stdpkt links:
#   pipes:  stdpkt --one-way A <FIFO | stdpkt --one-way B >FIFO   (forward on the pipe, return on a FIFO)
#   duplex: stdpkt A </dev/null | stdpkt B >/dev/null              (met: both ways on one AF_UNIX socket)
# Target: duplex >= 0.8x the veth pair.  The approach is bench/stdpkt-goodput.sh's.
set -u
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$SRCDIR/build/bin}
PATH=$BIN:$PATH
SECS=${SECS:-3}
ROUNDS=${ROUNDS:-3}
FORMAT=${FORMAT:-pcap}
PINGS=${PINGS:-50}

die() { echo "duplex: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (namespaces, TAP)"
for c in iperf3 ping perl ip ss dpipe vde_plug; do command -v $c >/dev/null || die "needs $c"; done
[ -x "$BIN/stdpkt" ] || die "$BIN/stdpkt not built (make)"

d=$(mktemp -d /tmp/duplex-bench.XXXXXX)
P=dpx$$
pids=""
nslist=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	for ns in $nslist; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$d"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

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
		echo "duplex: iperf3 failed: $(head -c 300 "$d/iperf.json")" >&2; echo "0 0"; return 1; }
	rtt=$(ip netns exec "$c" ping -c "$PINGS" -i 0.01 -q 198.51.100.2 | sed -n 's|^rtt [^=]*= [^/]*/\([^/]*\)/.*|\1|p')
	echo "$gbits ${rtt:-0}"
}

mk2ns() {
	ip netns add "$1" && ip netns add "$2" || die "cannot make namespaces"
	nslist="$nslist $1 $2"
	ip -n "$1" link set lo up; ip -n "$2" link set lo up
}
addr2() {
	ip -n "$1" addr add 198.51.100.1/24 dev "$2" && ip -n "$1" link set "$2" up &&
	ip -n "$3" addr add 198.51.100.2/24 dev "$4" && ip -n "$3" link set "$4" up
}

links=""
add_link() { links="$links $1"; eval "name_$1=\"\$2\" c_$1=$3 s_$1=$4"; }

mk2ns $P-va $P-vb
ip link add veth0 netns $P-va type veth peer name veth1 netns $P-vb || die "cannot make the veth pair"
addr2 $P-va veth0 $P-vb veth1
add_link veth "veth pair" $P-va $P-vb

mk2ns $P-da $P-db
dpipe ip netns exec $P-da vde_plug tap://vde0 = ip netns exec $P-db vde_plug tap://vde1 2>/dev/null &
pids="$pids $!"
wait_for "ip -n $P-da link show vde0 >/dev/null 2>&1 && ip -n $P-db link show vde1 >/dev/null 2>&1" ||
	die "vde_plug made no TAP"
addr2 $P-da vde0 $P-db vde1
add_link vde "vde (dpipe vde_plug)" $P-da $P-db

# The old way: one-way stages, the return on a FIFO made by hand.
mkfifo "$d/b2a"
nslist="$nslist $P-pa $P-pb $P-xa $P-xb"
stdpkt --one-way -n $P-pa -F "$FORMAT" -a 198.51.100.1/24 <"$d/b2a" 2>"$d/pa.err" |
	stdpkt --one-way -n $P-pb -F "$FORMAT" -a 198.51.100.2/24 >"$d/b2a" 2>"$d/pb.err" &
pids="$pids $!"
wait_for "[ -e /run/netns/$P-pa ] && [ -e /run/netns/$P-pb ]" || die "pipe stages did not start: $(cat "$d"/p?.err)"
add_link pipes "stdpkt pipe+FIFO" $P-pa $P-pb

# The duplex way: plain `|`, the stages meet and move frames on their socket.
stdpkt -v -n $P-xa -F "$FORMAT" -a 198.51.100.1/24 </dev/null 2>"$d/xa.err" |
	stdpkt -v -n $P-xb -F "$FORMAT" -a 198.51.100.2/24 >/dev/null 2>"$d/xb.err" &
pids="$pids $!"
wait_for "[ -e /run/netns/$P-xa ] && [ -e /run/netns/$P-xb ]" || die "duplex stages did not start: $(cat "$d"/x?.err)"
grep -q 'down direct' "$d/xa.err" || die "the duplex stages did not meet: $(cat "$d"/x?.err)"
add_link duplex "stdpkt duplex |" $P-xa $P-xb

for r in $(seq "$ROUNDS"); do
	for l in $links; do
		eval "c=\$c_$l s=\$s_$l"
		measure "$c" "$s" >>"$d/$l.res"
	done
done

med() { awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
printf '%-22s %10s %12s   (-F %s, medians of %s rounds of %s s)\n' link Gbit/s "ping RTT ms" "$FORMAT" "$ROUNDS" "$SECS"
for l in $links; do
	eval "n=\$name_$l"
	eval "g_$l=$(med "$d/$l.res" 1) rtt_$l=$(med "$d/$l.res" 2)"
	eval "printf '%-22s %10s %12s\n' \"\$n\" \$g_$l \$rtt_$l"
done
echo
printf 'duplex goodput: %sx veth (target >= 0.8), %sx VDE, %sx pipe+FIFO\n' \
	"$(ratio "$g_duplex" "$g_veth")" "$(ratio "$g_duplex" "$g_vde")" "$(ratio "$g_duplex" "$g_pipes")"
printf 'pipe+FIFO goodput: %sx veth, %sx VDE\n' "$(ratio "$g_pipes" "$g_veth")" "$(ratio "$g_pipes" "$g_vde")"
printf 'duplex RTT: %sx veth, %sx VDE, %sx pipe+FIFO\n' \
	"$(ratio "$rtt_duplex" "$rtt_veth")" "$(ratio "$rtt_duplex" "$rtt_vde")" "$(ratio "$rtt_duplex" "$rtt_pipes")"
