#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# t0509-stdpkt-superframes.sh: pcap links carry TCP super-frames (TAP offloads), ASCII links only ordinary frames with valid checksums.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd stdpkt pktconv socat tcpdump

head -c 3M /dev/urandom >data
# transfer FORMAT: 3 MB by socat from a to b over one link in FORMAT each way; a->b is recorded.
transfer() {
	rm -f b2a recv; mkfifo b2a
	timeout 60 stdpkt -I "$T/b2a",- -F "$1" -a 192.0.2.1/24 -- \
		socat -u OPEN:"$T/data" TCP:192.0.2.2:5209,retry=100,interval=0.1 2>a.err |
		tee -p "a2b.$1" |
		timeout 60 stdpkt -I -,"$T/b2a" -F "$1" -a 192.0.2.2/24 -- \
			socat -u TCP-LISTEN:5209,reuseaddr CREATE:"$T/recv" 2>b.err
	st=("${PIPESTATUS[@]}")
	for f in a.err b.err; do [ -s $f ] && sed "s/^/# $1 $f: /" $f | tail -3; done
}
# Frame lengths on a recorded link, one per line.
lengths() { pktconv -i "$2" "$1" | awk '!/^#/ && NF { print NF - 3 + 14 }'; }

transfer pcap
is "${st[0]} ${st[2]}" "0 0" "pcap: both socat stages exit 0"
cmp_files data recv "pcap: 3 MB crossed byte for byte"
big=$(lengths a2b.pcap pcap | awk '$1 > 1514' | wc -l)
ok "pcap: the link carried TCP super-frames ($big frames over 1514 bytes)" test "$big" -gt 0
max=$(lengths a2b.pcap pcap | sort -n | tail -1)
ok "pcap: none over 64 KiB of IP ($max bytes)" test "$max" -le $((65535 + 14))
# Ordinary frames on a pcap link have finished checksums; only super-frames carry the partial one.
tcpdump -r a2b.pcap -n -vv 'tcp and len <= 1514' 2>/dev/null >small.txt
ok "pcap: tcpdump checked the small TCP frames" grep -q 'cksum 0x[0-9a-f]* (correct)' small.txt
is "$(grep -c 'incorrect' small.txt)" 0 "pcap: no small frame with a wrong checksum"

transfer ascii
is "${st[0]} ${st[2]}" "0 0" "ascii: both socat stages exit 0"
cmp_files data recv "ascii: 3 MB crossed byte for byte"
max=$(lengths a2b.ascii ascii | sort -n | tail -1)
ok "ascii: no frame over 1514 bytes ($max)" test "$max" -le 1514
pktconv -F pcap a2b.ascii | tcpdump -r - -n -vv tcp 2>/dev/null >ascii.txt
ok "ascii: tcpdump checked the TCP checksums" grep -q 'cksum 0x[0-9a-f]* (correct)' ascii.txt
is "$(grep -c 'incorrect' ascii.txt)" 0 "ascii: every checksum is right"

transfer vde
is "${st[0]} ${st[2]}" "0 0" "vde: both socat stages exit 0"
cmp_files data recv "vde: 3 MB crossed byte for byte"
max=$(lengths a2b.vde vde | sort -n | tail -1)
ok "vde: no frame over 1514 bytes ($max)" test "$max" -le 1514
done_testing
