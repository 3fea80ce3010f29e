#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# stdpkt-boot.sh: time from starting `stdpkt` to its first packet on the pipe, against `unshare -n true`, in one run.
#
#   bench/stdpkt-boot.sh            (as root; RUNS=100)
#
# The seed measured boot as "start to the first packet (DAD or ARP)".  Here a stage with 192.0.2.1/24
# runs `ping -c1 192.0.2.2`, so its first frame is its gratuitous ARP or ping's ARP request, whichever
# leaves first; the clock stops when the first bytes of a frame can be read from the stage's stdout.
# The peers, interleaved with it run by run: `true` (a bare process start) and `unshare -n true` (a
# process start with a new network namespace).  Prints medians and the ratio; the target is at most
# twice `unshare -n true`, and under LKL's 20 ms.
set -u
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$SRCDIR/build/bin}
RUNS=${RUNS:-100}
[ "$(id -u)" = 0 ] || { echo "stdpkt-boot: needs root (namespaces, TAP)" >&2; exit 1; }
command -v perl >/dev/null || { echo "stdpkt-boot: needs perl" >&2; exit 1; }
STDPKT=$BIN/stdpkt
[ -x "$STDPKT" ] || echo "stdpkt-boot: $STDPKT not built, timing the peers only" >&2

# Perl times fork+exec to the event with a monotonic clock, so no helper process sits in the interval.
exec perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC -MPOSIX=_exit -e '
use strict; use warnings; no warnings "exec";
my ($runs, $stdpkt) = @ARGV;
my $have = -x $stdpkt;
sub now { clock_gettime(CLOCK_MONOTONIC) }
# Start to exit.
sub to_exit {
	my $t0 = now();
	my $pid = fork // die "fork: $!";
	if (!$pid) { open STDIN, "<", "/dev/null"; exec @_; _exit(127) }
	waitpid($pid, 0);
	die "$_[0] failed: status $?\n" if $?;
	return now() - $t0;
}
# Start to the first bytes on stdout; stdin is a pipe held open, as in a chain waiting for input.
my %first;
sub to_first_packet {
	pipe(my $ir, my $iw) or die; pipe(my $or, my $ow) or die;
	my $t0 = now();
	my $pid = fork // die "fork: $!";
	if (!$pid) {
		close $iw; close $or;
		open STDIN, "<&", $ir; open STDOUT, ">&", $ow; open STDERR, ">", "/dev/null";
		exec @_; _exit(127);
	}
	close $ir; close $ow;
	my $buf = "";
	# A stage that never writes must not hang the bench.
	local $SIG{ALRM} = sub { kill "KILL", $pid; die "stdpkt wrote nothing in 5 s\n" };
	alarm 5;
	my $n = sysread($or, $buf, 65536);
	my $t = now() - $t0;
	alarm 0;
	kill "TERM", $pid; close $iw; close $or;
	# SIGTERM must end the stage; if it has not after 2 s, say so and kill it.
	my $w = 0;
	for (1 .. 200) { $w = waitpid($pid, POSIX::WNOHANG()); last if $w; select(undef, undef, undef, 0.01) }
	if (!$w) { warn "stdpkt-boot: stage still running 2 s after SIGTERM\n"; kill "KILL", $pid; waitpid($pid, 0) }
	die "stdpkt wrote nothing before it ended (status $?)\n" unless $n;
	my @f = split " ", $buf; $first{$f[2] // "?"}++;
	return $t;
}
sub median { my @s = sort { $a <=> $b } @_; return $s[int(@s / 2)] }
sub pct { my ($p, @v) = @_; my @s = sort { $a <=> $b } @v; return $s[int($p * $#s)] }
my (@tr, @un, @sp);
for (1 .. $runs) {
	push @tr, to_exit("true");
	push @un, to_exit("unshare", "-n", "true");
	push @sp, to_first_packet($stdpkt, "-a", "192.0.2.1/24", "--", "ping", "-c1", "-W1", "192.0.2.2") if $have;
}
printf "%-44s %9s %9s %9s\n", "runs: $runs", "median", "p10", "p90";
my $row = sub { printf "%-44s %9.2f %9.2f %9.2f ms\n", $_[0], median(@{$_[1]}) * 1e3,
	pct(0.1, @{$_[1]}) * 1e3, pct(0.9, @{$_[1]}) * 1e3 };
$row->("true (start to exit)", \@tr);
$row->("unshare -n true (start to exit)", \@un);
exit 0 unless $have;
$row->("stdpkt (start to first packet on stdout)", \@sp);
printf "first frames by ethertype: %s\n", join(", ", map { "$_ x $first{$_}" } sort keys %first);
my $r = median(@sp) / median(@un);
printf "stdpkt boot / unshare -n true = %.2f (target <= 2); stdpkt boot %.2f ms (LKL: 20 ms)\n",
	$r, median(@sp) * 1e3;
' "$RUNS" "$STDPKT"
