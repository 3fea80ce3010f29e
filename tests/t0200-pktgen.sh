#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0200-pktgen: pktgen's options, counts, sizes, formats, ranges, sequence numbers, pacing, and checksums checked by tshark.
. "$(dirname "$0")/lib.sh"
need_cmd pktgen pktconv tcpdump tshark

# exit status of a command, its stderr in $T/err
rc() { "$@" >/dev/null 2>"$T/err"; echo $?; }

# ---- usage and misuse ----
out=$(pktgen -h); r=$?
is "$r" 0 "-h exits 0"
case $out in usage:*-c*-s*-r*-p*) r=0 ;; *) r=1 ;; esac
is "$r" 0 "-h prints the usage to stdout"
is "$(rc pktgen -Z)" 2 "an unknown option exits 2"
is "$(rc pktgen extra)" 2 "a stray argument exits 2"
is "$(rc pktgen -p gre)" 2 "an unknown protocol exits 2"
is "$(rc pktgen -F pcapng)" 2 "an output format that cannot be written exits 2"
for bad in "-s 13" "-s 262145" "-s 45" "-s 61 -p tcp -6 " "-p udp -s 70000" "-V 4095" "-V x" "-r 101m" \
	"-r -1" "-c 1x" "-P 65536" "-Q 9-8" "-S 192.0.2.300" "-S 192.0.2.9-192.0.2.1" "-S 192.0.2.0/33" \
	"-S 2001:db8::/63" "-S 2001:db8::1-2001:db9::1" "-S 192.0.2.1 -D 2001:db8::2" "-a 02:00:00:00:00" \
	"-b 0200000000zz" "-f SX" "-p eth -S 192.0.2.1" "-p ipv4 -P 5" "-4 -6" "-p icmp6 -4" "-F vde -s 65536"; do
	# shellcheck disable=SC2086
	r=$(rc pktgen $bad)
	e=$(head -1 "$T/err")
	case $e in "pktgen: "*) ;; *) r="$r, message '$e'" ;; esac
	is "$r" 2 "'$bad' exits 2 with a message"
done
pktgen -s 40 2>"$T/err"
is "$(cat "$T/err")" "pktgen: bad frame size '40': must be 46..65549 for ipv4 udp" "the size message names the limits"
is "$(rc pktgen -w /nonexistent/dir/f)" 1 "an output file that cannot be opened exits 1"
r=$(rc pktgen -c 100000 -w /dev/full)
is "$r $(cut -d: -f1-2 "$T/err")" "1 pktgen: cannot write '/dev/full'" "a write error exits 1 with a message"

# ---- counts and sizes ----
is "$(pktgen | wc -l)" 1 "one frame by default"
pktgen -c 1000 -F pcap | pktconv -c -F pcap >/dev/null 2>"$T/err"
is "$(cat "$T/err")" "pktconv: 1000 packets, 60000 bytes, 0 bad" "-c 1000 makes 1000 frames of 60 bytes"
is "$(pktgen -c 777 -s 1514 -F pcap | tcpdump -r - -n 2>/dev/null | wc -l)" 777 "tcpdump reads 777 frames"
is "$(pktgen -c 3 -s 1514 -F pcap | tcpdump -r - -ne 2>/dev/null | grep -c 'length 1514:')" 3 \
	"tcpdump sees 1514-byte frames"
pktgen -c 5 -v -w f.txt 2>"$T/err"
is "$(cat "$T/err" | sed 's/ in .*//')" "pktgen: 5 packets, 300 bytes" "-v prints the counts"
is "$(wc -l <f.txt)" 5 "-w writes the file"
for spec in "eth 18" "eth 60" "ipv4 38" "ipv6 58" "udp 46" "tcp 58" "icmp 46" "icmp6 66" "udp 9000" "tcp 65549"; do
	set -- $spec
	n=$(pktgen -p "$1" -s "$2" -c 4 | awk -v want=$(($2 - 11)) 'NF == want { n++ } END { print n + 0 }')
	is "$n" 4 "-p $1 -s $2 makes $2-byte frames"
done
is "$(pktgen -p tcp -6 -V 1 | awk '{ print NF + 11 }')" 82 "the default size grows to fit the headers"
is "$(pktgen -c 0 | head -n 5000 | wc -l)" 5000 "-c 0 goes on without end"

# ---- formats agree with pktconv ----
pktgen -c 50 -p tcp -T 1000000000 -r 1000 -F pcap -w a.pcap
pktgen -c 50 -p tcp -T 1000000000 -r 1000 -t | pktconv -F pcap >b.pcap
cmp_files a.pcap b.pcap "ascii -t through pktconv equals pcap byte for byte"
pktgen -c 50 -p icmp -F vde | pktconv -i vde >a.txt
pktgen -c 50 -p icmp >b.txt
cmp_files a.txt b.txt "vde through pktconv equals ascii"
is "$(pktgen -c 3 -r 1000 -T 5000000000 -F pcap | tcpdump -tt -nr - 2>/dev/null | cut -d' ' -f1 | tr '\n' ' ')" \
	"5.000000 5.001000 5.002000 " "-T stamps the synthetic clock at the rate"
r=$(timeout 10 pktgen -c 100 -r 1 -T 0 | wc -l)
is "$r" 100 "-T does not wait"

# ---- fields ----
pktgen -a 02AA00000001 -b 02:bb:00:00:00:02 -V 100 -p icmp >f.txt
is "$(cut -d' ' -f1-7 f.txt)" "02BB00000002 02AA00000001 8100 00 64 08 00" "MACs in both notations and the VLAN tag"
is "$(pktgen -p tcp -f S -F pcap | tcpdump -nr - 2>/dev/null | grep -o 'Flags \[[^]]*\]')" "Flags [S]" "-f S sets SYN"
is "$(pktgen -p tcp -F pcap | tcpdump -nr - 2>/dev/null | grep -o 'Flags \[[^]]*\]')" "Flags [P.]" "tcp defaults to PSH|ACK"

# ---- ranges cycle, each field on its own, one step per frame ----
pktgen -c 7 -S 192.0.2.10-192.0.2.12 -D 198.51.100.6/31 -P 1000-1001 -Q 7 -F pcap |
	tcpdump -nr - 2>/dev/null | awk '{ print $3, $5 }' >got.txt
cat >want.txt <<EOF
192.0.2.10.1000 198.51.100.6.7:
192.0.2.11.1001 198.51.100.7.7:
192.0.2.12.1000 198.51.100.6.7:
192.0.2.10.1001 198.51.100.7.7:
192.0.2.11.1000 198.51.100.6.7:
192.0.2.12.1001 198.51.100.7.7:
192.0.2.10.1000 198.51.100.6.7:
EOF
cmp_files got.txt want.txt "IPv4 ranges, prefixes and port ranges cycle as documented"
pktgen -c 5 -p tcp -S 2001:db8::ffff-2001:db8::1:1 -D 2001:db8:1::/127 -Q 80-81 -F pcap |
	tcpdump -nr - 2>/dev/null | awk '{ print $3, $5 }' >got.txt
cat >want.txt <<EOF
2001:db8::ffff.9 2001:db8:1::.80:
2001:db8::1:0.9 2001:db8:1::1.81:
2001:db8::1:1.9 2001:db8:1::.80:
2001:db8::ffff.9 2001:db8:1::1.81:
2001:db8::1:0.9 2001:db8:1::.80:
EOF
cmp_files got.txt want.txt "IPv6 ranges carry across 16-bit groups and cycle"
is "$(pktgen -c 3 -p icmp -P 40-41 -F pcap | tcpdump -nr - 2>/dev/null | grep -o 'id [0-9]*, seq [0-9]*' | tr '\n' ' ')" \
	"id 40, seq 0 id 41, seq 1 id 40, seq 2 " "icmp: identifier from -P, sequence per frame"

# ---- sequence numbers in the payload (udp/ipv4: bytes 42..45, ascii fields 32..35) ----
n=$(pktgen -c 70000 | perl -lane '$b++ if hex(join "", @F[31..34]) != $. - 1; END { print $b + 0 }')
is "$n" 0 "the payload starts with the frame's sequence number"
is "$(pktgen -s 50 | cut -d' ' -f36-)" "04 05 06 07" "the rest of the payload counts its offset"

# ---- checksums, verified by tshark ----
check() {
	# $1: file; prints "good bad" over all checksum fields tshark knows
	tshark -r "$1" -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE -o tcp.check_checksum:TRUE \
		-T fields -e ip.checksum.status -e udp.checksum.status -e tcp.checksum.status \
		-e icmp.checksum.status -e icmpv6.checksum.status 2>/dev/null |
		awk '{ for (i = 1; i <= NF; i++) { if ($i == 1) g++; else if ($i == 0) b++ } } END { print g + 0, b + 0 }'
}
for p in udp tcp icmp ipv4; do
	for args in "" "-s 61" "-s 1515 -V 7" "-S 198.51.100.0/24 -D 203.0.113.5-203.0.113.200 -s 333"; do
		[ "$p" = ipv4 ] || args="$args -P 1-65535 -Q 65000-65535"
		# shellcheck disable=SC2086
		rm -f c.pcap
		pktgen -p $p $args -c 300 -F pcap -w c.pcap || diag "pktgen failed"
		[ "$p" = ipv4 ] && want=300 || want=600
		is "$(check c.pcap)" "$want 0" "tshark: $p $args: every checksum good"
	done
done
for p in udp tcp icmp6; do
	for args in "" "-s 79" "-s 1515 -V 7" "-S 2001:db8::/64 -D 2001:db8:ffff::1-2001:db8:ffff::ff:0 -s 333"; do
		args="$args -P 1-65535 -Q 65000-65535"
		# shellcheck disable=SC2086
		rm -f c.pcap
		pktgen -6 -p $p $args -c 300 -F pcap -w c.pcap || diag "pktgen failed"
		is "$(check c.pcap)" "300 0" "tshark: ipv6 $p $args: every checksum good"
	done
done
# The check itself must be able to fail: flip one payload byte of one frame.
pktgen -c 2 -F pcap -w c.pcap
printf '\xff' | dd of=c.pcap bs=1 seek=$((24 + 16 + 50)) conv=notrunc 2>/dev/null
is "$(check c.pcap)" "3 1" "tshark flags a corrupted udp checksum"
# A wide frame: the precomputed payload sum must match a full recomputation.
pktgen -p udp -s 65549 -c 2 -F pcap -w c.pcap
is "$(check c.pcap)" "4 0" "tshark: the largest udp/ipv4 frame"

# ---- pacing ----
start=$(date +%s%N)
n=$(pktgen -r 200 -c 40 -F pcap | tcpdump -r - -n 2>/dev/null | wc -l)
el=$((($(date +%s%N) - start) / 1000000))
is "$n" 40 "-r 200 -c 40 delivers 40 frames"
ok "-r 200 -c 40 takes at least 190 ms (took $el ms)" test "$el" -ge 190
# The first frame must reach a pipe at once, not when the run ends 2 s later.
r=$(timeout 10 pktgen -r 1 -c 3 | { read -r -t 1.5 l && echo "${l%% *}"; })
is "$r" "020000000002" "frames are flushed to a pipe as they are due"

done_testing
