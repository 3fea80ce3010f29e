#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# t0614-duplex-kill.sh: a stage of a duplex chain killed mid-stream: its neighbours say so and go on, nothing hangs, namespaces go.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd stdpkt ping pgrep

# run VICTIM: host | nat | dest, every stage named (-n) so that its namespace can be checked; the
# victim (nat or dest) gets SIGKILL once ping has had five replies.
run() {
	local victim=$1 H=$NSPREFIX-h$1 N=$NSPREFIX-n$1 D=$NSPREFIX-d$1 t0 pid
	own_ns "$H"; own_ns "$N"; own_ns "$D"
	t0=$(date +%s)
	timeout 40 bash -c "stdpkt -n $H -a 192.0.2.1/24 -g 192.0.2.254 -o '$T/$victim.log' -- ping -n -c 15 -i 0.2 -W1 203.0.113.8 2>$victim.h.err |
		stdpkt -c -n $N -a 192.0.2.254/24 -a 203.0.113.4/24 --nat 2>$victim.n.err |
		stdpkt -c -n $D -a 203.0.113.8/24 -g 203.0.113.4 >/dev/null 2>$victim.d.err
		echo \"\${PIPESTATUS[*]}\" >$victim.st" &
	local bg=$!
	wait_for "grep -qs 'icmp_seq=5 ' $victim.log" 10
	case $victim in nat) pid=$(pgrep -o -f "^stdpkt -c -n $N ") ;; dest) pid=$(pgrep -o -f "^stdpkt -c -n $D ") ;; esac
	ok "$victim: found the stage to kill ($pid)" test -n "$pid"
	kill -9 "$pid"
	wait $bg
	ok "$victim: the chain came back within ping's own time ($(($(date +%s) - t0)) s)" test $(($(date +%s) - t0)) -le 8
	for f in $victim.h.err $victim.n.err $victim.d.err; do [ -s $f ] && sed "s/^/# $f: /" $f | tail -4; done
	grep 'packets transmitted' $victim.log | sed "s/^/# /"
	local got
	got=$(sed -n 's/.* transmitted, \([0-9]*\) received.*/\1/p' $victim.log)
	ok "$victim: ping went on to its 15th request and got 5..14 replies ($got)" \
		sh -c "grep -q '^15 packets transmitted' $victim.log && test ${got:-0} -ge 5 -a ${got:-0} -lt 15"
	for ns in $H $N $D; do
		ok "$victim: namespace $ns is gone" wait_for "test ! -e /run/netns/$ns" 3
	done
}

run dest
is "$(cat dest.st)" "0 0 137" "dest killed: host exits with ping's 0 (some replies), nat ends with the host (0), dest 137"
ok "dest killed: nat said the stage after it went away" \
	grep -q '^stdpkt: eth1: the stage after (pid [0-9]*) went away' dest.n.err
dropped=$(sed -n 's/^stdpkt: eth1: .*, \([0-9]*\) dropped$/\1/p' dest.n.err)
ok "dest killed: nat counted the requests it could no longer pass on as dropped ($dropped)" test "${dropped:-0}" -ge 1

run nat
is "$(cat nat.st)" "0 137 0" "nat killed: host exits with ping's 0 (some replies), dest ends when its upstream ends (0)"
ok "nat killed: the host said the stage after it went away" \
	grep -q '^stdpkt: eth0: the stage after (pid [0-9]*) went away\|^stdpkt: eth0: link to the stage after .* broke' nat.h.err
done_testing
