/* SPDX-License-Identifier: BSD-2-Clause */
/* tap.h: a header-only TAP producer for the C unit tests, so tests/run counts their results like the shell tests'. */
#ifndef STDPKT_TAP_H
#define STDPKT_TAP_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* One test binary is one translation unit: the counters can live here. */
static int tap_n, tap_failed;

/* Diagnostics go to stdout as TAP comments so they stay next to the failing line in the log. */
static inline void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("# ", stdout);
	vprintf(fmt, ap);
	fputs("\n", stdout);
	va_end(ap);
}

static inline int ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline int ok(int cond, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tap_n++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	vprintf(fmt, ap);
	fputs("\n", stdout);
	va_end(ap);
	if (!cond)
		tap_failed++;
	fflush(stdout); /* a crash later must not lose the lines already decided */
	return cond;
}

/* Integer equality that shows both values when it fails. */
#define is_int(got, want, ...)                                                                  \
	do {                                                                                    \
		long long g_ = (long long)(got), w_ = (long long)(want);                        \
		if (!ok(g_ == w_, __VA_ARGS__))                                                 \
			diag("  got: %lld, want: %lld", g_, w_);                               \
	} while (0)

/* String equality (NULL-safe). */
static inline int is_str(const char *got, const char *want, const char *what)
{
	int same = got && want ? strcmp(got, want) == 0 : got == want;
	if (!ok(same, "%s", what)) {
		diag("  got:  '%s'", got ? got : "(null)");
		diag("  want: '%s'", want ? want : "(null)");
	}
	return same;
}

/* Byte-for-byte equality of two buffers; on failure names the first differing offset. */
static inline int is_mem(const void *got, size_t glen, const void *want, size_t wlen, const char *what)
{
	int same = glen == wlen && (glen == 0 || memcmp(got, want, glen) == 0);
	if (!ok(same, "%s", what)) {
		const uint8_t *g = got, *w = want;
		size_t i = 0;
		while (i < glen && i < wlen && g[i] == w[i])
			i++;
		diag("  lengths got %zu want %zu; first difference at byte %zu", glen, wlen, i);
	}
	return same;
}

/* Substring check, for error messages whose exact wording is the library's to choose. */
static inline int like(const char *got, const char *needle, const char *what)
{
	int found = got && strstr(got, needle) != NULL;
	if (!ok(found, "%s", what))
		diag("  '%s' does not contain '%s'", got ? got : "(null)", needle);
	return found;
}

/* Prints the plan last and gives the exit status tests/run expects. */
static inline int done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
