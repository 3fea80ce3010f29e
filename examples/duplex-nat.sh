#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# duplex-nat.sh: the seed's NAT chain `host | nat | dest` typed with plain pipes: the stages find each other and the replies come back, no FIFO.
#
#   examples/duplex-nat.sh        (as root, after make)
#
#   host 192.0.2.1 ===|===> 192.0.2.254 eth0  nat  eth1 203.0.113.4 ===|===> 203.0.113.8 dest
#
# Each `|` is a duplex link: the neighbouring stages met on a socket behind it (stdpkt(1), CHAIN
# LINKS).  The nat stage got two interfaces because its two addresses are in two subnets.  The far
# host runs tcpdump on its eth0, so it shows the source it really received: the NAT's 203.0.113.4.
# Exits 0 only if ping got its replies and the far host saw the translated address.
set -eu
BIN=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/build/bin}
PATH=$BIN:$PATH
[ "$(id -u)" = 0 ] || { echo "duplex-nat.sh: needs root (network namespaces, TAP)" >&2; exit 1; }
d=$(mktemp -d /tmp/stdpkt-dnat.XXXXXX)
trap 'rm -rf "$d"' EXIT
cd "$d"

cat <<'CMD'
$ stdpkt -a 192.0.2.1/24 -g 192.0.2.254 -- ping -c3 203.0.113.8 \
  | stdpkt -a 192.0.2.254/24 -a 203.0.113.4/24 --nat \
  | stdpkt -a 203.0.113.8/24 -g 203.0.113.4 -o dest.log -- tcpdump -i eth0 -w dest.pcap -c 6 icmp
# (below, ping waits until dest.log says the capture listens; tcpdump stops after 20 s at most)
CMD
set +e
stdpkt -a 192.0.2.1/24 -g 192.0.2.254 -- \
	sh -c 'for i in $(seq 200); do grep -qs listening "$0" && break; sleep 0.05; done
	       exec ping -c3 -W2 203.0.113.8' "$d/dest.log" \
  | stdpkt -a 192.0.2.254/24 -a 203.0.113.4/24 --nat \
  | stdpkt -a 203.0.113.8/24 -g 203.0.113.4 -o "$d/dest.log" -- \
	timeout 20 tcpdump -Z root -U -i eth0 -w "$d/dest.pcap" -c 6 icmp
st=("${PIPESTATUS[@]}")
set -e
echo
echo '$ tcpdump -nr dest.pcap       # what the far host received'
tcpdump -nr dest.pcap 2>/dev/null | tee seen.txt
if [ "${st[0]}" != 0 ]; then
	echo "duplex-nat.sh: ping failed (stages exited ${st[*]})" >&2; exit 1
fi
if [ "$(grep -c '203\.0\.113\.4 > 203\.0\.113\.8: ICMP echo request' seen.txt)" != 3 ] || grep -q '192\.0\.2\.1 ' seen.txt; then
	echo "duplex-nat.sh: the far host did not see three translated echo requests" >&2; exit 1
fi
echo "duplex-nat.sh: 3 replies came back over plain pipes; the far host saw 203.0.113.4, not 192.0.2.1"
