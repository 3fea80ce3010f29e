#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# mirror.sh: port mirroring with tee: every frame between two stacks, copied off both links and read by tcpdump.
#
#   examples/mirror.sh     (as root, after make)
#
#   a 192.0.2.1 --|-- tee -p mirror.a2b --|--> b 192.0.2.2 --|-- tee -p mirror.b2a --> FIFO b2a --> a
#
# Each tee copies its link into a FIFO; `pktconv -F pcap | tcpdump -nr -` reads the copy, as the seed's
# `tee pipe1` + `pktparser | text2pcap | tcpdump -r -`.  `tee -p` keeps copying when the next stage
# has gone; `pktconv -u` converts (and time-stamps) each frame as it arrives rather than per buffer.  The stages print their per-interface counts (-c) so the mirror can be checked against
# what crossed the link.
set -eu
BIN=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/build/bin}
PATH=$BIN:$PATH
[ "$(id -u)" = 0 ] || { echo "mirror.sh: needs root (network namespaces, TAP)" >&2; exit 1; }
d=$(mktemp -d /tmp/stdpkt-mirror.XXXXXX)
trap 'rm -rf "$d"' EXIT
cd "$d"
mkfifo b2a mirror.a2b mirror.b2a

cat <<'CMD'
$ mkfifo b2a mirror.a2b mirror.b2a
$ pktconv -u -c -F pcap <mirror.a2b | tcpdump -enr - >a2b.txt &
$ pktconv -u -c -F pcap <mirror.b2a | tcpdump -enr - >b2a.txt &
$ stdpkt -c -I b2a,- -a 192.0.2.1/24 -- ping -c3 192.0.2.2 | tee -p mirror.a2b |
  stdpkt -c -a 192.0.2.2/24 | tee -p mirror.b2a >b2a
CMD
pktconv -u -c -F pcap <mirror.a2b 2>a2b.count | tcpdump -enr - >a2b.txt 2>/dev/null &
m1=$!
pktconv -u -c -F pcap <mirror.b2a 2>b2a.count | tcpdump -enr - >b2a.txt 2>/dev/null &
m2=$!
set +e
stdpkt -c -I "$d/b2a",- -a 192.0.2.1/24 -- ping -c3 -W2 192.0.2.2 | tee -p mirror.a2b |
	stdpkt -c -a 192.0.2.2/24 | tee -p mirror.b2a >b2a
st=("${PIPESTATUS[@]}")
wait $m1 $m2
set -e
echo
echo "--- mirror of a -> b ($(cat a2b.count))"
cat a2b.txt
echo "--- mirror of b -> a ($(cat b2a.count))"
cat b2a.txt
[ "${st[0]}" = 0 ] || { echo "mirror.sh: ping failed (stages exited ${st[*]})" >&2; exit 1; }
