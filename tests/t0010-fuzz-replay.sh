#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# t0010-fuzz-replay: replays every fuzz corpus through its target's standalone replayer, so plain and sanitizer builds test what the fuzzers found.
. "$(dirname "$0")/lib.sh"

cd "$SRCDIR" || exit 1
targets=$(ls fuzz/*.c | grep -v 'fuzz/replay\.c$')
[ -n "$targets" ] || skip_all "no fuzz targets"
# Built on demand: `make check` builds them, a bare tests/run may not have.
for f in $targets; do
	t=$(basename "$f" .c)
	[ -x "$BUILDDIR/fuzz-replay/$t" ] && [ "$BUILDDIR/fuzz-replay/$t" -nt "$f" ] && continue
	make -s BUILD="$BUILD" $( [ "$(basename "$BUILDDIR")" = build-san ] && echo SAN=1 ) \
		"$BUILDDIR/fuzz-replay/$t" >"$T/make.log" 2>&1 || { cat "$T/make.log" | sed 's/^/# /'; }
done

for f in $targets; do
	t=$(basename "$f" .c)
	dir=fuzz/corpus/${t#fuzz_}
	bin=$BUILDDIR/fuzz-replay/$t
	if [ ! -x "$bin" ]; then
		_tap 1 "$t: replayer $bin was built"
		continue
	fi
	if [ ! -d "$dir" ]; then
		_tap 1 "$t: has a corpus in $dir"
		continue
	fi
	want=$(find "$dir" -type f ! -name '.*' | wc -l)
	timeout 120 "$bin" -v "$dir" 2>"$T/$t.err"
	rc=$?
	_tap $rc "$t: replays $dir cleanly (exit $rc)"
	[ "$rc" = 0 ] || grep -E 'ERROR|runtime error|SUMMARY|replay: ' "$T/$t.err" | tail -5 | sed 's/^/#   /'
	got=$(sed -n 's/^replay: \([0-9]*\) inputs$/\1/p' "$T/$t.err")
	is "${got:-none}" "$want" "$t: every one of the $want corpus files was run"
	ok "$t: corpus has seeds" test "$want" -ge 3
done

# The driver itself: misuse is exit 2, a missing file exit 1.
any=$(ls "$BUILDDIR"/fuzz-replay/* 2>/dev/null | head -1)
if [ -n "$any" ]; then
	"$any" >/dev/null 2>&1; is "$?" 2 "replayer without arguments exits 2"
	"$any" "$T/no-such-file" 2>/dev/null; is "$?" 1 "replayer on a missing file exits 1"
fi
done_testing
