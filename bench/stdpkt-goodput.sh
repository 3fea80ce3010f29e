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
SECS=${SECS:-3}
ROUNDS=${ROUNDS:-3}
FORMATS=${FORMATS:-pcap ascii vde}
PINGS=${PINGS:-50}

NAME=stdpkt-goodput TMPNAME=stdpkt-goodput NSP=spg
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
HAVE_STDPKT=1
[ -x "$BIN/stdpkt" ] || { HAVE_STDPKT=0; echo "stdpkt-goodput: $BIN/stdpkt not built, measuring the peers only" >&2; }

sp_pids=""
sp_ns=""
add_veth "veth"
add_vde

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

run_rounds
print_table
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
	for ns in $sp_ns; do [ ! -e "/run/netns/$ns" ] || echo "stdpkt-goodput: $ns left behind after SIGTERM" >&2; done
fi
