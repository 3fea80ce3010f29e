#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# inetd.sh: pktinetd boots a Linux stack per destination (a subnet of hosts on demand) and per TCP connection (an echo server each).
#
#   examples/inetd.sh        (as root, after make)
#
#   client 192.0.2.1 ---|---> pktinetd -k dst ---> stdpkt -a 192.0.2.10/24   (booted on its first ARP)
#                    <-- FIFO ret --              \-> stdpkt -a 192.0.2.11/24 ... one per address
#
# Part 1: the client pings 192.0.2.10..29 at once; each address is answered by a stack that did not
# exist before the client's ARP request for it arrived, and that ends after 1 s of silence.
# Part 2: five TCP connections to 192.0.2.2:7, each served by its own stack running socat; the first
# SYN reaches a stack before socat listens, and pktinetd's boot window gives it again until it does.
# Exits 0 only if every ping was answered and every echo came back.
set -eu
BIN=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/build/bin}
PATH=$BIN:$PATH
[ "$(id -u)" = 0 ] || { echo "inetd.sh: needs root (network namespaces, TAP)" >&2; exit 1; }
command -v socat >/dev/null || { echo "inetd.sh: needs socat" >&2; exit 1; }
d=$(mktemp -d /tmp/stdpkt-inetd.XXXXXX)
trap 'rm -rf "$d"' EXIT
cd "$d"
mkfifo ret

cat <<'CMD'
$ mkfifo ret
$ stdpkt -a 192.0.2.1/24 -I ret,- -- sh -c 'for i in $(seq 10 29); do ping -c1 -W3 192.0.2.$i & done; wait; sleep 2' |
  pktinetd -k dst -i 1 -c -- stdpkt -a %d/24 >ret
CMD
timeout 30 stdpkt -a 192.0.2.1/24 -I ret,- -o pings.txt -- sh -c \
	'for i in $(seq 10 29); do ping -c1 -W3 192.0.2.$i | grep "bytes from" & done; wait; sleep 2' |
	timeout 30 pktinetd -k dst -i 1 -c -- stdpkt -a %d/24 >ret
cat pings.txt
n1=$(grep -c "bytes from" pings.txt || true)
echo "# $n1 of 20 addresses answered, each by its own stack"

cat <<'CMD'

$ stdpkt -a 192.0.2.1/24 -I ret,- -- sh -c 'for i in 1 2 3 4 5; do echo hello $i | socat -t1 - TCP:192.0.2.2:7; done' |
  pktinetd -k flow -i 1 -c -v -- stdpkt -a 192.0.2.2/24 -m 02:00:00:00:00:02 -- socat TCP-LISTEN:7 EXEC:cat >ret
CMD
timeout 30 stdpkt -a 192.0.2.1/24 -I ret,- -o echo.txt -- sh -c \
	'for i in 1 2 3 4 5; do echo hello $i | timeout 5 socat -t1 - TCP:192.0.2.2:7; done' |
	timeout 30 pktinetd -k flow -i 1 -c -v -- stdpkt -a 192.0.2.2/24 -m 02:00:00:00:00:02 -- \
	socat TCP-LISTEN:7 EXEC:cat >ret
cat echo.txt
n2=$(grep -c "^hello [1-5]$" echo.txt || true)
echo "# $n2 of 5 connections echoed, each by its own stack"
[ "$n1" = 20 ] && [ "$n2" = 5 ]
