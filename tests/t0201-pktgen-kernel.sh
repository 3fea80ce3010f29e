#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0201-pktgen-kernel: a real Linux stack accepts pktgen's UDP, TCP, ICMP and ICMPv6 frames, sent by tcpreplay over a veth.
# (VLAN tags are checked by tshark in t0200: this kernel has no 8021q module to load.)
. "$(dirname "$0")/lib.sh"
need_root
need_cmd pktgen pktconv tcpreplay socat od

# mkns in $(...) would register the namespace for removal only in the subshell.
mkns a >/dev/null && mkns b >/dev/null || skip_all "cannot make network namespaces"
a=$NSPREFIX-a b=$NSPREFIX-b
veth "$a" a0 "$b" b0 || skip_all "cannot make a veth pair"
ip -n "$a" link set a0 address 02:00:00:00:00:01
ip -n "$b" link set b0 address 02:00:00:00:00:02
ip -n "$a" addr add 192.0.2.1/24 dev a0
ip -n "$b" addr add 192.0.2.2/24 dev b0
ip -n "$a" addr add 2001:db8::1/64 dev a0 nodad
ip -n "$b" addr add 2001:db8::2/64 dev b0 nodad

# counter NS NAME: a kernel SNMP counter, e.g. UdpInDatagrams, Icmp6InEchos.
counter() {
	ip netns exec "$1" cat /proc/net/snmp /proc/net/snmp6 | awk -v k="$2" '
		/^[A-Za-z]+: / { p = $1; sub(":", "", p)
			if (p in hdr) { n = split(hdr[p], h); for (i = 2; i <= n; i++) v[p h[i]] = $i; delete hdr[p] }
			else hdr[p] = $0
			next }
		NF == 2 { v[$1] = $2 }
		END { print v[k] + 0 }'
}
send() { timeout 20 ip netns exec "$a" tcpreplay -q -t -i a0 "$1" >>"$T/replay.log" 2>&1; }

# ---- UDP over IPv4: the socket gets every payload, byte for byte ----
timeout 30 ip netns exec "$b" socat -u UDP4-RECV:5000 - >u4.bin &
p1=$!
timeout 30 ip netns exec "$b" socat -u UDP6-RECV:5001 - >u6.bin &
p2=$!
atexit "kill $p1 $p2 2>/dev/null; wait $p1 $p2 2>/dev/null"
wait_for "ip netns exec $b ss -uln | grep -q ':5001 '" || diag "socat did not bind"
gen4="-c 100 -s 100 -S 192.0.2.1 -D 192.0.2.2 -P 1000-1009 -Q 5000"
# shellcheck disable=SC2086
pktgen $gen4 -F pcap -w u4.pcap
ok "tcpreplay sends the udp frames" send u4.pcap
# The payload starts at byte 42: ASCII fields 32 on.
# shellcheck disable=SC2086
pktgen $gen4 | awk '{ for (i = 32; i <= NF; i++) printf "%s", tolower($i) }' >want4.hex
wait_for "[ \$(stat -c %s u4.bin) -ge 5800 ]" 5 || diag "udp payload still short: $(stat -c %s u4.bin)"
od -An -v -tx1 u4.bin | tr -d ' \n' >got4.hex
cmp_files got4.hex want4.hex "a udp socket receives all 100 ipv4 payloads byte for byte"
is "$(counter "$b" UdpInCsumErrors)" 0 "the kernel counts no udp checksum errors"

# ---- UDP over IPv6 ----
gen6="-c 100 -s 120 -S 2001:db8::1 -D 2001:db8::2 -P 2000-2099 -Q 5001"
# shellcheck disable=SC2086
pktgen $gen6 -F pcap -w u6.pcap
ok "tcpreplay sends the udp6 frames" send u6.pcap
# shellcheck disable=SC2086
pktgen $gen6 | awk '{ for (i = 52; i <= NF; i++) printf "%s", tolower($i) }' >want6.hex
wait_for "[ \$(stat -c %s u6.bin) -ge 5800 ]" 5 || diag "udp6 payload still short: $(stat -c %s u6.bin)"
od -An -v -tx1 u6.bin | tr -d ' \n' >got6.hex
cmp_files got6.hex want6.hex "a udp6 socket receives all 100 ipv6 payloads byte for byte"
is "$(counter "$b" Udp6InCsumErrors)" 0 "the kernel counts no udp6 checksum errors"

# ---- ICMP echo: the kernel replies to every request, and the replies come back ----
pktgen -p icmp -c 30 -s 98 -S 192.0.2.1 -D 192.0.2.2 -P 77 -F pcap -w i4.pcap
ok "tcpreplay sends the echo requests" send i4.pcap
wait_for "[ \$(counter $a IcmpInEchoReps) -ge 30 ]" 5
is "$(counter "$b" IcmpInEchos) $(counter "$b" IcmpOutEchoReps)" "30 30" "the kernel answers 30 icmp echo requests"
is "$(counter "$a" IcmpInEchoReps)" 30 "30 echo replies come back"
is "$(counter "$b" IcmpInCsumErrors)" 0 "no icmp checksum errors"

pktgen -p icmp6 -c 30 -S 2001:db8::1 -D 2001:db8::2 -F pcap -w i6.pcap
ok "tcpreplay sends the echo6 requests" send i6.pcap
wait_for "[ \$(counter $a Icmp6InEchoReplies) -ge 30 ]" 5
is "$(counter "$b" Icmp6InEchos) $(counter "$b" Icmp6OutEchoReplies)" "30 30" "the kernel answers 30 icmp6 echo requests"
is "$(counter "$a" Icmp6InEchoReplies)" 30 "30 echo6 replies come back"

# ---- TCP: segments to a closed port are taken in and answered with resets ----
pktgen -p tcp -c 20 -s 80 -S 192.0.2.1 -D 192.0.2.2 -P 3000-3019 -Q 5002 -F pcap -w t4.pcap
ok "tcpreplay sends the tcp segments" send t4.pcap
wait_for "[ \$(counter $b TcpOutRsts) -ge 20 ]" 5
is "$(counter "$b" TcpInSegs) $(counter "$b" TcpOutRsts) $(counter "$b" TcpInCsumErrors)" "20 20 0" \
	"the kernel takes 20 tcp segments and resets each, no checksum errors"
pktgen -p tcp -6 -f S -c 20 -S 2001:db8::1 -D 2001:db8::2 -Q 5003 -F pcap -w t6.pcap
ok "tcpreplay sends the tcp6 segments" send t6.pcap
wait_for "[ \$(counter $b TcpOutRsts) -ge 40 ]" 5
is "$(counter "$b" TcpInSegs) $(counter "$b" TcpOutRsts) $(counter "$b" TcpInCsumErrors)" "40 40 0" \
	"the kernel takes 20 tcp6 syns and resets each"

done_testing
