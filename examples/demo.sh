#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# demo.sh: the README's main demo: the seed's NAT chain of three network stacks joined by pipes.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
BIN=${BIN:-$here/../build/bin}
export BIN
PATH=$BIN:$PATH
echo '# 1. Frames as text: pktgen writes EtherPIPE lines, pktconv turns them into pcap for tcpdump'
echo '$ pktgen -c 3 -p udp -S 192.0.2.1 -D 192.0.2.2 | pktconv -F pcap | tcpdump -nr -'
pktgen -c 3 -p udp -S 192.0.2.1 -D 192.0.2.2 | pktconv -F pcap | tcpdump -nr - 2>/dev/null
echo
echo '# 2. Three Linux network stacks chained by pipes: host | nat | dest'
exec "$here/nat.sh"
