#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# t0504-stdpkt-signals.sh: SIGTERM and SIGINT end a stage cleanly: the command gets the signal, everything is removed.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd stdpkt

for sig in TERM INT; do
	M=1.$$$((${#sig}))
	N=$NSPREFIX-s$sig
	own_ns "$N"
	timeout 30 stdpkt -c -n "$N" -I none,none -o "$T/$sig.log" -- \
		sh -c "trap 'echo got $sig; exit 9' $sig; sleep 300 $M & wait" 2>$sig.err &
	sp=$!
	ok "SIG$sig: the stage is up" wait_for "test -e /run/netns/$N && pgrep -f 'sleep 300 $M' >/dev/null"
	kill -$sig "$(pgrep -x -P "$sp" stdpkt || echo "$sp")"
	wait $sp; st=$?
	is "$st" 9 "SIG$sig: the command got the signal and its exit status is the stage's"
	ok "SIG$sig: the command's trap ran" grep -q "got $sig" $sig.log
	ok "SIG$sig: the namespace name is gone" test ! -e "/run/netns/$N"
	ok "SIG$sig: no process of the command is left" wait_for "! pgrep -f '$M' >/dev/null" 5
	ok "SIG$sig: -c counts were still printed" grep -q '^stdpkt: eth0: rx 0 packets' $sig.err
done
# A stage without a command exits 128+15 on SIGTERM.
mkfifo hold
timeout 30 stdpkt -I "$T/hold",none &
sp=$!
exec 7>hold
sleep 0.3
kill -TERM "$(pgrep -x -P "$sp" stdpkt || echo "$sp")"
wait $sp; is "$?" 143 "a stage without a command exits 143 on SIGTERM"
exec 7>&-
done_testing
