#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0631-pktinetd-idle-limit: idle children are ended and a key comes back as a new child, the child limit and full queues drop and count, SIGUSR1 and SIGTERM.
. "$(dirname "$0")/lib.sh"
need_cmd pktinetd pktgen

counts() { grep -E '^pktinetd: (frames in|children started) ' "$2" | grep -o "$1 [0-9]*" | head -1 | awk '{ print $NF }'; }

# Idle: three keys, a pause longer than -i, then one of them again: it gets a fresh child.
{ pktgen -c 3 -D 192.0.2.10-192.0.2.12; sleep 1.5; pktgen -c 1 -D 192.0.2.10; sleep 1.5; } |
	timeout 20 pktinetd -k dst -i 0.5 -c -v -- cat >out.txt 2>err.txt
is "$?" 0 "exits 0"
is "$(wc -l <out.txt)" 4 "4 frames in, 4 out"
is "$(counts 'children started' err.txt)" 4 "4 children: 3 keys, then one of them again after it idled"
is "$(counts 'ended idle' err.txt)" 4 "all 4 ended idle (the input stayed open longer than -i)"
is "$(grep -c "child [0-9]* 'dst-192.0.2.10': in 1, out 1, dropped 0; ended idle" err.txt)" 2 \
	"192.0.2.10 had two children, each with its own counts"
is "$(counts 'running' err.txt)" 0 "none left running"

# The limit: 5 keys, -n 3: the frames of the 2 keys beyond it are dropped and counted.
pktgen -c 50 -D 192.0.2.10-192.0.2.14 | timeout 20 pktinetd -k dst -n 3 -c -- cat >out.txt 2>err.txt
is "$(counts 'children started' err.txt)" 3 "-n 3: 3 children"
is "$(counts 'limit' err.txt)" 20 "the 20 frames of the 2 other keys are dropped as over the limit"
is "$(wc -l <out.txt)" 30 "the 30 frames of the 3 keys come back"
is "$(grep -c ' C0 00 02 0E ' out.txt)" 0 "nothing of 192.0.2.14"

# A child that never reads: its queue fills, the rest of its frames are dropped and counted, nothing
# blocks, and another key's child still gets everything.
{ pktgen -c 3000 -D 192.0.2.10; pktgen -c 10 -D 192.0.2.11; } |
	timeout 20 pktinetd -k dst -q 64k -i 0.5 -c -- sh -c 'case %d in *.10) exec sleep 30 ;; *) exec cat ;; esac' \
	>out.txt 2>err.txt
is "$?" 0 "a stuck child does not stop the launcher"
q=$(counts 'queue full' err.txt); tc=$(counts 'to children' err.txt)
ok "frames for the stuck child are dropped as queue full ($q)" test "$q" -gt 1000
is "$((q + tc))" 3010 "queued + dropped = frames in (3010)"
is "$(wc -l <out.txt)" 10 "the other child's 10 frames come back"
is "$(counts 'ended idle' err.txt)" 1 "the stuck child is ended when idle"

# SIGUSR1 prints the counts and one line per child; SIGTERM ends the children and the launcher (128+15).
mkfifo in
timeout 20 pktinetd -k dst -- cat <in >out.txt 2>err.txt &
tpid=$!
exec 7>in
wait_for "pgrep -x -P $tpid pktinetd >/dev/null"
pid=$(pgrep -x -P $tpid pktinetd)
pktgen -c 4 -D 192.0.2.10-192.0.2.11 >&7
ok "two children run" wait_for "[ \$(pgrep -c -P $pid) = 2 ]"
kill -USR1 $pid
ok "SIGUSR1: counts" wait_for "grep -q 'children started 2,' err.txt"
is "$(grep -c "^pktinetd: child [0-9]* 'dst-192.0.2.1[01]': in 2, out 2, dropped 0; running" err.txt)" 2 "SIGUSR1: a line per child"
kids=$(pgrep -P $pid | tr '\n' ' ')
kill -TERM $pid
wait $tpid
is "$?" 143 "SIGTERM: exit 143"
ok "SIGTERM: the children are gone" sh -c "! ps -p '${kids% }' >/dev/null 2>&1"
exec 7>&-
done_testing
