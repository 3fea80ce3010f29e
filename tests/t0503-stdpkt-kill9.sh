#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# t0503-stdpkt-kill9.sh: kill -9 of a stage, or of the shell that runs it, leaves no namespace, bind mount or process.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd stdpkt setsid

# A unique marker in the command line finds every process the stage started, in any namespace.
M1=1.$$1
N1=$NSPREFIX-k1
own_ns "$N1"
# The command leaves a grandchild behind (sh forks sleep in the background): it must go too.
timeout 30 stdpkt -n "$N1" -I none,none -- sh -c "sleep 300 $M1 & sleep 301 $M1; :" 2>k1.err &
sp=$!
ok "the stage is up (name visible, command running)" wait_for "test -e /run/netns/$N1 && pgrep -f 'sleep 301 $M1' >/dev/null"
tap_before=$(ip netns exec "$N1" ip -o link show eth0 2>/dev/null | wc -l)
is "$tap_before" 1 "its TAP eth0 exists"
kill -9 "$(pgrep -x -P "$sp" stdpkt || echo "$sp")"
wait $sp 2>/dev/null
ok "after kill -9 the command and its background child are gone" wait_for "! pgrep -f '$M1' >/dev/null" 5
ok "the bind mount /run/netns/$N1 is removed by the watchdog" wait_for "test ! -e /run/netns/$N1" 5
ok "no mount of it is left" sh -c "! grep -q ' /run/netns/$N1 ' /proc/self/mountinfo"
ok "ip netns list does not show it" sh -c "! ip netns list | grep -q '^$N1'"
ok "no stdpkt process of that stage is left (watchdog included)" wait_for "! pgrep -f 'stdpkt -n $N1' >/dev/null" 5

# kill -9 of the parent: a shell running a chain of two stages; both stages follow it.
M2=1.$$2
N2=$NSPREFIX-k2
own_ns "$N2"
mkfifo hold
setsid bash -c "stdpkt -n $N2 -a 192.0.2.1/24 -- sleep 302 $M2 <'$T/hold' | stdpkt -a 192.0.2.2/24 -- sleep 303 $M2 >/dev/null" 2>k2.err &
shp=$!
exec 7>hold
ok "the chain is up" wait_for "test -e /run/netns/$N2 && pgrep -f 'sleep 303 $M2' >/dev/null && pgrep -f 'sleep 302 $M2' >/dev/null"
kill -9 "$shp"
ok "after kill -9 of their shell both stages' commands are gone" wait_for "! pgrep -f '$M2' >/dev/null" 5
ok "and the stages themselves" wait_for "! pgrep -f 'stdpkt -n $N2' >/dev/null && ! pgrep -f 'stdpkt -a 192.0.2.2/24 -- sleep 303' >/dev/null" 5
ok "and the named namespace" wait_for "test ! -e /run/netns/$N2" 5
exec 7>&-
done_testing
