/* SPDX-License-Identifier: BSD-2-Clause */
/* test_ascii.c: unit test (TAP) of the EtherPIPE line codec, against hand-written lines and a naive reference decoder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stdpkt.h"
#include "tap.h"

/* A deterministic generator, so a failure reproduces. */
static uint64_t rs = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return (uint32_t)(rs >> 11);
}

/* The format as the spec words it, written the slow obvious way. */
static size_t ref_encode(char *o, const uint8_t *d, uint32_t caplen, uint32_t wirelen, int64_t ts, int with_ts)
{
	size_t n = 0;
	if (with_ts)
		n += (size_t)sprintf(o + n, "%016llX ", (unsigned long long)ts);
	for (int i = 0; i < 6; i++)
		n += (size_t)sprintf(o + n, "%02X", d[i]);
	o[n++] = ' ';
	for (int i = 6; i < 12; i++)
		n += (size_t)sprintf(o + n, "%02X", d[i]);
	n += (size_t)sprintf(o + n, " %02X%02X", d[12], d[13]);
	for (uint32_t i = 14; i < caplen; i++)
		n += (size_t)sprintf(o + n, " %02X", d[i]);
	if (wirelen > caplen)
		n += (size_t)sprintf(o + n, " len=%u", wirelen);
	o[n++] = '\n';
	return n;
}

static int ishex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static int hexv(int c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/*
 * The reader's rules, tokenised naively: blank and '#' lines are nothing; a first token of
 * 16 digits is the timestamp; every other token is an even run of hex digits; a last
 * "len=N" gives the wire length (>= the frame); the frame must be 14..maxframe bytes.
 */
static int ref_decode(const char *line, size_t len, uint8_t *frame, uint32_t maxframe, uint32_t *caplen,
		      uint32_t *wirelen, int64_t *ts)
{
	while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	size_t i = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == len || line[i] == '#')
		return 0;
	uint64_t n = 0, wl = 0;
	int first = 1, seen_len = 0;
	*ts = SP_TS_NONE;
	while (i < len) {
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == len)
			break;
		size_t t = i;
		while (i < len && line[i] != ' ' && line[i] != '\t')
			i++;
		size_t tl = i - t;
		if (seen_len)
			return SP_EBAD; /* data after len= */
		if (tl > 4 && memcmp(line + t, "len=", 4) == 0) {
			for (size_t k = t + 4; k < i; k++) {
				if (line[k] < '0' || line[k] > '9' || wl > UINT32_MAX)
					return SP_EBAD;
				wl = wl * 10 + (uint64_t)(line[k] - '0');
			}
			if (wl > UINT32_MAX || wl < n)
				return SP_EBAD;
			seen_len = 1;
			continue;
		}
		for (size_t k = t; k < i; k++)
			if (!ishex((unsigned char)line[k]))
				return SP_EBAD;
		if (tl & 1)
			return SP_EBAD;
		if (first && tl == 16) {
			uint64_t v = 0;
			for (size_t k = t; k < i; k++)
				v = v << 4 | (uint64_t)hexv(line[k]);
			*ts = (int64_t)v;
		} else {
			for (size_t k = t; k < i; k += 2) {
				if (n >= maxframe)
					return SP_EBAD;
				frame[n++] = (uint8_t)(hexv(line[k]) << 4 | hexv(line[k + 1]));
			}
		}
		first = 0;
	}
	if (n < SP_ETH_HLEN)
		return SP_EBAD;
	*caplen = (uint32_t)n;
	*wirelen = wl > n ? (uint32_t)wl : (uint32_t)n;
	return 1;
}

/* Decodes through the public API from an exactly-sized heap copy, so ASan sees any over-read. */
static int dec(const char *line, size_t len, uint32_t maxframe, uint8_t **frame, struct sp_pkt *p, char *err)
{
	char *copy = malloc(len ? len : 1);
	memcpy(copy, line, len);
	free(*frame);
	*frame = malloc(maxframe);
	err[0] = 0;
	int rc = sp_ascii_decode(copy, len, *frame, maxframe, p, err);
	free(copy);
	return rc;
}

static const uint8_t F60[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0xaa, 0x00, 0x00, 0x00, 0x01,
				 0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0xaa,
				 0x00, 0x00, 0x00, 0x01, 0xc0, 0x00, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00,
				 0x00, 0x00, 0xc0, 0x00, 0x02, 0x02, 0x5a, 0xa5, 0x0f, 0xf0, 0xde, 0xad,
				 0xbe, 0xef, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0 };

static void test_encode(void)
{
	char out[4096], want[4096];
	struct sp_pkt p = { .data = F60, .caplen = 60, .wirelen = 60, .ts = 0x0123456789ABCDEFll };
	int n = sp_ascii_encode(out, &p, 0);
	size_t wn = ref_encode(want, F60, 60, 60, p.ts, 0);
	is_mem(out, n > 0 ? (size_t)n : 0, want, wn, "encode: 60-byte ARP frame, no timestamp");
	is_int(n, 48 - 17 + 3 * (60 - 14), "encode: line length is 31 + 3*(L-14) without the timestamp");
	n = sp_ascii_encode(out, &p, 1);
	wn = ref_encode(want, F60, 60, 60, p.ts, 1);
	is_mem(out, n > 0 ? (size_t)n : 0, want, wn, "encode: with the 16-digit timestamp column");
	ok(n > 17 && memcmp(out, "0123456789ABCDEF ", 17) == 0, "encode: timestamp is uppercase, 16 digits, first");
	is_int(n, 48 + 3 * (60 - 14), "encode: line length is 48 + 3*(L-14) with the timestamp (EtherPIPE's)");

	p.caplen = 14;
	p.wirelen = 14;
	n = sp_ascii_encode(out, &p, 0);
	is_mem(out, n > 0 ? (size_t)n : 0, "FFFFFFFFFFFF 02AA00000001 0806\n", 31, "encode: header-only frame");

	p.caplen = 20;
	p.wirelen = 1514;
	n = sp_ascii_encode(out, &p, 0);
	wn = ref_encode(want, F60, 20, 1514, 0, 0);
	is_mem(out, n > 0 ? (size_t)n : 0, want, wn, "encode: truncated capture carries len=WIRELEN");
	ok(n > 0 && strstr(out, " len=1514\n") != NULL, "encode: ' len=1514' ends the line");

	p.caplen = 13;
	p.wirelen = 13;
	is_int(sp_ascii_encode(out, &p, 0), SP_EBAD, "encode: a 13-byte frame is refused with SP_EBAD");

	/* Unstamped packet with -t: the writer stamps it with the clock, so it must look current. */
	p.caplen = p.wirelen = 60;
	p.ts = SP_TS_NONE;
	int64_t before = sp_now_ns();
	n = sp_ascii_encode(out, &p, 1);
	int64_t after = sp_now_ns();
	unsigned long long t = strtoull(out, NULL, 16);
	ok(n == 48 + 3 * 46 && (int64_t)t >= before && (int64_t)t <= after,
	   "encode: SP_TS_NONE with a timestamp column gets the current time");

	/* maxlen must cover every size, with and without ts and len=. */
	int allfit = 1;
	static uint8_t big[SP_MAXFRAME_DEFAULT];
	char *line = malloc(sp_ascii_maxlen(SP_MAXFRAME_DEFAULT));
	for (uint32_t len = 14; len <= SP_MAXFRAME_DEFAULT; len = len < 200 ? len + 1 : len * 3) {
		struct sp_pkt q = { .data = big, .caplen = len, .wirelen = UINT32_MAX, .ts = INT64_MAX };
		size_t m = sp_ascii_maxlen(len);
		int k = sp_ascii_encode(line, &q, 1);
		if (k < 0 || (size_t)k > m)
			allfit = 0;
	}
	struct sp_pkt q = { .data = big, .caplen = SP_MAXFRAME_DEFAULT, .wirelen = UINT32_MAX, .ts = INT64_MAX };
	n = sp_ascii_encode(line, &q, 1);
	ok(allfit && n > 0 && (size_t)n <= sp_ascii_maxlen(SP_MAXFRAME_DEFAULT),
	   "encode: sp_ascii_maxlen covers every length up to the maximal frame");
	free(line);
}

struct good {
	const char *line;
	uint32_t caplen, wirelen;
	int64_t ts;
};

static void test_decode_good(void)
{
	/* The 20-byte frame FF..FF 02AA00000001 0800 45 00 00 14 00 01 in many spellings. */
	static const uint8_t want20[20] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0xaa, 0x00, 0x00,
					    0x00, 0x01, 0x08, 0x00, 0x45, 0x00, 0x00, 0x14, 0x00, 0x01 };
	static const struct good g[] = {
		{ "FFFFFFFFFFFF 02AA00000001 0800 45 00 00 14 00 01", 20, 20, SP_TS_NONE },
		{ "ffffffffffff 02aa00000001 0800 45 00 00 14 00 01", 20, 20, SP_TS_NONE },
		{ "fFfFfFfFfFfF 02Aa00000001 0800 45 00 00 14 00 01", 20, 20, SP_TS_NONE },
		{ "FFFFFFFFFFFF\t02AA00000001\t0800\t45\t00\t00\t14\t00\t01", 20, 20, SP_TS_NONE },
		{ "  FFFFFFFFFFFF   02AA00000001 \t 0800  45 00    00 14 00 01   ", 20, 20, SP_TS_NONE },
		{ "FFFFFFFFFFFF 02AA00000001 0800 45 00 00 14 00 01\r", 20, 20, SP_TS_NONE },
		{ "FFFFFFFFFFFF 02AA00000001 0800 45 00 00 14 00 01 \r", 20, 20, SP_TS_NONE },
		{ "00000000075BCD15 FFFFFFFFFFFF 02AA00000001 0800 45 00 00 14 00 01", 20, 20, 123456789 },
		{ "00000000075bcd15\tFFFFFFFFFFFF 02AA00000001 0800 45 00 00 14 00 01\r", 20, 20, 123456789 },
		{ "FFFFFFFFFFFF 02AA00000001 0800 45 00 00 14 00 01 len=60", 20, 60, SP_TS_NONE },
		{ "FFFFFFFFFFFF 02AA00000001 0800 45 00 00 14 00 01 len=20", 20, 20, SP_TS_NONE },
		{ "FFFFFFFFFFFF 02AA00000001 0800 45 00 00 14 00 01\tlen=9014\r", 20, 9014, SP_TS_NONE },
		{ "00000000075BCD15 FFFFFFFFFFFF 02AA00000001 0800 45 00 00 14 00 01 len=4294967295", 20,
		  4294967295u, 123456789 },
		/* Tokens of any even width are bytes, so a packed line reads the same. */
		{ "FFFFFFFFFFFF02AA000000010800450000140001", 20, 20, SP_TS_NONE },
		{ "FF FF FF FF FF FF 02 AA 00 00 00 01 08 00 45 00 00 14 00 01", 20, 20, SP_TS_NONE },
	};
	uint8_t *frame = NULL;
	char err[SP_ERRBUF];
	for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
		struct sp_pkt p = { 0 };
		int rc = dec(g[i].line, strlen(g[i].line), SP_MAXFRAME_DEFAULT, &frame, &p, err);
		int good = rc == 1 && p.caplen == g[i].caplen && p.wirelen == g[i].wirelen && p.ts == g[i].ts &&
			   memcmp(p.data, want20, 20) == 0;
		if (!ok(good, "decode: good line %zu '%.40s...'", i, g[i].line))
			diag("  rc %d caplen %u wirelen %u ts %lld err '%s'", rc, p.caplen, p.wirelen, (long long)p.ts,
			     err);
	}
	static const char *nothing[] = { "", " ", "\t \t", "\r", "#", "# a comment", "   # indented comment",
					 "\t#FFFFFFFFFFFF 02AA00000001 0800 45 00", "#\r" };
	int all = 1;
	for (size_t i = 0; i < sizeof nothing / sizeof nothing[0]; i++) {
		struct sp_pkt p = { 0 };
		int rc = dec(nothing[i], strlen(nothing[i]), SP_MAXFRAME_DEFAULT, &frame, &p, err);
		if (rc != 0) {
			all = 0;
			diag("  line '%s' gave %d", nothing[i], rc);
		}
	}
	ok(all, "decode: blank, whitespace-only, CR-only and '#' lines return 0");
	free(frame);
}

struct badl {
	const char *line;
	uint32_t maxframe;
	const char *why; /* a word the reason must contain */
};

static void test_decode_bad(void)
{
	static const struct badl b[] = {
		/* odd number of hex digits */
		{ "FFFFFFFFFFFF 02AA00000001 0800 45 0 00 14", 0, "odd" },
		{ "FFFFFFFFFFFF 02AA00000001 0800 45 000 14", 0, "odd" },
		{ "FFFFFFFFFFFF 02AA0000001 0800 45 00 00 14", 0, "odd" },
		{ "FFFFFFFFFFFF 02AA00000001 0800 45 00 00 1", 0, "odd" },
		{ "0000000000000000F FFFFFFFFFFFF 02AA00000001 0800 45", 0, "odd" },
		/* non-hex characters */
		{ "FFFFFFFFFFFF 02AA00000001 0800 45 0G 00 14", 0, "hex" },
		{ "FFFFFFFFFFFF 02AA00000001 0800 45 00 00 1x", 0, "hex" },
		{ "FFFFFFFFFFFF 02AA00000001 0800 45 00,00 14", 0, "hex" },
		{ "FFFFFFFFFFFF 02AA00000001 0800 45 00 00 14 \x80\x81", 0, "hex" },
		{ "GFFFFFFFFFFF 02AA00000001 0800 45 00 00 14 00 01", 0, "hex" },
		{ "FFFFFFFFFFFF 02AA00000001 0800 45 00 00 14 00 01 # trailing comment", 0, "hex" },
		{ "FFFFFFFFFFFF 02AA00000001 0800 45 00 00 14\v00", 0, "hex" },
		/* frame under 14 bytes */
		{ "FFFFFFFFFFFF 02AA00000001 08", 0, "14" },
		{ "FFFFFFFFFFFF", 0, "14" },
		{ "0000000000000001 FFFFFFFFFFFF 02AA00000001", 0, "14" },
		{ "0000000000000001", 0, "14" },
		/* over the maximum frame */
		{ "FFFFFFFFFFFF 02AA00000001 0800 45 00 00 14 00 01", 19, "max" },
		{ "FFFFFFFFFFFF 02AA00000001 0800", 13, "max" },
		/* wire length */
		{ "FFFFFFFFFFFF 02AA00000001 0800 45 00 00 14 00 01 len=19", 0, "len" },
		{ "FFFFFFFFFFFF 02AA00000001 0800 45 00 00 14 00 01 len=4294967296", 0, "len" },
		{ "FFFFFFFFFFFF 02AA00000001 0800 45 00 00 14 00 01 len=6x", 0, "len" },
		{ "FFFFFFFFFFFF 02AA00000001 0800 45 00 00 14 00 01 len=60 00", 0, "len" },
	};
	uint8_t *frame = NULL;
	char err[SP_ERRBUF];
	for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) {
		struct sp_pkt p = { 0 };
		uint32_t mf = b[i].maxframe ? b[i].maxframe : SP_MAXFRAME_DEFAULT;
		int rc = dec(b[i].line, strlen(b[i].line), mf, &frame, &p, err);
		int good = rc == SP_EBAD && err[0] != 0;
		/* The reason words are the spec's: "odd", "non-hex", "14 bytes"/"shorter", "maximum", "length". */
		const char *w = b[i].why;
		int named = strcmp(w, "14") == 0 ? strstr(err, "shorter") || strstr(err, "14") :
			    strcmp(w, "max") == 0 ? strstr(err, "max") != NULL :
			    strcmp(w, "len") == 0 ? strstr(err, "len") != NULL :
						    strstr(err, w) != NULL;
		if (!ok(good && named, "decode: bad line %zu (%s) is SP_EBAD with a reason", i, w))
			diag("  rc %d err '%s' line '%s'", rc, err, b[i].line);
	}
	/* Limits: exactly maxframe is fine, one more is not; 14 is fine. */
	struct sp_pkt p;
	const char *l20 = "FFFFFFFFFFFF 02AA00000001 0800 45 00 00 14 00 01";
	is_int(dec(l20, strlen(l20), 20, &frame, &p, err), 1, "decode: a frame of exactly maxframe bytes is good");
	const char *l14 = "FFFFFFFFFFFF 02AA00000001 0800";
	is_int(dec(l14, strlen(l14), 14, &frame, &p, err), 1, "decode: a 14-byte frame with maxframe 14 is good");
	/* A NUL inside the line is a non-hex byte, not an end of string. */
	static const char nul[] = "FFFFFFFFFFFF 02AA00000001 0800 45 \0 00";
	is_int(dec(nul, sizeof nul - 1, SP_MAXFRAME_DEFAULT, &frame, &p, err), SP_EBAD,
	       "decode: a NUL byte in the line is bad, not the end");
	/* The column the error names is where the fault is (1-based). */
	const char *col = "FFFFFFFFFFFF 02AA00000001 0800 45 0G";
	dec(col, strlen(col), SP_MAXFRAME_DEFAULT, &frame, &p, err);
	like(err, "36", "decode: the reason names column 36 for the 'G'");
	free(frame);
}

/* Largest frames: 262144 bytes decodes, one more byte does not, and both sizes round-trip. */
static void test_maxframe(void)
{
	uint32_t big = SP_MAXFRAME_DEFAULT;
	uint8_t *src = malloc(big + 1);
	for (uint32_t i = 0; i < big + 1; i++)
		src[i] = (uint8_t)(rnd());
	char *line = malloc(sp_ascii_maxlen(big + 1));
	struct sp_pkt in = { .data = src, .caplen = big, .wirelen = big, .ts = 42 };
	int n = sp_ascii_encode(line, &in, 1);
	uint8_t *frame = NULL;
	char err[SP_ERRBUF];
	struct sp_pkt p = { 0 };
	int rc = dec(line, (size_t)n - 1, big, &frame, &p, err);
	ok(rc == 1 && p.caplen == big && p.ts == 42 && memcmp(p.data, src, big) == 0,
	   "decode: a 262144-byte frame (the default maximum) round-trips");
	in.caplen = in.wirelen = big + 1;
	n = sp_ascii_encode(line, &in, 0);
	rc = dec(line, (size_t)n - 1, big, &frame, &p, err);
	ok(rc == SP_EBAD && strstr(err, "max") != NULL, "decode: a 262145-byte frame is over the maximum");
	rc = dec(line, (size_t)n - 1, big + 1, &frame, &p, err);
	ok(rc == 1 && p.caplen == big + 1 && memcmp(p.data, src, big + 1) == 0,
	   "decode: the same line with maxframe 262145 is good");
	free(frame);
	free(line);
	free(src);
}

/* Round trip and a differential test against ref_decode on many random lines and mutations. */
static void test_random(void)
{
	enum { MAXF = 3000 };
	uint8_t src[MAXF + 16], rframe[MAXF + 16];
	char line[4 * MAXF + 200], mut[4 * MAXF + 400];
	uint8_t *frame = NULL;
	char err[SP_ERRBUF];
	int rt_ok = 1, diff_ok = 1, kinds[3] = { 0 };
	for (int it = 0; it < 4000; it++) {
		uint32_t len = 14 + rnd() % (it < 2000 ? 120 : MAXF - 14);
		for (uint32_t i = 0; i < len; i++)
			src[i] = (uint8_t)rnd();
		int with_ts = rnd() & 1;
		uint32_t wl = rnd() % 4 == 0 ? len + rnd() % 100000 : len;
		int64_t ts = (int64_t)((uint64_t)rnd() << 32 | rnd()) & INT64_MAX;
		struct sp_pkt in = { .data = src, .caplen = len, .wirelen = wl, .ts = ts };
		int n = sp_ascii_encode(line, &in, with_ts);
		struct sp_pkt p = { 0 };
		int rc = dec(line, (size_t)n - 1, MAXF, &frame, &p, err);
		if (rc != 1 || p.caplen != len || p.wirelen != wl || p.ts != (with_ts ? ts : SP_TS_NONE) ||
		    memcmp(p.data, src, len) != 0) {
			if (rt_ok)
				diag("  round trip failed at iteration %d (len %u ts %d): rc %d err '%s'", it, len,
				     with_ts, rc, err);
			rt_ok = 0;
		}
		/* Mutate: case, separators, CR, one byte replaced, deleted or inserted. */
		size_t m = 0, L = (size_t)n - 1;
		unsigned what = rnd() % 8;
		size_t at = rnd() % L;
		static const char alphabet[] = "0123456789abcdefABCDEFgGxX \t\r#=len\n\0\x80";
		for (size_t i = 0; i < L; i++) {
			char c = line[i];
			if (what == 0 && c >= 'A' && c <= 'F' && rnd() % 2)
				c = (char)(c | 0x20);
			if (what == 1 && c == ' ' && rnd() % 3 == 0) {
				mut[m++] = rnd() % 2 ? '\t' : ' ';
				if (rnd() % 2)
					mut[m++] = ' ';
			}
			if (i == at && what == 2) {
				mut[m++] = alphabet[rnd() % (sizeof alphabet - 1)];
				continue;
			}
			if (i == at && what == 3)
				continue;
			if (i == at && what == 4)
				mut[m++] = alphabet[rnd() % (sizeof alphabet - 1)];
			mut[m++] = c;
		}
		if (what == 5)
			mut[m++] = '\r';
		if (what == 6)
			m = at; /* cut short */
		uint32_t maxf = what == 7 ? 14 + rnd() % MAXF : MAXF;
		uint32_t rc_len = 0, rw = 0;
		int64_t rts = 0;
		int want = ref_decode(mut, m, rframe, maxf, &rc_len, &rw, &rts);
		/* A '\n' inside the line is the reader's business, never the line decoder's input. */
		if (memchr(mut, '\n', m))
			continue;
		rc = dec(mut, m, maxf, &frame, &p, err);
		kinds[want == 1 ? 0 : want == 0 ? 1 : 2]++;
		int same = rc == want &&
			   (want != 1 || (p.caplen == rc_len && p.wirelen == rw && p.ts == rts &&
					  memcmp(p.data, rframe, rc_len) == 0));
		if (!same) {
			if (diff_ok)
				diag("  mutation %u at %zu: got %d (caplen %u) want %d (caplen %u): '%.*s' err '%s'",
				     what, at, rc, rc == 1 ? p.caplen : 0, want, rc_len, (int)(m > 120 ? 120 : m), mut,
				     err);
			diff_ok = 0;
		}
	}
	ok(rt_ok, "encode -> decode round trip of 4000 random frames (14..3000 bytes, ts and len= at random)");
	ok(diff_ok, "decode agrees with a naive reference on mutated lines (%d good, %d empty, %d bad)", kinds[0],
	   kinds[1], kinds[2]);
	ok(kinds[0] > 100 && kinds[2] > 100, "the mutations produced both good and bad lines");
	free(frame);
}

int main(void)
{
	test_encode();
	test_decode_good();
	test_decode_bad();
	test_maxframe();
	test_random();
	return done_testing();
}
