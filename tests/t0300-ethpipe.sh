#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0300-ethpipe: ethpipe moves frames byte for byte both ways over a veth, in every format, filters in the kernel, never echoes its own frames, and keeps VLAN tags.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ethpipe pktgen pktconv tcpdump

mkns a >/dev/null && mkns b >/dev/null || skip_all "cannot make network namespaces"
a=$NSPREFIX-a b=$NSPREFIX-b
for ns in $a $b; do
	# No IPv6 chatter (router solicitations, MLD) on the link: the frames seen are the frames sent.
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
veth "$a" a0 "$b" b0 || skip_all "cannot make a veth pair"
A() { ip netns exec "$a" "$@"; }
B() { ip netns exec "$b" "$@"; }

# ---- usage and misuse ----
ethpipe -h >usage.txt; is "$?" 0 "-h exits 0"
ok "-h prints the usage to stdout" grep -q '^usage: ethpipe' usage.txt
ethpipe 2>/dev/null; is "$?" 2 "no interface is misuse (exit 2)"
ethpipe -F bogus a0 2>/dev/null; is "$?" 2 "a bad format is misuse"
ethpipe -c 0 a0 2>/dev/null; is "$?" 2 "a zero count is misuse"
A ethpipe -r a0 'udp port' 2>err.txt; is "$?" 2 "a bad filter is misuse"
ok "a bad filter is named" grep -q "^ethpipe: bad filter 'udp port'" err.txt
A ethpipe -r nosuch0 2>err.txt </dev/null; is "$?" 1 "a missing interface is a runtime failure"
ok "the missing interface is named" grep -q "nosuch0" err.txt

# bound NS: an ethpipe in NS has bound its receiving socket (protocol ETH_P_ALL), after its ring and filter are set.
bound() { wait_for "ip netns exec $1 cat /proc/net/packet | awk '\$4 == \"0003\"' | grep -q ." 5; }
# rx NS IF COUNT OUT [ARGS...]: a background receiver that stops after COUNT frames.
rx() {
	local ns=$1 ifc=$2 n=$3 out=$4; shift 4
	timeout 10 ip netns exec "$ns" ethpipe -r -v -c "$n" "$@" "$ifc" ${FILTER:+"$FILTER"} >"$out" 2>"$out.err" &
	rxpid=$!
	bound "$ns"
}

# ---- ASCII both ways, byte for byte ----
pktgen -c 100 -s 60-60 >tx.txt 2>/dev/null || pktgen -c 100 -s 60 >tx.txt
rx "$b" b0 100 rx.txt
timeout 10 ip netns exec "$a" ethpipe -s a0 <tx.txt; is "$?" 0 "ethpipe -s exits 0 at the end of stdin"
wait $rxpid; is "$?" 0 "the receiver exits 0 after -c frames"
cmp_files tx.txt rx.txt "100 ASCII frames arrive byte for byte"
is "$(cat rx.txt.err)" "ethpipe: b0: 100 received, 0 dropped, 0 sent, 0 bad" "-v counts"

# ---- pcap in, pcap out; tcpdump reads it ----
pktgen -c 50 -p tcp -s 200 -F pcap >tx.pcap
rx "$b" b0 50 rx.pcap -F pcap
A timeout 10 ethpipe -s a0 <tx.pcap
wait $rxpid
pktconv tx.pcap >tx2.txt; pktconv rx.pcap >rx2.txt
cmp_files tx2.txt rx2.txt "50 pcap frames arrive byte for byte"
is "$(tcpdump -r rx.pcap 2>/dev/null | wc -l | tr -d ' ')" 50 "tcpdump reads the pcap output"

# ---- VDE out, timestamps on ASCII ----
rx "$b" b0 10 rx.vde -F vde
A timeout 10 ethpipe -s a0 <tx.txt
wait $rxpid
pktconv -i vde rx.vde >rx3.txt
head -10 tx.txt >want3.txt
cmp_files want3.txt rx3.txt "VDE output carries the frames"
rx "$b" b0 3 rx4.txt -t
A timeout 10 ethpipe -s a0 <tx.txt
wait $rxpid
now=$(date +%s)
first=$(head -1 rx4.txt | cut -d' ' -f1)
ok "-t lines start with a 16-hex-digit timestamp" test "${#first}" = 16
age=$((now - 16#$first / 1000000000))
ok "the timestamp is the receive time (within a minute of now: ${age}s)" test "${age#-}" -le 60
is "$(cut -d' ' -f2- rx4.txt)" "$(head -3 tx.txt)" "-t lines carry the frames after the stamp"

# ---- VLAN tags survive the driver's tag stripping ----
pktgen -c 5 -V 1 -s 64 >vlan.txt
rx "$b" b0 5 rxv.txt
A timeout 10 ethpipe -s a0 <vlan.txt
wait $rxpid
ok "pktgen made tagged frames" grep -q '^[0-9A-F]* [0-9A-F]* 8100 00 01 ' vlan.txt
cmp_files vlan.txt rxv.txt "802.1Q frames are received with their tag"

# ---- the kernel filter: only udp port 53 passes ----
{
	pktgen -c 7 -Q 53
	pktgen -c 9 -Q 54
	pktgen -c 4 -p tcp -Q 53
	pktgen -c 3 -p udp -P 53 -Q 1000
} >mix.txt
grep -c . mix.txt >/dev/null
FILTER='udp port 53' rx "$b" b0 10 rxf.txt
A timeout 10 ethpipe -s a0 <mix.txt
wait $rxpid
{ sed -n 1,7p mix.txt; sed -n 21,23p mix.txt; } >wantf.txt
cmp_files wantf.txt rxf.txt "'udp port 53' passes exactly the 10 matching frames"

# ---- no self-echo: a both-ways port sends 20 frames and receives only the 5 from the peer ----
pktgen -c 20 -b 02:00:00:00:00:aa >self.txt
pktgen -c 5 -b 02:00:00:00:00:bb >peer.txt
mkfifo in.fifo
# The pid file names ethpipe itself, not timeout, which would die of SIGUSR1.
timeout 10 ip netns exec "$b" sh -c 'echo $$ >both.pid; exec ethpipe -v b0' <in.fifo >both.txt 2>both.err &
exec 7>in.fifo
bound "$b"
bp=$(cat both.pid)
cat self.txt >&7
wait_for "grep -q '20 sent' both.err 2>/dev/null || { kill -USR1 $bp; sleep 0.1; grep -q '20 sent' both.err; }" 5
A timeout 10 ethpipe -s a0 <peer.txt
wait_for "test \$(wc -l <both.txt) -ge 5" 5
sleep 0.3
exec 7>&-
sleep 0.2
kill -TERM "$bp"; wait
cmp_files peer.txt both.txt "a both-ways port receives the peer's frames and none of its own"
ok "it sent its own 20" grep -q '5 received, 0 dropped, 20 sent' both.err

# ---- -p: promiscuous while running, and only then ----
timeout 10 ip netns exec "$b" sh -c 'echo $$ >p.pid; exec ethpipe -r -p b0' >/dev/null &
bound "$b"
promisc() { ip -n "$b" -d link show b0 | grep -q 'promiscuity [1-9]'; }
ok "-p puts the interface in promiscuous mode" promisc
kill -TERM "$(cat p.pid)"; wait
not_ok "which ends with ethpipe" promisc

done_testing
