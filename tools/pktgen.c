/* SPDX-License-Identifier: BSD-2-Clause */
/* pktgen: generates Ethernet, IPv4/IPv6, UDP, TCP and ICMP frames with valid checksums as a packet stream. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "csum.h"
#include "stdpkt.h"

static const char *prog = "pktgen";

#define NSEC 1000000000ull
#define MAXRATE 100000000ull /* pps; beyond this pacing is meaningless */
#define SEQLEN 4             /* the payload's sequence number */
#define BATCH 1024           /* frames generated between clock reads */
#define ETHERTYPE_EXP 0x88b5 /* IEEE 802 local experimental EtherType 1 */
#define PROTO_EXP 253        /* RFC 3692 experimental IP protocol */

enum tmpl { T_ETH, T_IP, T_UDP, T_TCP, T_ICMP };
static const char *const tmpl_names[] = { "eth", "ip", "udp", "tcp", "icmp" };

/* A value cycled per packet: base + cur, cur running 0..span and wrapping. */
struct range {
	uint64_t base, span, cur;
};

static void range_next(struct range *r)
{
	r->cur = r->cur == r->span ? 0 : r->cur + 1;
}

/* An address range: IPv4 in the low 32 bits of base, IPv6 as a fixed upper half plus a cycled lower half. */
struct addr {
	int fam; /* 0 = not given, 4 or 6 */
	uint8_t hi[8];
	struct range r;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [-46htuv] [-c count] [-s size] [-r rate] [-p proto] [-S src] [-D dst]\n"
		"       [-a srcmac] [-b dstmac] [-P sport] [-Q dport] [-V vlan] [-f tcpflags]\n"
		"       [-T start] [-F ascii|pcap|vde] [-w outfile]\n"
		"  -c n      frames to generate (default 1; 0 = without end)\n"
		"  -s n      frame length in bytes without FCS (default 60, a 64-byte frame on the\n"
		"            wire, or the least the headers need if more)\n"
		"  -r pps    frames per second (default 0 = as fast as possible)\n"
		"  -p proto  eth, ipv4, ipv6, udp, tcp, icmp or icmp6 (default udp)\n"
		"  -4, -6    IP version when no address says it (default 4)\n"
		"  -S addr   source address: A, A-B or A/N, cycled per frame (default 192.0.2.1, 2001:db8::1)\n"
		"  -D addr   destination address, the same forms (default 192.0.2.2, 2001:db8::2)\n"
		"  -a mac    source MAC (--src-mac, default 02:00:00:00:00:01)\n"
		"  -b mac    destination MAC (--dst-mac, default 02:00:00:00:00:02)\n"
		"  -P port   source port or P-Q range (--sport, default 9; icmp: the echo identifier)\n"
		"  -Q port   destination port or P-Q range (--dport, default 9)\n"
		"  -V vid    add an 802.1Q tag with this VLAN id (0..4094)\n"
		"  -f flags  tcp flags from FSRPAUEC (--tcp-flags, default PA)\n"
		"  -T ns     synthetic clock: stamp frame i with ns + i/rate, do not wait\n"
		"  -F fmt    output format (default ascii)\n"
		"  -t        ascii output starts each line with a nanosecond timestamp\n"
		"  -u        flush after every frame\n"
		"  -v        print frame and byte counts to stderr at the end\n"
		"  -w file   write to file instead of standard output\n",
		prog);
}

static int bad(const char *what, const char *arg, const char *why)
{
	fprintf(stderr, "%s: bad %s '%s': %s\n", prog, what, arg, why);
	return 2;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	/* aa:bb:cc:dd:ee:ff, aa-bb-..., or the 12 digits the ASCII format prints */
	char hex[13];
	size_t n = 0;
	for (const char *p = s; *p; p++) {
		if ((*p == ':' || *p == '-') && n % 2 == 0 && n > 0 && p[1])
			continue;
		if (n == 12 || !strchr("0123456789abcdefABCDEF", *p))
			return -1;
		hex[n++] = *p;
	}
	if (n != 12)
		return -1;
	hex[12] = 0;
	for (int i = 0; i < 6; i++) {
		char b[3] = { hex[2 * i], hex[2 * i + 1], 0 };
		mac[i] = (uint8_t)strtoul(b, NULL, 16);
	}
	return 0;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* A, A-B or A/N for either family; errors are printed here.  Returns 0 or 2. */
static int parse_addr(const char *what, const char *s, struct addr *a)
{
	char buf[128], *lo = buf, *hi = NULL;
	int plen = -1;
	if (strlen(s) >= sizeof buf)
		return bad(what, s, "too long");
	strcpy(buf, s);
	char *cut;
	if ((cut = strchr(buf, '/'))) {
		*cut = 0;
		uint64_t v;
		if (sp_parse_num(cut + 1, 0, 128, 0, &v) < 0)
			return bad(what, s, "prefix length must be 0..128");
		plen = (int)v;
	} else if ((cut = strchr(buf, '-'))) {
		*cut = 0;
		hi = cut + 1;
	}
	uint8_t a4[4], b4[4], a6[16], b6[16];
	if (inet_pton(AF_INET, lo, a4) == 1) {
		a->fam = 4;
		uint32_t n4;
		memcpy(&n4, a4, 4);
		uint64_t x = ntohl(n4), y = x;
		if (hi && inet_pton(AF_INET, hi, b4) != 1)
			return bad(what, s, "the end of the range is not an IPv4 address");
		if (hi) {
			memcpy(&n4, b4, 4);
			y = ntohl(n4);
		}
		if (plen > 32)
			return bad(what, s, "IPv4 prefix length must be 0..32");
		if (plen >= 0) {
			uint64_t size = 1ull << (32 - plen);
			x &= ~(size - 1);
			y = x + size - 1;
		}
		if (y < x)
			return bad(what, s, "the range ends before it starts");
		a->r = (struct range){ .base = x, .span = y - x };
		return 0;
	}
	if (inet_pton(AF_INET6, lo, a6) == 1) {
		a->fam = 6;
		memcpy(a->hi, a6, 8);
		uint64_t x = get64(a6 + 8), y = x;
		if (hi) {
			if (inet_pton(AF_INET6, hi, b6) != 1)
				return bad(what, s, "the end of the range is not an IPv6 address");
			if (memcmp(a6, b6, 8) != 0)
				return bad(what, s, "an IPv6 range may differ only in the last 64 bits");
			y = get64(b6 + 8);
		}
		if (plen >= 0 && plen < 64)
			return bad(what, s, "IPv6 prefix length must be 64..128");
		if (plen >= 0) {
			uint64_t span = plen == 64 ? UINT64_MAX : (1ull << (128 - plen)) - 1;
			x &= ~span;
			y = x + span;
		}
		if (y < x)
			return bad(what, s, "the range ends before it starts");
		a->r = (struct range){ .base = x, .span = y - x };
		return 0;
	}
	return bad(what, s, "not an IPv4 or IPv6 address, range (A-B) or prefix (A/N)");
}

static int parse_port(const char *what, const char *s, struct range *r)
{
	char buf[32];
	uint64_t x, y;
	if (strlen(s) >= sizeof buf)
		return bad(what, s, "must be a port 0..65535 or a range P-Q");
	strcpy(buf, s);
	char *cut = strchr(buf, '-');
	if (cut)
		*cut = 0;
	if (sp_parse_num(buf, 0, 65535, 0, &x) < 0 || (cut && sp_parse_num(cut + 1, 0, 65535, 0, &y) < 0))
		return bad(what, s, "must be a port 0..65535 or a range P-Q");
	if (!cut)
		y = x;
	if (y < x)
		return bad(what, s, "the range ends before it starts");
	*r = (struct range){ .base = x, .span = y - x };
	return 0;
}

static int parse_tcp_flags(const char *s, uint8_t *out)
{
	static const char letters[] = "FSRPAUEC"; /* bit 0 (FIN) .. bit 7 (CWR) */
	uint8_t f = 0;
	for (const char *p = s; *p; p++) {
		const char *q = strchr(letters, *p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		if (!q)
			return -1;
		f |= (uint8_t)(1u << (q - letters));
	}
	*out = f;
	return 0;
}

/* i * NSEC / rate without overflow for any i a run can reach. */
static uint64_t offset_ns(uint64_t i, uint64_t rate)
{
	return i / rate * NSEC + i % rate * NSEC / rate;
}


/* The frame being generated: a template built once, whose varying fields are patched per frame. */
struct gen {
	enum tmpl t;
	int v6;
	uint8_t *f;
	uint32_t len;
	uint32_t l3, l4, pay; /* offsets of the IP header, the L4 header, the payload */
	uint32_t l4len;       /* L4 header + payload */
	uint32_t fillsum;     /* partial sum of the constant payload after the sequence number */
	struct addr src, dst;
	struct range sport, dport;
};

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static void put_addr(uint8_t *p, const struct addr *a)
{
	uint64_t v = a->r.base + a->r.cur;
	if (a->fam == 4) {
		put32(p, (uint32_t)v);
	} else {
		memcpy(p, a->hi, 8);
		put64(p + 8, v);
	}
}

/* Builds the parts of the template that never change. */
static void build(struct gen *g, const uint8_t dmac[6], const uint8_t smac[6], int vlan, uint8_t tcpflags)
{
	uint8_t *f = g->f;
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	uint32_t o = 12;
	if (vlan >= 0) {
		put16(f + o, 0x8100);
		put16(f + o + 2, (uint32_t)vlan);
		o += 4;
	}
	uint8_t proto = g->t == T_UDP ? 17 : g->t == T_TCP ? 6 : g->t == T_ICMP ? (g->v6 ? 58 : 1) : PROTO_EXP;
	if (g->t == T_ETH) {
		put16(f + o, ETHERTYPE_EXP);
		g->l3 = g->l4 = g->pay = o + 2;
	} else if (!g->v6) {
		put16(f + o, 0x0800);
		uint8_t *ip = f + o + 2;
		g->l3 = o + 2;
		ip[0] = 0x45;
		put16(ip + 2, g->len - g->l3);
		ip[8] = 64;
		ip[9] = proto;
		g->l4 = g->l3 + 20;
	} else {
		put16(f + o, 0x86dd);
		uint8_t *ip = f + o + 2;
		g->l3 = o + 2;
		ip[0] = 0x60;
		put16(ip + 4, g->len - g->l3 - 40);
		ip[6] = proto;
		ip[7] = 64;
		g->l4 = g->l3 + 40;
	}
	uint8_t *l4 = f + g->l4;
	switch (g->t) {
	case T_UDP:
		g->pay = g->l4 + 8;
		put16(l4 + 4, g->len - g->l4);
		break;
	case T_TCP:
		g->pay = g->l4 + 20;
		put32(l4 + 8, 1);  /* ack: the peer's first byte after its SYN */
		l4[12] = 5 << 4;   /* data offset: 20 bytes, no options */
		l4[13] = tcpflags;
		put16(l4 + 14, 65535);
		break;
	case T_ICMP:
		g->pay = g->l4 + 8;
		l4[0] = g->v6 ? 128 : 8; /* echo request */
		break;
	default:
		g->pay = g->l4;
	}
	g->l4len = g->len - g->l4;
	/* A counting pattern (the byte's offset in the payload) makes corruption visible in a hex dump. */
	for (uint32_t i = g->pay + SEQLEN; i < g->len; i++)
		f[i] = (uint8_t)(i - g->pay);
	g->fillsum = sp_csum_add(f + g->pay + SEQLEN, g->len - g->pay - SEQLEN, 0);
}

/* Patches frame number seq into the template and recomputes its checksums. */
static void patch(struct gen *g, uint64_t seq)
{
	uint8_t *f = g->f, *l4 = f + g->l4;
	put32(f + g->pay, (uint32_t)seq);
	if (g->t == T_ETH)
		return;
	uint8_t *ip = f + g->l3;
	uint32_t ph = 0;
	if (!g->v6) {
		put16(ip + 4, (uint32_t)seq); /* IP identification: tells fragments and frames apart */
		put_addr(ip + 12, &g->src);
		put_addr(ip + 16, &g->dst);
		ip[10] = ip[11] = 0;
		uint16_t c = sp_csum(ip, 20, 0);
		memcpy(ip + 10, &c, 2);
		if (g->t != T_ICMP)
			ph = sp_csum_pseudo4(ip + 12, ip + 16, ip[9], (uint16_t)g->l4len);
	} else {
		put_addr(ip + 8, &g->src);
		put_addr(ip + 24, &g->dst);
		ph = sp_csum_pseudo6(ip + 8, ip + 24, ip[6], g->l4len);
	}
	uint8_t *csum;
	switch (g->t) {
	case T_UDP:
		put16(l4, (uint32_t)(g->sport.base + g->sport.cur));
		put16(l4 + 2, (uint32_t)(g->dport.base + g->dport.cur));
		csum = l4 + 6;
		break;
	case T_TCP:
		put16(l4, (uint32_t)(g->sport.base + g->sport.cur));
		put16(l4 + 2, (uint32_t)(g->dport.base + g->dport.cur));
		/* consecutive segments of one stream, so that analysers see no gaps or retransmissions */
		put32(l4 + 4, (uint32_t)(1 + seq * (g->len - g->pay)));
		csum = l4 + 16;
		break;
	case T_ICMP:
		put16(l4 + 4, (uint32_t)(g->sport.base + g->sport.cur));
		put16(l4 + 6, (uint32_t)seq);
		csum = l4 + 2;
		break;
	default:
		return;
	}
	csum[0] = csum[1] = 0;
	/* Header and sequence number are summed fresh; the constant rest was summed once in build(). */
	uint32_t init = ph + g->fillsum;
	init += init < ph; /* end-around carry */
	uint16_t c = sp_csum(l4, g->pay - g->l4 + SEQLEN, init);
	if (c == 0 && g->t == T_UDP)
		c = 0xffff; /* 0 means "no checksum" in UDP */
	memcpy(csum, &c, 2);
}

static void advance(struct gen *g)
{
	range_next(&g->src.r);
	range_next(&g->dst.r);
	range_next(&g->sport);
	range_next(&g->dport);
}

static struct option longopts[] = {
	{ "src-mac", required_argument, NULL, 'a' },
	{ "dst-mac", required_argument, NULL, 'b' },
	{ "sport", required_argument, NULL, 'P' },
	{ "dport", required_argument, NULL, 'Q' },
	{ "tcp-flags", required_argument, NULL, 'f' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	struct sp_writer_conf wc = { .format = SP_FMT_ASCII };
	struct gen g = { .t = T_UDP };
	uint64_t count = 1, size = 0, rate = 0, v;
	int64_t synth = SP_TS_NONE;
	int vlan = -1, fam = 0, verbose = 0, opt, rc;
	int want6 = 0, want4 = 0, ports_given = 0;
	uint8_t smac[6] = { 2, 0, 0, 0, 0, 1 }, dmac[6] = { 2, 0, 0, 0, 0, 2 };
	uint8_t tcpflags = 0x18; /* PSH|ACK: a data segment */
	const char *outfile = NULL;
	char err[SP_ERRBUF];

	g.sport = g.dport = (struct range){ .base = 9 }; /* discard, as the kernel's pktgen */
	while ((opt = getopt_long(argc, argv, "46c:s:r:p:S:D:a:b:P:Q:V:f:T:F:tuvw:h", longopts, NULL)) != -1) {
		switch (opt) {
		case '4': want4 = 1; break;
		case '6': want6 = 1; break;
		case 'c':
			if (sp_parse_num(optarg, 0, UINT64_MAX, 1, &count) < 0)
				return bad("count", optarg, "must be a whole number (0 = without end)");
			break;
		case 's':
			if (sp_parse_num(optarg, SP_ETH_HLEN, SP_MAXFRAME_DEFAULT, 1, &size) < 0) {
				fprintf(stderr, "%s: bad frame size '%s': must be %d..%d\n", prog, optarg, SP_ETH_HLEN,
					SP_MAXFRAME_DEFAULT);
				return 2;
			}
			break;
		case 'r':
			if (sp_parse_num(optarg, 0, MAXRATE, 1, &rate) < 0) {
				fprintf(stderr, "%s: bad rate '%s': must be 0..%llu frames per second\n", prog, optarg,
					MAXRATE);
				return 2;
			}
			break;
		case 'p':
			if (!strcmp(optarg, "eth"))
				g.t = T_ETH;
			else if (!strcmp(optarg, "ipv4") || !strcmp(optarg, "ip"))
				g.t = T_IP, want4 = 1;
			else if (!strcmp(optarg, "ipv6") || !strcmp(optarg, "ip6"))
				g.t = T_IP, want6 = 1;
			else if (!strcmp(optarg, "udp"))
				g.t = T_UDP;
			else if (!strcmp(optarg, "tcp"))
				g.t = T_TCP;
			else if (!strcmp(optarg, "icmp"))
				g.t = T_ICMP;
			else if (!strcmp(optarg, "icmp6") || !strcmp(optarg, "icmpv6"))
				g.t = T_ICMP, want6 = 1;
			else
				return bad("protocol", optarg, "use eth, ipv4, ipv6, udp, tcp, icmp or icmp6");
			break;
		case 'S':
			if ((rc = parse_addr("source address", optarg, &g.src)))
				return rc;
			break;
		case 'D':
			if ((rc = parse_addr("destination address", optarg, &g.dst)))
				return rc;
			break;
		case 'a':
			if (parse_mac(optarg, smac) < 0)
				return bad("source MAC", optarg, "use six hex bytes, e.g. 02:00:00:00:00:01");
			break;
		case 'b':
			if (parse_mac(optarg, dmac) < 0)
				return bad("destination MAC", optarg, "use six hex bytes, e.g. 02:00:00:00:00:02");
			break;
		case 'P':
			if ((rc = parse_port("source port", optarg, &g.sport)))
				return rc;
			ports_given = 1;
			break;
		case 'Q':
			if ((rc = parse_port("destination port", optarg, &g.dport)))
				return rc;
			ports_given = 1;
			break;
		case 'V':
			if (sp_parse_num(optarg, 0, 4094, 0, &v) < 0)
				return bad("VLAN id", optarg, "must be 0..4094");
			vlan = (int)v;
			break;
		case 'f':
			if (parse_tcp_flags(optarg, &tcpflags) < 0)
				return bad("tcp flags", optarg, "use letters from FSRPAUEC, e.g. S or PA");
			break;
		case 'T':
			if (sp_parse_num(optarg, 0, INT64_MAX, 1, &v) < 0)
				return bad("start time", optarg, "must be nanoseconds since the epoch");
			synth = (int64_t)v;
			break;
		case 'F':
			wc.format = sp_format_parse(optarg);
			if (wc.format != SP_FMT_ASCII && wc.format != SP_FMT_PCAP && wc.format != SP_FMT_VDE)
				return bad("output format", optarg, "use ascii, pcap or vde");
			break;
		case 't': wc.flags |= SP_W_TS; break;
		case 'u': wc.flags |= SP_W_UNBUF; break;
		case 'v': verbose = 1; break;
		case 'w': outfile = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
		usage(stderr);
		return 2;
	}

	/* The IP version: from the addresses, else -4/-6 or the protocol, else IPv4. */
	if (g.src.fam && g.dst.fam && g.src.fam != g.dst.fam) {
		fprintf(stderr, "%s: source and destination addresses are of different IP versions\n", prog);
		return 2;
	}
	fam = g.src.fam ? g.src.fam : g.dst.fam;
	if (want4 && want6) {
		fprintf(stderr, "%s: conflicting IP versions: both IPv4 and IPv6 asked for\n", prog);
		return 2;
	}
	if (fam && ((fam == 4 && want6) || (fam == 6 && want4))) {
		fprintf(stderr, "%s: the addresses are IPv%d but IPv%d was asked for\n", prog, fam, fam == 4 ? 6 : 4);
		return 2;
	}
	if (!fam)
		fam = want6 ? 6 : 4;
	if (g.t == T_ETH && (g.src.fam || g.dst.fam || want4 || want6)) {
		fprintf(stderr, "%s: addresses and IP versions need an IP template, not eth\n", prog);
		return 2;
	}
	if (ports_given && g.t != T_UDP && g.t != T_TCP && g.t != T_ICMP) {
		fprintf(stderr, "%s: ports need the udp, tcp or icmp template\n", prog);
		return 2;
	}
	g.v6 = fam == 6;
	if (!g.src.fam) {
		if (g.v6)
			parse_addr("", "2001:db8::1", &g.src);
		else
			parse_addr("", "192.0.2.1", &g.src);
	}
	if (!g.dst.fam) {
		if (g.v6)
			parse_addr("", "2001:db8::2", &g.dst);
		else
			parse_addr("", "192.0.2.2", &g.dst);
	}

	/* Frame size limits: the headers and the sequence number below, the IP length fields above. */
	uint64_t l2 = 14 + (vlan >= 0 ? 4 : 0), l3 = g.t == T_ETH ? 0 : g.v6 ? 40 : 20;
	uint64_t l4 = g.t == T_UDP || g.t == T_ICMP ? 8 : g.t == T_TCP ? 20 : 0;
	uint64_t min = l2 + l3 + l4 + SEQLEN, max = SP_MAXFRAME_DEFAULT;
	if (g.t != T_ETH)
		max = l2 + (g.v6 ? 40 : 0) + 65535;
	if (wc.format == SP_FMT_VDE && max > 65535)
		max = 65535;
	if (!size)
		size = min > 60 ? min : 60; /* the 64-byte minimum on the wire, if the headers fit */
	if (size < min || size > max) {
		fprintf(stderr, "%s: bad frame size '%" PRIu64 "': must be %" PRIu64 "..%" PRIu64 " for %s%s%s%s\n",
			prog, size, min, max, g.t == T_ETH ? "" : g.v6 ? "ipv6 " : "ipv4 ", tmpl_names[g.t],
			vlan >= 0 ? " with a VLAN tag" : "", wc.format == SP_FMT_VDE ? " in vde" : "");
		return 2;
	}

	g.len = (uint32_t)size;
	g.f = calloc(1, g.len);
	if (!g.f) {
		fprintf(stderr, "%s: cannot allocate a %u-byte frame: %s\n", prog, g.len, strerror(errno));
		return 1;
	}
	build(&g, dmac, smac, vlan, tcpflags);

	int ofd = 1;
	if (outfile && strcmp(outfile, "-") != 0) {
		ofd = open(outfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
		if (ofd < 0) {
			fprintf(stderr, "%s: cannot open '%s': %s\n", prog, outfile, strerror(errno));
			return 1;
		}
	}
	const char *oname = outfile ? outfile : "-";
	struct sp_writer *w = sp_writer_new(ofd, &wc, err);
	if (!w) {
		fprintf(stderr, "%s: cannot write '%s': %s\n", prog, oname, err);
		return 1;
	}

	/*
	 * Pacing: frame i is due at start + i/rate.  All frames already due go
	 * out as one batch, then the writer is flushed (so they reach a pipe in
	 * time) and we sleep to the next due time on an absolute timer, which
	 * keeps the average exact however late a wake-up comes.
	 */
	int pace = rate > 0 && synth == SP_TS_NONE;
	int64_t wall0 = sp_now_ns(), mono0 = sp_mono_ns();
	int64_t t0 = synth != SP_TS_NONE ? synth : pace ? wall0 : SP_TS_NONE;
	struct sp_pkt p = { .data = g.f, .caplen = g.len, .wirelen = g.len, .ts = SP_TS_NONE };
	uint64_t i = 0;
	int status = 0;
	while (count == 0 || i < count) {
		uint64_t n = BATCH;
		if (pace) {
			uint64_t el = (uint64_t)(sp_mono_ns() - mono0);
			uint64_t due = el / NSEC * rate + el % NSEC * rate / NSEC + 1; /* frames 0..due-1 are due */
			if (i >= due) {
				if ((rc = sp_writer_flush(w)) < 0)
					break;
				int64_t at = mono0 + (int64_t)offset_ns(i, rate);
				struct timespec ts = { .tv_sec = at / (int64_t)NSEC, .tv_nsec = at % (int64_t)NSEC };
				while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
					;
				continue;
			}
			if (due - i < n)
				n = due - i;
		}
		if (count && count - i < n)
			n = count - i;
		for (uint64_t k = 0; k < n; k++, i++) {
			patch(&g, i);
			if (t0 != SP_TS_NONE)
				p.ts = t0 + (int64_t)(rate ? offset_ns(i, rate) : 0);
			if ((rc = sp_write(w, &p)) < 0)
				goto out;
			advance(&g);
		}
	}
	rc = sp_writer_flush(w);
out:
	if (rc < 0) {
		fprintf(stderr, "%s: cannot write '%s': %s\n", prog, oname, sp_writer_error(w));
		status = 1;
	}
	uint64_t pkts = sp_writer_stats(w)->pkts, bytes = sp_writer_stats(w)->bytes;
	sp_writer_free(w);
	if (ofd != 1 && close(ofd) < 0 && status == 0) {
		fprintf(stderr, "%s: cannot write '%s': %s\n", prog, oname, strerror(errno));
		status = 1;
	}
	if (verbose) {
		double secs = (double)(sp_mono_ns() - mono0) / 1e9;
		fprintf(stderr, "%s: %" PRIu64 " packets, %" PRIu64 " bytes in %.3f s\n", prog, pkts, bytes, secs);
	}
	free(g.f);
	return status;
}
