/* SPDX-License-Identifier: BSD-2-Clause */
/* csum.c: the Internet checksum over memory, pseudo-header sums and incremental updates, for every tool. */
#include <arpa/inet.h>
#include <string.h>

#include "csum.h"

/* 64-bit one's complement additions fold to the same 16-bit sum (RFC 1071 sec. 2(B)), 4x fewer adds. */
static inline uint64_t add64(uint64_t s, uint64_t v)
{
	s += v;
	return s + (s < v);
}

static inline uint32_t fold32(uint64_t s)
{
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	return (uint32_t)s;
}

uint32_t sp_csum_add(const void *buf, size_t len, uint32_t sum)
{
	const uint8_t *p = buf;
	uint64_t s = sum, v;
	/* Two independent chains hide the carry dependency on wide frames. */
	uint64_t t = 0;
	while (len >= 16) {
		uint64_t a, b;
		memcpy(&a, p, 8);
		memcpy(&b, p + 8, 8);
		s = add64(s, a);
		t = add64(t, b);
		p += 16;
		len -= 16;
	}
	s = add64(s, t);
	if (len >= 8) {
		memcpy(&v, p, 8);
		s = add64(s, v);
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		uint32_t w;
		memcpy(&w, p, 4);
		s = add64(s, w);
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;
		memcpy(&w, p, 2);
		s = add64(s, w);
		p += 2;
		len -= 2;
	}
	if (len) {
		/* The odd byte is the first byte of a zero-padded word, wherever that lies in a native load. */
		uint16_t w = 0;
		memcpy(&w, p, 1);
		s = add64(s, w);
	}
	return fold32(s);
}

uint16_t sp_csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t sp_csum(const void *buf, size_t len, uint32_t init)
{
	return sp_csum_fold(sp_csum_add(buf, len, init));
}

uint32_t sp_csum_pseudo4(const void *src, const void *dst, uint8_t proto, uint16_t len)
{
	uint64_t s = sp_csum_add(src, 4, 0);
	s += sp_csum_add(dst, 4, 0);
	s += htons(proto);
	s += htons(len);
	return fold32(s);
}

uint32_t sp_csum_pseudo6(const void *src, const void *dst, uint8_t nexthdr, uint32_t len)
{
	uint32_t tail[2] = { htonl(len), htonl(nexthdr) };
	uint64_t s = sp_csum_add(src, 16, 0);
	s += sp_csum_add(dst, 16, 0);
	s += sp_csum_add(tail, sizeof tail, 0);
	return fold32(s);
}

uint16_t sp_csum_update(uint16_t csum, const void *old, const void *new, size_t len)
{
	/* HC' = ~(~HC + ~m + m'); summing ~m word by word is summing 0xffff - m. */
	const uint8_t *o = old;
	uint64_t s = (uint16_t)~csum;
	for (size_t i = 0; i + 1 < len; i += 2) {
		uint16_t w;
		memcpy(&w, o + i, 2);
		s += (uint16_t)~w;
	}
	return sp_csum_fold(sp_csum_add(new, len, fold32(s)));
}
