#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# inetd.sh: pktinetd's first reply through a stack booted for it, against a reply from a running stack and `unshare -n true`, and flows per second.
#
#   bench/inetd.sh            (as root; RUNS=100 FLOWS=200)
#
# pktinetd -k dst -- stdpkt -a %d/24: each destination address gets its own stack on its first frame.
#  cold  an ARP request for an address no stack has yet, timed until its ARP reply comes out of
#        pktinetd: classify, fork, exec stdpkt, namespace, TAP, addresses, the request read from the
#        queue and answered by the kernel.  The flow's first packet to its first reply.
#  warm  the same request again at once, answered by the stack that is now running.
#  peer  `unshare -n true`, a bare process start with a new network namespace, in the same run.
#  flows FLOWS requests for FLOWS new addresses written at once; flows per second until every one
#        of them is answered (each by its own freshly booted stack).
# Then TCP, with a server per address: -- stdpkt -a %d/24 -m MAC -- socat TCP-LISTEN:7,fork EXEC:cat
#  cold  a SYN to an address with no stack, timed until its SYN-ACK: the stack boots, socat starts,
#        and until it listens pktinetd holds back the stack's RST and gives the SYN again (-w).
#  warm  a SYN on another port to the same, now running, server.
#  -w 0  the cold SYN without the boot window: how many connects would be refused.
# Last, the launcher's own throughput with 100 `cat` children, against pktconv on the same file.
set -u
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$SRCDIR/build/bin}
RUNS=${RUNS:-100}
FLOWS=${FLOWS:-200}
[ "$(id -u)" = 0 ] || { echo "inetd: needs root (namespaces, TAP)" >&2; exit 1; }
command -v perl >/dev/null || { echo "inetd: needs perl" >&2; exit 1; }
for t in pktinetd stdpkt; do [ -x "$BIN/$t" ] || { echo "inetd: $BIN/$t not built" >&2; exit 1; }; done
[ "$RUNS" -ge 1 ] && [ "$RUNS" -le 200 ] && [ "$FLOWS" -ge 1 ] && [ "$FLOWS" -le 500 ] ||
	{ echo "inetd: RUNS 1..200, FLOWS 1..500" >&2; exit 2; }

perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC -MIPC::Open2 -MPOSIX=_exit -e '
use strict; use warnings; no warnings "exec";
my ($bin, $runs, $flows) = @ARGV;
sub now { clock_gettime(CLOCK_MONOTONIC) }
sub median { my @s = sort { $a <=> $b } @_; return $s[int(@s / 2)] }
sub pct { my ($p, @v) = @_; my @s = sort { $a <=> $b } @v; return $s[int($p * $#s)] }
# Addresses: 192.0.2.10.. then 198.51.100.10.. then 203.0.113.10.. (the documentation ranges only).
my @nets = ([192, 0, 2], [198, 51, 100], [203, 0, 113]);
sub addr { my $i = shift; my $n = $nets[int($i / 200)]; return (@$n, 10 + $i % 200) }
sub hex4 { join " ", map { sprintf "%02X", $_ } @_ }
my $mymac = "02 00 00 00 00 01";
sub arp_req {
	my @t = @_; my @s = (@t[0 .. 2], 1);
	return "FFFFFFFFFFFF 020000000001 0806 00 01 08 00 06 04 00 01 $mymac " . hex4(@s) .
		" 00 00 00 00 00 00 " . hex4(@t) . "\n";
}
my $pid = open2(my $out, my $in, "$bin/pktinetd", "-k", "dst", "-i", "1", "-n", "450", "-c",
	"--", "$bin/stdpkt", "-a", "%d/24");
binmode $out; $in->autoflush(1);
my $rbuf = "";
# Waits for ARP replies from the given addresses (a hash of "a.b.c.d" => 1); returns when all came.
sub wait_replies {
	my ($want, $limit) = @_;
	my $dl = now() + $limit;
	while (%$want) {
		while ($rbuf =~ s/^([^\n]*)\n//) {
			my @f = split " ", $1;
			# DST SRC 0806 + 28 bytes: op at 6..7, sender IP at 14..17
			next unless @f >= 31 && $f[2] eq "0806" && $f[10] eq "02";
			my $spa = join ".", map { hex } @f[17 .. 20];
			delete $want->{$spa};
		}
		last unless %$want;
		my $left = $dl - now();
		die "inetd: no reply from " . join(",", sort keys %$want) . " within $limit s\n" if $left <= 0;
		my $rin = ""; vec($rin, fileno($out), 1) = 1;
		next unless select(my $r = $rin, undef, undef, $left);
		my $n = sysread($out, $rbuf, 65536, length $rbuf);
		die "inetd: pktinetd ended\n" unless $n;
	}
	return now();
}
sub to_exit {
	my $t0 = now();
	my $p = fork // die; if (!$p) { exec @_; _exit(127) }
	waitpid($p, 0); die "$_[0] failed\n" if $?; return now() - $t0;
}
my (@cold, @warm, @un);
for my $i (0 .. $runs - 1) {
	my @a = addr($i); my $a = join ".", @a;
	push @un, to_exit("unshare", "-n", "true");
	my $t0 = now(); print $in arp_req(@a); push @cold, wait_replies({ $a => 1 }, 5) - $t0;
	$t0 = now(); print $in arp_req(@a); push @warm, wait_replies({ $a => 1 }, 5) - $t0;
}
# The cold runs end idle; then a burst of new flows, all at once.
select(undef, undef, undef, 1.5);
my %want; my $burst = "";
for my $i ($runs .. $runs + $flows - 1) { my @a = addr($i); $want{join ".", @a} = 1; $burst .= arp_req(@a) }
my $t0 = now(); print $in $burst; my $tb = wait_replies(\%want, 60) - $t0;
close $in; waitpid($pid, 0);
printf "%-52s %9s %9s %9s\n", "runs: $runs", "median", "p10", "p90";
my $row = sub { printf "%-52s %9.2f %9.2f %9.2f ms\n", $_[0], median(@{$_[1]}) * 1e3,
	pct(0.1, @{$_[1]}) * 1e3, pct(0.9, @{$_[1]}) * 1e3 };
$row->("unshare -n true (start to exit)", \@un);
$row->("cold: first packet to reply, stack booted for it", \@cold);
$row->("warm: the same through the running stack", \@warm);
printf "cold / warm = %.1f; cold / unshare -n true = %.2f\n", median(@cold) / median(@warm), median(@cold) / median(@un);
printf "burst: %d new flows answered in %.3f s = %.0f flows/s (each its own stack)\n", $flows, $tb, $flows / $tb;
' "$BIN" "$RUNS" "$FLOWS"

perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC -MIPC::Open2 -e '
use strict; use warnings;
my ($bin, $runs) = @ARGV;
sub now { clock_gettime(CLOCK_MONOTONIC) }
sub median { my @s = sort { $a <=> $b } @_; return $s[int(@s / 2)] }
sub pct { my ($p, @v) = @_; my @s = sort { $a <=> $b } @v; return $s[int($p * $#s)] }
sub csum { my $s = 0; $s += $_ for unpack("n*", $_[0] . (length($_[0]) % 2 ? "\0" : "")); $s = ($s & 0xffff) + ($s >> 16) while $s >> 16; return ~$s & 0xffff }
my @nets = ([192, 0, 2], [198, 51, 100], [203, 0, 113]);
sub addr { my $i = shift; my $n = $nets[int($i / 200)]; return (@$n, 10 + $i % 200) }
sub line { my ($dst, $type, $b) = @_; return "$dst 020000000001 $type " . join(" ", map { sprintf "%02X", $_ } unpack("C*", $b)) . "\n" }
# A TCP segment from (net).1:sport to dst:7, ASCII line.
sub tcp {
	my ($d, $sport, $flags, $seq) = @_;
	my @s = (@$d[0 .. 2], 1);
	my $th = pack("nnNNCCnnn", $sport, 7, $seq, 0, 0x50, $flags, 65535, 0, 0);
	my $ps = pack("C4C4CCn", @s, @$d, 0, 6, length $th);
	substr($th, 16, 2) = pack("n", csum($ps . $th));
	my $ih = pack("CCnnnCCnC4C4", 0x45, 0, 20 + length $th, 0, 0x4000, 64, 6, 0, @s, @$d);
	substr($ih, 10, 2) = pack("n", csum($ih));
	return line("020000000002", "0800", $ih . $th);
}
sub run {
	my ($w, $n, $first) = @_;
	my $pid = open2(my $out, my $in, "$bin/pktinetd", "-k", "dst", "-i", "1", "-n", "450", "-w", $w,
		"--", "$bin/stdpkt", "-a", "%d/24", "-m", "02:00:00:00:00:02", "--", "socat", "TCP-LISTEN:7,fork", "EXEC:cat");
	$in->autoflush(1);
	my $buf = "";
	# Answers the stacks ARP for us; returns "SA" or "R" for the segment to (dst, sport), or "" on timeout.
	my $wait = sub {
		my ($d, $sport, $limit) = @_;
		my $dl = now() + $limit;
		for (;;) {
			while ($buf =~ s/^([^\n]*)\n//) {
				my @f = split " ", $1;
				if (@f >= 31 && $f[2] eq "0806" && $f[10] eq "01") {
					my @tha = map { hex } @f[11 .. 16]; my @spa = map { hex } @f[17 .. 20]; my @tpa = map { hex } @f[27 .. 30];
					print $in line($f[1], "0806", pack("nnCCn", 1, 0x800, 6, 4, 2) . pack("C6C4C6C4",
						2, 0, 0, 0, 0, 1, @tpa, @tha, @spa));
					next;
				}
				next unless @f >= 43 && $f[2] eq "0800" && $f[12] eq "06";
				my $sp = join ".", map { hex } @f[15 .. 18];
				next unless $sp eq join(".", @$d) && hex($f[25] . $f[26]) == $sport;
				my $fl = hex $f[36];
				return "SA" if ($fl & 0x12) == 0x12;
				return "R" if $fl & 0x04;
			}
			my $left = $dl - now();
			return "" if $left <= 0;
			my $rin = ""; vec($rin, fileno($out), 1) = 1;
			next unless select(my $r = $rin, undef, undef, $left);
			sysread($out, $buf, 65536, length $buf) or die "inetd: pktinetd ended\n";
		}
	};
	my (@cold, @warm, %res);
	for my $i ($first .. $first + $n - 1) {
		my @d = addr($i);
		my $t0 = now(); print $in tcp(\@d, 20000 + $i, 0x02, 1000); my $r = $wait->(\@d, 20000 + $i, 3);
		$res{$r || "timeout"}++;
		next unless $r eq "SA";
		push @cold, now() - $t0;
		print $in tcp(\@d, 20000 + $i, 0x04, 1001); # abort it: the server goes on listening
		$t0 = now(); print $in tcp(\@d, 40000 + $i, 0x02, 1000); $r = $wait->(\@d, 40000 + $i, 3);
		push @warm, now() - $t0 if $r eq "SA";
		print $in tcp(\@d, 40000 + $i, 0x04, 1001);
	}
	close $in; waitpid($pid, 0);
	return (\@cold, \@warm, \%res);
}
my ($cold, $warm, $res) = run(1, $runs, 0);
my $row = sub { printf "%-52s %9.2f %9.2f %9.2f ms\n", $_[0], median(@{$_[1]}) * 1e3,
	pct(0.1, @{$_[1]}) * 1e3, pct(0.9, @{$_[1]}) * 1e3 };
printf "\n%-52s %9s %9s %9s\n", "TCP, runs: $runs", "median", "p10", "p90";
$row->("cold: SYN to SYN-ACK, stack and socat booted for it", $cold) if @$cold;
$row->("warm: SYN to SYN-ACK, the running server", $warm) if @$warm;
printf "cold connects: %s\n", join(", ", map { "$_ $res->{$_}" } sort keys %$res);
my $n0 = $runs < 20 ? $runs : 20;
my (undef, undef, $res0) = run(0, $n0, 300);
printf "the same cold SYN with -w 0 (no boot window), %d runs: %s\n", $n0, join(", ", map { ($_ eq "R" ? "refused (RST)" : $_ eq "SA" ? "connected" : $_) . " $res0->{$_}" } sort keys %$res0);
' "$BIN" "$RUNS"

# The launcher's own cost once children run: 1M 60-byte frames (pcap) over 100 keys, each child `cat`
# echoing its key's frames back, against pktconv passing the same file through alone.
tmp=$(mktemp -d /tmp/stdpkt-inetd.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
"$BIN/pktgen" -c 1000000 -F pcap -D 192.0.2.10-192.0.2.109 >"$tmp/in.pcap"
t() { local s e; s=$(date +%s%N); "$@" <"$tmp/in.pcap" >/dev/null 2>"$tmp/err"; e=$(date +%s%N); echo $(((e - s) / 1000)); }
a=$(t "$BIN/pktinetd" -k dst -n 200 -- cat)
b=$(t "$BIN/pktconv" -F pcap)
awk -v a="$a" -v b="$b" 'BEGIN { printf "\nthroughput, 1M frames, 100 keys: pktinetd + 100 cat children %.2f Mpps, pktconv alone %.2f Mpps (ratio %.2f)\n", 1e6 / a, 1e6 / b, b / a }'
