/* SPDX-License-Identifier: BSD-2-Clause */
/* ascii.c: the EtherPIPE line codec: one frame per line of hex, optionally led by a timestamp. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "stdpkt.h"
#include "internal.h"

/* Low nibble = value; 0xF0 marks a non-hex byte so two lookups OR-ed test both digits at once. */
static const uint8_t hexval[256] = {
#define X 0xF0
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, X, X, X, X, X, X,
	X, 10, 11, 12, 13, 14, 15, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, 10, 11, 12, 13, 14, 15, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
#undef X
};

static const char hexdig[] = "0123456789ABCDEF";

size_t sp_ascii_maxlen(uint32_t caplen)
{
	/* ts + header + payload + " len=4294967295" + '\n' + 4 bytes of slack for word stores */
	return 17 + 31 + 3 * (size_t)(caplen > SP_ETH_HLEN ? caplen - SP_ETH_HLEN : 0) + 15 + 1 + 4;
}

static char *put_hexrun(char *o, const uint8_t *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		*o++ = hexdig[d[i] >> 4];
		*o++ = hexdig[d[i] & 15];
	}
	return o;
}

/* Two hex characters (little-endian pair) -> byte value, or 0x100 if either is not hex. */
static uint16_t pairval[65536];

/* " HH" for every byte value, stored as 4 bytes so the hot loop does one unaligned store per byte. */
static uint32_t sphex[256];

__attribute__((constructor)) static void sphex_init(void)
{
	for (int i = 0; i < 256; i++) {
		char s[4] = { ' ', hexdig[i >> 4], hexdig[i & 15], 0 };
		memcpy(&sphex[i], s, 4);
	}
	for (int i = 0; i < 65536; i++) {
		uint8_t a = hexval[i & 255], b = hexval[i >> 8];
		pairval[i] = (a | b) & 0xF0 ? 0x100 : (uint16_t)(a << 4 | b);
	}
}

int sp_ascii_encode(char *out, const struct sp_pkt *p, int with_ts)
{
	if (p->caplen < SP_ETH_HLEN)
		return SP_EBAD;
	char *o = out;
	if (with_ts) {
		uint64_t ts = p->ts == SP_TS_NONE ? (uint64_t)sp_now_ns() : (uint64_t)p->ts;
		for (int i = 15; i >= 0; i--, ts >>= 4)
			o[i] = hexdig[ts & 15];
		o[16] = ' ';
		o += 17;
	}
	const uint8_t *d = p->data;
	o = put_hexrun(o, d, 6);
	*o++ = ' ';
	o = put_hexrun(o, d + 6, 6);
	*o++ = ' ';
	o = put_hexrun(o, d + 12, 2);
	for (uint32_t i = SP_ETH_HLEN; i < p->caplen; i++) {
		memcpy(o, &sphex[d[i]], 4);
		o += 3;
	}
	if (p->wirelen > p->caplen)
		o += sprintf(o, " len=%" PRIu32, p->wirelen);
	*o++ = '\n';
	return (int)(o - out);
}

#if defined(__x86_64__)
#include <immintrin.h>

/* Shuffle masks: [lane * 3 + {space, high digit, low digit}], filled once at load time. */
static int8_t mask[9][16] __attribute__((aligned(16)));
static int ssse3;

__attribute__((constructor)) static void decode16_init(void)
{
	for (int l = 0; l < 3; l++)
		for (int k = 0; k < 3; k++)
			for (int t = 0; t < 16; t++) {
				int i = 3 * t + k - 16 * l;
				mask[l * 3 + k][t] = (int8_t)(i >= 0 && i < 16 ? i : -128);
			}
	ssse3 = __builtin_cpu_supports("ssse3");
}

/* Gathers the separators, high and low digits of sixteen " HH" tokens at q into v[0..2]. */
__attribute__((target("ssse3"))) static inline void gather16(const unsigned char *q, __m128i v[3])
{
	__m128i l0 = _mm_loadu_si128((const __m128i *)q), l1 = _mm_loadu_si128((const __m128i *)(q + 16));
	__m128i l2 = _mm_loadu_si128((const __m128i *)(q + 32));
	for (int k = 0; k < 3; k++)
		v[k] = _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(l0, *(const __m128i *)mask[k]),
						 _mm_shuffle_epi8(l1, *(const __m128i *)mask[3 + k])),
				    _mm_shuffle_epi8(l2, *(const __m128i *)mask[6 + k]));
}

/* Stores the sixteen bytes v[1..2] spell; 0 (nothing stored) if a digit in `lanes` is not hex. */
__attribute__((target("ssse3"))) static inline int hex16(const __m128i v[3], unsigned lanes, uint8_t *out)
{
	const __m128i c0 = _mm_set1_epi8('0' - 1), c9 = _mm_set1_epi8('9' + 1);
	const __m128i ca = _mm_set1_epi8('a' - 1), cf = _mm_set1_epi8('f' + 1), x20 = _mm_set1_epi8(0x20);
	const __m128i d0 = _mm_set1_epi8('0'), da = _mm_set1_epi8('a' - 10);
	__m128i nib[2];
	for (int k = 1; k < 3; k++) {
		__m128i c = v[k], lc = _mm_or_si128(c, x20);
		__m128i dig = _mm_and_si128(_mm_cmpgt_epi8(c, c0), _mm_cmpgt_epi8(c9, c));
		__m128i let = _mm_and_si128(_mm_cmpgt_epi8(lc, ca), _mm_cmpgt_epi8(cf, lc));
		if (((unsigned)_mm_movemask_epi8(_mm_or_si128(dig, let)) & lanes) != lanes)
			return 0;
		nib[k - 1] = _mm_or_si128(_mm_and_si128(dig, _mm_sub_epi8(c, d0)),
					  _mm_andnot_si128(dig, _mm_sub_epi8(lc, da)));
	}
	_mm_storeu_si128((__m128i *)out, _mm_or_si128(_mm_slli_epi16(nib[0], 4), nib[1]));
	return 1;
}

/*
 * Sixteen " HH" tokens (48 bytes) at a time: three shuffles gather the high digits, three the
 * low digits and three the separators from the three 16-byte loads.  Returns the bytes decoded,
 * a multiple of 16; stops at the first group that is not sixteen canonical tokens.
 */
__attribute__((target("ssse3"))) static size_t decode16(const unsigned char *q, size_t avail, uint8_t *out,
							  size_t room, int slack)
{
	const __m128i spc = _mm_set1_epi8(' ');
	size_t n = 0;
	/*
	 * With slack (48 readable bytes past the line and 16 writable past the frame, as the
	 * reader's buffers have), a last group of fewer than sixteen tokens that ends the line is
	 * decoded in the same way, checking only its own lanes.
	 */
	while (room - n >= 16 && (avail >= 48 || (slack && avail >= 3 && avail % 3 == 0))) {
		unsigned lanes = avail >= 48 ? 0xFFFF : (1u << (avail / 3)) - 1;
		__m128i v[3];
		gather16(q, v);
		if (((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v[0], spc)) & lanes) != lanes ||
		    !hex16(v, lanes, out + n))
			break;
		if (lanes != 0xFFFF)
			return n + avail / 3;
		n += 16;
		q += 48;
		avail -= 48;
	}
	return n;
}
#endif

static inline uint16_t ld16(const unsigned char *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v; /* little-endian: p[0] in the low byte, as pairval is indexed */
}

#if defined(__x86_64__)
/*
 * The reader's hot path: a canonical line ([TS ]DST SRC TYPE then " HH" tokens, '\n') decoded
 * straight from the stream buffer, finding the newline in the same vector pass, so the line is
 * read once.  Returns the bytes taken including the newline, or 0 when the line is not canonical
 * or not wholly in s[0..have): the caller then frames it the general way.  Needs SP_SLACK.
 */
__attribute__((target("ssse3"))) static size_t line_fast(const unsigned char *s, size_t have, uint8_t *frame,
							   uint32_t maxframe, struct sp_pkt *p)
{
	size_t h = 0;
	int64_t ts = SP_TS_NONE;
	if (have > 47 && s[16] == ' ' && s[29] == ' ' && s[42] == ' ') {
		uint64_t v = 0;
		uint16_t bad = 0;
		for (int i = 0; i < 16; i += 2) {
			uint16_t b = pairval[ld16(s + i)];
			bad |= b;
			v = v << 8 | (uint8_t)b;
		}
		if (bad & 0x100)
			return 0;
		ts = (int64_t)v;
		h = 17;
	}
	const unsigned char *q = s + h;
	if (have < h + 31 || q[12] != ' ' || q[25] != ' ' || maxframe < 14 + 16)
		return 0;
	static const uint8_t pos[14] = { 0, 2, 4, 6, 8, 10, 13, 15, 17, 19, 21, 23, 26, 28 };
	uint16_t bad = 0;
	for (int i = 0; i < 14; i++) {
		uint16_t b = pairval[ld16(q + pos[i])];
		bad |= b;
		frame[i] = (uint8_t)b;
	}
	if (bad & 0x100)
		return 0;
	q += 30;
	const unsigned char *end = s + have;
	const __m128i spc = _mm_set1_epi8(' '), nl = _mm_set1_epi8('\n');
	uint32_t n = 14;
	for (;;) {
		if (maxframe - n < 16)
			return 0;
		__m128i v[3];
		gather16(q, v);
		unsigned sp = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v[0], spc));
		unsigned nlm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v[0], nl));
		unsigned k = nlm ? (unsigned)__builtin_ctz(nlm) : 16, lanes = (1u << k) - 1;
		if ((sp & lanes) != lanes || q + 3 * k + (nlm ? 0 : 2) >= end)
			return 0;
		if (k && !hex16(v, lanes, frame + n))
			return 0;
		n += k;
		q += 3 * k;
		if (nlm) {
			p->data = frame;
			p->caplen = p->wirelen = n;
			p->ts = ts;
			return (size_t)(q + 1 - s);
		}
	}
}
#endif

size_t sp_ascii_line_fast(const char *s, size_t have, uint8_t *frame, uint32_t maxframe, struct sp_pkt *p)
{
#if defined(__x86_64__)
	if (ssse3)
		return line_fast((const unsigned char *)s, have, frame, maxframe, p);
#endif
	(void)s, (void)have, (void)frame, (void)maxframe, (void)p;
	return 0;
}

static int bad(char *errbuf, const unsigned char *line, const unsigned char *at, const char *why)
{
	if (errbuf)
		snprintf(errbuf, SP_ERRBUF, "column %zu: %s", (size_t)(at - line) + 1, why);
	return SP_EBAD;
}

int sp_ascii_decode(const char *line, size_t len, uint8_t *frame, uint32_t maxframe,
		    struct sp_pkt *p, char *errbuf)
{
	return sp_ascii_decode_x(line, len, frame, maxframe, p, errbuf, 0);
}

int sp_ascii_decode_x(const char *line, size_t len, uint8_t *frame, uint32_t maxframe,
		      struct sp_pkt *p, char *errbuf, int slack)
{
	const unsigned char *s = (const unsigned char *)line, *e = s + len;
	const unsigned char *q = s;
	while (e > q && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
		e--;
	while (q < e && (*q == ' ' || *q == '\t'))
		q++;
	if (q == e || *q == '#')
		return 0;

	uint32_t n = 0, wirelen = 0;
	int64_t ts = SP_TS_NONE;
	int first = 1;

	/*
	 * Fast path for the canonical layout a writer produces: [TS ]DST SRC TYPE then " HH" tokens.
	 * Anything else (tabs, runs of spaces, other token widths) falls to the general tokenizer
	 * below, which resumes at the token boundary where this stopped.
	 */
	if (e - q >= 30 && q[12] == ' ' && q[25] == ' ' && (e - q == 30 || q[30] == ' ') && maxframe >= 14) {
		static const uint8_t pos[14] = { 0, 2, 4, 6, 8, 10, 13, 15, 17, 19, 21, 23, 26, 28 };
		uint8_t bad = 0;
		for (int i = 0; i < 14; i++) {
			uint8_t hi = hexval[q[pos[i]]], lo = hexval[q[pos[i] + 1]];
			bad |= hi | lo;
			frame[i] = (uint8_t)(hi << 4 | lo);
		}
		if (!(bad & 0xF0)) {
			n = 14;
			first = 0;
			q += 30;
#if defined(__x86_64__)
			if (ssse3) {
				size_t k = decode16(q, (size_t)(e - q), frame + n, maxframe - n, slack);
				n += (uint32_t)k;
				q += 3 * k;
			}
#endif
			while (e - q >= 12 && maxframe - n >= 4 && q[0] == ' ' && q[3] == ' ' && q[6] == ' ' &&
			       q[9] == ' ') {
				uint16_t a = pairval[ld16(q + 1)], b = pairval[ld16(q + 4)];
				uint16_t c = pairval[ld16(q + 7)], d = pairval[ld16(q + 10)];
				if ((a | b | c | d) & 0x100)
					break;
				frame[n] = (uint8_t)a;
				frame[n + 1] = (uint8_t)b;
				frame[n + 2] = (uint8_t)c;
				frame[n + 3] = (uint8_t)d;
				n += 4;
				q += 12;
			}
		}
	}
	while (q < e) {
		while (q < e && (*q == ' ' || *q == '\t'))
			q++;
		/* The common " HH" payload token, one at a time. */
		while (e - q >= 3 && q[2] == ' ' && !((hexval[q[0]] | hexval[q[1]]) & 0xF0)) {
			if (n >= maxframe)
				goto toolong;
			frame[n++] = (uint8_t)(hexval[q[0]] << 4 | hexval[q[1]]);
			q += 3;
			while (q < e && (*q == ' ' || *q == '\t'))
				q++;
		}
		if (q >= e)
			break;
		const unsigned char *t = q;
		while (q < e && *q != ' ' && *q != '\t')
			q++;
		size_t tl = (size_t)(q - t);
		if (tl > 4 && memcmp(t, "len=", 4) == 0) {
			uint64_t v = 0;
			for (const unsigned char *c = t + 4; c < q; c++) {
				if (*c < '0' || *c > '9' || v > UINT32_MAX)
					return bad(errbuf, s, c, "bad wire length");
				v = v * 10 + (*c - '0');
			}
			while (q < e && (*q == ' ' || *q == '\t'))
				q++;
			if (q != e)
				return bad(errbuf, s, q, "data after the wire length");
			if (v > UINT32_MAX || v < n)
				return bad(errbuf, s, t, "wire length is shorter than the frame");
			wirelen = (uint32_t)v;
			break;
		}
		for (const unsigned char *c = t; c < q; c++)
			if (hexval[*c] & 0xF0) {
				if (errbuf)
					snprintf(errbuf, SP_ERRBUF, *c >= 0x20 && *c < 0x7f ?
						 "column %zu: non-hex character '%c'" : "column %zu: non-hex byte 0x%02X",
						 (size_t)(c - s) + 1, *c);
				return SP_EBAD;
			}
		if (tl & 1)
			return bad(errbuf, s, t, "odd number of hex digits");
		if (first && tl == 16) {
			uint64_t v = 0;
			for (size_t i = 0; i < 16; i++)
				v = v << 4 | hexval[t[i]];
			ts = (int64_t)v;
		} else {
			if (tl / 2 > maxframe - n)
				goto toolong;
			for (size_t i = 0; i < tl; i += 2)
				frame[n++] = (uint8_t)(hexval[t[i]] << 4 | hexval[t[i + 1]]);
		}
		first = 0;
		while (q < e && (*q == ' ' || *q == '\t'))
			q++;
	}
	if (n < SP_ETH_HLEN) {
		if (errbuf)
			snprintf(errbuf, SP_ERRBUF, "frame of %" PRIu32 " bytes is shorter than an ethernet header", n);
		return SP_EBAD;
	}
	p->data = frame;
	p->caplen = n;
	p->wirelen = wirelen > n ? wirelen : n;
	p->ts = ts;
	return 1;
toolong:
	if (errbuf)
		snprintf(errbuf, SP_ERRBUF, "frame exceeds the maximum of %" PRIu32 " bytes", maxframe);
	return SP_EBAD;
}
