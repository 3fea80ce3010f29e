#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# t0530-seed-loadbalance.sh: the seed's load balancer: one client, two servers behind tee, both replying into one FIFO.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd stdpkt pktconv tcpdump fping

# client --| tee atob atoc |--> server1, server2 --> btoa (two writers) --> tee merged.txt --> toclient --> client
# The tee on the merged FIFO only records what the two writers put into it, so that it can be checked
# record by record; the client would read btoa directly just as well.  1000-byte pings make every
# ASCII record about 3 KB: whole only if each write(2) carries whole records within PIPE_BUF.
mkfifo atob atoc btoa toclient
timeout 40 tee -p merged.txt <btoa >toclient &
tp=$!
timeout 40 stdpkt -c -I "$T/atob","$T/btoa" -a 192.0.2.2/24 2>s1.err &
p1=$!
timeout 40 stdpkt -c -I "$T/atoc","$T/btoa" -a 192.0.2.3/24 2>s2.err &
p2=$!
timeout 40 stdpkt -I "$T/toclient",- -a 192.0.2.1/24 -o "$T/client.log" -- \
	fping -c 20 -p 25 -b 1000 -t 1000 192.0.2.2 192.0.2.3 2>client.err | timeout 40 tee atob >atoc
st=("${PIPESTATUS[@]}")
wait $p1; s1=$?
wait $p2; s2=$?
wait $tp
for f in client.err client.log s1.err s2.err; do [ -s $f ] && sed "s/^/# $f: /" $f | tail -4; done

is "${st[0]}" 0 "fping in the client stage reached both servers (exit 0)"
ok "server 192.0.2.2 answered all 20 pings" grep -q '^192\.0\.2\.2 *: xmt/rcv/%loss = 20/20/0%' client.log
ok "server 192.0.2.3 answered all 20 pings" grep -q '^192\.0\.2\.3 *: xmt/rcv/%loss = 20/20/0%' client.log
is "$s1" 0 "server 1 ends by itself when tee closes its input"
is "$s2" 0 "server 2 ends by itself when tee closes its input"

# Every record the two writers put into the shared FIFO is whole: strict conversion finds no bad one.
ok "the merged return stream has no torn record (pktconv -s)" sh -c 'pktconv -s -F pcap merged.txt >merged.pcap'
tcpdump -nr merged.pcap 2>/dev/null >merged.dump
is "$(grep -c 'IP 192\.0\.2\.2 > 192\.0\.2\.1: ICMP echo reply.*length 1008' merged.dump)" 20 \
	"the shared FIFO carried 20 replies from server 1"
is "$(grep -c 'IP 192\.0\.2\.3 > 192\.0\.2\.1: ICMP echo reply.*length 1008' merged.dump)" 20 \
	"the shared FIFO carried 20 replies from server 2"
is "$(grep -c 'ICMP echo reply' merged.dump)" 40 "and no other echo reply (each server answers only its own)"
done_testing
