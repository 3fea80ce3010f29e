#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0100-pktconv-roundtrip: real traffic captured by tcpdump between two namespaces survives pcap -> ASCII -> pcap byte for byte, and pktconv interoperates with tcpdump, text2pcap and vde_plug.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd tcpdump ping socat text2pcap od xxd vde_switch vde_plug python3
[ -x "$BIN/pktconv" ] || skip_all "pktconv is not built"

a=$(mkns a) && b=$(mkns b) || { echo "1..1"; echo "not ok 1 - namespaces"; exit 1; }
veth "$a" va "$b" vb || exit 1
for x in "$a va" "$b vb"; do
	set -- $x
	ip -n "$1" link set "$2" mtu 9000
done
ip -n "$a" addr add 192.0.2.1/24 dev va
ip -n "$b" addr add 192.0.2.2/24 dev vb
ip -n "$a" addr add 2001:db8::1/64 dev va nodad
ip -n "$b" addr add 2001:db8::2/64 dev vb nodad
# Two captures of the same traffic: whole frames, and the first 96 bytes of each.
ip netns exec "$a" timeout 60 tcpdump -i va -n -U --immediate-mode -s 262144 -w cap.pcap 2>tcpdump.err &
td1=$!
ip netns exec "$a" timeout 60 tcpdump -i va -n -U --immediate-mode -s 96 -w snap.pcap 2>tcpdump96.err &
td2=$!
wait_for "grep -q listening tcpdump.err && grep -q listening tcpdump96.err" 10 || diag "tcpdump did not start"

ex() { ip netns exec "$@"; }
ok "ipv4 ping" ex "$a" timeout 10 ping -c 3 -i 0.2 -q 192.0.2.2
ok "jumbo ping: 9000-byte IP packets, 9014-byte frames" ex "$a" timeout 10 ping -c 2 -i 0.2 -q -M do -s 8972 192.0.2.2
ok "ipv6 ping" ex "$a" timeout 10 ping -6 -c 2 -i 0.2 -q 2001:db8::2
# No 8021q module here for a vlan sub-interface: the kernel sends a tagged frame (VID 10,
# an ICMP echo to 198.51.100.2) and the smallest frames through an AF_PACKET socket instead.
inject='
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("va", 0))
src = s.getsockname()[4]
dst = bytes.fromhex(sys.argv[1].replace(":", ""))
ip = bytes.fromhex("4500001c0001000040010000c6336401c6336402")
icmp = bytes.fromhex("0800f7ff00000000")
s.send(dst + src + b"\x81\x00\x00\x0a\x08\x00" + ip + icmp)
s.send(b"\xff" * 6 + src + b"\x88\xb5")
s.send(b"\xff" * 6 + src + b"\x88\xb5" + bytes(46))
'
ok "a vlan-tagged frame and 14- and 60-byte frames sent" \
	ex "$a" timeout 5 python3 -c "$inject" "$(ip -n "$b" -br link show vb | awk '{print $3}')"
head -c 300000 /dev/urandom >payload
ex "$b" timeout 20 socat -u TCP-LISTEN:5000,reuseaddr OPEN:received,creat,trunc &
srv=$!
wait_for "ex $b ss -ltn | grep -q :5000" 5
ok "tcp transfer of 300000 bytes" ex "$a" timeout 20 socat -u OPEN:payload TCP:192.0.2.2:5000
wait $srv
cmp_files received payload "tcp payload arrived intact"
ex "$b" timeout 10 socat -u UDP-RECV:5001 OPEN:udp.out,creat,trunc &
udp=$!
sleep 0.2
for i in 1 2 3; do echo "datagram $i" | ex "$a" timeout 5 socat -u - UDP:192.0.2.2:5001; done
kill $udp 2>/dev/null; wait $udp 2>/dev/null
# Minimum-size frames: ARP requests and replies are 42 bytes on a veth (no padding).
ex "$a" ip neigh flush dev va
ok "arp after a neighbour flush" ex "$a" timeout 10 ping -c 1 -q 192.0.2.2
sleep 0.2
# timeout passes SIGINT on to tcpdump, which then flushes and closes its file.
kill -INT $td1 $td2
wait $td1 $td2
# Packets as tcpdump counts them: lines that start with a -tt time (some packets print more lines).
tdcount() { tcpdump -r "$1" -nn -tt 2>/dev/null | grep -c '^[0-9]*\.[0-9]'; }
n=$(tdcount cap.pcap)
ok "capture holds traffic ($n packets)" test "$n" -gt 40

# What the capture contains, read through pktconv: the kinds the round trip must carry.
pktconv cap.pcap >cap.txt
is "$(wc -l <cap.txt)" "$n" "pktconv reads as many packets as tcpdump does"
has() { awk "$1" cap.txt | head -1 | grep -q .; }
ok "capture has a 9014-byte jumbo frame" has 'NF == 3 + 9000'
ok "capture has a 42-byte ARP frame" has '$3 == "0806" && NF == 3 + 28'
ok "capture has the 14-byte and 60-byte frames" has '$3 == "88B5" && NF == 3' && has '$3 == "88B5" && NF == 3 + 46'
ok "capture has a VLAN-tagged frame" has '$3 == "8100"'
ok "capture has IPv6" has '$3 == "86DD"'
ok "capture has TCP" has '$3 == "0800" && $13 == "06"'
ok "capture has UDP" has '$3 == "0800" && $13 == "11"'

# The round trip.  tcpdump wrote microseconds; pktconv writes nanosecond pcap, so the
# strongest statement is: once in pktconv's pcap, pcap -> ascii -t -> pcap is the identity.
pktconv -F pcap <cap.pcap >a.pcap
pktconv -t <a.pcap >a.txt
pktconv -F pcap <a.txt >b.pcap
cmp_files a.pcap b.pcap "pcap -> ascii -t -> pcap is byte-for-byte identical"
pktconv -t <cap.pcap | pktconv -F pcap >c.pcap
cmp_files a.pcap c.pcap "the original capture through ascii -t gives the same file"
# ... and against the original itself: same records, data, lengths and times, per tcpdump.
for prec in micro nano; do
	tcpdump -r cap.pcap -nn -e -tt -xx --time-stamp-precision=$prec >orig.$prec 2>/dev/null
	tcpdump -r b.pcap -nn -e -tt -xx --time-stamp-precision=$prec >conv.$prec 2>/dev/null
	cmp_files orig.$prec conv.$prec "tcpdump -e -tt -xx ($prec) prints the same for the original and the converted file"
done
ok "the tcpdump text is not empty" test -s orig.nano
# Header of what pktconv writes: nanosecond magic, version 2.4, snaplen 262144, LINKTYPE_ETHERNET.
is "$(head -c 24 a.pcap | od -An -tx1 | tr -d ' \n')" "4d3cb2a1020004000000000000000000000004000""1000000" \
	"pcap header: ns magic, 2.4, snaplen 262144, linktype 1 (little-endian host)"

# Snapped capture: the ASCII lines carry len=, and the wire lengths survive the round trip.
pktconv -t <snap.pcap >snap.txt
pktconv -F pcap <snap.txt >snap2.pcap
ok "snapped frames carry len= in ascii" grep -q ' len=9014$' snap.txt
pktconv snap.pcap >snap0.txt
is "$(awk '/len=/ && NF != 3 + 82 + 1' snap0.txt | wc -l)" 0 "every line with len= holds exactly 96 bytes"
is "$(awk '!/len=/ && NF > 3 + 82' snap0.txt | wc -l)" 0 "no line over 96 bytes lacks len="
ok "more than ten frames were snapped" test "$(grep -c ' len=' snap0.txt)" -gt 10
tcpdump -r snap.pcap -nn -e -tt -xx >snap.orig 2>/dev/null
tcpdump -r snap2.pcap -nn -e -tt -xx >snap.conv 2>/dev/null
cmp_files snap.orig snap.conv "-s 96 capture: tcpdump prints the same (wire lengths kept) after the round trip"
ok "tcpdump shows the truncated jumbo frame's wire length" grep -q 'length 9014' snap.conv

# Interop: pktconv's pcap on a pipe into tcpdump.
got=$(pktconv -F pcap <cap.txt | tdcount -)
is "$got" "$n" "pktconv -F pcap | tcpdump -nr - reads every packet"

# Interop: text2pcap on od -Ax -tx1 dumps (pcap and pcapng) read by pktconv gives the same frames.
: >od.txt
while read -r line; do
	echo "$line" | tr -d ' ' | xxd -r -p | od -Ax -tx1 -v >>od.txt
done <cap.txt
text2pcap -q -F pcap od.txt t2p.pcap 2>/dev/null
text2pcap -q od.txt t2p.pcapng 2>/dev/null
pktconv t2p.pcap >t2p.txt
cmp_files t2p.txt cap.txt "text2pcap's pcap of od dumps reads back as the same frames"
pktconv t2p.pcapng >t2png.txt
cmp_files t2png.txt cap.txt "text2pcap's pcapng reads back as the same frames"

# VDE framing: pktconv's own, parsed back; then through a real vde_switch between two vde_plugs.
pktconv -F vde <cap.pcap >cap.vde
pktconv -i vde <cap.vde >vde.txt
cmp_files vde.txt cap.txt "pcap -> vde -> ascii keeps every frame"
# A record by hand: length 0x003C big-endian, then the frame.
head -c 2 cap.vde | od -An -tx1 | tr -d ' \n' >vdelen
is "$(cat vdelen)" "$(printf '%04x' $(($(head -1 cap.txt | awk '{print NF}') - 3 + 14)))" "vde length prefix is big-endian"
# vde_switch (hub mode, so MAC learning drops nothing) drops frames over 1514: send broadcast frames under that.
awk 'NF <= 3 + 1486 { $1 = "FFFFFFFFFFFF"; print }' cap.txt | head -40 >bcast.txt
nb=$(wc -l <bcast.txt)
timeout 20 vde_switch -x -s "$T/sw" -d -p "$T/sw.pid" </dev/null >/dev/null 2>&1
wait_for "[ -s $T/sw.pid ] && [ -e $T/sw/ctl ]" 5
atexit "kill \$(cat $T/sw.pid 2>/dev/null) 2>/dev/null"
(sleep 8 | timeout 10 vde_plug "$T/sw" | timeout 10 pktconv -i vde -n "$nb" >vde_rx.txt) &
rx=$!
wait_for "[ \$(ls $T/sw | wc -l) -gt 1 ]" 5 # the receiver's port is open
(pktconv -F vde <bcast.txt; sleep 1) | timeout 10 vde_plug "$T/sw"
wait $rx
cmp_files vde_rx.txt bcast.txt "$nb frames through vde_plug | vde_switch | vde_plug arrive intact"
done_testing
