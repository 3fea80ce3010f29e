#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# goodput.sh: the seed's goodput setup: an iperf3 client in one stage, its server in the next, one pipe each way.
#
#   examples/goodput.sh [BYTES]     (as root, after make; BYTES defaults to 100M)
#
#   client 192.0.2.1 --|--> server 192.0.2.2      (pcap records on both links, -F pcap)
#          <-- FIFO s2c --
#
# The server stage runs `iperf3 -s -1` (one test, then it exits, and so does its stage); the client
# retries while the server is not yet listening.  bench/stdpkt-goodput.sh compares the rate with a
# veth pair and with VDE.
set -eu
BIN=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/build/bin}
PATH=$BIN:$PATH
BYTES=${1:-100M}
[ "$(id -u)" = 0 ] || { echo "goodput.sh: needs root (network namespaces, TAP)" >&2; exit 1; }
d=$(mktemp -d /tmp/stdpkt-goodput.XXXXXX)
trap 'rm -rf "$d"' EXIT
cd "$d"
mkfifo s2c

cat <<CMD
\$ mkfifo s2c
\$ stdpkt -I s2c,- -F pcap -a 192.0.2.1/24 -- iperf3 -c 192.0.2.2 -n $BYTES |
  stdpkt -I -,s2c -F pcap -a 192.0.2.2/24 -o server.log -- iperf3 -s -1
# (below, the client retries for up to 10 s until the server listens)
CMD
set +e
stdpkt -I "$d/s2c",- -F pcap -a 192.0.2.1/24 -- \
	sh -c 'for i in $(seq 50); do iperf3 -c 192.0.2.2 -n "$0" 2>/dev/null && exit 0; sleep 0.2; done
	       iperf3 -c 192.0.2.2 -n "$0"' "$BYTES" |
stdpkt -I -,"$d/s2c" -F pcap -a 192.0.2.2/24 -o "$d/server.log" -- iperf3 -s -1
st=("${PIPESTATUS[@]}")
set -e
[ "${st[0]}" = 0 ] && [ "${st[1]}" = 0 ] || { echo "goodput.sh: iperf3 failed (stages exited ${st[*]})" >&2; exit 1; }
