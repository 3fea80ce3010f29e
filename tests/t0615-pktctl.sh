#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# t0615-pktctl.sh: a running duplex chain listed, inspected, and changed by pktctl (insert, replace, remove a stage) while ping runs: only frames in flight may be lost.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd stdpkt pktctl ping
export STDPKT_RUNDIR=$T/run

pktctl -h >h.out; is "$?" 0 "-h exits 0"
ok "-h shows the commands" grep -q 'pktctl insert UP DOWN -- STDPKT-OPTIONS' h.out
pktctl 2>/dev/null; is "$?" 2 "no command is misuse (2)"
pktctl frob 2>/dev/null; is "$?" 2 "an unknown command is misuse (2)"
pktctl stat no-such-stage 2>e.err; is "$?" 1 "an unknown stage is a runtime failure (1)"
ok "... and says so" grep -q "pktctl: no stage 'no-such-stage'" e.err

HN=$NSPREFIX-H TN=$NSPREFIX-T
own_ns "$HN"; own_ns "$TN"
# 300 pings, 20 ms apart (6 s): H | T, then H | M1 | T, H | M2 | T, and H | T again.
timeout 30 bash -c "stdpkt -c -n $HN -a 192.0.2.1/24 -o '$T/h.log' -- ping -n -c 300 -i 0.02 -W1 192.0.2.2 2>h.err |
	stdpkt -c -n $TN -a 192.0.2.2/24 >/dev/null 2>t.err; echo \"\${PIPESTATUS[*]}\" >st" &
bg=$!
ok "ping runs" wait_for "grep -qs 'icmp_seq=20 ' h.log" 10
pktctl ls >ls1.txt
sed 's/^/# ls1: /' ls1.txt
hp=$(pgrep -o -f "^stdpkt -c -n $HN ") tp=$(pgrep -o -f "^stdpkt -c -n $TN ")
ok "ls: one chain, H then T" grep -qx "chain 1: $hp($HN) | $tp($TN)" ls1.txt
ok "ls: H's line has its address, counts and link" \
	grep -q "^  $hp $HN eth0=192.0.2.1/24 \[rx [0-9]* tx [0-9]* dropped 0\] down:direct:$tp$" ls1.txt

m1=$(pktctl insert "$HN" "$TN" -- -c -a 192.0.2.77/24 2>m1.err)
ok "insert: a new stage between H and T ($m1)" test -n "$m1"
ok "ping goes on through M1" wait_for "grep -qs 'icmp_seq=80 ' h.log" 10
pktctl ls >ls2.txt
sed 's/^/# ls2: /' ls2.txt
ok "ls: the chain is H | M1 | T" grep -qx "chain 1: $hp($HN) | $m1(-) | $tp($TN)" ls2.txt
pktctl stat "$m1" >m1.stat
sed 's/^/# m1: /' m1.stat
up=$(sed -n "s/^link up direct peer $hp iface eth0 rx \([0-9]*\) .* relayed \([0-9]*\)$/\1 \2/p" m1.stat)
down=$(sed -n "s/^link down direct peer $tp iface eth0 rx \([0-9]*\) .* relayed \([0-9]*\)$/\1 \2/p" m1.stat)
ok "M1 relays H's frames to T (rx/relayed $up)" test "${up% *}" -ge 10 -a "${down#* }" -ge 10
ok "M1 relays T's frames to H (rx/relayed $down)" test "${down% *}" -ge 10 -a "${up#* }" -ge 10
ok "stat by name: H's link now goes to M1" sh -c "pktctl stat $HN | grep -q '^link down direct peer $m1 '"

m2=$(pktctl replace "$m1" -- -c -a 192.0.2.78/24 2>m2.err)
ok "replace: M2 ($m2) in M1's place" test -n "$m2"
ok "M1 has ended" wait_for "! kill -0 $m1 2>/dev/null" 5
ok "ping goes on through M2" wait_for "grep -qs 'icmp_seq=140 ' h.log" 10
ok "ls: the chain is H | M2 | T" sh -c "pktctl ls | grep -qx 'chain 1: $hp($HN) | $m2(-) | $tp($TN)'"
pktctl remove "$m2"; is "$?" 0 "remove M2"
ok "M2 has ended" wait_for "! kill -0 $m2 2>/dev/null" 5
pktctl ls >ls3.txt
sed 's/^/# ls3: /' ls3.txt
ok "ls: the chain is H | T again" grep -qx "chain 1: $hp($HN) | $tp($TN)" ls3.txt

wait $bg
for f in h.err t.err m1.err m2.err; do [ -s $f ] && sed "s/^/# $f: /" $f; done
grep 'packets transmitted' h.log | sed 's/^/# /'
is "$(cat st)" "0 0" "H exits with ping's 0, T ends with H"
got=$(sed -n 's/^300 packets transmitted, \([0-9]*\) received.*/\1/p' h.log)
lost=$((300 - ${got:-0}))
ok "ping: 300 sent, $lost lost over three changes (at most what was in flight: 2 per change)" test "$lost" -le 6
# The counts: every frame H sent reached T, through whatever stages were between, but those in flight;
# T also got what the inserted stages' own kernels sent (their gratuitous ARP), counted as their tx.
htx=$(sed -n 's/^stdpkt: eth0: rx .*; tx \([0-9]*\) packets.*/\1/p' h.err)
trx=$(sed -n 's/^stdpkt: eth0: rx \([0-9]*\) packets.*/\1/p' t.err)
mtx=$(cat m1.err m2.err | sed -n 's/^stdpkt: eth0: rx .*; tx \([0-9]*\) packets.*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
fwdlost=$((htx + mtx - trx))
ok "H sent $htx frames, M1 and M2 $mtx, T received $trx: $fwdlost lost on the way, within ping's loss" \
	test "$fwdlost" -ge 0 -a "$fwdlost" -le "$lost"
for s in 1 2; do
	ok "M$s counted what it relayed ($(grep -c . m$s.err) lines)" grep -q '^stdpkt: eth0: rx [1-9][0-9]* packets' m$s.err
done
for ns in $HN $TN; do ok "namespace $ns is gone" wait_for "test ! -e /run/netns/$ns" 3; done
ok "no control socket is left" wait_for "! ls $STDPKT_RUNDIR/ctl-*.sock 2>/dev/null" 3
done_testing
