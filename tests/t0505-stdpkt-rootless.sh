#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# t0505-stdpkt-rootless.sh: an unprivileged user runs a stage: TAP when /dev/net/tun is 0666, veth + AF_PACKET when it is not.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd stdpkt setpriv ping
AS_NOBODY="setpriv --reuid=nobody --regid=nogroup --clear-groups"
$AS_NOBODY unshare --user --map-root-user --net true 2>/dev/null || skip_all "unprivileged user namespaces are disabled"
chmod 0777 "$T"

# pingpair ARGS...: an unprivileged stage pings a root stage over a pipe and a FIFO; prints the ping log.
pingpair() {
	rm -f b2a; mkfifo b2a; chmod 0666 b2a
	timeout 30 $AS_NOBODY stdpkt -a 192.0.2.1/24 "$@" -- sh -c 'id -u; ip -o link show; ping -c3 -i0.2 -W2 192.0.2.2' \
		<b2a 2>nobody.err | timeout 30 stdpkt -a 192.0.2.2/24 >b2a 2>root.err
	st=("${PIPESTATUS[@]}")
	sed 's/^/# /' nobody.err | grep -v 'bytes from' | head -12
}

# /dev/net/tun as this machine has it (0600): the stage falls back to a veth pair and AF_PACKET.
mode=$(stat -c %a /dev/net/tun)
chmod 0600 /dev/net/tun
atexit "chmod $mode /dev/net/tun"
pingpair
is "${st[0]}" 0 "tun 0600: the unprivileged stage exits with ping's status 0"
ok "tun 0600: ping got all three replies" grep -q '3 packets transmitted, 3 received' nobody.err
ok "tun 0600: it ran in a user namespace (uid 0 inside)" grep -qx 0 nobody.err
ok "tun 0600: eth0 is one end of a veth pair" grep -q 'eth0@eth0-pipe' nobody.err

# Stock Debian's 0666: the same stage gets a TAP device.
chmod 0666 /dev/net/tun
pingpair
chmod 0600 /dev/net/tun
is "${st[0]}" 0 "tun 0666: the unprivileged stage exits with ping's status 0"
ok "tun 0666: ping got all three replies" grep -q '3 packets transmitted, 3 received' nobody.err
ok "tun 0666: eth0 is a TAP device, no veth" sh -c '! grep -q "eth0@" nobody.err && grep -q ": eth0: " nobody.err'

# Naming needs root: an unprivileged -n is a runtime failure, with a reason.
timeout 10 $AS_NOBODY stdpkt -n "$NSPREFIX-x" -I none,none -- true 2>n.err; is "$?" 1 "unprivileged -n exits 1"
ok "and says it needs root" grep -q -- '-n needs root' n.err
ok "no namespace name was made" test ! -e "/run/netns/$NSPREFIX-x"
done_testing
