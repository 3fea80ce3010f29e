#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# t0506-stdpkt-usage.sh: -h, misuse (exit 2) and runtime failures (exit 1) with clear messages.
. "$(dirname "$0")/lib.sh"
need_cmd stdpkt

stdpkt -h >h.out 2>h.err; is "$?" 0 "-h exits 0"
ok "-h prints the usage to stdout" grep -q '^usage: stdpkt' h.out
is "$(cat h.err)" "" "-h prints nothing to stderr"
ok "the usage names every option" sh -c 'for o in -I -a -m -M -F -g -f -s --nat -n -o -C -c -h; do grep -q -- "  $o " h.out || exit 1; done'

misuse() {
	local want=$1; shift
	timeout 10 stdpkt "$@" >m.out 2>m.err
	local st=$?
	is "$st" 2 "misuse exits 2: stdpkt $*"
	ok "  ... and says: $want" grep -q -- "$want" m.err
	is "$(cat m.out)" "" "  ... and writes nothing to stdout"
}
misuse "unknown option -- 'Z'" -Z
misuse "option requires an argument -- 'a'" -a
misuse "bad address '192.0.2.300/24'" -a 192.0.2.300/24
misuse "bad address '192.0.2.1': want ADDR/LEN" -a 192.0.2.1
misuse "bad address '2001:db8::1/129'" -a 2001:db8::1/129
misuse "bad mac address '01:00:5e:00:00:01'" -m 01:00:5e:00:00:01
misuse "bad mtu '40'" -M 40
misuse "bad format 'pcapng'" -F pcapng
misuse "bad interface endpoints 'onlyone': want RX,TX" -I onlyone
misuse "bad gateway '192.0.2.1/24'" -g 192.0.2.1/24
misuse "bad sysctl 'noequals'" -s noequals
misuse "bad namespace name 'a/b'" -n a/b
misuse "stdin is the RX of more than one interface" -I -,none -I -,none
misuse "unexpected argument 'ping': put the command after --" ping
printf -- '-a 192.0.2.1/24\n-Q\n' >bad.conf
misuse "unknown option -- 'Q'" -C bad.conf
misuse "cannot open 'nonexistent.conf'" -C nonexistent.conf

# Runtime failures exit 1 (they need a namespace: root).
if [ "$(id -u)" = 0 ]; then
	timeout 10 stdpkt -I none,none -o /nonexistent/dir/log -- true 2>r.err; is "$?" 1 "-o into a missing directory exits 1"
	ok "  ... with the file and the reason" grep -q "cannot open '/nonexistent/dir/log': No such file" r.err
	timeout 10 stdpkt -I none,none -s net.no.such.key=1 -- true 2>r.err; is "$?" 1 "an unknown sysctl exits 1"
	ok "  ... naming it" grep -q "cannot set sysctl 'net.no.such.key': no such key" r.err
	timeout 10 stdpkt -I none,none -g 203.0.113.1 -- true 2>r.err; is "$?" 1 "an unreachable gateway exits 1"
	ok "  ... naming it" grep -q "cannot add a default route via '203.0.113.1'" r.err
	timeout 10 stdpkt -I /nonexistent/fifo,none 2>r.err; is "$?" 1 "an RX path that does not exist exits 1"
	ok "  ... naming it" grep -q "cannot open '/nonexistent/fifo': No such file" r.err
elif [ "${STDPKT_MUST_WORK:-0}" = 1 ]; then
	_tap 1 "runtime failures need root, and STDPKT_MUST_WORK=1"
else
	skip "runtime failures need root"
fi
done_testing
