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
SECS=${SECS:-3}
ROUNDS=${ROUNDS:-3}
FORMAT=${FORMAT:-pcap}
PINGS=${PINGS:-50}

NAME=duplex TMPNAME=duplex-bench NSP=dpx
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
[ -x "$BIN/stdpkt" ] || die "$BIN/stdpkt not built (make)"

add_veth "veth pair"
add_vde

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

run_rounds
print_table "-F $FORMAT, "
echo
printf 'duplex goodput: %sx veth (target >= 0.8), %sx VDE, %sx pipe+FIFO\n' \
	"$(ratio "$g_duplex" "$g_veth")" "$(ratio "$g_duplex" "$g_vde")" "$(ratio "$g_duplex" "$g_pipes")"
printf 'pipe+FIFO goodput: %sx veth, %sx VDE\n' "$(ratio "$g_pipes" "$g_veth")" "$(ratio "$g_pipes" "$g_vde")"
printf 'duplex RTT: %sx veth, %sx VDE, %sx pipe+FIFO\n' \
	"$(ratio "$rtt_duplex" "$rtt_veth")" "$(ratio "$rtt_duplex" "$rtt_vde")" "$(ratio "$rtt_duplex" "$rtt_pipes")"
