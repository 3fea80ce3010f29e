#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0330-shping: examples/shping.sh, a ping whose ARP and ICMP frames are built in bash, is answered by a real kernel through ethpipe.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ethpipe

mkns a >/dev/null && mkns b >/dev/null || skip_all "cannot make network namespaces"
a=$NSPREFIX-a b=$NSPREFIX-b
for ns in $a $b; do ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1; done
veth "$a" a0 "$b" b0 || skip_all "cannot make a veth pair"
ip -n "$a" link set a0 address 02:00:00:00:00:0a
ip -n "$b" link set b0 address 02:00:00:00:00:0b
# Only B's kernel has an address: A's side of the conversation is the script alone.
ip -n "$b" addr add 192.0.2.2/24 dev b0
echos() { ip netns exec "$b" awk '/^Icmp:/ { if (n) { for (i = 1; i <= NF; i++) if (h[i] == "InEchos") print $i } else n = split($0, h) }' /proc/net/snmp; }
e0=$(echos)

timeout 30 ip netns exec "$a" bash "$SRCDIR/examples/shping.sh" a0 192.0.2.1 192.0.2.2 3 >out.txt 2>err.txt
is "$?" 0 "shping exits 0: every echo was answered"
sed 's/^/# /' out.txt err.txt
is "$(head -1 out.txt)" "arp: 192.0.2.2 is at 02000000000B" "the ARP reply gives B's MAC"
is "$(grep -c '^reply from 192.0.2.2: icmp_seq=[123] ' out.txt)" 3 "three echo replies"
is "$(tail -1 out.txt)" "3 sent, 3 received" "the summary"
is "$(($(echos) - e0))" 3 "B's kernel counted three echo requests (their checksums were right)"
ok "B's kernel learned the script's MAC from its ARP request" \
	sh -c "ip -n $b neigh show 192.0.2.1 | grep -q 02:00:00:00:00:0a"

# No kernel behind the address: shping reports it and fails.
timeout 30 ip netns exec "$a" bash "$SRCDIR/examples/shping.sh" a0 192.0.2.1 192.0.2.99 1 >out2.txt 2>err2.txt
is "$?" 1 "an address nobody has: exit 1"
ok "and a message naming it" grep -q "no arp reply from '192.0.2.99'" err2.txt

done_testing
