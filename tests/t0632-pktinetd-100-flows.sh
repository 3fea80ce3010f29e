#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0632-pktinetd-100-flows: 100 destinations pinged at once, each answered by its own stack booted on the first ARP; 100 children started, all ended idle.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd pktinetd stdpkt ping

counts() { grep -E '^pktinetd: (frames in|children started) ' "$2" | grep -o "$1 [0-9]*" | head -1 | awk '{ print $NF }'; }

# The client pings 192.0.2.10..109 all at once, then stays on the link longer than -i so that every
# child ends idle; the replies come back over a FIFO (the return direction).
mkfifo ret
timeout 50 stdpkt -a 192.0.2.1/24 -I ret,- -o pings.txt -- sh -c '
	for i in $(seq 10 109); do
		(ping -c1 -W8 192.0.2.$i >/dev/null && echo "ok $i") &
	done
	wait; sleep 3' 2>client.err |
	timeout 50 pktinetd -k dst -i 1 -n 150 -c -v -- stdpkt -a %d/24 >ret 2>inetd.err
is "$(sort -u pings.txt | wc -l)" 100 "all 100 destinations answered a ping"
is "$(counts 'children started' inetd.err)" 100 "100 children started"
is "$(grep -o "started [0-9]* for 'dst-192.0.2.[0-9]*'" inetd.err | awk '{ print $4 }' | sort -u | wc -l)" 100 \
	"one per destination"
is "$(counts 'ended idle' inetd.err)" 100 "all 100 ended idle"
is "$(counts 'failed' inetd.err) $(counts 'limit' inetd.err) $(counts 'queue full' inetd.err)" "0 0 0" \
	"none failed, nothing dropped"
# Each child got the ARP request and the echo request, at least; and answered both.
is "$(grep -cE "^pktinetd: child [0-9]+ 'dst-[0-9.]+': in ([2-9]|[1-9][0-9]+), out ([2-9]|[1-9][0-9]+), dropped 0; ended idle" inetd.err)" \
	100 "every child took and answered frames"
# The children by their pids (other tests may run stages with the same command line).
left=0
for p in $(grep -o "started [0-9]* for" inetd.err | awk '{ print $2 }'); do kill -0 "$p" 2>/dev/null && left=$((left + 1)); done
is "$left" 0 "no child is left"
done_testing
