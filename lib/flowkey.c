/* SPDX-License-Identifier: BSD-2-Clause */
/* flowkey.c: the frame classifier behind pktinetd: Ethernet, VLAN, ARP, IPv4, IPv6 (extension headers), ND, TCP/UDP/ICMP ports into a flow, source or destination key. */
#include <stdio.h>
#include <string.h>

#include "flowkey.h"

static int is_zero(const uint8_t *a, int n)
{
	for (int i = 0; i < n; i++)
		if (a[i])
			return 0;
	return 1;
}

static int mcast(int fam, const uint8_t *a)
{
	if (fam == 4)
		return (a[0] & 0xf0) == 0xe0 || (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255);
	return a[0] == 0xff;
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* The key of a flow between two endpoints, the same for both directions. */
static void flow_key(struct sp_fkey *k, int fam, int proto, const uint8_t *s, unsigned sp, const uint8_t *d,
		     unsigned dp)
{
	int n = fam == 4 ? 4 : 16;
	int c = memcmp(s, d, (size_t)n);
	int swap = c > 0 || (c == 0 && sp > dp);
	k->kind = proto < 0 ? SP_FK_KPAIR : SP_FK_KFLOW;
	k->fam = (uint8_t)fam;
	k->proto = proto < 0 ? 0 : (uint8_t)proto;
	memcpy(k->a, swap ? d : s, (size_t)n);
	memcpy(k->b, swap ? s : d, (size_t)n);
	if (proto >= 0) {
		k->pa = (uint16_t)(swap ? dp : sp);
		k->pb = (uint16_t)(swap ? sp : dp);
	}
}

static void addr_key(struct sp_fkey *k, int kind, int fam, const uint8_t *a)
{
	k->kind = (uint8_t)kind;
	k->fam = (uint8_t)fam;
	memcpy(k->a, a, fam == 4 ? 4 : 16);
}

/* The key of mode from the endpoints: the pair form for ARP/ND (proto -1). */
static void mode_key(struct sp_fkey *k, int mode, int fam, int proto, const uint8_t *s, unsigned sp,
		     const uint8_t *d, unsigned dp)
{
	if (mode == SP_FK_DST)
		addr_key(k, SP_FK_KDST, fam, d);
	else if (mode == SP_FK_SRC)
		addr_key(k, SP_FK_KSRC, fam, s);
	else
		flow_key(k, fam, proto, s, sp, d, dp);
}

/* Skips 802.1Q/802.1ad tags; returns the ethertype and sets *l3 to the offset after it (len >= 14). */
static uint16_t ethertype(const uint8_t *p, uint32_t len, uint32_t *l3)
{
	uint32_t off = 12;
	uint16_t type = get16(p + 12);
	/* A tag is followed by another type field: both must be inside the frame. */
	while ((type == 0x8100 || type == 0x88a8) && len >= off + 6) {
		off += 4;
		type = get16(p + off);
	}
	*l3 = off + 2;
	return type;
}

/*
 * ARP and IPv6 neighbour discovery are keyed by the address they are about,
 * so that each consumer's own address resolution works:
 *  dst  a request goes to the one that owns the target address (and
 *       starts it); a reply to the one that asked (its target is the
 *       asker); an NS by its target field.
 *  src  by the sender: a client's requests and replies reach its own one.
 *  flow by the address pair: every consumer of a flow between the two
 *       addresses gets it (each answers or learns); a request with none
 *       may start one for the pair, which the flow's first packet then
 *       adopts, so the stack that answered the ARP is the one that serves.
 * Announcements and probes (gratuitous ARP, DAD) and multicast or broadcast
 * IP are SP_FK_FLOOD: they go to everyone, as a switch floods, and start none.
 */
int sp_flowkey(const uint8_t *p, uint32_t len, int mode, struct sp_flowkey *c)
{
	memset(c, 0, sizeof *c);
	if (mode != SP_FK_FLOW && mode != SP_FK_SRC && mode != SP_FK_DST) {
		snprintf(c->why, sizeof c->why, "bad key mode %d", mode);
		return SP_EINVAL;
	}
	if (len < 14) {
		snprintf(c->why, sizeof c->why, "frame of %u bytes", len);
		return SP_EBAD;
	}
	uint32_t off;
	uint16_t type = ethertype(p, len, &off);
	const uint8_t *l3 = p + off;
	uint32_t n = len - off;
	int fam = 0, proto = 0, l4ok = 0;
	const uint8_t *src = NULL, *dst = NULL, *l4 = NULL;
	uint32_t l4len = 0;
	if (type == 0x0806) {
		if (n < 28 || get16(l3) != 1 || get16(l3 + 2) != 0x0800 || l3[4] != 6 || l3[5] != 4) {
			snprintf(c->why, sizeof c->why, "short arp");
			return n < 28 ? SP_EBAD : SP_FK_FLOOD; /* ARP for other than IPv4 over Ethernet */
		}
		unsigned op = get16(l3 + 6);
		const uint8_t *spa = l3 + 14, *tpa = l3 + 24;
		c->fam = 4;
		c->proto = -1;
		memcpy(c->src, spa, 4);
		memcpy(c->dst, tpa, 4);
		c->src_off = off + 14;
		c->dst_off = off + 24;
		if (is_zero(spa, 4) || memcmp(spa, tpa, 4) == 0 || (op != 1 && op != 2))
			return SP_FK_FLOOD; /* a probe or an announcement */
		c->may_start = op == 1;
		mode_key(&c->key, mode, 4, -1, spa, 0, tpa, 0);
		return SP_FK_KEY;
	}
	if (type == 0x0800) {
		if (n < 20 || (l3[0] >> 4) != 4 || (l3[0] & 15) < 5 || n < (uint32_t)(l3[0] & 15) * 4u) {
			snprintf(c->why, sizeof c->why, "bad ipv4 header");
			return SP_EBAD;
		}
		fam = 4;
		proto = l3[9];
		src = l3 + 12;
		dst = l3 + 16;
		uint32_t hl = (uint32_t)(l3[0] & 15) * 4u;
		l4 = l3 + hl;
		l4len = n - hl;
		l4ok = (get16(l3 + 6) & 0x1fff) == 0; /* a later fragment has no ports */
	} else if (type == 0x86dd) {
		if (n < 40 || (l3[0] >> 4) != 6) {
			snprintf(c->why, sizeof c->why, "bad ipv6 header");
			return SP_EBAD;
		}
		fam = 6;
		src = l3 + 8;
		dst = l3 + 24;
		int nh = l3[6];
		uint32_t o = 40;
		l4ok = 1;
		/* Extension headers, to the transport header; each step reads only its first 8 bytes. */
		for (int i = 0; i < 8 && o + 8 <= n; i++) {
			if (nh == 0 || nh == 43 || nh == 60) {
				uint32_t el = ((uint32_t)l3[o + 1] + 1) * 8;
				nh = l3[o];
				o += el;
			} else if (nh == 44) {
				l4ok = (get16(l3 + o + 2) & 0xfff8) == 0;
				nh = l3[o];
				o += 8;
			} else if (nh == 51) {
				uint32_t el = ((uint32_t)l3[o + 1] + 2) * 4;
				nh = l3[o];
				o += el;
			} else {
				break;
			}
		}
		proto = nh;
		if (o > n)
			o = n; /* a header that claims more than the frame: no transport bytes */
		l4 = l3 + o;
		l4len = n - o;
	} else {
		return SP_FK_FLOOD; /* neither IP nor ARP: LLDP, a test frame ... */
	}
	unsigned sp = 0, dp = 0;
	uint32_t l4off = (uint32_t)(l4 - p);
	if (l4ok && (proto == 6 || proto == 17 || proto == 132 || proto == 136) && l4len >= 4) {
		sp = get16(l4);
		dp = get16(l4 + 2);
		c->sport_off = l4off;
		c->dport_off = l4off + 2;
	} else if (l4ok && ((proto == 1 && l4len >= 8 && (l4[0] == 8 || l4[0] == 0)) ||
			    (proto == 58 && l4len >= 8 && (l4[0] == 128 || l4[0] == 129)))) {
		sp = dp = get16(l4 + 4); /* an echo's identifier tells pings apart */
		c->sport_off = c->dport_off = l4off + 4;
	}
	int alen = fam == 4 ? 4 : 16;
	c->fam = fam;
	c->proto = proto;
	memcpy(c->src, src, (size_t)alen);
	memcpy(c->dst, dst, (size_t)alen);
	c->src_off = (uint32_t)(src - p);
	c->dst_off = (uint32_t)(dst - p);
	c->sport = sp;
	c->dport = dp;
	/* Neighbour discovery: solicitations by their target, advertisements to whom they answer. */
	if (fam == 6 && proto == 58 && l4ok && l4len >= 24 && (l4[0] == 135 || l4[0] == 136)) {
		const uint8_t *target = l4 + 8;
		int sol = l4[0] == 135;
		if (is_zero(src, 16) || (!sol && mcast(6, dst)))
			return SP_FK_FLOOD; /* DAD, or an unsolicited advertisement */
		c->may_start = sol;
		if (sol) {
			memcpy(c->dst, target, 16);
			c->dst_off = l4off + 8;
		}
		c->proto = -1;
		mode_key(&c->key, mode, 6, -1, src, 0, c->dst, 0);
		return SP_FK_KEY;
	}
	/* Multicast or broadcast (by address or by MAC): a switch floods it. */
	if (mcast(fam, dst) || (p[0] & 1) || is_zero(src, alen))
		return SP_FK_FLOOD;
	c->may_start = 1;
	mode_key(&c->key, mode, fam, proto, src, sp, dst, dp);
	return SP_FK_KEY;
}

int sp_tcpinfo(const uint8_t *p, uint32_t len, struct sp_tcpinfo *t)
{
	memset(t, 0, sizeof *t);
	if (len < 14)
		return 0;
	uint32_t off;
	uint16_t type = ethertype(p, len, &off);
	const uint8_t *l3 = p + off;
	uint32_t n = len - off, l4;
	/* An IHL under 5 would put the "TCP header" inside the IP header: sp_flowkey calls that bad. */
	if (type == 0x0800 && n >= 20 && (l3[0] >> 4) == 4 && (l3[0] & 15) >= 5 && l3[9] == 6 &&
	    (get16(l3 + 6) & 0x1fff) == 0 && n >= (uint32_t)(l3[0] & 15) * 4u + 14) {
		t->fam = 4;
		t->src_off = off + 12;
		t->dst_off = off + 16;
		l4 = off + (uint32_t)(l3[0] & 15) * 4u;
	} else if (type == 0x86dd && n >= 54 && (l3[0] >> 4) == 6 && l3[6] == 6) {
		t->fam = 6;
		t->src_off = off + 8;
		t->dst_off = off + 24;
		l4 = off + 40;
	} else {
		return 0;
	}
	t->sport = get16(p + l4);
	t->dport = get16(p + l4 + 2);
	t->flags = p[l4 + 13];
	return 1;
}
