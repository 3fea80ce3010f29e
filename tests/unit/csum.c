/* SPDX-License-Identifier: BSD-2-Clause */
/* csum.c: unit test (TAP) of lib/csum.c against RFC 1071's example, a real IPv4 header and a naive reference. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csum.h"

static int n, failed;

static void ok(int cond, const char *what)
{
	n++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, what);
	if (!cond)
		failed++;
}

/* The textbook definition, big-endian 16-bit words, one at a time; returns host order. */
static uint16_t naive(const uint8_t *p, size_t len)
{
	uint32_t s = 0;
	for (size_t i = 0; i < len; i += 2)
		s += (uint32_t)(p[i] << 8) | (i + 1 < len ? p[i + 1] : 0);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

int main(void)
{
	/* RFC 1071 sec. 3: the sum of these words is 0xddf2, the checksum its complement. */
	static const uint8_t rfc[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	ok(ntohs(sp_csum(rfc, sizeof rfc, 0)) == 0x220d, "rfc 1071 example");

	/* An IPv4 header as captured, checksum field 0xb861. */
	uint8_t ip[20] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
			   0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 };
	ok(sp_csum(ip, 20, 0) == 0, "a valid ipv4 header sums to zero");
	ip[10] = ip[11] = 0;
	ok(ntohs(sp_csum(ip, 20, 0)) == 0xb861, "ipv4 header checksum recomputed");

	uint8_t buf[300];
	srand(1);
	int all = 1, chain = 1, upd = 1;
	for (int round = 0; round < 200; round++) {
		for (size_t i = 0; i < sizeof buf; i++)
			buf[i] = (uint8_t)(round == 0 ? 0xff : round == 1 ? 0 : round == 2 ? (int)i : rand());
		for (size_t off = 0; off < 8; off++)
			for (size_t len = 0; len + off <= 290; len += 1 + (len > 40) * 7) {
				uint16_t got = ntohs(sp_csum(buf + off, len, 0));
				uint16_t want = naive(buf + off, len);
				if (got != want)
					all = 0;
				size_t cut = (len / 2) & ~(size_t)1;
				uint32_t s = sp_csum_add(buf + off, cut, 0);
				if (sp_csum(buf + off + cut, len - cut, s) != sp_csum(buf + off, len, 0))
					chain = 0;
			}
		uint8_t old[6], fresh[6];
		memcpy(old, buf + 10, 6);
		uint16_t c = sp_csum(buf, 64, 0);
		for (int k = 0; k < 6; k++)
			fresh[k] = (uint8_t)rand();
		memcpy(buf + 10, fresh, 6);
		if (sp_csum_update(c, old, fresh, 6) != sp_csum(buf, 64, 0))
			upd = 0;
	}
	ok(all, "matches the naive reference at every offset and length");
	ok(chain, "partial sums chain at even cuts");
	ok(upd, "incremental update equals recomputation");

	/* A UDP datagram from 192.0.2.1:9 to 192.0.2.2:9 with payload "ab", checked by hand. */
	uint8_t src[4] = { 192, 0, 2, 1 }, dst[4] = { 192, 0, 2, 2 };
	uint8_t udp[10] = { 0, 9, 0, 9, 0, 10, 0, 0, 'a', 'b' };
	uint32_t ph = sp_csum_pseudo4(src, dst, 17, 10);
	uint16_t c = sp_csum(udp, 10, ph);
	/* words: c000+0201+c000+0202+0011+000a + 0009+0009+000a+6162 = 0x1e59c -> e59d, ~ = 1a62 */
	ok(ntohs(c) == 0x1a62, "udp over ipv4 pseudo-header");
	memcpy(udp + 6, &c, 2);
	ok(sp_csum(udp, 10, ph) == 0, "a stored udp checksum verifies to zero");

	uint8_t s6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 }, d6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
	uint8_t u6[10] = { 0, 9, 0, 9, 0, 10, 0, 0, 'a', 'b' };
	uint32_t ph6 = sp_csum_pseudo6(s6, d6, 17, 10);
	/* words: 2001+0db8+0001 twice, +0002-0001, +000a+0011 + udp 0009+0009+000a+6162 */
	uint32_t w = 2 * (0x2001 + 0x0db8) + 1 + 2 + 10 + 17 + 9 + 9 + 10 + 0x6162;
	while (w >> 16)
		w = (w & 0xffff) + (w >> 16);
	ok(ntohs(sp_csum(u6, 10, ph6)) == (uint16_t)~w, "udp over ipv6 pseudo-header");

	printf("1..%d\n", n);
	return failed != 0;
}
