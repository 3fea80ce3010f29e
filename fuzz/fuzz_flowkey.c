/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_flowkey.c: libFuzzer target for the frame classifier (sp_flowkey, sp_tcpinfo): the input is one raw Ethernet frame. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowkey.h"

/*
 * Oracles, each an abort() so libFuzzer and the replayer report it:
 *  - no crash, hang or over-read (the sanitizers watch; every call gets a
 *    buffer that ends exactly where the frame does);
 *  - the same frame gives the same result twice, byte for byte;
 *  - every address and port reported lies inside the frame and equals the
 *    bytes at its offset; the key is made of exactly those fields;
 *  - the kind of result, the endpoints and may_start do not depend on the
 *    key mode, which only picks what the key is made of;
 *  - the same holds for every shorter prefix of the frame (a truncated
 *    frame never yields fields past its end);
 *  - sp_tcpinfo agrees with sp_flowkey on the frames it calls TCP.
 */

#define FAIL(...)                                                                                          \
	do {                                                                                               \
		fprintf(stderr, "fuzz_flowkey: " __VA_ARGS__);                                             \
		fputc('\n', stderr);                                                                       \
		abort();                                                                                   \
	} while (0)

static unsigned get16(const uint8_t *p) { return (unsigned)(p[0] << 8 | p[1]); }

static int all_zero(const uint8_t *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i])
			return 0;
	return 1;
}

/* The checks on one result of one mode; f is exactly len bytes. */
static void check_one(const uint8_t *f, uint32_t len, int mode, int rc, const struct sp_flowkey *k)
{
	if (rc != SP_FK_KEY && rc != SP_FK_FLOOD && rc != SP_EBAD)
		FAIL("mode %d len %u: result %d", mode, len, rc);
	if (rc == SP_EBAD && (!k->why[0] || !memchr(k->why, 0, sizeof k->why)))
		FAIL("mode %d len %u: bad frame without a reason", mode, len);
	if (k->fam != 0 && k->fam != 4 && k->fam != 6)
		FAIL("mode %d len %u: family %d", mode, len, k->fam);
	if (rc == SP_FK_KEY && !k->fam)
		FAIL("mode %d len %u: a key without addresses", mode, len);
	size_t al = k->fam == 6 ? 16 : k->fam == 4 ? 4 : 0;
	if (k->fam) {
		if (k->src_off > len || al > len - k->src_off || k->dst_off > len || al > len - k->dst_off)
			FAIL("mode %d len %u: address at %u/%u past the end", mode, len, k->src_off, k->dst_off);
		if (memcmp(f + k->src_off, k->src, al) || memcmp(f + k->dst_off, k->dst, al))
			FAIL("mode %d len %u: addresses differ from the frame's bytes", mode, len);
	}
	if (!all_zero(k->src + al, 16 - al) || !all_zero(k->dst + al, 16 - al))
		FAIL("mode %d len %u: address bytes past the family's length", mode, len);
	if (k->sport_off) {
		if (len < 2 || k->sport_off > len - 2 || k->dport_off > len - 2)
			FAIL("mode %d len %u: port at %u/%u past the end", mode, len, k->sport_off, k->dport_off);
		if (get16(f + k->sport_off) != k->sport || get16(f + k->dport_off) != k->dport)
			FAIL("mode %d len %u: ports differ from the frame's bytes", mode, len);
	} else if (k->sport || k->dport || k->dport_off) {
		FAIL("mode %d len %u: ports without a place in the frame", mode, len);
	}
	const struct sp_fkey *y = &k->key;
	if (rc != SP_FK_KEY) {
		if (!all_zero((const uint8_t *)y, sizeof *y) || k->may_start)
			FAIL("mode %d len %u: a key or may_start on a frame without one", mode, len);
		return;
	}
	if (y->fam != k->fam || y->pad || !all_zero(y->a + al, 16 - al) || !all_zero(y->b + al, 16 - al))
		FAIL("mode %d len %u: key not zero-filled past its fields", mode, len);
	if (mode == SP_FK_SRC || mode == SP_FK_DST) {
		if (y->kind != (mode == SP_FK_SRC ? SP_FK_KSRC : SP_FK_KDST) ||
		    memcmp(y->a, mode == SP_FK_SRC ? k->src : k->dst, al) || y->proto || y->pa || y->pb ||
		    !all_zero(y->b, 16))
			FAIL("mode %d len %u: address key is not the frame's %s", mode, len,
			     mode == SP_FK_SRC ? "source" : "destination");
		return;
	}
	if (y->kind != (k->proto < 0 ? SP_FK_KPAIR : SP_FK_KFLOW))
		FAIL("mode %d len %u: key kind %d for protocol %d", mode, len, y->kind, k->proto);
	if (y->kind == SP_FK_KPAIR ? (y->proto || y->pa || y->pb) : y->proto != (unsigned)k->proto)
		FAIL("mode %d len %u: key protocol or ports wrong", mode, len);
	/* Either direction: a = one endpoint, b = the other, ordered so that both directions meet. */
	unsigned ps = y->kind == SP_FK_KPAIR ? 0 : k->sport, pd = y->kind == SP_FK_KPAIR ? 0 : k->dport;
	int fwd = !memcmp(y->a, k->src, al) && !memcmp(y->b, k->dst, al) && y->pa == ps && y->pb == pd;
	int rev = !memcmp(y->a, k->dst, al) && !memcmp(y->b, k->src, al) && y->pa == pd && y->pb == ps;
	if (!fwd && !rev)
		FAIL("mode %d len %u: flow key is not made of the frame's endpoints", mode, len);
	int c = memcmp(y->a, y->b, al);
	if (c > 0 || (c == 0 && y->pa > y->pb))
		FAIL("mode %d len %u: flow key not ordered: the two directions would differ", mode, len);
}

/* All checks on the frame f of exactly len bytes. */
static void check_frame(const uint8_t *f, uint32_t len)
{
	struct sp_flowkey k[3], again;
	int rc[3];
	for (int m = 0; m < 3; m++) {
		rc[m] = sp_flowkey(f, len, m, &k[m]);
		check_one(f, len, m, rc[m], &k[m]);
		if (sp_flowkey(f, len, m, &again) != rc[m] || memcmp(&again, &k[m], sizeof again))
			FAIL("mode %d len %u: the same frame classified twice differs", m, len);
	}
	for (int m = 1; m < 3; m++) {
		const struct sp_flowkey *a = &k[0], *b = &k[m];
		if (rc[m] != rc[0] || a->may_start != b->may_start || a->fam != b->fam || a->proto != b->proto ||
		    memcmp(a->src, b->src, 16) || memcmp(a->dst, b->dst, 16) || a->sport != b->sport ||
		    a->dport != b->dport || a->src_off != b->src_off || a->dst_off != b->dst_off ||
		    strcmp(a->why, b->why))
			FAIL("len %u: mode %d classifies the frame unlike mode 0", len, m);
	}
	struct sp_flowkey bad;
	if (sp_flowkey(f, len, 3, &bad) != SP_EINVAL || sp_flowkey(f, len, -1, &bad) != SP_EINVAL)
		FAIL("len %u: a bad mode was accepted", len);

	struct sp_tcpinfo t, t2;
	int tc = sp_tcpinfo(f, len, &t);
	if (sp_tcpinfo(f, len, &t2) != tc || memcmp(&t, &t2, sizeof t))
		FAIL("len %u: the same frame's tcp header read twice differs", len);
	if (tc != 0 && tc != 1)
		FAIL("len %u: sp_tcpinfo returned %d", len, tc);
	if (tc) {
		uint32_t al = t.fam == 4 ? 4 : 16;
		if ((t.fam != 4 && t.fam != 6) || t.src_off > len || al > len - t.src_off || t.dst_off > len ||
		    al > len - t.dst_off)
			FAIL("len %u: tcp addresses past the end", len);
		/* The classifier read the same frame as TCP: the same endpoints. */
		if (rc[0] < 0 || k[0].proto != 6 || k[0].fam != t.fam || k[0].src_off != t.src_off ||
		    k[0].dst_off != t.dst_off || k[0].sport != t.sport || k[0].dport != t.dport)
			FAIL("len %u: sp_tcpinfo sees tcp %u->%u where sp_flowkey returns %d proto %d %u->%u", len,
			     t.sport, t.dport, rc[0], k[0].proto, k[0].sport, k[0].dport);
	} else if (!all_zero((const uint8_t *)&t, sizeof t)) {
		FAIL("len %u: sp_tcpinfo left fields on a frame that is not tcp", len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Beyond a jumbo frame nothing new is reachable, and every prefix costs a copy. */
	uint32_t len = size > 9216 ? 9216 : (uint32_t)size;
	uint8_t *buf = calloc(len ? len : 1, 1);
	if (!buf)
		abort();
	/* Each prefix is copied to the end of buf, so that a read past its end leaves the allocation. */
	memcpy(buf, data, len);
	check_frame(buf, len);
	for (uint32_t n = 0; n < len; n++) {
		/* Every short length; past 256 bytes a sample (the headers the parser reads lie early). */
		if (n >= 256 && n + 64 < len && n % 61)
			continue;
		memcpy(buf + (len - n), data, n);
		check_frame(buf + (len - n), n);
	}
	free(buf);
	return 0;
}
