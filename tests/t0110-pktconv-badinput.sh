#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0110-pktconv-badinput: bad records are named by line or byte offset, counted and skipped while the good ones go through; fatal input exits 1; empty input is quiet.
. "$(dirname "$0")/lib.sh"
need_cmd text2pcap tcpdump od
[ -x "$BIN/pktconv" ] || skip_all "pktconv is not built"

G1="FFFFFFFFFFFF 02AA00000001 0806 00 01 08 00 06 04 00 01"
G2="02AA00000002 02AA00000001 0800 45 00 00 14 00 01 00 00 40 FF 00 00 C0 00 02 01 C0 00 02 02"
G3="02AA00000002 02AA00000001 86DD 60 00 00 00"
G4="0000000000000001 02AA00000002 02AA00000001 0800 45"
G5="FFFFFFFFFFFF 02AA00000001 88B5"
# One bad line of every kind, each between good ones; the line numbers are in the comments.
cat >in.txt <<EOF
$G1
FFFFFFFFFFFF 02AA00000001 0806 00 0 08
$G2
FFFFFFFFFFFF 02AA00000001 0806 00 01 0G
$G3
FFFFFFFFFFFF 02AA00000001 08
# a comment and a blank line are not bad

$G4
FFFFFFFFFFFF 02AA00000001 0806 000 01
FFFFFFFFFFFF 02AA00000001 0806 00 01 02 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50
$G5
FFFFFFFFFFFF 02AA00000001 0806 00 01 len=3
EOF
# lines:  2 odd digit count, 4 non-hex, 6 under 14 bytes, 10 token of 3 digits, 11 over -m 60, 13 bad len=
printf '%s\n' "$G1" "$G2" "$G3" "${G4#* }" "$G5" >want.txt

pktconv -c -m 60 in.txt >out.txt 2>err.txt
is "$?" 0 "bad lines are skipped: exit 0"
cmp_files out.txt want.txt "the five good lines come out, in order, byte for byte"
is "$(grep -c "^pktconv: skipped bad record 'in.txt': line [0-9]*: " err.txt)" 6 "six 'skipped bad record' messages naming file and line"
for l in 2 4 6 10 11 13; do
	ok "line $l is named" grep -q "'in.txt': line $l: " err.txt
done
ok "odd digit count named as such" grep -q "line 2: .*odd" err.txt
ok "non-hex character named as such" grep -q "line 4: .*non-hex" err.txt
ok "short frame named as such" grep -Eq "line 6: .*(shorter|14)" err.txt
ok "over-maximum named as such" grep -Eq "line 11: .*max" err.txt
ok "bad wire length named as such" grep -q "line 13: .*len" err.txt
bytes() { awk '{ s += 14 + NF - 3 } END { print s + 0 }' "$@"; }
is "$(tail -1 err.txt)" "pktconv: 5 packets, $(bytes want.txt) bytes, 6 bad" "-c counts packets, bytes and bad records"
ok "messages are lowercase without a full stop" sh -c "! grep -E '\\.\$|^pktconv: [A-Z]' err.txt"

# From stdin the name is '-'.
pktconv -m 60 <in.txt >/dev/null 2>err2.txt
ok "stdin is named '-'" grep -q "skipped bad record '-': line 2: " err2.txt

# -s: the first bad line is an error; what came before it is written, nothing after.
pktconv -s -m 60 in.txt >out.txt 2>err.txt
is "$?" 1 "-s exits 1 at the first bad line"
is "$(cat out.txt)" "$G1" "-s: only the good line before it comes out"
is "$(grep -c . err.txt)" 1 "-s: one message"
ok "-s: the message names line 2" grep -q "'in.txt': line 2: " err.txt

# pcap: three packets, cut 10 bytes short of the end.
printf '%s\n' "$G1" "$G2" "$G5" | pktconv -F pcap >good.pcap
sz=$(stat -c %s good.pcap)
head -c $((sz - 10)) good.pcap >trunc.pcap
pktconv trunc.pcap >out.txt 2>err.txt
is "$?" 1 "a truncated pcap exits 1"
printf '%s\n' "$G1" "$G2" >want2.txt
cmp_files out.txt want2.txt "the whole records before the truncation come out"
last=$((24 + 16 + $(echo "$G1" | bytes) + 16 + $(echo "$G2" | bytes))) # header, two records: where the third begins
ok "the error names the byte offset of the cut record ($last)" grep -q "byte offset $last" err.txt
ok "the error says 10 bytes are missing" grep -q "10 missing" err.txt
ok "the error is one 'pktconv: cannot read' line naming the file" \
	test "$(grep -c "^pktconv: [a-z ]*'trunc.pcap': " err.txt)" = 1

# A record over -m in a pcap is skipped by offset and the rest continues.
pktconv -c -m 20 good.pcap >out.txt 2>err.txt
is "$?" 0 "an over-maximum pcap record is skipped: exit 0"
printf '%s\n' "$G5" >want3.txt
cmp_files out.txt want3.txt "-m 20: only the 14-byte frame comes out"
ok "the skipped records are named by byte offset" grep -q "skipped bad record 'good.pcap': byte offset 24: " err.txt
ok "counts: 1 packet, 2 bad" grep -q "pktconv: 1 packets, 14 bytes, 2 bad" err.txt

# A non-ethernet pcap (text2pcap -l 101, raw IP) is refused.
printf '000000 45 00 00 14 00 01 00 00 40 ff 00 00 c0 00 02 01 c0 00 02 02\n' >raw.od
text2pcap -q -F pcap -l 101 raw.od raw.pcap 2>/dev/null
pktconv raw.pcap >out.txt 2>err.txt
is "$?" 1 "a LINKTYPE_RAW pcap exits 1"
ok "and writes nothing" test ! -s out.txt
ok "the message names the link type" grep -q "link type 101" err.txt
text2pcap -q -l 101 raw.od raw.pcapng 2>/dev/null
pktconv raw.pcapng >out.txt 2>err.txt
is "$?" 1 "a LINKTYPE_RAW pcapng exits 1"

# Garbage: deterministic bytes that are no format.  As ascii they are bad lines; forced to pcap, a format error.
awk 'BEGIN { srand(7); for (i = 0; i < 3000; i++) printf "%c", 1 + int(rand() * 255) }' >garbage
pktconv -c garbage >out.txt 2>err.txt
rc=$?
ok "garbage as ascii: exit 0 or 1, no crash (exit $rc)" test "$rc" -le 1
ok "garbage as ascii: no output" test ! -s out.txt
ok "garbage as ascii: bad lines counted" grep -Eq "pktconv: 0 packets, 0 bytes, [1-9][0-9]* bad" err.txt
pktconv -i pcap garbage >out.txt 2>err.txt
is "$?" 1 "garbage forced to pcap exits 1"
ok "garbage forced to pcap: not a pcap file" grep -q "not a pcap" err.txt
head -c 5000 /dev/zero >zeros
pktconv -i vde -c zeros >out.txt 2>err.txt
rc=$?
ok "zeros as vde: exit 0 or 1, no crash (exit $rc)" test "$rc" -le 1
ok "zeros as vde: no output" test ! -s out.txt

# Empty input: no output, exit 0; as pcap a valid empty capture.
pktconv </dev/null >out.txt 2>err.txt
is "$?" 0 "empty input exits 0"
ok "empty input: no output" test ! -s out.txt
ok "empty input: quiet" test ! -s err.txt
pktconv -c </dev/null 2>err.txt
is "$(cat err.txt)" "pktconv: 0 packets, 0 bytes, 0 bad" "empty input: -c counts zero"
pktconv -F pcap </dev/null >empty.pcap
is "$(stat -c %s empty.pcap)" 24 "empty input to pcap: just the 24-byte file header"
ok "tcpdump reads the empty capture" sh -c 'tcpdump -r empty.pcap -n 2>/dev/null' 

# A line far longer than any frame: one bad record, the stream goes on.
{ echo "$G1"; head -c 3000000 /dev/zero | tr '\0' 'A'; echo; echo "$G2"; } >long.txt
pktconv -c long.txt >out.txt 2>err.txt
is "$?" 0 "a 3 MB line is skipped: exit 0"
printf '%s\n' "$G1" "$G2" >want4.txt
cmp_files out.txt want4.txt "the lines around it come out"
ok "the long line is named as line 2" grep -q "'long.txt': line 2: " err.txt
ok "it is one bad record" grep -q "pktconv: 2 packets, $(bytes want4.txt) bytes, 1 bad" err.txt

# Command line: misuse exits 2, help exits 0 on stdout, a missing file exits 1.
pktconv -F bogus </dev/null >/dev/null 2>&1; is "$?" 2 "-F bogus exits 2"
pktconv -i bogus </dev/null >/dev/null 2>&1; is "$?" 2 "-i bogus exits 2"
pktconv -m 5 </dev/null >/dev/null 2>&1; is "$?" 2 "-m 5 (under 14) exits 2"
pktconv -n x </dev/null >/dev/null 2>&1; is "$?" 2 "-n x exits 2"
pktconv -h >help.txt 2>/dev/null; is "$?" 0 "-h exits 0"
ok "-h prints usage on stdout" grep -q usage help.txt
pktconv no-such-file >/dev/null 2>err.txt; is "$?" 1 "a missing file exits 1"
ok "the message names it" grep -q "^pktconv: .*'no-such-file': " err.txt
done_testing
