#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# t0616-duplex-badpeer.sh: a stdpkt stage next to a half-closed link or a peer speaking garbage: it reports, goes on, and nothing hangs.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd stdpkt pktlink pktgen pktconv tcpdump
export STDPKT_RUNDIR=$T/run

# 50 echo requests for the stage's fixed MAC and address; its neighbour entry for the sender is static,
# so every reply goes back on the link without ARP.
pktgen -p icmp -c 50 -S 192.0.2.1 -D 192.0.2.2 -b 02:00:00:00:00:02 >req.txt || exit 1
STAGE="stdpkt -c -m 02:00:00:00:00:02 -a 192.0.2.2/24 -x 'ip neigh replace 192.0.2.1 lladdr 02:00:00:00:00:01 dev eth0'"
replies() { pktconv -F pcap "$1" | tcpdump -nr - 2>/dev/null | grep -c 'IP 192\.0\.2\.2 > 192\.0\.2\.1: ICMP echo reply'; }

# Half-closed: pktlink sends its 50 frames and shuts its side of the link for writing, but still reads.
timeout 20 bash -c "pktlink -v -o ret.txt <req.txt 2>hc1.err | $STAGE >/dev/null 2>hc2.err"
is "$?" 0 "half-closed: both end with 0"
ok "half-closed: the link was direct" grep -q '^pktlink: down direct: met stdpkt' hc1.err
is "$(replies ret.txt)" 50 "half-closed: all 50 replies came back after the sender's end"
ok "half-closed: the stage counted 50 frames in" grep -q '^stdpkt: eth0: rx 50 packets' hc2.err

# Garbage: the stage before connects to the rendezvous and speaks HTTP instead of the handshake.
start=$(date +%s)
timeout 20 bash -c "pktlink -G <req.txt 2>g1.err | $STAGE >g.out 2>g2.err"
is "$?" 0 "garbage: both end with 0"
sed 's/^/# g2.err: /' g2.err
ok "garbage: the stage says the meeting failed" grep -q '^stdpkt: chain link: ' g2.err
ok "garbage: and went on one-way: 50 frames in from the pipe" grep -q '^stdpkt: eth0: rx 50 packets' g2.err
is "$(replies g.out)" 50 "garbage: its 50 replies went to stdout, one-way"
ok "garbage: no hang (within the 2 s meeting timeout and a little)" test $(($(date +%s) - start)) -le 5
ok "no rendezvous or control socket is left" test -z "$(ls "$STDPKT_RUNDIR")"
done_testing
