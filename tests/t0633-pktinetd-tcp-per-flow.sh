#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0633-pktinetd-tcp-per-flow: an echo server booted per TCP connection (IPv4 and IPv6), the first SYN held until it listens; every byte comes back.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd pktinetd stdpkt socat

counts() { grep -E '^pktinetd: (frames in|children started) ' "$2" | grep -o "$1 [0-9]*" | head -1 | awk '{ print $NF }'; }

# 20 IPv4 connections, 5 at a time, and 3 IPv6 ones; each sends its own 4 KB and keeps the echo.
cat >client.sh <<'EOS'
conn() { seq "$2" $(($2 + 900)) >"$T/sent.$1"; timeout 10 socat -t2 - "TCP:$3:7" <"$T/sent.$1" >"$T/got.$1" 2>>"$T/socat.err"; }
for r in 0 1 2 3; do
	for j in 1 2 3 4 5; do conn "$r$j" $((r * 5000 + j * 1000)) 192.0.2.2 & done
	wait
done
for j in 1 2 3; do conn "v6$j" $((j * 7)) '[2001:db8::2]' & done
wait
EOS
mkfifo ret
# All children answer for one address: one MAC for all, so the client's neighbour cache is right for each.
export T
timeout 50 stdpkt -a 192.0.2.1/24 -a 2001:db8::1/64 -I ret,- -- sh client.sh 2>client.err |
	timeout 50 pktinetd -k flow -i 2 -c -v -- \
		stdpkt -a 192.0.2.2/24 -a 2001:db8::2/64 -m 02:00:00:00:00:02 -- socat TCP6-LISTEN:7,ipv6only=0 EXEC:cat \
		>ret 2>inetd.err
same=0
for f in sent.*; do cmp -s "$f" "got.${f#sent.}" && same=$((same + 1)); done
is "$same" 23 "23 connections, each echoed byte for byte by its own stack"
is "$(cat socat.err 2>/dev/null)" "" "no connection was refused or reset"
is "$(counts 'children started' inetd.err)" 23 "23 children started, one per connection"
# The first connection of each family is preceded by an ARP or NS: the stack it booted adopts that flow.
is "$(grep -c "^pktinetd: started [0-9]* for 'pair-" inetd.err) $(counts 'adopted' inetd.err)" "2 2" \
	"the ARP and the NS each booted a stack, which the first SYN then adopted"
is "$(grep -cE "^pktinetd: child [0-9]+ 'tcp-[0-9.:a-f]+-[0-9]+-(192.0.2.2|2001:db8::2)-7': .*exited 0" inetd.err)" 23 \
	"each child exited 0 when its one connection ended (socat serves one)"
diag "SYNs given again to a stack not listening yet: $(counts 'syn again' inetd.err)"
done_testing
