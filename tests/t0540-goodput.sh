#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# t0540-goodput.sh: iperf3 and a byte-for-byte TCP transfer between two stages over one pcap pipe each way.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd stdpkt iperf3 socat perl

# client 192.0.2.1 --| pcap |--> server 192.0.2.2, return over the FIFO s2c.  The client retries while
# the server is not yet listening (a refused connection does not use up `iperf3 -s -1`).  iperf3 3.12
# with -J exits 0 even when refused, so the JSON's "error" decides.
mkfifo s2c
timeout 60 stdpkt -I "$T/s2c",- -F pcap -a 192.0.2.1/24 -o "$T/client.log" -- \
	sh -c 'for i in $(seq 100); do iperf3 -c 192.0.2.2 -n 20M -J >"$0"; r=$?; echo "attempt $i: exit $r"
	       [ $r = 0 ] && ! grep -q "\"error\"" "$0" && exit 0; sleep 0.1; done; exit 1' \
	"$T/client.json" 2>client.err |
	timeout 60 stdpkt -I -,"$T/s2c" -F pcap -a 192.0.2.2/24 -o "$T/server.log" -- \
		sh -c 'exec iperf3 -s -1 -J >"$0"' "$T/server.json" 2>server.err
st=("${PIPESTATUS[@]}")
for f in client.err client.log server.err server.log; do [ -s $f ] && sed "s/^/# $f: /" $f | tail -4; done
is "${st[0]}" 0 "client stage exits with iperf3's status 0"
is "${st[1]}" 0 "server stage exits with iperf3 -s -1's status 0"
# "sent received errors": iperf3 3.12 stops the receiver's count at the end-of-test message, so bytes
# still in flight are not counted; TCP delivered them (the socat transfer below checks every byte).
read -r sent rcvd err < <(perl -MJSON::PP -e 'local $/; my $j = eval { decode_json(<STDIN>) } or do { print "0 0 unparsable\n"; exit };
	printf "%d %d %s\n", $j->{end}{sum_sent}{bytes} // 0, $j->{end}{sum_received}{bytes} // 0, $j->{error} // "none"' <client.json)
is "$err" none "iperf3 client reports no error"
# iperf3 sends whole 128 KiB blocks, so it may overshoot -n by one.
ok "iperf3 client sent all of -n 20M ($sent bytes)" test "$sent" -ge 20971520 -a "$sent" -le $((20971520 + 131072))
ok "iperf3 server received data ($rcvd bytes, at most what was sent)" test "$rcvd" -gt 0 -a "$rcvd" -le "$sent"
srv=$(perl -MJSON::PP -e 'local $/; my $j = eval { decode_json(<STDIN>) } or do { print "0\n"; exit };
	printf "%d\n", $j->{end}{sum_received}{bytes} // 0' <server.json)
is "$srv" "$rcvd" "the server's own JSON agrees on the bytes received"

# Every byte: 8 MB of random data through socat, compared with what the server stage wrote.  TCP
# data still queued when a stage's command exits dies with the stage, so the sender must outlive
# delivery: it reads the data file and writes what comes back to /dev/null (the `!!` pair), and after
# its EOF it waits (-t 20) until the receiver, which has written everything, closes the connection.
head -c 8M /dev/urandom >data
rm -f s2c; mkfifo s2c
timeout 60 stdpkt -I "$T/s2c",- -F pcap -a 192.0.2.1/24 -o "$T/sclient.log" -- \
	socat -t 20 OPEN:"$T/data"!!OPEN:/dev/null TCP:192.0.2.2:5202,retry=100,interval=0.1 2>sclient.err |
	timeout 60 stdpkt -I -,"$T/s2c" -F pcap -a 192.0.2.2/24 -o "$T/sserver.log" -- \
		socat -u TCP-LISTEN:5202,reuseaddr CREATE:"$T/recv" 2>sserver.err
st=("${PIPESTATUS[@]}")
for f in sclient.err sclient.log sserver.err sserver.log; do [ -s $f ] && sed "s/^/# $f: /" $f | tail -4; done
is "${st[0]}" 0 "socat client stage exits 0"
is "${st[1]}" 0 "socat server stage exits with socat's status 0"
cmp_files data recv "8 MB crossed the pcap pipes byte for byte"
done_testing
