#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# t0502-stdpkt-name.sh: -n NAME shows the stage's namespace to `ip netns` while it runs, and removes it after.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd stdpkt

N=$NSPREFIX-named
own_ns "$N"
mkfifo hold
# The stage runs until its input ends: a FIFO we hold open for writing.
timeout 30 stdpkt -n "$N" -a 198.51.100.1/24 -m 02:00:5e:10:00:01 -M 1400 -s net.ipv4.ip_default_ttl=33 \
	<hold >/dev/null 2>s.err &
sp=$!
exec 7>hold
ok "the name shows in ip netns list while the stage runs" wait_for "ip netns list | grep -qx '$N\\( .*\\)\\?'"
ok "ip netns exec sees eth0 with the address" sh -c "ip netns exec '$N' ip -o addr show eth0 | grep -q 'inet 198\\.51\\.100\\.1/24'"
ok "eth0 is up" sh -c "ip -n '$N' -o link show eth0 | grep -q '<[^>]*,UP'"
ok "eth0 has the MAC given by -m" sh -c "ip -n '$N' -o link show eth0 | grep -q 'link/ether 02:00:5e:10:00:01'"
ok "eth0 has the MTU given by -M" sh -c "ip -n '$N' -o link show eth0 | grep -q 'mtu 1400'"
is "$(ip netns exec "$N" cat /proc/sys/net/ipv4/ip_default_ttl)" 33 "-s set the sysctl inside the stage"
is "$(cat /proc/sys/net/ipv4/ip_default_ttl)" 64 "and not outside"
ok "lo is up inside" sh -c "ip -n '$N' -o link show lo | grep -q '<[^>]*,UP'"
# A second stage may not take a name in use.
timeout 10 stdpkt -n "$N" -I none,none -- true 2>dup.err; is "$?" 1 "a name in use is a runtime failure (exit 1)"
ok "and says the name is in use" grep -q "name is in use" dup.err
exec 7>&-
wait $sp; is "$?" 0 "the stage ends with status 0 when its input ends"
ok "the name is gone from ip netns list" sh -c "! ip netns list | grep -q '^$N'"
ok "/run/netns/$N is gone" test ! -e "/run/netns/$N"
ok "no bind mount is left" sh -c "! grep -q ' /run/netns/$N ' /proc/self/mountinfo"
ok "no stdpkt process of this stage is left" wait_for "! pgrep -f 'stdpkt -n $N' >/dev/null" 3
done_testing
