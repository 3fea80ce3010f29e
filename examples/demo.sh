#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# demo.sh: the README's main demo: three Linux network stacks chained by plain pipes, NAT in the middle.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
BIN=${BIN:-$here/../build/bin}
export BIN
PATH=$BIN:$PATH
echo '# 1. Frames as text: pktgen writes EtherPIPE lines, pktconv turns them into pcap for tcpdump'
echo '$ pktgen -c 3 -p udp -S 192.0.2.1 -D 192.0.2.2 | pktconv -F pcap | tcpdump -nr -'
pktgen -c 3 -p udp -S 192.0.2.1 -D 192.0.2.2 | pktconv -F pcap | tcpdump -nr - 2>/dev/null
echo
echo '# 2. Three network stacks chained by plain pipes: host | nat | dest (the replies come back, no FIFO)'
exec "$here/duplex-nat.sh"
