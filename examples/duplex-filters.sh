#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# duplex-filters.sh: awk and tee between two duplex stdpkt stages: requests go through the filters as typed, replies go around them.
#
#   examples/duplex-filters.sh        (as root, after make)
#
# awk prints a line per forward frame to stderr (its type and size) and passes the frame on; tee keeps
# a copy of every forward frame, shown afterwards through pktconv | tcpdump.  The replies reach the
# pinging stage on the link's socket, around both filters (stdpkt(1), CHAIN LINKS).  mawk needs
# -W interactive to pass each line on at once (sed -u, grep --line-buffered likewise).
set -eu
BIN=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/build/bin}
PATH=$BIN:$PATH
[ "$(id -u)" = 0 ] || { echo "duplex-filters.sh: needs root (network namespaces, TAP)" >&2; exit 1; }
d=$(mktemp -d /tmp/stdpkt-dfilt.XXXXXX)
trap 'rm -rf "$d"' EXIT
cd "$d"

cat <<'CMD'
$ stdpkt -a 192.0.2.1/24 -- ping -c3 -i0.3 192.0.2.2 \
  | awk -W interactive '{ printf "awk: type %s, %d bytes\n", $3, NF - 1 > "/dev/stderr"; print }' \
  | tee mirror.txt \
  | stdpkt -a 192.0.2.2/24 >/dev/null
CMD
set +e
stdpkt -a 192.0.2.1/24 -- ping -c3 -i0.3 192.0.2.2 \
  | awk -W interactive '{ printf "awk: type %s, %d bytes\n", $3, NF - 1 > "/dev/stderr"; print }' \
  | tee mirror.txt \
  | stdpkt -a 192.0.2.2/24 >/dev/null
st=$?
set -e
echo
echo '$ pktconv -F pcap mirror.txt | tcpdump -nr -      # the forward direction only'
pktconv -F pcap mirror.txt | tcpdump -nr - 2>/dev/null
[ "$st" = 0 ] || { echo "duplex-filters.sh: ping failed" >&2; exit 1; }
echo "duplex-filters.sh: requests through awk and tee, replies around them"
