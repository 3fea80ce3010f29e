#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0310-tappipe: two kernels joined only by two tappipe processes and a FIFO each way: arp, ping, a TCP transfer and tcpdump work, and every format carries it.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd tappipe socat tcpdump ping
[ -c /dev/net/tun ] || skip_all "needs /dev/net/tun"

# ---- usage and misuse ----
tappipe -h >usage.txt; is "$?" 0 "-h exits 0"
ok "-h prints the usage to stdout" grep -q '^usage: tappipe' usage.txt
tappipe -m 02:00 t0 2>/dev/null </dev/null; is "$?" 2 "a bad mac is misuse"
tappipe -M 10 t0 2>/dev/null </dev/null; is "$?" 2 "a bad mtu is misuse"
tappipe a b 2>/dev/null </dev/null; is "$?" 2 "two names are misuse"

mkns a >/dev/null && mkns b >/dev/null || skip_all "cannot make network namespaces"
a=$NSPREFIX-a b=$NSPREFIX-b
for ns in $a $b; do ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1; done

# link FMT INFMT: tappipe in a and in b, joined by FIFOs, exchanging FMT (VDE is never auto-detected).
link() {
	rm -f ab.fifo ba.fifo
	mkfifo ab.fifo ba.fifo
	# b opens ab for writing before a opens it for reading: no open(2) waits for the other forever.
	timeout 60 ip netns exec "$a" tappipe -v -u -F "$1" -i "$2" -m 02:00:00:00:00:0a -M 1500 pa <ba.fifo >ab.fifo 2>a.err &
	pa=$!
	timeout 60 ip netns exec "$b" tappipe -v -u -F "$1" -i "$2" -m 02:00:00:00:00:0b pb >ba.fifo <ab.fifo 2>b.err &
	pb=$!
	wait_for "ip -n $a link show pa >/dev/null 2>&1 && ip -n $b link show pb >/dev/null 2>&1" 5
	ip -n "$a" addr add 192.0.2.1/24 dev pa
	ip -n "$b" addr add 192.0.2.2/24 dev pb
}
unlink() {
	kill -TERM $pa $pb 2>/dev/null
	wait $pa $pb 2>/dev/null
}

link ascii auto
ok "the device is up with the mac asked for" sh -c "ip -n $a link show pa | grep -q 'UP' && ip -n $a link show pa | grep -q '02:00:00:00:00:0a'"
timeout 10 ip netns exec "$a" tcpdump -i pa -n -c 4 -w cap.pcap icmp 2>/dev/null &
tp=$!
wait_for "ip netns exec $a cat /proc/net/packet | awk '\$4 == \"0003\"' | grep -q ." 5
ping3() { ip netns exec "$a" ping -c 3 -i 0.2 -W 2 192.0.2.2 >ping.txt; }
ok "ping over the pipe" ping3
ok "arp resolved the peer's mac" sh -c "ip -n $a neigh show 192.0.2.2 | grep -q 02:00:00:00:00:0b"
wait $tp
is "$(tcpdump -r cap.pcap -n 2>/dev/null | grep -c 'ICMP echo')" 4 "tcpdump on the tap sees the echo requests and replies"

# A TCP transfer, byte for byte.
head -c 2000000 /dev/urandom >data.bin
timeout 20 ip netns exec "$b" socat -u TCP-LISTEN:5000,reuseaddr OPEN:got.bin,creat,trunc &
sp=$!
wait_for "ip netns exec $b ss -tln | grep -q ':5000 '" 5
ok "socat sends 2 MB over TCP" timeout 20 ip netns exec "$a" socat -u OPEN:data.bin TCP:192.0.2.2:5000
wait $sp
cmp_files data.bin got.bin "the TCP transfer arrives byte for byte"
unlink
ok "-v names the device and counts" grep -q '^tappipe: pa: [0-9]* received, [0-9]* sent, 0 bad' a.err

for fmt in pcap vde; do
	link $fmt $fmt
	ok "ping over a $fmt pipe" ping3
	unlink
done

# ---- exit when stdin ends; frames read from stdin reach the stack ----
pktgen -c 3 -b ff:ff:ff:ff:ff:ff -p udp -D 192.0.2.255 >bcast.txt 2>/dev/null
mkfifo bcast.fifo
timeout 10 ip netns exec "$a" sh -c "tappipe -u -k pc <bcast.fifo >/dev/null" 2>/dev/null &
kp=$!
exec 7>bcast.fifo
wait_for "ip -n $a link show pc >/dev/null 2>&1" 5
rx0=$(ip netns exec "$a" cat /sys/class/net/pc/statistics/rx_packets)
cat bcast.txt >&7
exec 7>&-
sleep 0.5
has_dev() { ip -n "$a" link show "$1" >/dev/null 2>&1; }
ok "-k keeps the device after stdin ends" has_dev pc
rx1=$(ip netns exec "$a" cat /sys/class/net/pc/statistics/rx_packets)
is "$((rx1 - rx0))" 3 "the three frames from stdin reached the device"
kill -TERM $kp; wait $kp
timeout 5 ip netns exec "$a" tappipe pd </dev/null >/dev/null; is "$?" 0 "without -k tappipe exits 0 when stdin ends"
not_ok "and its device is gone" has_dev pd

done_testing
