#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0634-pktinetd-kill9-usage: kill -9 of the launcher leaves no child, stage or namespace; -h, misuse and failing templates.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd pktinetd stdpkt pktgen

# rc CMD...: its exit status, its stderr in err.txt
rc() { "$@" </dev/null >/dev/null 2>err.txt; echo $?; }

out=$(pktinetd -h); r=$?
is "$r" 0 "-h exits 0"
case $out in usage:*-k*-i*-n*-F*%s*) r=0 ;; *) r=1 ;; esac
is "$r" 0 "-h prints the usage to stdout"
is "$(rc pktinetd)" 2 "no template: exit 2"
is "$(head -1 err.txt)" "pktinetd: no command template" "and says so"
for bad in "-k port" "-i 0" "-i x" "-i 100000" "-n 0" "-n 5000" "-q 10" "-F pcapng" "-w 61" "-Z"; do
	# shellcheck disable=SC2086
	r=$(rc pktinetd $bad -- cat)
	case $(head -1 err.txt) in "pktinetd: "* | "usage: "*) ;; *) r="$r, message '$(head -1 err.txt)'" ;; esac
	is "$r" 2 "'$bad' exits 2 with a message"
done
is "$(rc pktinetd -- stdpkt -a %x/24)" 2 "an unknown %-word in the template exits 2"
is "$(head -1 err.txt)" "pktinetd: bad template word '%x/24': unknown %-sequence" "and names the word"

# A template that cannot run: reported a few times, counted, the launcher goes on and exits 0.
pktgen -c 20 -D 192.0.2.10-192.0.2.19 | timeout 10 pktinetd -k dst -c -- /nonexistent/prog >/dev/null 2>err.txt
is "$?" 0 "a template that cannot run does not stop the launcher"
is "$(grep -c "cannot run '/nonexistent/prog'" err.txt)" 10 "each child's exec failure is reported by the child"
is "$(grep -c "^pktinetd: child [0-9]* for 'dst-.*' exited 127" err.txt)" 5 "the first 5 failures are reported by the launcher, then only counted"
is "$(grep -o 'failed [0-9]*' err.txt)" "failed 10" "10 failures counted"

# kill -9 of the launcher with 5 named stacks: each gets SIGTERM from the kernel and removes its namespace.
mkfifo in
M=$NSPREFIX-i
timeout 30 pktinetd -k dst -i 60 -- stdpkt -n "$M%n" -a %d/24 <in >/dev/null 2>kill.err &
tpid=$!
exec 7>in
pktgen -c 5 -D 192.0.2.10-192.0.2.14 >&7
for n in 1 2 3 4 5; do own_ns "$M$n"; done
ok "5 stacks are up with their namespaces" wait_for "[ \$(ip netns list | grep -c '^$M[1-5]') = 5 ]" 10
pid=$(pgrep -x -P $tpid pktinetd)
kids=$(pgrep -P "$pid" | wc -l)
is "$kids" 5 "5 children"
kill -9 "$pid"
ok "after kill -9 no stage is left" wait_for "! pgrep -f 'stdpkt -n $M' >/dev/null" 5
ok "and no namespace" wait_for "[ \$(ip netns list | grep -c '^$M') = 0 ]" 5
ok "and no mount of one" sh -c "! grep -q ' /run/netns/$M' /proc/self/mountinfo"
exec 7>&-
wait $tpid 2>/dev/null
done_testing
