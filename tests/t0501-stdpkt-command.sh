#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# t0501-stdpkt-command.sh: the command's output never enters the packet stream, its exit status is the stage's, its stdin is empty.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd stdpkt pktconv ping

# A command that floods its stdout and stderr while it pings: the stream must hold only valid frames.
mkfifo b2a
timeout 30 stdpkt -a 192.0.2.1/24 -- sh -c '
	for i in $(seq 300); do echo "NOT A FRAME $i"; echo "ERR $i" >&2; done
	ping -c3 -i0.2 -W2 192.0.2.2; st=$?
	for i in $(seq 300); do echo "NOT A FRAME $i"; done; exit $st' <b2a 2>a.err |
	tee -p a2b.txt | timeout 30 stdpkt -a 192.0.2.2/24 >b2a 2>b.err
st=("${PIPESTATUS[@]}")
ast=${st[0]}
is "$ast" 0 "the stage exits with the command's status 0"
ok "the command's stdout went to the stage's stderr" grep -q 'NOT A FRAME 300' a.err
ok "the command's stderr went to the stage's stderr" grep -q 'ERR 300' a.err
ok "the stream holds frames only: pktconv -s accepts it" pktconv -s -F pcap a2b.txt -w a2b.pcap
is "$(grep -c 'NOT A FRAME\|ERR' a2b.txt)" 0 "no line of the command's output in the stream"

# -o FILE takes both stdout and stderr.
timeout 10 stdpkt -I none,none -o "$T/out.log" -- sh -c 'echo to-stdout; echo to-stderr >&2' 2>o.err >o.stream
is "$(cat out.log)" "$(printf 'to-stdout\nto-stderr')" "-o FILE holds the command's stdout and stderr"
is "$(cat o.err)" "" "nothing of it on the stage's stderr"

# Exit status: the command's, 128+N for a signal, 127 for a missing command.
timeout 10 stdpkt -I none,none -- sh -c 'exit 7'; is "$?" 7 "exit 7 propagates"
timeout 10 stdpkt -I none,none -- false; is "$?" 1 "false gives 1"
timeout 10 stdpkt -I none,none -- sh -c 'kill -TERM $$'; is "$?" 143 "a command killed by SIGTERM gives 143"
timeout 10 stdpkt -I none,none -- /nonexistent/cmd 2>ne.err; is "$?" 127 "a missing command gives 127"
ok "and says so" grep -q "stdpkt: cannot run '/nonexistent/cmd'" ne.err
# The command reads /dev/null, never the packet stream on stdin.
echo "02AA00000001 02AA00000002 0800 00" | timeout 10 stdpkt -o "$T/cat.log" -- cat >/dev/null
is "$(wc -c <cat.log | tr -d ' ')" 0 "the command's stdin is empty (the stream is not its input)"
# The command runs inside the stage: it sees eth0 with the address, not the host's interfaces.
timeout 10 stdpkt -I none,none -a 198.51.100.7/24 -o "$T/ip.log" -- ip -o addr show
ok "the command sees eth0 with its address" grep -q 'eth0 *inet 198\.51\.100\.7/24' ip.log
is "$(grep -c ': eth[0-9]\|: lo' ip.log | tr -d ' ')" "$(grep -c . ip.log)" "and only lo and eth0"
done_testing
