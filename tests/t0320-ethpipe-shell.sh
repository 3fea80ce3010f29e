#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0320-ethpipe-shell: the EtherPIPE slides' shell examples between real ports: a MAC filter in awk, VLAN untagging in sed, port mirroring with tee; the far side gets exactly the expected frames.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ethpipe pktgen pktconv tcpdump awk sed tee

# A (a0) -- (m0) M (m1) -- (b1) B
#                  (m2) -- (c2) C        the shell pipelines run in M
for n in a m b c; do mkns $n >/dev/null || skip_all "cannot make network namespaces"; done
a=$NSPREFIX-a m=$NSPREFIX-m b=$NSPREFIX-b c=$NSPREFIX-c
for ns in $a $m $b $c; do ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1; done
veth "$a" a0 "$m" m0 && veth "$m" m1 "$b" b1 && veth "$m" m2 "$c" c2 || skip_all "cannot make veth pairs"
bound() { wait_for "ip netns exec $1 cat /proc/net/packet | awk '\$4 == \"0003\"' | wc -l | grep -qx ${2:-1}" 5; }
M() { ip netns exec "$m" "$@"; }
# mawk holds input lines until its buffer fills unless told otherwise; gawk has no -W interactive.
if awk -W version 2>&1 | grep -q mawk; then AWK="awk -W interactive"; else AWK=awk; fi

# ---- MAC filter: awk '$1=="020000000002"' ----
{
	pktgen -c 5 -b 02:00:00:00:00:02 -S 192.0.2.1
	pktgen -c 5 -b 02:00:00:00:00:03 -S 192.0.2.3
	pktgen -c 5 -b 02:00:00:00:00:02 -S 192.0.2.5
} >mix.txt
grep '^020000000002 ' mix.txt >want.txt
timeout 10 ip netns exec "$b" ethpipe -r -c 10 b1 >got.txt &
rp=$!
bound "$b"
# -c 15: M's pipeline ends after the 15 frames, and awk's output then ends too.
timeout 10 ip netns exec "$m" sh -c "ethpipe -r -c 15 m0 | $AWK '\$1==\"020000000002\" { print; fflush() }' | ethpipe -s m1" &
mp=$!
bound "$m"
timeout 10 ip netns exec "$a" ethpipe -s a0 <mix.txt
wait $mp; is "$?" 0 "the awk pipeline ends cleanly"
wait $rp
cmp_files want.txt got.txt "B receives exactly the 10 frames for 02:00:00:00:00:02, in order"

# ---- VLAN untag: sed 's/8100 00 01 //' ----
pktgen -c 8 -V 1 -p udp -s 80 >tagged.txt
# Through pktconv, so the text is canonical ("08 00" after the cut becomes the type column "0800").
sed 's/8100 00 01 //' tagged.txt | pktconv >untagged.txt
ok "the input carries the tag" grep -q ' 8100 00 01 ' tagged.txt
timeout 10 ip netns exec "$b" tcpdump -i b1 -n -c 8 -w untag.pcap 2>/dev/null &
tp=$!
bound "$b"
timeout 10 ip netns exec "$m" sh -c "ethpipe -r -c 8 m0 | sed -u 's/8100 00 01 //' | ethpipe -s m1" &
mp=$!
bound "$m"
timeout 10 ip netns exec "$a" ethpipe -s a0 <tagged.txt
wait $mp
wait $tp
pktconv untag.pcap >seen.txt
cmp_files untagged.txt seen.txt "tcpdump on B sees the 8 frames untagged and otherwise identical"
is "$(tcpdump -r untag.pcap -n vlan 2>/dev/null | wc -l | tr -d ' ')" 0 "no frame B sees carries a tag"

# ---- port mirroring: tee to two ports ----
pktgen -c 20 -p tcp -s 100 >mirror.txt
timeout 10 ip netns exec "$b" ethpipe -r -c 20 b1 >gotb.txt &
p1=$!
timeout 10 ip netns exec "$c" ethpipe -r -c 20 c2 >gotc.txt &
p2=$!
bound "$b"; bound "$c"
mkfifo tee.fifo
timeout 10 ip netns exec "$m" sh -c "ethpipe -s m2 <tee.fifo & ethpipe -r -c 20 m0 | tee tee.fifo | ethpipe -s m1; wait" &
mp=$!
bound "$m"
timeout 10 ip netns exec "$a" ethpipe -s a0 <mirror.txt
wait $mp $p1 $p2
cmp_files mirror.txt gotb.txt "B gets every frame A sent"
cmp_files mirror.txt gotc.txt "C gets the same frames, mirrored by tee"

# ---- a bridge of two pipelines: the kernels in A and B ping each other through M ----
# Nothing but prompt flushing lets ARP and each echo through: no frame may wait in a buffer.
ip -n "$a" addr add 192.0.2.1/24 dev a0
ip -n "$b" addr add 192.0.2.2/24 dev b1
timeout 20 ip netns exec "$m" sh -c "ethpipe -r m0 | ethpipe -s m1" &
timeout 20 ip netns exec "$m" sh -c "ethpipe -r m1 | ethpipe -s m0" &
bound "$m" 2
pingab() { ip netns exec "$a" ping -c 3 -i 0.2 -W 2 192.0.2.2 >ping.txt 2>&1; }
ok "ping from A to B across the two ethpipe pipelines" pingab
sed 's/^/# /' ping.txt | tail -2

done_testing
