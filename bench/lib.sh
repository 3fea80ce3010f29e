# SPDX-License-Identifier: BSD-2-Clause
# lib.sh: the namespace links, iperf3/ping measurement and median table shared by bench/duplex.sh and bench/stdpkt-goodput.sh, so both measure every link by the very same commands.
# shellcheck shell=bash disable=SC2034
#
# Source it from bench/ after setting (bash, as root):
#   NAME     message prefix ("duplex")          TMPNAME  mktemp name in /tmp ("duplex-bench")
#   NSP      namespace prefix, $$ is appended   SECS, ROUNDS, PINGS  the scripts' options
# It checks root and the peers' tools, makes $d, $P, and a cleanup on exit that kills $pids and
# deletes the namespaces in $nslist (append the ones a stage makes by itself to both).
SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$SRCDIR/build/bin}
PATH=$BIN:$PATH

die() { echo "$NAME: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (namespaces, TAP)"
for c in iperf3 ping perl ip ss dpipe vde_plug; do command -v $c >/dev/null || die "needs $c"; done

d=$(mktemp -d "/tmp/$TMPNAME.XXXXXX")
P=$NSP$$
pids=""
nslist=""
# Kills what is ours by pid, then anything still inside our namespaces, so none is left behind.
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
		echo "$NAME: iperf3 failed: $(head -c 300 "$d/iperf.json")" >&2; echo "0 0"; return 1; }
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
# add_link KEY LABEL NS_CLIENT NS_SERVER: KEY names the results ($g_KEY, $rtt_KEY), LABEL the table row.
add_link() { links="$links $1"; eval "name_$1=\"\$2\" c_$1=$3 s_$1=$4"; }

# add_veth LABEL: the kernel's own path between two namespaces, the upper bound (key veth).
add_veth() {
	mk2ns $P-va $P-vb
	ip link add veth0 netns $P-va type veth peer name veth1 netns $P-vb || die "cannot make the veth pair"
	addr2 $P-va veth0 $P-vb veth1
	add_link veth "$1" $P-va $P-vb
}

# add_vde: VDE over a pipe, each vde_plug makes its TAP in its own namespace and dpipe joins their
# stdio (key vde).
add_vde() {
	mk2ns $P-da $P-db
	dpipe ip netns exec $P-da vde_plug tap://vde0 = ip netns exec $P-db vde_plug tap://vde1 2>/dev/null &
	pids="$pids $!"
	wait_for "ip -n $P-da link show vde0 >/dev/null 2>&1 && ip -n $P-db link show vde1 >/dev/null 2>&1" ||
		die "vde_plug made no TAP"
	addr2 $P-da vde0 $P-db vde1
	add_link vde "vde (dpipe vde_plug)" $P-da $P-db
}

# Measures every link ROUNDS times, round-robin, into $d/KEY.res.
run_rounds() {
	local r l c s
	for r in $(seq "$ROUNDS"); do
		for l in $links; do
			eval "c=\$c_$l s=\$s_$l"
			measure "$c" "$s" >>"$d/$l.res"
		done
	done
}

# Median of column $2 of file $1.
med() { awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# print_table [NOTE]: one row of medians per link, NOTE leading the header's parenthesis; sets the
# globals g_KEY and rtt_KEY for the script's ratios.
print_table() {
	local l n
	printf '%-22s %10s %12s   (%smedians of %s rounds of %s s)\n' link Gbit/s "ping RTT ms" "${1:-}" "$ROUNDS" "$SECS"
	for l in $links; do
		eval "n=\$name_$l"
		eval "g_$l=$(med "$d/$l.res" 1) rtt_$l=$(med "$d/$l.res" 2)"
		eval "printf '%-22s %10s %12s\n' \"\$n\" \$g_$l \$rtt_$l"
	done
}
