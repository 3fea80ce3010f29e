#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0600-chain-direct: neighbouring pktlink stages behind a plain `|` meet and carry frames both ways on their socket.
. "$(dirname "$0")/lib.sh"
export STDPKT_RUNDIR=$T/run

pktgen -c 200 -s 100 -D 192.0.2.0/24 > frames.txt || exit 1
pktgen -c 50 -s 1500 -F pcap > big.pcap || exit 1

# The last stage echoes every frame it gets; the first writes what comes back to ret.
timeout 20 bash -c 'pktlink -v -o ret.txt < frames.txt 2>e1 | pktlink -v -e > out.txt 2>e2'
ok "two stages: exit 0" test $? = 0
cmp_files out.txt frames.txt "two stages: forward frames arrive byte for byte"
cmp_files ret.txt frames.txt "two stages: every frame comes back on the return direction"
ok "first stage: downstream link is direct" grep -q '^pktlink: down direct: met pktlink [0-9]* directly' e1
ok "first stage: nothing upstream (stdin is a file)" grep -q '^pktlink: up none: chain start' e1
ok "second stage: upstream link is direct" grep -q '^pktlink: up direct: met pktlink [0-9]* directly' e2
ok "second stage: nothing downstream (stdout is a file)" grep -q '^pktlink: down none: chain end' e2
# Each side names the other's pid; they must be each other.
p1=$(sed -n 's/^pktlink: down direct: met pktlink \([0-9]*\) directly/\1/p' e1)
p2=$(sed -n 's/^pktlink: up direct: met pktlink \([0-9]*\) directly/\1/p' e2)
ok "the two stages name different pids" test -n "$p1" -a -n "$p2" -a "$p1" != "$p2"
is "$(grep -c . e1)/$(grep forward e2)" "4/pktlink: forward 200 frames, return 0 frames, echoed 200" "counts: 200 forward, 200 echoed"
is "$(grep forward e1)" "pktlink: forward 200 frames, return 200 frames, echoed 0" "counts: 200 returned to the first stage"

# Binary formats on the link, 1500-byte frames.
timeout 20 bash -c 'pktlink -F pcap -o ret.pcap < big.pcap | pktlink -F pcap -e > out.pcap'
cmp_files out.pcap big.pcap "pcap: forward byte for byte"
cmp_files ret.pcap big.pcap "pcap: return byte for byte"
pktconv -F vde < big.pcap > big.vde 2>/dev/null || pktgen -c 50 -s 1500 -F vde > big.vde
timeout 20 bash -c 'pktlink -F vde -o ret.vde < big.vde | pktlink -F vde -e > out.vde'
cmp_files out.vde big.vde "vde: forward byte for byte"
cmp_files ret.vde big.vde "vde: return byte for byte"

# Four stages: every inner link direct, the echo travels back through all of them.
timeout 20 bash -c 'pktlink -v -o ret4.txt < frames.txt 2>f1 | pktlink -v 2>f2 | pktlink -v 2>f3 | pktlink -v -e > out4.txt 2>f4'
cmp_files out4.txt frames.txt "four stages: forward byte for byte"
cmp_files ret4.txt frames.txt "four stages: return byte for byte through three links"
ok "four stages: both links of the inner stages are direct" \
	test "$(cat f2 f3 | grep -c -E '^pktlink: (up|down) direct')" = 4

# Nothing is left in the rendezvous directory once stages have met.
is "$(ls -A run)" "" "no socket left in the rendezvous directory"
done_testing
