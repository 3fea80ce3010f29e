#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# shping.sh: ping written in shell over ethpipe: ARP and ICMP echo frames built as ASCII lines with printf, checksums in shell arithmetic.
#   shping.sh IFACE SRCIP DSTIP [COUNT]     (as root, on an interface whose kernel has no SRCIP)
# The EtherPIPE slides' "custom layer 2-3 functions by shell script": the kernel answering is real,
# everything on this side is bash.
set -u
[ $# -ge 3 ] || { echo "usage: shping.sh IFACE SRCIP DSTIP [COUNT]" >&2; exit 2; }
ifc=$1 src=$2 dst=$3 count=${4:-3}
mymac=$(tr -d ':\n' </sys/class/net/"$ifc"/address | tr a-f A-F) || exit 1

# "192.0.2.1" -> "C0 00 02 01"
hexip() { local IFS=.; set -- $1; printf '%02X %02X %02X %02X' "$1" "$2" "$3" "$4"; }
# "AABBCCDDEEFF" -> "AA BB CC DD EE FF"
spaced() { echo "$1" | sed 's/../& /g; s/ $//'; }
# The Internet checksum (RFC 1071) of hex bytes "45 00 ...", as two hex bytes.
csum() {
	local -a b=($1)
	local s=0 i
	for ((i = 0; i < ${#b[@]}; i += 2)); do s=$((s + (16#${b[i]} << 8) + 16#${b[i + 1]:-00})); done
	while ((s >> 16)); do s=$(((s & 0xFFFF) + (s >> 16))); done
	printf '%02X %02X' $(((~s >> 8) & 0xFF)) $((~s & 0xFF))
}

SRC=$(hexip "$src") DST=$(hexip "$dst")
# -x: ethpipe ends when we close its stdin.  The kernel filter keeps other traffic away from read.
coproc EP { exec ethpipe -x "$ifc" 'arp or icmp'; }
trap 'kill $EP_PID 2>/dev/null' EXIT
out=${EP[1]} in=${EP[0]}

# ---- ARP: who has DST? (repeated each second: the first may go before ethpipe listens) ----
arpreq="FFFFFFFFFFFF $mymac 0806 00 01 08 00 06 04 00 01 $(spaced "$mymac") $SRC 00 00 00 00 00 00 $DST"
dstmac=
for try in 1 2 3 4 5; do
	echo "$arpreq" >&"$out"
	end=$((SECONDS + 1))
	while [ -z "$dstmac" ] && [ $SECONDS -le $end ] && read -r -t 1 -u "$in" line; do
		set -- $line
		# DST SRC 0806 | htype(2) ptype(2) hlen plen op(2) sha(6) spa(4) tha(6) tpa(4)
		[ "$1 $3 ${10} ${11}" = "$mymac 0806 00 02" ] || continue
		[ "${18} ${19} ${20} ${21}" = "$DST" ] || continue
		dstmac=${12}${13}${14}${15}${16}${17}
	done
	[ -n "$dstmac" ] && break
done
[ -n "$dstmac" ] || { echo "shping: no arp reply from '$dst'" >&2; exit 1; }
echo "arp: $dst is at $dstmac"

# ---- ICMP echo ----
id=$(($$ & 0xFFFF)) got=0
payload="53 48 50 49 4E 47 20 70 69 6E 67 20 69 6E 20 73 68 65 6C 6C 20 6F 76 65 72 20 65 74 68 70 69 70" # "SHPING ping in shell over ethpip"
for ((seq = 1; seq <= count; seq++)); do
	idseq=$(printf '%02X %02X %02X %02X' $((id >> 8)) $((id & 255)) $((seq >> 8)) $((seq & 255)))
	icmp="08 00 00 00 $idseq $payload"
	icmp="08 00 $(csum "$icmp") $idseq $payload"
	nb=$(($(echo "$icmp" | wc -w) + 20))
	ip="45 00 $(printf '%02X %02X' $((nb >> 8)) $((nb & 255))) $(printf '%02X %02X' $((seq >> 8)) $((seq & 255))) 40 00 40 01 00 00 $SRC $DST"
	ip="${ip:0:30}$(csum "$ip")${ip:35}"
	t0=$(date +%s%N)
	echo "$dstmac $mymac 0800 $ip $icmp" >&"$out"
	end=$((SECONDS + 2)) ok=
	while [ -z "$ok" ] && [ $SECONDS -le $end ] && read -r -t 2 -u "$in" line; do
		set -- $line
		# DST SRC 0800 | IPv4 header (20) | type code csum(2) id(2) seq(2)
		[ "$1 $3 ${13}" = "$mymac 0800 01" ] || continue
		[ "${16} ${17} ${18} ${19}" = "$DST" ] || continue
		[ "${24} ${28} ${29} ${30} ${31}" = "00 $idseq" ] || continue
		ok=1
	done
	if [ -n "$ok" ]; then
		got=$((got + 1))
		echo "reply from $dst: icmp_seq=$seq time=$((($(date +%s%N) - t0) / 1000)) us"
	else
		echo "no reply from $dst: icmp_seq=$seq"
	fi
done
echo "$count sent, $got received"
[ "$got" = "$count" ]
