#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0400-ethpipefs: the device files: writes framed across calls, bad lines skipped, readers each get every frame, pcap for tcpdump, poll, drops, unmount and kill.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ethpipefs pktgen pktconv tcpdump tcpreplay nsenter fusermount3 perl setpriv
[ -c /dev/fuse ] || skip_all "needs /dev/fuse"

# a0 --- m0 [ethpipefs in m] m1 --- b0
mkns m >/dev/null && mkns a >/dev/null && mkns b >/dev/null || skip_all "cannot make network namespaces"
m=$NSPREFIX-m a=$NSPREFIX-a b=$NSPREFIX-b
# No IPv6 chatter (router solicitations, MLD): the captures hold only the test's frames.
for ns in "$m" "$a" "$b"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
veth "$m" m0 "$a" a0 && veth "$m" m1 "$b" b0 || skip_all "cannot make veth pairs"

mkdir ep ep2
atexit "fusermount3 -u -z $T/ep 2>/dev/null; fusermount3 -u -z $T/ep2 2>/dev/null"
mounted() { grep -q " $1 fuse.ethpipefs " /proc/mounts; }
# The FUSE mount stays in this shell's mount namespace: nsenter changes only the network one.
# fs_start MOUNTPOINT ARGS...: runs ethpipefs -f ARGS... in namespace m, waits for the mount.
fs_start() {
	local mnt=$1
	shift
	nsenter --net=/run/netns/"$m" timeout 60 ethpipefs -f "$@" 2>>fs.err &
	fs=$!
	wait_for "mounted $mnt" 5 || diag "not mounted: $(tail -3 fs.err)"
}
stat_of() { sed -n "s/^$2 .* $3=\([0-9]*\).*/\1/p" "$1/stats"; }
# cap_start NS IF FILE / cap_stop: tcpdump -w on the far side, incoming frames only; a small
# snaplen and a bigger buffer, or immediate mode's snaplen-sized slots drop frames on a busy machine.
cap_start() {
	timeout 40 ip netns exec "$1" tcpdump -Z root --immediate-mode -s 2048 -B 8192 -U -Q in -i "$2" -w "$3" 2>"$3.err" &
	cap=$!
	wait_for "grep -q listening $3.err" 5 || diag "tcpdump did not start: $(cat "$3.err")"
}
cap_stop() { sleep 0.2; kill "$cap" 2>/dev/null; wait "$cap" 2>/dev/null; }
inject() { timeout 20 ip netns exec "$a" tcpreplay -q --pps 20000 -i a0 "$1" >>replay.log 2>&1; }

# ---- command line ----
out=$(ethpipefs -h)
ok "-h prints usage and exits 0" grep -q '^usage: ethpipefs' <<<"$out"
ethpipefs 2>/dev/null
is "$?" 2 "no mount point: exit 2"
ethpipefs -q 1 ep m0 2>/dev/null
is "$?" 2 "a queue bound out of range: exit 2"
nsenter --net=/run/netns/"$m" timeout 10 ethpipefs -f ep nosuch0 2>err.txt
is "$?" 1 "an interface that does not exist: exit 1"
ok "the message names the interface" grep -q "^ethpipefs: cannot open interface 'nosuch0': " err.txt
not_ok "and nothing is mounted" mounted "$T/ep"

# ---- the directory ----
fs_start "$T/ep" "$T/ep" m0 m1
ok "ethpipefs mounts the directory" mounted "$T/ep"
is "$(ls ep | tr '\n' ' ')" "0 1 r0 r1 stats " "the files: N and rN per interface, and stats"
is "$(stat -c '%A %U' ep/0 ep/r1 | tr '\n' ' ')" "-rw------- root -rw------- root " "mode 0600, owned by the mounting user"
not_ok "another user cannot open a device file" setpriv --reuid=65534 --regid=65534 --clear-groups cat ep/0

# ---- writing ASCII: a line split across two writes, bad lines skipped with their numbers ----
pktgen -c 6 -s 64 -b 02:00:00:00:00:02 >in6.txt
l3=$(sed -n 3p in6.txt)
cap_start "$b" b0 w.pcap
{
	sed -n 1,2p in6.txt
	printf '%s' "${l3:0:40}" # one write ends inside line 3 ...
	sleep 0.3
	printf '%s\n' "${l3:40}" # ... the next one finishes it
	printf 'zz 11 22\n'      # line 4: not hex
	printf '0200 00 01\n'    # line 5: shorter than a header
	sed -n 4,6p in6.txt      # lines 6-8
} >ep/1
wait_for "[ \"\$(stat_of ep 1 tx_pkts)\" = 6 ]" 5
cap_stop
pktconv w.pcap >w.txt 2>/dev/null
cmp_files w.txt in6.txt "the far side gets the 6 good frames once each, the split line as one frame"
is "$(stat_of ep 1 bad)" 2 "stats counts the 2 bad lines"
ok "the bad lines are logged with their line numbers" \
	grep -q "^ethpipefs: skipped bad record '1': line 4: " fs.err
ok "... line 5 too" grep -q "^ethpipefs: skipped bad record '1': line 5: " fs.err
printf '%s' "$(sed -n 1p in6.txt)" >ep/1 # no newline at all
wait_for "[ \"\$(stat_of ep 1 tx_pkts)\" = 7 ]" 3
is "$(stat_of ep 1 tx_pkts)" 7 "a last line without its newline is sent at close"
# A line longer than any frame's is dropped as it streams in, without holding it all.
{ head -c 1200000 /dev/zero | tr '\0' A; echo; sed -n 2p in6.txt; } >ep/1
wait_for "[ \"\$(stat_of ep 1 tx_pkts)\" = 8 ]" 3
is "$(stat_of ep 1 tx_pkts) $(stat_of ep 1 bad)" "8 3" "a 1.2 MB line is one bad line; the next line is sent"
ok "... logged as too long" grep -q "^ethpipefs: skipped bad record '1': line 1: longer than" fs.err

# ---- writing pcap to rN ----
pktgen -c 50 -s 150 -F pcap -w in50.pcap
cap_start "$b" b0 wr.pcap
# dd bs=7: the records arrive cut at every 7th byte.
dd if=in50.pcap bs=7 of=ep/r1 status=none
wait_for "[ \"\$(stat_of ep 1 tx_pkts)\" = 58 ]" 5
cap_stop
cmp_files <(pktconv wr.pcap) <(pktconv in50.pcap) "pcap records written 7 bytes at a time to r1 arrive whole"
# A framer must survive a split at every byte: one write(2) per byte.
pktgen -c 5 -s 70 -P 7 -F pcap -w in5.pcap
cap_start "$b" b0 split.pcap
base=$(stat_of ep 1 tx_pkts)
dd if=in6.txt bs=1 of=ep/1 status=none
dd if=in5.pcap bs=1 of=ep/r1 status=none
wait_for "[ \"\$(stat_of ep 1 tx_pkts)\" = $((base + 11)) ]" 5
cap_stop
cmp_files <(pktconv split.pcap) <(cat in6.txt; pktconv in5.pcap) "lines and records written one byte per write arrive whole, once"
not_ok "a write of something that is not pcap to r1 fails" sh -c "echo 'hello, this is not a pcap file' >ep/r1" 2>/dev/null
ok "... and is logged" grep -q "^ethpipefs: skipped bad record 'r1': byte offset 0: not a pcap file" fs.err

# ---- reading: every reader gets every frame; whole lines per read, cut only for a tiny buffer ----
pktgen -c 300 -s 90 -b 02:00:00:00:00:01 -F pcap -w in300.pcap
pktconv in300.pcap >in300.txt
total=$(wc -c <in300.txt)
# rd BUFSIZE OUT: reads total bytes with sysread(BUFSIZE); logs each read's length and whether it ended a line.
rd() {
	timeout 20 perl -e 'open(F, "<", $ARGV[0]) or die; open(O, ">", $ARGV[2]); open(L, ">", $ARGV[3]);
		$| = 1; $left = $ARGV[4];
		while ($left > 0 && ($n = sysread(F, $b, $ARGV[1])) > 0) {
			print O $b; print L "$n ", (substr($b, -1) eq "\n" ? "whole" : "cut"), "\n"; $left -= $n }' \
		ep/0 "$1" "$2" "$2.log" "$total" &
}
rd 4096 r1.txt
p1=$!
rd 4096 r2.txt
p2=$!
rd 50 r3.txt
p3=$!
timeout 20 cat ep/r0 >r0.pcap &
p4=$!
wait_for "[ \"\$(stat_of ep 0 readers)\" = 4 ]" 5
inject in300.pcap
wait $p1 $p2 $p3
wait_for "[ \"\$(stat_of ep 0 rx_pkts)\" = 300 ]" 3
sleep 0.2
kill $p4
cmp_files r1.txt in300.txt "reader 1 of 0 gets all 300 frames in order"
cmp_files r2.txt in300.txt "reader 2 of 0 gets all 300 frames too"
is "$(grep -c cut r1.txt.log)" 0 "with a 4096-byte buffer every read ends at a line end"
cmp_files r3.txt in300.txt "a reader with a 50-byte buffer gets the same bytes"
is "$(awk '$1 != 50 && $2 == "cut"' r3.txt.log | wc -l)" 0 "a record cut for a small buffer fills it; the rest comes next"
is "$(tcpdump -r r0.pcap 2>/dev/null | wc -l)" 300 "tcpdump -r reads 300 packets from r0"
cmp_files <(pktconv r0.pcap) in300.txt "r0's records hold the frames byte for byte"

# ---- the port's own frames are not echoed to its readers; O_NONBLOCK; poll ----
timeout 20 perl -e 'open(F, "<", $ARGV[0]) or die; open(O, ">", $ARGV[1]); $| = 1;
	while (sysread(F, $b, 65536) > 0) { syswrite(O, $b) }' ep/0 echo.txt &
pe=$!
wait_for "[ \"\$(stat_of ep 0 readers)\" = 1 ]" 5
pktgen -c 20 -b 02:00:00:00:00:09 >ep/0
pktgen -c 3 -F pcap -w in3.pcap
inject in3.pcap
wait_for "[ \$(wc -l <echo.txt) -ge 3 ]" 5
sleep 0.3
kill $pe
is "$(stat_of ep 0 tx_pkts) $(wc -l <echo.txt | tr -d ' ')" "20 3" "20 frames sent on 0, its reader gets only the 3 received"
timeout 10 perl -MFcntl -e 'sysopen(F, $ARGV[0], O_RDONLY | O_NONBLOCK) or die;
	$n = sysread(F, $b, 4096); exit(!defined $n && $!{EAGAIN} ? 0 : 1)' ep/0
is "$?" 0 "a non-blocking read with nothing queued fails with EAGAIN"
# poll: select(2) says not readable, then readable once a frame came in.
timeout 20 perl -e 'open(F, "<", $ARGV[0]) or die; vec($r = "", fileno(F), 1) = 1;
	$n = select($o = $r, undef, undef, 0.3); print "before=$n\n";
	open(G, ">", $ARGV[1]); close G;
	$n = select($o = $r, undef, undef, 10); print "after=$n\n"' ep/0 poll.ready >poll.txt &
pp=$!
wait_for "[ -e poll.ready ]" 5
inject in3.pcap
wait $pp
is "$(tr '\n' ' ' <poll.txt)" "before=0 after=1 " "select(2) blocks until a frame is queued, then reports readable"

# ---- SIGUSR1 prints the counts ----
kill -USR1 "$(ip netns pids "$m" | xargs -r ps -o pid=,comm= -p | awk '$2 == "ethpipefs" { print $1 }')"
wait_for "grep -q '^ethpipefs: 0 m0 rx_pkts=' fs.err" 3
ok "SIGUSR1 prints each port's counts to stderr" grep -q '^ethpipefs: 1 m1 rx_pkts=0 rx_bytes=0 tx_pkts=69 ' fs.err

# ---- unmount: the process ends, the mount is gone ----
ok "fusermount3 -u unmounts" fusermount3 -u "$T/ep"
wait $fs
rc=$?
is "$rc" 0 "ethpipefs exits 0 after the unmount"
[ "$rc" = 0 ] || diag "$(tail -20 fs.err)"
not_ok "/proc/mounts no longer lists it" mounted "$T/ep"
is "$(ip netns pids "$m" | wc -l | tr -d ' ')" 0 "no process is left in its namespace"

# ---- a slow reader: frames beyond its queue bound are dropped and counted, the rest kept ----
fs_start "$T/ep2" -o allow_other -m 0604 -q 16k "$T/ep2" m0
# allow_other lets other users in; the mode bits then decide (default_permissions).
chmod 711 "$T"
is "$(stat -c %A ep2/0)" "-rw----r--" "-m sets the files' mode"
timeout 1 setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'cat ep2/0 >/dev/null'
is "$?" 124 "with -o allow_other and mode 0604 another user may open for reading (and blocks in read)"
not_ok "... but not for writing" setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'echo x >ep2/0' 2>/dev/null
chmod 700 "$T"
exec 5<ep2/0
pktgen -c 1000 -F pcap -w in1000.pcap
inject in1000.pcap
wait_for "[ \"\$(stat_of ep2 0 rx_pkts)\" = 1000 ]" 5
drops=$(stat_of ep2 0 reader_drops)
timeout 2 cat <&5 >slow.txt
exec 5<&-
kept=$(wc -l <slow.txt | tr -d ' ')
ok "a reader that does not read loses frames (dropped: $drops)" [ "${drops:-0}" -gt 0 ]
is "$((kept + ${drops:-0}))" 1000 "kept + dropped = 1000 frames received"
cmp_files slow.txt <(pktconv in1000.pcap | head -n "$kept") "what was kept is the first frames, whole and in order"

# ---- SIGTERM with a reader blocked in read(2): nothing is left behind ----
timeout 20 cat ep2/0 >/dev/null 2>&1 &
pc=$!
wait_for "[ \"\$(stat_of ep2 0 readers)\" = 1 ]" 5
kill "$(ip netns pids "$m" | xargs -r ps -o pid=,comm= -p | awk '$2 == "ethpipefs" { print $1 }')"
wait $fs
rc=$?
is "$rc" 0 "ethpipefs exits 0 on SIGTERM"
[ "$rc" = 0 ] || diag "$(tail -20 fs.err)"
wait $pc
ok "the blocked reader is released (not killed by timeout)" [ $? != 124 ]
not_ok "the mount is gone from /proc/mounts" mounted "$T/ep2"
is "$(ip netns pids "$m" | wc -l | tr -d ' ')" 0 "no process is left in its namespace"

done_testing
