/* SPDX-License-Identifier: BSD-2-Clause */
/* ascii.c: the EtherPIPE line codec: one frame per line of hex, optionally led by a timestamp. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "stdpkt.h"

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

static inline uint16_t ld16(const unsigned char *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v; /* little-endian: p[0] in the low byte, as pairval is indexed */
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
