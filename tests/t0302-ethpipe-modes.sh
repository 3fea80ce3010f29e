#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0302-ethpipe-modes: what ethpipe does when stdin ends (keeps receiving; -x exits), interactive flushing, and timed transmit (-T) keeping the input's spacing.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ethpipe pktgen

mkns a >/dev/null && mkns b >/dev/null || skip_all "cannot make network namespaces"
a=$NSPREFIX-a b=$NSPREFIX-b
for ns in $a $b; do ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1; done
veth "$a" a0 "$b" b0 || skip_all "cannot make a veth pair"
bound() { wait_for "ip netns exec $1 cat /proc/net/packet | awk '\$4 == \"0003\"' | grep -q ." 5; }

pktgen -c 3 -b 02:00:00:00:00:0b >fromb.txt
pktgen -c 2 -b 02:00:00:00:00:0a >froma.txt

# ---- both ways: stdin ends, receiving goes on ----
timeout 10 ip netns exec "$b" sh -c 'echo $$ >b.pid; exec ethpipe -v b0' <fromb.txt >got.txt 2>b.err &
bound "$b"
bp=$(cat b.pid)
sleep 0.3
ok "after stdin ended, ethpipe still runs" kill -0 "$bp"
timeout 10 ip netns exec "$a" ethpipe -s a0 <froma.txt
# Each frame is flushed out as it comes: no buffer holds them back.
wait_for "test \$(wc -l <got.txt) = 2" 5
cmp_files froma.txt got.txt "and it writes the frames that arrive after, without waiting for more"
kill -USR1 "$bp"
wait_for "grep -q received b.err" 5
is "$(cat b.err)" "ethpipe: b0: 2 received, 0 dropped, 3 sent, 0 bad" "SIGUSR1 prints the counts"
kill -TERM "$bp"
wait
is "$(tail -1 b.err)" "ethpipe: b0: 2 received, 0 dropped, 3 sent, 0 bad" "-v prints them at exit after SIGTERM"

# ---- -x: exit when stdin ends ----
timeout 10 ip netns exec "$b" ethpipe -x b0 <fromb.txt >/dev/null
is "$?" 0 "-x exits 0 at the end of stdin"
timeout 10 ip netns exec "$b" ethpipe -x b0 </dev/null >/dev/null
is "$?" 0 "-x with empty stdin exits 0"

# ---- -T: timestamped lines are sent 200 ms apart ----
base=1700000000000000000
for i in 0 1 2 3 4; do
	printf '%016X %s\n' $((base + i * 200000000)) "$(sed -n 1p fromb.txt)"
done >timed.txt
timeout 10 ip netns exec "$a" ethpipe -r -t -c 5 a0 >tgot.txt &
rp=$!
bound "$a"
timeout 10 ip netns exec "$b" ethpipe -s -T b0 <timed.txt
wait $rp
is "$(wc -l <tgot.txt | tr -d ' ')" 5 "5 timed frames arrive"
first=$(head -1 tgot.txt | cut -d' ' -f1) last=$(tail -1 tgot.txt | cut -d' ' -f1)
span=$(((16#$last - 16#$first) / 1000000))
diag "first to last frame: $span ms (the input says 800)"
# Only a lower bound: a loaded machine may send late, never early.
ok "the frames keep their spacing (800 ms from first to last, at least 750)" test "$span" -ge 750
is "$(cut -d' ' -f2- tgot.txt | sort -u)" "$(sed -n 1p fromb.txt)" "and are the frame given"
# Without -T the same input goes at once.
timeout 10 ip netns exec "$a" ethpipe -r -t -c 5 a0 >ugot.txt &
rp=$!
bound "$a"
timeout 10 ip netns exec "$b" ethpipe -s b0 <timed.txt
wait $rp
first=$(head -1 ugot.txt | cut -d' ' -f1) last=$(tail -1 ugot.txt | cut -d' ' -f1)
ok "without -T they go at once (well under the 800 ms their timestamps span)" test $(((16#$last - 16#$first) / 1000000)) -lt 700

done_testing
