#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# t0507-stdpkt-badinput.sh: bad records on a stage's input are reported with their line, counted and skipped; ping goes on.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd stdpkt ping

# Between a and b an awk puts two bad lines (a non-hex token, a frame under 14 bytes) after every frame.
mkfifo b2a
timeout 30 stdpkt -a 192.0.2.1/24 -o "$T/a.log" -- ping -c3 -i0.2 -W2 192.0.2.2 <b2a 2>a.err |
	awk -W interactive '{ print; print "02AA00000001 02AA00000002 0800 ZZ"; print "02AA" }' |
	tee -p a2b.txt | timeout 30 stdpkt -c -a 192.0.2.2/24 2>b.err >b2a
st=("${PIPESTATUS[@]}")
sed 's/^/# b.err: /' b.err | tail -3
is "${st[0]}" 0 "the pinging stage exits 0"
ok "ping got all three replies through the garbage" grep -q '3 packets transmitted, 3 received' a.log
frames=$(awk '$3 != "0800" || $4 != "ZZ"' a2b.txt | grep -vcx 02AA)
bad=$(grep -c 'skipped bad record' b.err)
is "$bad" $((frames * 2)) "every bad line was reported ($bad for $frames frames)"
ok "a report names the input and the line" grep -q "stdpkt: skipped bad record 'stdin': line 2: " b.err
ok "a report names the line of the short frame" grep -q "stdpkt: skipped bad record 'stdin': line 3: " b.err
is "$(sed -n 's/.*eth0: rx \([0-9]*\) packets, [0-9]* bytes, \([0-9]*\) bad.*/\1 \2/p' b.err)" "$frames $((frames * 2))" \
	"-c counts the good frames and the bad records apart"
is "${st[3]}" 0 "the stage that skipped them still ends with status 0"
done_testing
