#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# t0636-pktinetd-duplex: `stdpkt ... | pktinetd -- stdpkt ...` returns the replies over the link the stages meet on, no FIFO.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ping

# Ten destinations, each answered by its own stack booted on its first packet (the client's
# command prints to the stage's stderr); the client's
# replies can only come back over the duplex link pktinetd meets the client stage on.
timeout 60 bash -c 'stdpkt -a 192.0.2.1/24 -- sh -c "for i in \$(seq 10 19); do ping -c1 -W3 192.0.2.\$i >/dev/null && echo ok \$i; done" \
	| pktinetd -v -c -i 2 -k dst -- stdpkt -a %d/24; echo "status ${PIPESTATUS[*]}"' >out.txt 2>err.txt
is "$(grep -c '^ok ' err.txt)" 10 "all ten destinations answered over plain pipes"
is "$(grep '^status' out.txt)" "status 0 0" "client stage and launcher exit 0"
ok "pktinetd met the client stage directly" grep -q "upstream link: direct" err.txt
ok "it started ten stacks" grep -q "children started 10," err.txt
is "$(grep -o 'dropped: unparsable [0-9]*, no child [0-9]*, limit 0, queue full 0' err.txt | wc -l)" 1 "no frame was lost to limits or full queues"

# One-way still works: stdin from a file (no peer), replies on stdout, decided without waiting.
pktgen -c 3 -p icmp -S 192.0.2.1 -D 192.0.2.30 -b 02:00:00:00:00:30 >in.txt
t0=$(date +%s%N)
timeout 20 pktinetd -v -i 1 -k dst -- cat <in.txt >one.txt 2>one.err
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok "with stdin from a file the launcher stays one-way" grep -q "upstream link: none" one.err
is "$(wc -l <one.txt)" 3 "and its child's output comes out on stdout"
diag "one-way run took $ms ms"
done_testing
