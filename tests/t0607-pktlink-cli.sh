#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0607-pktlink-cli: pktlink's command line: help, misuse, -n reports, buffer knobs keep frames intact.
. "$(dirname "$0")/lib.sh"
export STDPKT_RUNDIR=$T/run
pktgen -c 300 -s 1400 -F pcap > frames.pcap || exit 1

pktlink -h > help.txt
ok "-h exits 0" test $? = 0
ok "-h prints the usage to stdout" grep -q '^usage: pktlink' help.txt
pktlink -x 2>err; is "$?" 2 "unknown option: exit 2"
pktlink -t 0 2>err; is "$?" 2 "timeout 0: exit 2"
ok "timeout 0: says why" grep -q "^pktlink: bad timeout '0'" err
pktlink -F pcapng 2>err; is "$?" 2 "unsupported format: exit 2"
pktlink extra 2>err; is "$?" 2 "operand: exit 2"

# -n: meet and report only, quiet without -v.
timeout 20 bash -c 'pktlink -n < /dev/null 2>q1 | pktlink -n 2>q2'
ok "-n: quiet on success" test ! -s q1 -a ! -s q2
timeout 20 bash -c 'pktlink -v -n < /dev/null 2>n1 | pktlink -v -n 2>n2'
ok "-n -v: the first stage reports its direct link" grep -q '^pktlink: down direct' n1
ok "-n -v: the second stage reports its direct link" grep -q '^pktlink: up direct' n2

# Bigger buffers change nothing in the frames.
timeout 20 bash -c 'pktlink -F pcap -B 1m -o ret.pcap < frames.pcap | pktlink -F pcap -B 1m -e > out.pcap'
cmp_files out.pcap frames.pcap "-B: forward byte for byte"
cmp_files ret.pcap frames.pcap "-B: return byte for byte"
timeout 20 bash -c 'pktlink -1 -F pcap -P 1m < frames.pcap | pktlink -1 -F pcap -P 1m > out1.pcap'
cmp_files out1.pcap frames.pcap "-P: one-way byte for byte"
done_testing
