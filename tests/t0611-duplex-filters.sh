#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# t0611-duplex-filters.sh: awk, sed, grep and tee in the middle of a duplex stdpkt chain: forward frames go through the filter, replies go around it.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd stdpkt pktconv tcpdump ping
command -v iptables >/dev/null || command -v nft >/dev/null || skip_all "needs iptables or nft"

# host | FILTER | nat router | far host (203.0.113.8 and .9).  The host pings .8 three times, then .9
# three times; -c on the host counts what its eth0 sent and received.
chain() {
	local name=$1 filter=$2
	timeout 30 bash -c "stdpkt -c -v -a 192.0.2.1/24 -g 192.0.2.254 -o '$T/$name.log' -- \
		sh -c 'ping -c3 -i0.2 -W1 203.0.113.8; ping -c3 -i0.2 -W1 203.0.113.9; exit 0' 2>$name.host |
	  $filter |
	  stdpkt -v -a 192.0.2.254/24 -a 203.0.113.4/24 --nat 2>$name.nat |
	  stdpkt -a 203.0.113.8/24 -a 203.0.113.9/24 -g 203.0.113.4 >/dev/null"
	is "$?" 0 "$name: the chain ends with the host's status"
	ok "$name: host's down link is filtered" grep -q '^stdpkt: down filtered: met stdpkt [0-9]* through 1 filter' $name.host
	ok "$name: nat's up link is filtered" grep -q '^stdpkt: up filtered: met stdpkt [0-9]* through 1 filter' $name.nat
	sed "s/^/# $name: /" $name.log | grep -v 'bytes from' | head -8
}
# The number of frames the host sent (tx) and received (rx) on eth0, from -c.
hosttx() { sed -n 's/^stdpkt: eth0: rx .*; tx \([0-9]*\) packets.*/\1/p' "$1"; }
hostrx() { sed -n 's/^stdpkt: eth0: rx \([0-9]*\) packets.*/\1/p' "$1"; }

# awk sees every forward frame (its count equals what the host sent) and no reply.
chain awk "awk -W interactive '{ n++; print } END { print n > \"$T/awk.count\" }'"
ok "awk: .8 answered all three" grep -q '3 packets transmitted, 3 received' awk.log
is "$(cat awk.count)" "$(hosttx awk.host)" "awk: it passed exactly the frames the host sent"
ok "awk: the host received replies around awk ($(hostrx awk.host) frames)" test "$(hostrx awk.host)" -ge 6

# sed edits the requests on the way: it swaps two 16-bit words of ping's data pattern (the Internet
# checksum is a sum of 16-bit words, so it stays valid).  The far host echoes the edited data, and
# ping, which checks its pattern, says so: proof that sed edited the forward direction only once.
chain sed "sed -u 's/ 10 11 12 13 / 12 13 10 11 /'"
ok "sed: all replies arrive" test "$(grep -c '3 received' sed.log)" = 2
ok "sed: ping saw its data edited on the way" grep -q 'wrong data byte #16 should be 0x10 but was 0x12' sed.log

# grep drops every IPv4 frame to 203.0.113.9 (its destination address at bytes 16-19 of the header).
chain grep "grep --line-buffered -v -E '^[0-9A-F]{12} [0-9A-F]{12} 0800( [0-9A-F]{2}){16} CB 00 71 09 '"
ok "grep: .8 answered all three" grep -q '3 packets transmitted, 3 received' grep.log
ok "grep: nothing reached .9" grep -q '3 packets transmitted, 0 received' grep.log

# tee mirrors the forward direction only: requests, never replies.
chain tee "tee mirror.txt"
ok "tee: all six answered" test "$(grep -c '3 received' tee.log)" = 2
pktconv -F pcap mirror.txt | tcpdump -nr - 2>/dev/null >mirror.dump
is "$(grep -c 'IP 192\.0\.2\.1 > 203\.0\.113\.[89]: ICMP echo request' mirror.dump)" 6 "tee: the mirror holds the six requests"
is "$(grep -c 'ICMP echo reply' mirror.dump)" 0 "tee: and no reply (they go around the filter)"
is "$(grep -c . mirror.txt)" "$(hosttx tee.host)" "tee: the mirror holds every frame the host sent"
done_testing
