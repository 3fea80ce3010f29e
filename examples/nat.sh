#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# nat.sh: the seed's NAT chain `host | nat | dest`: a host pings a far host through a stage that masquerades.
#
#   examples/nat.sh        (as root, after make)
#
#   host 192.0.2.1 ---|---> 192.0.2.254  nat  203.0.113.4 ---|---> 203.0.113.8 dest
#                <-- FIFO nat2host --               <-- FIFO dest2nat --
#
# The forward path is the shell's `|`; each stage's return path is a FIFO named with -I RX,TX, as in
# the seed.  The far host runs tcpdump on its own eth0 as its command, so it shows the source address
# it really received (the NAT's 203.0.113.4, never 192.0.2.1); the pinging host waits until that
# capture listens, then pings three times.  Exits 0 only if the replies came back and the far host
# saw the translated address.
set -eu
BIN=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/build/bin}
PATH=$BIN:$PATH
[ "$(id -u)" = 0 ] || { echo "nat.sh: needs root (network namespaces, TAP)" >&2; exit 1; }
d=$(mktemp -d /tmp/stdpkt-nat.XXXXXX)
trap 'rm -rf "$d"' EXIT
cd "$d"
mkfifo nat2host dest2nat

cat <<'CMD'
$ mkfifo nat2host dest2nat
$ stdpkt -I nat2host,- -a 192.0.2.1/24 -g 192.0.2.254 -- ping -c3 203.0.113.8 |
  stdpkt -I -,nat2host -a 192.0.2.254/24 -I dest2nat,- -a 203.0.113.4/24 --nat |
  stdpkt -I -,dest2nat -a 203.0.113.8/24 -g 203.0.113.4 -o dest.log -- tcpdump -i eth0 -w dest.pcap -c 6 icmp
# (below, ping waits until dest.log says the capture listens; tcpdump keeps root and stops after 20 s)
CMD
set +e
stdpkt -I "$d/nat2host",- -a 192.0.2.1/24 -g 192.0.2.254 -- \
	sh -c 'for i in $(seq 200); do grep -qs listening "$0" && break; sleep 0.05; done
	       exec ping -c3 -W2 203.0.113.8' "$d/dest.log" |
stdpkt -I -,"$d/nat2host" -a 192.0.2.254/24 -I "$d/dest2nat",- -a 203.0.113.4/24 --nat |
stdpkt -I -,"$d/dest2nat" -a 203.0.113.8/24 -g 203.0.113.4 -o "$d/dest.log" -- \
	timeout 20 tcpdump -Z root -U -i eth0 -w "$d/dest.pcap" -c 6 icmp
st=("${PIPESTATUS[@]}")
set -e
echo
echo '$ tcpdump -nr dest.pcap       # what the far host received'
tcpdump -nr dest.pcap 2>/dev/null | tee seen.txt
if [ "${st[0]}" != 0 ]; then
	echo "nat.sh: ping failed (stages exited ${st[*]})" >&2; exit 1
fi
if [ "$(grep -c '203\.0\.113\.4 > 203\.0\.113\.8: ICMP echo request' seen.txt)" != 3 ] || grep -q '192\.0\.2\.1 ' seen.txt; then
	echo "nat.sh: the far host did not see three translated echo requests" >&2; exit 1
fi
echo "nat.sh: 3 replies came back; the far host saw 203.0.113.4, not 192.0.2.1"
