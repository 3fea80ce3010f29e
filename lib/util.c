/* SPDX-License-Identifier: BSD-2-Clause */
/* util.c: format names, error strings, the clock and range-checked number parsing shared by all tools. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stdpkt.h"

static const char *const names[] = { "auto", "ascii", "pcap", "pcapng", "vde" };

int sp_format_parse(const char *name)
{
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(name, names[i]) == 0)
			return (int)i;
	return -1;
}

const char *sp_format_name(int fmt)
{
	return fmt >= 0 && (size_t)fmt < sizeof names / sizeof names[0] ? names[fmt] : "unknown";
}

const char *sp_strerror(int code)
{
	switch (code) {
	case SP_EIO: return "i/o error";
	case SP_EBAD: return "bad record";
	case SP_EFORMAT: return "unsupported or corrupt stream";
	case SP_ETRUNC: return "truncated stream";
	case SP_ENOMEM: return "out of memory";
	case SP_EAGAIN: return "no whole packet yet";
	case SP_EINVAL: return "invalid argument";
	default: return code >= 0 ? "success" : "unknown error";
	}
}

int64_t sp_now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int64_t sp_mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int sp_parse_num(const char *s, uint64_t min, uint64_t max, int allow_suffix, uint64_t *out)
{
	if (!s || !*s || isspace((unsigned char)*s) || *s == '-' || *s == '+')
		return -1;
	char *end;
	errno = 0;
	/* Base 10 only: a count of 010 is ten, as a user means it, not octal eight. */
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	uint64_t mul = 1;
	if (allow_suffix && *end) {
		switch (*end) {
		case 'k': case 'K': mul = 1000; break;
		case 'm': case 'M': mul = 1000000; break;
		case 'g': case 'G': mul = 1000000000; break;
		default: return -1;
		}
		end++;
	}
	if (*end || (v && mul > UINT64_MAX / v))
		return -1;
	v *= mul;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}
