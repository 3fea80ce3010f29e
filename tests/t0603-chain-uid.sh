#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0603-chain-uid: no process of another user, and no process of ours outside the pipe, can join a link.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd setpriv socat
export STDPKT_RUNDIR=$T/run
pktgen -c 100 -s 70 > frames.txt || exit 1
chmod 755 "$T"
chmod 644 frames.txt
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups env -u STDPKT_RUNDIR"
# nobody must be able to run our binaries.
$NOBODY "$BIN/pktlink" -h >/dev/null 2>&1 || skip_all "uid 65534 cannot run $BIN/pktlink"

# Another user's stage downstream of ours: neither side links, frames still flow one-way.
timeout 20 bash -c "pktlink -v -t 5000 < frames.txt 2>e1 | $NOBODY $BIN/pktlink -v -t 5000 -e > out-d.txt 2>e2"
cmp_files out-d.txt frames.txt "other uid downstream: frames pass one-way"
ok "other uid downstream: our stage does not link" grep -q '^pktlink: down none' e1
ok "other uid downstream: their stage does not link" grep -q '^pktlink: up none' e2
# And the other way round.
timeout 20 bash -c "$NOBODY $BIN/pktlink -v -t 5000 < frames.txt 2>e3 | pktlink -v -t 5000 -e > out-u.txt 2>e4"
cmp_files out-u.txt frames.txt "other uid upstream: frames pass one-way"
ok "other uid upstream: their stage does not link" grep -q '^pktlink: down none' e3
ok "other uid upstream: our stage does not link" grep -q '^pktlink: up none' e4
ok "no stage waited for a meeting" test -z "$(cat e1 e2 e3 e4 | grep 'did not meet')"

# A stage that waits: upstream is "pktlink" (a sleep under that name) that never meets.
mkdir fake && ln -s "$(command -v sleep)" fake/pktlink
timeout 20 bash -c "fake/pktlink 3 | pktlink -v -n -t 2000 2>e5" &
waiter=$!
wait_for 'ls run/p*.sock >/dev/null 2>&1' 5
sock=$(ls run/p*.sock 2>/dev/null | head -1)
ok "the waiting stage listens in its rendezvous directory" test -S "$sock"
is "$(stat -c %a run)" 700 "the rendezvous directory is mode 0700"
# Another user cannot even reach the socket.
$NOBODY socat -u OPEN:/dev/null "UNIX-CONNECT:$T/$sock" 2>nobody.err
ok "other uid: connection refused by the file system" test $? != 0 -a -n "$(grep -i 'permission denied' nobody.err)"
# A process of ours that is not in the pipeline connects, and is hung up on.
printf 'SPCHAIN\001\001%055d' 0 | timeout 5 socat -t 3 - "UNIX-CONNECT:$T/$sock" > imp.out 2>/dev/null
is "$(wc -c < imp.out)" 0 "same uid, not in the pipe: no reply, hung up on"
wait "$waiter"
ok "the waiting stage gave up one-way, saying it refused the impostor" \
	grep -q "did not meet us within 2000 ms (1 impostor refused)" e5
is "$(ls -A run)" "" "the rendezvous socket is removed"
done_testing
