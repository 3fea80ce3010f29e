#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# t0519-stdpkt-linkdown: a stage whose interface is set down drops and counts the frames meanwhile, and carries on when it is up again.
. "$(dirname "$0")/lib.sh"
need_root

# The command sets eth0 down and up, then checks that frames arrive again; the stage must neither
# die on the refused writes nor hide them.
# (/proc/net/dev, not /sys: sysfs shows the namespace it was mounted in.)
cmd='rx() { awk -F"[: ]+" "/eth0:/ { print \$4 }" /proc/net/dev; }
ip link set eth0 down; sleep 0.5; ip link set eth0 up; sleep 0.3
a=$(rx); sleep 0.5; b=$(rx); test "$b" -gt "$a"'
for fmt in ascii pcap; do
	timeout 30 bash -c "pktgen -c 0 -r 200 -F $fmt -S 192.0.2.1 -D 192.0.2.9 2>/dev/null |
		stdpkt --one-way -c -F $fmt -a 192.0.2.9/24 -- sh -c '$cmd' >/dev/null; echo \${PIPESTATUS[1]} >rc" 2>err.$fmt
	is "$(cat rc)" 0 "$fmt: the stage lives through eth0 going down and up, and frames arrive again"
	bad=$(sed -n 's/.*eth0: rx [0-9]* packets, [0-9]* bytes, \([0-9]*\) bad.*/\1/p' err.$fmt)
	ok "$fmt: the frames refused while it was down are counted ($bad)" test "${bad:-0}" -gt 0
	not_ok "$fmt: and no send failure is reported as fatal" grep -q "cannot send" err.$fmt
done
done_testing
