#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0301-ethpipe-bad-drops: bad stdin lines and refused frames are reported by line and skipped while the rest is sent; a stalled reader makes the kernel drop, and ethpipe counts every frame as received or dropped.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ethpipe pktgen

mkns a >/dev/null && mkns b >/dev/null || skip_all "cannot make network namespaces"
a=$NSPREFIX-a b=$NSPREFIX-b
for ns in $a $b; do ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1; done
veth "$a" a0 "$b" b0 || skip_all "cannot make a veth pair"
bound() { wait_for "ip netns exec $1 cat /proc/net/packet | awk '\$4 == \"0003\"' | grep -q ." 5; }

# ---- bad input ----
pktgen -c 4 >good.txt
big=$(pktgen -s 1600 | head -1)      # over the mtu + 18 the reader allows
jumbo=$(pktgen -s 1516 | head -1)    # within it, but untagged: the kernel refuses it
{
	sed -n 1p good.txt
	echo "020000000002 020000000001 0800 ZZ 00"
	sed -n 2p good.txt
	echo "020000000002 020000000001 0800 4"
	echo "020000000002 0200000000"
	echo "$big"
	sed -n 3p good.txt
	echo "$jumbo"
	echo "# a comment line"
	sed -n 4p good.txt
} >bad.txt
timeout 10 ip netns exec "$b" ethpipe -r -c 4 b0 >rx.txt 2>rx.err &
rp=$!
bound "$b"
timeout 10 ip netns exec "$a" ethpipe -v -s a0 <bad.txt 2>tx.err
is "$?" 0 "bad input is no failure: exit 0"
wait $rp
cmp_files good.txt rx.txt "the 4 good frames around the bad ones are sent, in order"
ok "line 2 (a non-hex character) is reported" grep -q "^ethpipe: skipped bad record 'stdin': line 2: " tx.err
ok "line 4 (an odd hex digit) is reported" grep -q "^ethpipe: skipped bad record 'stdin': line 4: " tx.err
ok "line 5 (under 14 bytes) is reported" grep -q "^ethpipe: skipped bad record 'stdin': line 5: " tx.err
ok "line 6 (over the maximum frame) is reported" grep -q "^ethpipe: skipped bad record 'stdin': line 6: " tx.err
ok "the frame the kernel refuses (input frame 8) is reported" \
	grep -q "^ethpipe: cannot send a frame of 1516 bytes on 'a0': .*: input frame 8 skipped" tx.err
is "$(tail -1 tx.err)" "ethpipe: a0: 0 received, 0 dropped, 4 sent, 5 bad" "the counts add up"

# ---- drops: a stalled reader ----
N=400000
pktgen -c $N -F pcap >flood.pcap
# The reader sleeps through the flood, then drains: the 32 MiB ring holds part, the kernel drops the rest.
timeout 30 ip netns exec "$b" sh -c 'echo $$ >ep.pid; exec ethpipe -r b0' 2>drop.err | { sleep 4; cat >drained.txt; } &
bound "$b"
ep=$(cat ep.pid)
d0=$(ip netns exec "$b" cat /sys/class/net/b0/statistics/rx_dropped)
timeout 20 ip netns exec "$a" ethpipe -s a0 <flood.pcap
kill -USR1 "$ep"
wait_for "grep -q dropped drop.err" 5
line=$(head -1 drop.err)
drops=$(echo "$line" | sed -n 's/.* \([0-9]*\) dropped.*/\1/p')
diag "$line"
ok "SIGUSR1 reports a drop count above 0 while the reader stalls" test "${drops:-0}" -gt 0
# Once the reader drains, every frame is either written out or counted as dropped.
wait_for "test -s drained.txt" 10
prev=-1
while :; do n=$(wc -l <drained.txt); [ "$n" = "$prev" ] && break; prev=$n; sleep 0.5; done
kill -TERM "$ep"
wait
last=$(tail -1 drop.err)
diag "$last"
rcv=$(echo "$last" | sed -n 's/.*: \([0-9]*\) received.*/\1/p')
drops=$(echo "$last" | sed -n 's/.* \([0-9]*\) dropped.*/\1/p')
vdrop=$(( $(ip netns exec "$b" cat /sys/class/net/b0/statistics/rx_dropped) - d0 ))
is "$(wc -l <drained.txt | tr -d ' ')" "$rcv" "the exit report counts the frames written out"
is "$((rcv + drops + vdrop))" $N "received + dropped (+ the veth's own drops: $vdrop) = sent"

done_testing
