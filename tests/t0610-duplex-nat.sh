#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# t0610-duplex-nat.sh: the issue's NAT chain typed with plain `|` and no FIFO: replies come back, the far host sees only the NAT's address.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd stdpkt pktconv tcpdump ping
command -v iptables >/dev/null || command -v nft >/dev/null || skip_all "needs iptables or nft"

# 1. The command exactly as the issue gives it (bash, plain pipes, nothing else typed).
timeout 30 bash -c 'stdpkt -a 192.0.2.1/24 -g 192.0.2.254 -- ping -c3 203.0.113.8 \
  | stdpkt -a 192.0.2.254/24 -a 203.0.113.4/24 --nat \
  | stdpkt -a 203.0.113.8/24 -g 203.0.113.4' >out.txt 2>err.txt
st=$?
sed 's/^/# err: /' err.txt | grep -v 'bytes from' | head -12
is "$st" 0 "the chain returns ping's status 0"
ok "ping got all three replies" grep -q '3 packets transmitted, 3 received' err.txt
is "$(grep -c '^stdpkt' err.txt)" 0 "no stage complained"
# The last stage's stdout is a file here, so what it sent back is on record there as well.
pktconv -F pcap out.txt | tcpdump -nr - 2>/dev/null >out.dump
is "$(grep -c 'IP 203\.0\.113\.8 > 203\.0\.113\.4: ICMP echo reply' out.dump)" 3 \
	"the far stage answered 203.0.113.4 (the NAT's address) three times"

# 2. The seed's NAT check: tcpdump inside the far stage sees the translated source, -v says how the
# stages met, -c counts, and the stage named with -n leaves no namespace behind.
DEST=$NSPREFIX-dest
own_ns "$DEST"
timeout 40 stdpkt -v -a 192.0.2.1/24 -g 192.0.2.254 -o "$T/host.log" -- \
	sh -c 'for i in $(seq 200); do grep -qs listening "$0" && break; sleep 0.05; done
	       exec ping -c3 -W2 203.0.113.8' "$T/dest.log" 2>host.err |
	timeout 40 stdpkt -v -c -a 192.0.2.254/24 -a 203.0.113.4/24 --nat 2>nat.err |
	timeout 40 stdpkt -v -n "$DEST" -a 203.0.113.8/24 -g 203.0.113.4 -o "$T/dest.log" -- \
		timeout 20 tcpdump -Z root -U -i eth0 -w "$T/dest.pcap" -c 6 icmp 2>dest.err >/dev/null
st=("${PIPESTATUS[@]}")
for f in host.err host.log nat.err dest.err dest.log; do [ -s $f ] && sed "s/^/# $f: /" $f | head -8; done
is "${st[*]}" "0 0 0" "host, nat and dest stages all exit 0"
ok "ping on the host got all three replies" grep -q '3 packets transmitted, 3 received' host.log
ok "host: its stdout link is direct" grep -q '^stdpkt: down direct: met stdpkt' host.err
ok "nat: direct links on both sides" \
	test "$(grep -c -E '^stdpkt: (up|down) direct: met stdpkt' nat.err)" = 2
ok "dest: its stdin link is direct" grep -q '^stdpkt: up direct: met stdpkt' dest.err
ok "the dest stage's namespace name is gone after it exits" test ! -e "/run/netns/$DEST"
tcpdump -nr dest.pcap 2>/dev/null >dest.dump
is "$(grep -c 'IP 203\.0\.113\.4 > 203\.0\.113\.8: ICMP echo request' dest.dump)" 3 \
	"tcpdump inside the far host: three requests from 203.0.113.4"
is "$(grep -c 'IP 203\.0\.113\.8 > 203\.0\.113\.4: ICMP echo reply' dest.dump)" 3 \
	"tcpdump inside the far host: three replies to 203.0.113.4"
is "$(grep -c '192\.0\.2\.' dest.dump)" 0 "tcpdump inside the far host: 192.0.2.1 never seen"
# The NAT's two interfaces: eth0 faced the host, eth1 the far host; each carried the ARP and ICMP.
r0=$(sed -n 's/^stdpkt: eth0: rx \([0-9]*\) packets.*tx \([0-9]*\) packets.*/\1 \2/p' nat.err)
r1=$(sed -n 's/^stdpkt: eth1: rx \([0-9]*\) packets.*tx \([0-9]*\) packets.*/\1 \2/p' nat.err)
ok "nat eth0 received and sent at least 3+3 frames ($r0)" test "${r0% *}" -ge 3 -a "${r0#* }" -ge 3
ok "nat eth1 received and sent at least 3+3 frames ($r1)" test "${r1% *}" -ge 3 -a "${r1#* }" -ge 3

# A failing command's status reaches the shell too: ping to a missing host exits 1, the other stages
# 0, so `set -o pipefail` gives the chain ping's status.
timeout 30 bash -o pipefail -c 'stdpkt -a 192.0.2.1/24 -g 192.0.2.254 -- ping -c1 -W1 203.0.113.99 \
  | stdpkt -a 192.0.2.254/24 -a 203.0.113.4/24 --nat \
  | stdpkt -a 203.0.113.8/24 -g 203.0.113.4 >/dev/null; r=("$?" "${PIPESTATUS[@]}"); echo "${r[*]}" >fail.st' \
	>/dev/null 2>fail.err
is "$(cat fail.st)" "1 1 0 0" "ping's failure: the chain (pipefail) 1, stages 1 0 0"

# 3. Dual stack stays one interface: an IPv6 address next to an IPv4 one is no second subnet.
timeout 30 bash -c 'stdpkt -a 192.0.2.1/24 -a 2001:db8::1/64 -- sh -c "ping -c2 -i0.2 -W2 192.0.2.2 && ping -6 -c2 -i0.2 -W2 2001:db8::2; ip -o addr show eth1" \
  | stdpkt -a 2001:db8::2/64 -a 192.0.2.2/24' >/dev/null 2>ds.err
is "$?" 0 "dual stack: both pings answered through one interface"
is "$(grep -c ' 0% packet loss' ds.err)" 2 "dual stack: no loss in either family"
ok "dual stack: no eth1 was made" grep -q 'eth1.*does not exist\|Device "eth1" does not exist' ds.err
done_testing
