#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0410-ethpipefs-examples: EtherPIPE's shell lines on the device files: awk MAC filter, sed VLAN untag, tee mirror, checked by tcpdump on the far sides.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ethpipefs pktgen pktconv tcpdump tcpreplay nsenter fusermount3 sed tee
[ -c /dev/fuse ] || skip_all "needs /dev/fuse"

# a0 --- m0 [ethpipefs in m: 0 1 2] m1 --- b0
#                                   m2 --- c0
for n in m a b c; do mkns $n >/dev/null || skip_all "cannot make network namespaces"; done
m=$NSPREFIX-m a=$NSPREFIX-a b=$NSPREFIX-b c=$NSPREFIX-c
for ns in "$m" "$a" "$b" "$c"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
veth "$m" m0 "$a" a0 && veth "$m" m1 "$b" b0 && veth "$m" m2 "$c" c0 || skip_all "cannot make veth pairs"

mkdir ep
atexit "fusermount3 -u -z $T/ep 2>/dev/null"
mounted() { grep -q " $1 fuse.ethpipefs " /proc/mounts; }
# nsenter changes only the network namespace: the mount is visible to this shell and its pipelines.
nsenter --net=/run/netns/"$m" timeout 60 ethpipefs -f "$T/ep" m0 m1 m2 2>fs.err &
fs=$!
wait_for "mounted $T/ep" 5 || skip_all "ethpipefs did not mount: $(cat fs.err)"
stat_of() { sed -n "s/^$1 .* $2=\([0-9]*\).*/\1/p" ep/stats; }

# mawk reads and writes in blocks unless told to work line by line.
AWK=awk
awk -W version 2>&1 | grep -qi mawk && AWK="awk -W interactive"

# cap NS IF FILE: tcpdump -w on a far side; caps_stop ends them all.  In immediate mode libpcap
# gives each frame a snaplen-sized slot: a small snaplen and a bigger buffer keep tcpdump itself
# from dropping when the machine is busy.
caps=""
cap() {
	timeout 40 ip netns exec "$1" tcpdump -Z root --immediate-mode -s 2048 -B 8192 -U -Q in -i "$2" -w "$3" 2>"$3.err" &
	caps="$caps $!"
	wait_for "grep -q listening $3.err" 5 || diag "tcpdump did not start: $(cat "$3.err")"
}
caps_stop() { sleep 0.3; kill $caps 2>/dev/null; wait $caps 2>/dev/null; caps=""; }
inject() { timeout 20 ip netns exec "$a" tcpreplay -q --pps 20000 -i a0 "$1" >>replay.log 2>&1; }
# sent PORT BASE: frames ethpipefs has sent on PORT since its count was BASE.
sent() { echo $(($(stat_of "$1" tx_pkts) - $2)); }

# ---- MAC filter: awk '$2=="..."' </dev/ethpipe/0 >/dev/ethpipe/1 ----
pktgen -c 60 -s 80 -a 02:00:00:00:00:0a >srcA.txt
pktgen -c 60 -s 90 -a 02:00:00:00:00:0b -S 192.0.2.9 >srcB.txt
paste -d '\n' srcA.txt srcB.txt >mixed.txt
pktconv -F pcap mixed.txt >mixed.pcap
cap "$b" b0 filt.pcap
base1=$(stat_of 1 tx_pkts)
timeout 30 $AWK '$2 == "02000000000A" { print; fflush() }' <ep/0 >ep/1 &
pf=$!
wait_for "[ \"\$(stat_of 0 readers)\" = 1 ]" 5
inject mixed.pcap
wait_for "[ \$(sent 1 $base1) -ge 60 ]" 5
caps_stop
kill $pf 2>/dev/null
wait $pf 2>/dev/null
pktconv filt.pcap >filt.txt 2>/dev/null
cmp_files filt.txt srcA.txt "awk passes exactly the 60 frames from 02:00:00:00:00:0a, byte for byte, in order"
is "$(sent 1 "$base1")" 60 "and ethpipefs sent 60 frames on port 1, no more"

# ---- VLAN untag: sed -e 's/8100 00 01 //' </dev/ethpipe/0 >/dev/ethpipe/1 ----
pktgen -c 50 -s 100 -V 1 >tagged.txt
ok "the input carries VLAN 1 tags" grep -q '^020000000002 020000000001 8100 00 01 08 00 45 ' tagged.txt
pktconv -F pcap tagged.txt >tagged.pcap
# What the far side should see: the sed'ed lines, in the canonical layout.
sed -e 's/8100 00 01 //' tagged.txt | pktconv >untagged.txt
cap "$b" b0 untag.pcap
base1=$(stat_of 1 tx_pkts)
timeout 30 sed -u -e 's/8100 00 01 //' <ep/0 >ep/1 &
ps=$!
wait_for "[ \"\$(stat_of 0 readers)\" = 1 ]" 5
inject tagged.pcap
wait_for "[ \$(sent 1 $base1) -ge 50 ]" 5
caps_stop
kill $ps 2>/dev/null
wait $ps 2>/dev/null
pktconv untag.pcap >untag.txt 2>/dev/null
cmp_files untag.txt untagged.txt "the far side gets the 50 frames untagged and otherwise identical"
is "$(tcpdump -enr untag.pcap 2>/dev/null | grep -c 'ethertype IPv4 (0x0800), length 96: 192.0.2.1.9 > 192.0.2.2.9: UDP')" 50 \
	"tcpdump sees 50 untagged 96-byte UDP frames"
is "$(tcpdump -enr untag.pcap 2>/dev/null | grep -c -i vlan)" 0 "and no 802.1Q tag"

# ---- mirror: cat /dev/ethpipe/0 | tee /dev/ethpipe/1 >/dev/ethpipe/2 ----
pktgen -c 200 -s 70 -P 1000-1199 >mirror.txt
pktconv -F pcap mirror.txt >mirror.pcap
cap "$b" b0 mb.pcap
cap "$c" c0 mc.pcap
base1=$(stat_of 1 tx_pkts) base2=$(stat_of 2 tx_pkts)
# cat's pid goes to a file: it must be stopped, or the mount stays busy.
{ echo $BASHPID >cat.pid; exec timeout 30 cat ep/0; } | timeout 30 tee ep/1 >ep/2 &
pm=$!
wait_for "[ \"\$(stat_of 0 readers)\" = 1 ]" 5
inject mirror.pcap
wait_for "[ \$(sent 1 $base1) -ge 200 ] && [ \$(sent 2 $base2) -ge 200 ]" 5
caps_stop
kill "$(cat cat.pid)" $pm 2>/dev/null
wait $pm 2>/dev/null
pktconv mb.pcap >mb.txt 2>/dev/null
pktconv mc.pcap >mc.txt 2>/dev/null
cmp_files mb.txt mirror.txt "port 1 carries all 200 frames, byte for byte"
cmp_files mc.txt mirror.txt "port 2 carries the same 200 frames"
is "$(stat_of 0 reader_drops) $(stat_of 1 bad) $(stat_of 2 bad)" "0 0 0" "no frame dropped, no bad line"

# ---- ip netns exec makes its own mount namespace: mount and use inside one invocation ----
mkdir ep3
pktgen -c 5 -s 60 >five.txt
cap "$b" b0 five.pcap
timeout 20 ip netns exec "$m" sh -c '
	ethpipefs -f "$1/ep3" m1 2>"$1/fs3.err" & p=$!
	i=0; while ! grep -q " $1/ep3 fuse.ethpipefs " /proc/mounts && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	cat "$1/five.txt" >"$1/ep3/0"
	i=0; while ! grep -q "tx_pkts=5 " "$1/ep3/stats" && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	fusermount3 -u "$1/ep3"; wait $p' sh "$T"
rc=$?
is "$rc" 0 "inside ip netns exec: mount, write, unmount, exit 0"
[ "$rc" = 0 ] || diag "$(tail -20 fs3.err)"
caps_stop
cmp_files <(pktconv five.pcap 2>/dev/null) five.txt "the frames written there arrive"
not_ok "that mount was never visible outside the invocation" mounted "$T/ep3"

fusermount3 -u "$T/ep"
wait $fs
rc=$?
is "$rc" 0 "ethpipefs exits 0 at unmount"
[ "$rc" = 0 ] || diag "$(tail -20 fs.err)"
done_testing
