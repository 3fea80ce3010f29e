#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# demo.sh: the README's main demo: generated frames, converted between formats, read by tcpdump.
set -eu
BIN=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/build/bin}
PATH=$BIN:$PATH
echo '$ pktgen -c 3 -p udp -S 192.0.2.1 -D 192.0.2.2 | pktconv -F pcap | tcpdump -nr -'
pktgen -c 3 -p udp -S 192.0.2.1 -D 192.0.2.2 | pktconv -F pcap | tcpdump -nr - 2>/dev/null
