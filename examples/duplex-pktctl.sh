#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# duplex-pktctl.sh: a stage inserted into a running chain and taken out again with pktctl while ping runs, with the counts before and after.
#
#   examples/duplex-pktctl.sh        (as root, after make)
#
# host | far pings for 3 s; after 1 s pktctl inserts a stage that runs tcpdump on the link (echo requests only), and after
# 2 s it removes it.  The host and far stages never restart; ping's summary says what was lost
# (frames in flight during a swap, usually none).
set -eu
BIN=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/build/bin}
PATH=$BIN:$PATH
[ "$(id -u)" = 0 ] || { echo "duplex-pktctl.sh: needs root (network namespaces, TAP)" >&2; exit 1; }
export STDPKT_RUNDIR=$(mktemp -d /tmp/stdpkt-dctl.XXXXXX)
chmod 700 "$STDPKT_RUNDIR"
trap 'rm -rf "$STDPKT_RUNDIR"' EXIT

echo '$ stdpkt -n demo-host -a 192.0.2.1/24 -- ping -c 60 -i 0.05 192.0.2.2 | stdpkt -n demo-far -a 192.0.2.2/24 >/dev/null &'
stdpkt -n demo-host -a 192.0.2.1/24 -- ping -q -c 60 -i 0.05 192.0.2.2 | stdpkt -n demo-far -a 192.0.2.2/24 >/dev/null &
bg=$!
sleep 1
echo '$ pktctl ls'
pktctl ls
echo '$ m=$(pktctl insert demo-host demo-far -- -- tcpdump -nli eth0 'icmp[icmptype] == 8')'
m=$(pktctl insert demo-host demo-far -- -- tcpdump -nli eth0 'icmp[icmptype] == 8')
sleep 1
echo '$ pktctl ls'
pktctl ls
echo '$ pktctl remove $m'
pktctl remove "$m" || true
wait $bg
echo "duplex-pktctl.sh: the chain ran on through the insert and the removal"
