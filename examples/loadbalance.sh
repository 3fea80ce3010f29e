#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# loadbalance.sh: the seed's load-balancing chain: one client, two servers behind tee, replies merged into one FIFO.
#
#   examples/loadbalance.sh    (as root, after make)
#
#   client 192.0.2.1 --|-- tee atob --> server1 192.0.2.2 --+
#                          \--> atoc --> server2 192.0.2.3 --+--> FIFO btoa (both write) --> client
#
# tee hands every frame to both servers (a hub); each answers what is its own.  Both servers write the
# one FIFO btoa: stdpkt writes whole records of at most PIPE_BUF bytes, which the kernel never tears
# apart, so their replies interleave frame by frame (keep frames small in the ASCII format: a
# 1514-byte frame is 4.5 KB of hex, over PIPE_BUF; -F vde or a smaller MTU keeps them whole).
set -eu
BIN=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/build/bin}
PATH=$BIN:$PATH
[ "$(id -u)" = 0 ] || { echo "loadbalance.sh: needs root (network namespaces, TAP)" >&2; exit 1; }
PING="fping -c3"
command -v fping >/dev/null || PING="ping -c3"   # ping takes one address: the script then pings each in turn
d=$(mktemp -d /tmp/stdpkt-lb.XXXXXX)
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$d"' EXIT
cd "$d"
mkfifo atob atoc btoa

cat <<'CMD'
$ mkfifo atob atoc btoa
$ stdpkt -I atob,btoa -a 192.0.2.2/24 &
$ stdpkt -I atoc,btoa -a 192.0.2.3/24 &
$ stdpkt -I btoa,- -a 192.0.2.1/24 -- fping -c3 192.0.2.2 192.0.2.3 | tee atob >atoc
CMD
stdpkt -I atob,btoa -a 192.0.2.2/24 &
pids="$pids $!"
stdpkt -I atoc,btoa -a 192.0.2.3/24 &
pids="$pids $!"
if [ "$PING" = "fping -c3" ]; then
	stdpkt -I btoa,- -a 192.0.2.1/24 -- fping -c3 192.0.2.2 192.0.2.3 | tee atob >atoc
else
	stdpkt -I btoa,- -a 192.0.2.1/24 -- sh -c 'ping -c3 192.0.2.2 && ping -c3 192.0.2.3' | tee atob >atoc
fi
st=("${PIPESTATUS[@]}")
# The servers end when tee closes their FIFOs.
wait $pids
pids=""
[ "${st[0]}" = 0 ] || { echo "loadbalance.sh: the client did not reach both servers" >&2; exit 1; }
echo "loadbalance.sh: both servers answered through the one FIFO"
