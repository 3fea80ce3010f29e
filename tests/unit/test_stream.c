/* SPDX-License-Identifier: BSD-2-Clause */
/* test_stream.c: unit test (TAP) of the stream reader and writer: pcap, pcapng, ASCII and VDE framing, splits at every byte, shared pipes. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stdpkt.h"
#include "tap.h"

/* ---- growable byte buffers ---- */

struct buf {
	uint8_t *d;
	size_t n, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->d = realloc(b->d, b->cap);
		if (!b->d)
			abort();
	}
	if (n)
		memcpy(b->d + b->n, p, n);
	b->n += n;
}
static void put32(struct buf *b, uint32_t v, int be)
{
	if (be)
		v = __builtin_bswap32(v);
	put(b, &v, 4);
}
static void put16(struct buf *b, uint16_t v, int be)
{
	if (be)
		v = __builtin_bswap16(v);
	put(b, &v, 2);
}
static void bfree(struct buf *b)
{
	free(b->d);
	memset(b, 0, sizeof *b);
}

/* ---- test packets ---- */

struct tp {
	uint32_t caplen, wirelen;
	int64_t ts;
	uint8_t data[9100];
};

static void fill_frame(struct tp *t, uint32_t caplen, uint32_t wirelen, int64_t ts, unsigned seed)
{
	t->caplen = caplen;
	t->wirelen = wirelen;
	t->ts = ts;
	for (uint32_t i = 0; i < caplen; i++)
		t->data[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 8));
	memcpy(t->data, "\x02\xaa\x00\x00\x00\x02\x02\xaa\x00\x00\x00\x01\x08\x00", caplen < 14 ? caplen : 14);
}

/* The log of what a reader delivered: packets and errors in order, compared byte for byte. */
static void log_pkt(struct buf *log, uint32_t caplen, uint32_t wirelen, int64_t ts, const uint8_t *d)
{
	put(log, "P", 1);
	put32(log, caplen, 0);
	put32(log, wirelen, 0);
	put(log, &ts, 8);
	put(log, d, caplen);
}

static void log_tp(struct buf *log, const struct tp *t)
{
	log_pkt(log, t->caplen, t->wirelen, t->ts, t->data);
}

struct result {
	int last;          /* 0 or the final negative code */
	unsigned pkts, bad;
	char err[SP_ERRBUF]; /* the final error message */
	char bads[2048];     /* every SP_EBAD message, '|' separated */
	int fmt;
};

/* Reads fd to the end (or a fatal error); appends each packet and bad record to log. */
static void read_all(int fd, const struct sp_reader_conf *conf, struct buf *log, struct result *res)
{
	char eb[SP_ERRBUF];
	memset(res, 0, sizeof *res);
	struct sp_reader *r = sp_reader_new(fd, conf, eb);
	if (!r) {
		res->last = -100;
		snprintf(res->err, sizeof res->err, "new: %.200s", eb);
		return;
	}
	for (int guard = 0; guard < 1000000; guard++) {
		struct sp_pkt p;
		int rc = sp_read(r, &p);
		if (rc == 1) {
			res->pkts++;
			log_pkt(log, p.caplen, p.wirelen, p.ts, p.data);
			continue;
		}
		if (rc == SP_EBAD) {
			res->bad++;
			put(log, "B", 1);
			put(log, sp_reader_error(r), strlen(sp_reader_error(r)));
			size_t k = strlen(res->bads);
			snprintf(res->bads + k, sizeof res->bads - k, "%s|", sp_reader_error(r));
			continue;
		}
		res->last = rc;
		if (rc < 0) {
			snprintf(res->err, sizeof res->err, "%s", sp_reader_error(r));
			put(log, "E", 1);
			put(log, res->err, strlen(res->err));
			/* After a fatal error the reader must keep saying so, not resume mid-record. */
			struct sp_pkt q;
			if (sp_read(r, &q) != rc)
				res->last = -200;
		}
		break;
	}
	res->fmt = sp_reader_format(r);
	if (sp_reader_stats(r)->pkts != res->pkts || sp_reader_stats(r)->bad != res->bad)
		res->last = -300; /* the reader's own counts must agree with what it returned */
	sp_reader_free(r);
}

/* A memfd holding the bytes: the bulk case, whole stream in one read. */
static int memfd_of(const struct buf *b)
{
	int fd = memfd_create("stream", MFD_CLOEXEC);
	if (fd < 0 || (b->n && write(fd, b->d, b->n) != (ssize_t)b->n) || lseek(fd, 0, SEEK_SET) != 0)
		abort();
	return fd;
}

struct trickle {
	int fd;
	const uint8_t *d;
	size_t n, chunk;
};

static void *trickle_main(void *arg)
{
	struct trickle *t = arg;
	for (size_t i = 0; i < t->n;) {
		size_t k = t->n - i < t->chunk ? t->n - i : t->chunk;
		ssize_t w = write(t->fd, t->d + i, k);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break; /* the reader gave up (fatal error) and closed its end */
		i += (size_t)w;
	}
	close(t->fd);
	return NULL;
}

/* Reads the bytes through a pipe that a thread fills chunk bytes per write(2). */
static void read_trickled(const struct buf *b, size_t chunk, const struct sp_reader_conf *conf, struct buf *log,
			  struct result *res)
{
	int p[2];
	if (pipe(p) < 0)
		abort();
	struct trickle t = { .fd = p[1], .d = b->d, .n = b->n, .chunk = chunk };
	pthread_t th;
	pthread_create(&th, NULL, trickle_main, &t);
	read_all(p[0], conf, log, res);
	close(p[0]); /* unblocks the writer after a fatal error */
	pthread_join(th, NULL);
}

static void read_bulk(const struct buf *b, const struct sp_reader_conf *conf, struct buf *log, struct result *res)
{
	int fd = memfd_of(b);
	read_all(fd, conf, log, res);
	close(fd);
}

/*
 * The core assertion for every stream: read in bulk it gives exactly want (and ends with
 * want_last), and read through a pipe one byte per write it gives the identical log.
 */
static void check_stream(const char *name, const struct buf *in, int format, uint32_t maxframe, const struct buf *want,
			 int want_last, struct result *out)
{
	struct sp_reader_conf c = { .format = format, .maxframe = maxframe };
	struct buf l1 = { 0 }, l2 = { 0 }, l3 = { 0 };
	struct result r1, r2, r3;
	read_bulk(in, &c, &l1, &r1);
	if (want) {
		if (!is_mem(l1.d, l1.n, want->d, want->n, name))
			diag("  bulk read: %u packets, %u bad, last %d '%s' bads '%s'", r1.pkts, r1.bad, r1.last, r1.err,
			     r1.bads);
	}
	is_int(r1.last, want_last, "%s: ends with %d", name, want_last);
	read_trickled(in, 1, &c, &l2, &r2);
	if (!is_mem(l2.d, l2.n, l1.d, l1.n, "one byte per write(2) gives the same as a bulk read"))
		diag("  (%s) trickled: %u packets, %u bad, last %d '%s'", name, r2.pkts, r2.bad, r2.last, r2.err);
	read_trickled(in, 7, &c, &l3, &r3);
	if (!is_mem(l3.d, l3.n, l1.d, l1.n, "seven bytes per write(2) gives the same as a bulk read"))
		diag("  (%s) trickled: %u packets, %u bad, last %d '%s'", name, r3.pkts, r3.bad, r3.last, r3.err);
	if (out)
		*out = r1;
	bfree(&l1);
	bfree(&l2);
	bfree(&l3);
}

/* ---- pcap ---- */

enum { US = 0, NS = 1 };

static void pcap_hdr(struct buf *b, int nsec, int be, uint32_t linktype)
{
	put32(b, nsec ? 0xa1b23c4du : 0xa1b2c3d4u, be);
	put16(b, 2, be);
	put16(b, 4, be);
	put32(b, 0, be);
	put32(b, 0, be);
	put32(b, 262144, be);
	put32(b, linktype, be);
}

static void pcap_rec(struct buf *b, const struct tp *t, int nsec, int be)
{
	put32(b, (uint32_t)(t->ts / 1000000000), be);
	uint32_t frac = (uint32_t)(t->ts % 1000000000);
	put32(b, nsec ? frac : frac / 1000, be);
	put32(b, t->caplen, be);
	put32(b, t->wirelen, be);
	put(b, t->data, t->caplen);
}

static struct tp P[4];

static void make_packets(void)
{
	/* Times that microsecond files can carry exactly (ns part a multiple of 1000). */
	fill_frame(&P[0], 60, 60, 1700000000123456000ll, 1);
	fill_frame(&P[1], 14, 14, 1700000001000001000ll, 2);
	fill_frame(&P[2], 96, 1514, 1700000002999999000ll, 3);
	fill_frame(&P[3], 9014, 9014, 1700000003000000000ll, 4);
}

static void test_pcap(void)
{
	static const char *names[2][2] = { { "pcap, microsecond magic, little-endian", "pcap, microsecond magic, big-endian" },
					   { "pcap, nanosecond magic, little-endian", "pcap, nanosecond magic, big-endian" } };
	struct buf want = { 0 };
	for (int i = 0; i < 4; i++)
		log_tp(&want, &P[i]);
	for (int ns = 0; ns < 2; ns++)
		for (int be = 0; be < 2; be++) {
			struct buf in = { 0 };
			pcap_hdr(&in, ns, be, 1);
			for (int i = 0; i < 4; i++)
				pcap_rec(&in, &P[i], ns, be);
			struct result r;
			check_stream(names[ns][be], &in, SP_FMT_AUTO, 0, &want, 0, &r);
			is_int(r.fmt, SP_FMT_PCAP, "%s: detected as pcap", names[ns][be]);
			struct buf l = { 0 };
			struct sp_reader_conf c = { .format = SP_FMT_PCAP };
			read_bulk(&in, &c, &l, &r);
			is_mem(l.d, l.n, want.d, want.n, "the same with the format forced to pcap");
			bfree(&l);
			bfree(&in);
		}

	/* Nanoseconds that a microsecond file could not hold survive in a nanosecond one. */
	struct tp odd = P[0];
	odd.ts = 1700000000123456789ll;
	struct buf in = { 0 }, w1 = { 0 };
	pcap_hdr(&in, NS, 0, 1);
	pcap_rec(&in, &odd, NS, 0);
	log_tp(&w1, &odd);
	check_stream("pcap ns: the nanosecond digits are kept", &in, SP_FMT_AUTO, 0, &w1, 0, NULL);
	bfree(&in);
	bfree(&w1);

	/* Two files concatenated (two writers on one FIFO): the second header is skipped, its precision obeyed. */
	struct buf w0 = { 0 };
	pcap_hdr(&in, US, 0, 1);
	pcap_rec(&in, &P[0], US, 0);
	pcap_hdr(&in, NS, 0, 1);
	pcap_rec(&in, &P[1], NS, 0);
	log_tp(&w0, &P[0]);
	log_tp(&w0, &P[1]);
	check_stream("pcap: a second little-endian file header mid-stream is skipped", &in, SP_FMT_AUTO, 0, &w0, 0,
		     NULL);
	bfree(&in);
	bfree(&w0);
	/* The same with other byte orders: each header's own byte order applies to the records after it. */
	pcap_hdr(&in, US, 0, 1);
	pcap_rec(&in, &P[0], US, 0);
	pcap_rec(&in, &P[1], US, 0);
	pcap_hdr(&in, NS, 1, 1);
	pcap_rec(&in, &P[2], NS, 1);
	pcap_hdr(&in, US, 1, 1);
	pcap_hdr(&in, NS, 0, 1);
	pcap_rec(&in, &P[3], NS, 0);
	check_stream("pcap: second and third file headers mid-stream are skipped", &in, SP_FMT_AUTO, 0, &want, 0,
		     NULL);
	bfree(&in);

	/*
	 * A record whose seconds field happens to equal a pcap magic (0x4d3cb2a1 is 2011-01-23
	 * 23:38:41 UTC) is a record, not a file header, even when it is the last and under 24 bytes.
	 */
	struct tp magic;
	fill_frame(&magic, 60, 60, 0x4d3cb2a1ll * 1000000000, 6);
	struct tp tiny = magic;
	tiny.caplen = tiny.wirelen = 4;
	struct buf w9 = { 0 };
	pcap_hdr(&in, US, 0, 1);
	pcap_rec(&in, &magic, US, 0);
	pcap_rec(&in, &tiny, US, 0);
	log_tp(&w9, &magic);
	log_tp(&w9, &tiny);
	check_stream("pcap: records timed at a magic number's second, the last of 4 bytes", &in, SP_FMT_AUTO, 0, &w9, 0,
		     NULL);
	bfree(&in);
	bfree(&w9);

	/* A record over maxframe, and an empty record, are bad and skipped; the rest comes through. */
	struct tp zero = P[1];
	zero.caplen = 0;
	zero.wirelen = 60;
	pcap_hdr(&in, NS, 0, 1);
	pcap_rec(&in, &P[0], NS, 0);
	pcap_rec(&in, &P[3], NS, 0); /* 9014 > maxframe 1600 */
	pcap_rec(&in, &P[1], NS, 0);
	pcap_rec(&in, &zero, NS, 0);
	pcap_rec(&in, &P[2], NS, 0);
	struct result r;
	check_stream("pcap: over-maxframe and empty records", &in, SP_FMT_AUTO, 1600, NULL, 0, &r);
	is_int(r.pkts, 3, "pcap: the three good records around two bad ones come through");
	is_int(r.bad, 2, "pcap: two bad records counted");
	like(r.bads, "byte offset 100", "pcap: the oversized record is named by its byte offset (100)");
	like(r.bads, "9014", "pcap: the oversized record's length is named");
	bfree(&in);

	/* Truncations: inside a record's data, inside a record header, inside the file header. */
	pcap_hdr(&in, US, 0, 1);
	pcap_rec(&in, &P[0], US, 0);
	pcap_rec(&in, &P[2], US, 0);
	in.n -= 40; /* 56 of 96 data bytes present */
	check_stream("pcap: truncated record data", &in, SP_FMT_AUTO, 0, NULL, SP_ETRUNC, &r);
	is_int(r.pkts, 1, "pcap: the whole record before the truncation is delivered");
	like(r.err, "40 missing", "pcap: truncation message says 40 bytes are missing");
	like(r.err, "byte offset 100", "pcap: truncation message names the record's byte offset");
	bfree(&in);

	pcap_hdr(&in, NS, 1, 1);
	pcap_rec(&in, &P[0], NS, 1);
	put(&in, "\0\0\0\1\0\0\0\2\0\0", 10);
	check_stream("pcap: truncated record header", &in, SP_FMT_AUTO, 0, NULL, SP_ETRUNC, &r);
	like(r.err, "6 missing", "pcap: a 10-byte record header is 6 bytes short");

	struct buf hdr = { 0 };
	pcap_hdr(&hdr, US, 0, 1);
	hdr.n = 10;
	check_stream("pcap: truncated file header", &hdr, SP_FMT_PCAP, 0, NULL, SP_ETRUNC, &r);
	like(r.err, "14 missing", "pcap: a 10-byte file header is 14 bytes short");
	bfree(&hdr);
	bfree(&in);

	/* Link types other than Ethernet are refused, at the start or in a later header. */
	pcap_hdr(&in, US, 0, 101);
	pcap_rec(&in, &P[0], US, 0);
	check_stream("pcap: LINKTYPE_RAW (101) is refused", &in, SP_FMT_AUTO, 0, NULL, SP_EFORMAT, &r);
	is_int(r.pkts, 0, "pcap: no packet of a non-ethernet file is delivered");
	like(r.err, "link type", "pcap: the message names the link type");
	bfree(&in);
	pcap_hdr(&in, US, 1, 113);
	check_stream("pcap: big-endian LINKTYPE_LINUX_SLL (113) is refused", &in, SP_FMT_PCAP, 0, NULL, SP_EFORMAT,
		     &r);
	bfree(&in);
	pcap_hdr(&in, US, 0, 1);
	pcap_rec(&in, &P[0], US, 0);
	pcap_hdr(&in, US, 0, 105);
	pcap_rec(&in, &P[1], US, 0);
	check_stream("pcap: a later 802.11 header (105) is refused", &in, SP_FMT_AUTO, 0, NULL, SP_EFORMAT, &r);
	is_int(r.pkts, 1, "pcap: packets before the foreign header are delivered");
	bfree(&in);

	/* Garbage when pcap is forced; an empty stream is a clean end in every format. */
	put(&in, "this is not a pcap file at all, really", 38);
	check_stream("pcap forced on text", &in, SP_FMT_PCAP, 0, NULL, SP_EFORMAT, &r);
	bfree(&in);
	int fmts[] = { SP_FMT_AUTO, SP_FMT_ASCII, SP_FMT_PCAP, SP_FMT_VDE };
	for (int i = 0; i < 4; i++) {
		struct buf empty = { 0 }, none = { 0 };
		char name[64];
		snprintf(name, sizeof name, "empty input, format %s: no packets", sp_format_name(fmts[i]));
		check_stream(name, &empty, fmts[i], 0, &none, 0, NULL);
	}
	bfree(&want);
}

/* ---- pcapng, written by hand as the spec lays it out ---- */

static void ng_block(struct buf *b, uint32_t type, const struct buf *body)
{
	uint32_t len = 12 + (uint32_t)((body->n + 3) & ~(size_t)3);
	put32(b, type, 0);
	put32(b, len, 0);
	put(b, body->d, body->n);
	put(b, "\0\0\0", (4 - body->n % 4) % 4);
	put32(b, len, 0);
}

static void pcapng_file(struct buf *b, int nsec, uint16_t linktype, const struct tp *pk, int n)
{
	struct buf body = { 0 };
	put32(&body, 0x1a2b3c4d, 0); /* byte-order magic */
	put16(&body, 1, 0);
	put16(&body, 0, 0);
	put32(&body, 0xffffffff, 0); /* section length unknown */
	put32(&body, 0xffffffff, 0);
	ng_block(b, 0x0a0d0d0a, &body);
	bfree(&body);
	put16(&body, linktype, 0);
	put16(&body, 0, 0);
	put32(&body, 262144, 0);
	if (nsec) {
		put16(&body, 9, 0); /* if_tsresol = 10^-9 */
		put16(&body, 1, 0);
		put(&body, "\x09\0\0\0", 4);
		put32(&body, 0, 0); /* opt_endofopt */
	}
	ng_block(b, 1, &body);
	bfree(&body);
	for (int i = 0; i < n; i++) {
		uint64_t t = (uint64_t)pk[i].ts / (nsec ? 1 : 1000);
		put32(&body, 0, 0);
		put32(&body, (uint32_t)(t >> 32), 0);
		put32(&body, (uint32_t)t, 0);
		put32(&body, pk[i].caplen, 0);
		put32(&body, pk[i].wirelen, 0);
		put(&body, pk[i].data, pk[i].caplen);
		ng_block(b, 6, &body);
		bfree(&body);
	}
}

static void test_pcapng(void)
{
	struct buf want = { 0 }, in = { 0 };
	for (int i = 0; i < 4; i++)
		log_tp(&want, &P[i]);
	struct result r;
	for (int ns = 0; ns < 2; ns++) {
		pcapng_file(&in, ns, 1, P, 4);
		check_stream(ns ? "pcapng, if_tsresol 9 (ns)" : "pcapng, default microsecond resolution", &in,
			     SP_FMT_AUTO, 0, &want, 0, &r);
		is_int(r.fmt, SP_FMT_PCAPNG, "pcapng: detected as pcapng");
		struct buf l = { 0 };
		struct sp_reader_conf c = { .format = SP_FMT_PCAPNG };
		read_bulk(&in, &c, &l, &r);
		is_mem(l.d, l.n, want.d, want.n, "pcapng: the same with the format given as pcapng");
		bfree(&l);
		bfree(&in);
	}
	pcapng_file(&in, 1, 101, P, 2);
	check_stream("pcapng: LINKTYPE_RAW is refused", &in, SP_FMT_AUTO, 0, NULL, SP_EFORMAT, &r);
	is_int(r.pkts, 0, "pcapng: no packet of a non-ethernet capture is delivered");
	bfree(&in);
	bfree(&want);
}

/* ---- VDE ---- */

static void vde_rec(struct buf *b, const struct tp *t)
{
	put16(b, (uint16_t)t->caplen, 1);
	put(b, t->data, t->caplen);
}

static void test_vde(void)
{
	struct buf in = { 0 }, want = { 0 };
	for (int i = 0; i < 4; i++) {
		struct tp t = P[i];
		t.wirelen = t.caplen;
		t.ts = SP_TS_NONE;
		vde_rec(&in, &t);
		log_tp(&want, &t);
	}
	struct result r;
	check_stream("vde: 2-byte big-endian length framing", &in, SP_FMT_VDE, 0, &want, 0, &r);
	is_int(r.fmt, SP_FMT_VDE, "vde: format kept");
	/* A runt record between good ones is bad, skipped, and the stream keeps its sync. */
	struct buf in2 = { 0 };
	vde_rec(&in2, &P[0]);
	put(&in2, "\x00\x0a" "0123456789", 12);
	put(&in2, in.d + 62, in.n - 62);
	check_stream("vde: a 10-byte record between good ones", &in2, SP_FMT_VDE, 0, NULL, 0, &r);
	is_int(r.pkts, 4, "vde: all four good records come through");
	is_int(r.bad, 1, "vde: one bad record counted");
	like(r.bads, "byte offset 62", "vde: the runt is named by its byte offset");
	bfree(&in2);
	/* Over maxframe: skipped whole. */
	check_stream("vde: maxframe 1600 skips the 9014-byte record", &in, SP_FMT_VDE, 1600, NULL, 0, &r);
	is_int(r.pkts, 3, "vde: three records under maxframe delivered");
	is_int(r.bad, 1, "vde: the jumbo record counted as bad");
	in.n -= 14;
	check_stream("vde: truncated last record", &in, SP_FMT_VDE, 0, NULL, SP_ETRUNC, &r);
	is_int(r.pkts, 3, "vde: the whole records before the truncation are delivered");
	like(r.err, "14 missing", "vde: the message says 14 bytes are missing");
	bfree(&in);
	bfree(&want);
}

/* ---- ASCII through the reader: line numbers, framing, over-long lines ---- */

static void test_ascii_stream(void)
{
	const char *text = "# capture of three frames\r\n"                                          /* 1 */
			   "FFFFFFFFFFFF 02AA00000001 0806 00 01\n"                                  /* 2 */
			   "\n"                                                                      /* 3 */
			   "FFFFFFFFFFFF 02AA00000001 0806 0G 01\n"                                  /* 4 bad */
			   "00000000075BCD15 ffffffffffff\t02aa00000001 0806   00 01\r\n"            /* 5 */
			   "FFFFFFFFFFFF 02AA00000001 08\n"                                          /* 6 bad */
			   "FFFFFFFFFFFF 02AA00000001 0806 00 0 1\n"                                 /* 7 bad */
			   "   \t  # indented comment\n"                                             /* 8 */
			   "FFFFFFFFFFFF 02AA00000001 0806 00 01 02 03 04 05 06 07 08 09 0A 0B 0C\n" /* 9 bad (max) */
			   "FFFFFFFFFFFF 02AA00000001 0806 00 01 len=64";                            /* 10, no newline */
	struct buf in = { 0 };
	put(&in, text, strlen(text));
	static const uint8_t f[16] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0xaa, 0, 0, 0, 1, 0x08, 0x06, 0, 1 };
	struct buf want = { 0 };
	struct result r;
	check_stream("ascii stream with comments, CRLF, bad lines and no final newline", &in, SP_FMT_AUTO, 20, NULL,
		     0, &r);
	is_int(r.pkts, 3, "ascii: three good lines come through");
	is_int(r.bad, 4, "ascii: four bad lines counted");
	like(r.bads, "line 4:", "ascii: the non-hex line is line 4");
	like(r.bads, "line 6:", "ascii: the short frame is line 6");
	like(r.bads, "line 7:", "ascii: the odd token is line 7");
	like(r.bads, "line 9:", "ascii: the over-maxframe line is line 9");
	is_int(r.fmt, SP_FMT_ASCII, "ascii: detected as ascii");
	struct buf l = { 0 };
	struct sp_reader_conf c = { .maxframe = 20 };
	read_bulk(&in, &c, &l, &r);
	/* The last packet carries len=64 and no timestamp; the second the timestamp 123456789. */
	struct buf exp = { 0 };
	log_pkt(&exp, 16, 16, SP_TS_NONE, f);
	size_t a = exp.n;
	log_pkt(&exp, 16, 16, 123456789, f);
	size_t b2 = exp.n;
	log_pkt(&exp, 16, 64, SP_TS_NONE, f);
	ok(l.n > 0 && memmem(l.d, l.n, exp.d, a) == l.d, "ascii: first packet decoded byte for byte");
	ok(memmem(l.d, l.n, exp.d + a, b2 - a) != NULL, "ascii: the tabbed lowercase CRLF line with timestamp decoded");
	ok(l.n >= exp.n - b2 && memcmp(l.d + l.n - (exp.n - b2), exp.d + b2, exp.n - b2) == 0,
	   "ascii: the last line without newline decoded, with its len=64");
	bfree(&l);
	bfree(&exp);
	bfree(&want);
	bfree(&in);

	/* A line longer than the buffer: one bad record, then the stream goes on with the right line numbers. */
	const char *good = "FFFFFFFFFFFF 02AA00000001 0806 00 01\n";
	put(&in, good, strlen(good));
	for (int i = 0; i < 20000; i++)
		put(&in, " AB", 3);
	put(&in, "\n", 1);
	put(&in, good, strlen(good));
	put(&in, "zz\n", 3);
	put(&in, good, strlen(good));
	check_stream("ascii: a 60000-byte line with maxframe 100", &in, SP_FMT_ASCII, 100, NULL, 0, &r);
	is_int(r.pkts, 3, "ascii: the good lines around an over-long one come through");
	is_int(r.bad, 2, "ascii: the over-long line counts once, the bad line once");
	like(r.bads, "line 2:", "ascii: the over-long line is line 2");
	like(r.bads, "line 4:", "ascii: the line after it is numbered 4");
	bfree(&in);

	/* The largest frame as one line, through the default buffer. */
	static struct tp big;
	fill_frame(&big, 9000, 9000, 5, 9);
	char *line = malloc(sp_ascii_maxlen(SP_MAXFRAME_DEFAULT));
	struct sp_pkt p = { .data = big.data, .caplen = big.caplen, .wirelen = big.wirelen, .ts = big.ts };
	for (int i = 0; i < 3; i++)
		put(&in, line, (size_t)sp_ascii_encode(line, &p, 1));
	for (int i = 0; i < 3; i++)
		log_tp(&want, &big);
	check_stream("ascii: three 9000-byte jumbo lines", &in, SP_FMT_AUTO, 0, &want, 0, NULL);
	bfree(&in);
	bfree(&want);
	free(line);
}

/* ---- writer ---- */

static int write_all(int fd, int fmt, unsigned flags, const struct tp *pk, int n, uint64_t *bad)
{
	char eb[SP_ERRBUF];
	struct sp_writer_conf c = { .format = fmt, .flags = flags };
	struct sp_writer *w = sp_writer_new(fd, &c, eb);
	if (!w)
		return -1;
	for (int i = 0; i < n; i++) {
		struct sp_pkt p = { .data = pk[i].data, .caplen = pk[i].caplen, .wirelen = pk[i].wirelen, .ts = pk[i].ts };
		int rc = sp_write(w, &p);
		if (rc < 0 && rc != SP_EBAD) {
			sp_writer_free(w);
			return rc;
		}
	}
	if (bad)
		*bad = sp_writer_stats(w)->bad;
	return sp_writer_free(w);
}

static void slurp(int fd, struct buf *b)
{
	lseek(fd, 0, SEEK_SET);
	uint8_t tmp[65536];
	ssize_t k;
	while ((k = read(fd, tmp, sizeof tmp)) > 0)
		put(b, tmp, (size_t)k);
}

static void test_writer(void)
{
	struct tp runt;
	fill_frame(&runt, 13, 13, 7, 5);
	struct tp pk[5] = { P[0], P[1], runt, P[2], P[3] };
	/* pcap: nanosecond magic, LINKTYPE_ETHERNET, snaplen 262144, records in host order. */
	struct buf want = { 0 }, got = { 0 };
	pcap_hdr(&want, NS, 0, 1);
	for (int i = 0; i < 5; i++)
		pcap_rec(&want, &pk[i], NS, 0);
	int fd = memfd_create("w", MFD_CLOEXEC);
	uint64_t bad = 99;
	is_int(write_all(fd, SP_FMT_PCAP, 0, pk, 5, &bad), 0, "writer pcap: writes and flushes");
	slurp(fd, &got);
	is_mem(got.d, got.n, want.d, want.n, "writer pcap: output is the nanosecond pcap laid out by hand");
	close(fd);
	bfree(&want);
	bfree(&got);

	/* VDE: the runt is refused and counted; the rest framed. */
	for (int i = 0; i < 5; i++)
		if (i != 2)
			vde_rec(&want, &pk[i]);
	fd = memfd_create("w", MFD_CLOEXEC);
	write_all(fd, SP_FMT_VDE, 0, pk, 5, &bad);
	slurp(fd, &got);
	is_mem(got.d, got.n, want.d, want.n, "writer vde: 2-byte big-endian length + frame");
	is_int(bad, 1, "writer vde: the 13-byte frame is refused and counted");
	close(fd);
	bfree(&want);
	bfree(&got);

	/* ASCII, with and without the timestamp column: the encoder's lines, one after another. */
	for (int ts = 0; ts < 2; ts++) {
		char *line = malloc(sp_ascii_maxlen(9014));
		for (int i = 0; i < 5; i++) {
			if (i == 2)
				continue;
			struct sp_pkt p = { .data = pk[i].data, .caplen = pk[i].caplen, .wirelen = pk[i].wirelen, .ts = pk[i].ts };
			put(&want, line, (size_t)sp_ascii_encode(line, &p, ts));
		}
		free(line);
		fd = memfd_create("w", MFD_CLOEXEC);
		write_all(fd, SP_FMT_ASCII, ts ? SP_W_TS : 0, pk, 5, &bad);
		slurp(fd, &got);
		is_mem(got.d, got.n, want.d, want.n, ts ? "writer ascii -t: encoder lines with timestamps" :
							  "writer ascii: encoder lines");
		is_int(bad, 1, "writer ascii: the 13-byte frame is refused and counted");
		/* And the reader gives back what went in (the runt excepted). */
		struct buf l = { 0 }, exp = { 0 };
		struct result r;
		struct buf in = got;
		read_bulk(&in, NULL, &l, &r);
		for (int i = 0; i < 5; i++) {
			if (i == 2)
				continue;
			struct tp t = pk[i];
			if (!ts)
				t.ts = SP_TS_NONE;
			log_tp(&exp, &t);
		}
		is_mem(l.d, l.n, exp.d, exp.n, "writer ascii -> reader gives the packets back");
		bfree(&l);
		bfree(&exp);
		close(fd);
		bfree(&want);
		bfree(&got);
	}
}

/* ---- several writer processes on one pipe ---- */

enum { NWRITERS = 4, NRECS = 1500 };

/* Record sizes chosen so every record fits PIPE_BUF in its format, up to the limit exactly. */
static uint32_t rec_len(int fmt, int id, int seq)
{
	uint32_t max = fmt == SP_FMT_PCAP ? PIPE_BUF - 16 : fmt == SP_FMT_VDE ? PIPE_BUF - 2 : (PIPE_BUF - 48) / 3 + 14; /* 48 + 3*(L-14) bytes with -t */
	if (seq % 50 == 0)
		return max;
	return 18 + (uint32_t)((seq * 2654435761u + (unsigned)id * 40503u) % (max - 18));
}

static void gen_rec(struct tp *t, int fmt, int id, int seq)
{
	fill_frame(t, rec_len(fmt, id, seq), 0, 1000000000ll * id + seq, (unsigned)(id * 100000 + seq));
	t->wirelen = t->caplen;
	t->data[11] = (uint8_t)id;
	memcpy(t->data + 14, &seq, 4);
}

static void test_shared_pipe(int fmt)
{
	int p[2];
	if (pipe(p) < 0)
		abort();
	pid_t kids[NWRITERS];
	for (int id = 0; id < NWRITERS; id++) {
		kids[id] = fork();
		if (kids[id] == 0) {
			close(p[0]);
			char eb[SP_ERRBUF];
			struct sp_writer_conf c = { .format = fmt, .flags = SP_W_TS };
			struct sp_writer *w = sp_writer_new(p[1], &c, eb);
			static struct tp t;
			for (int s = 0; w && s < NRECS; s++) {
				gen_rec(&t, fmt, id, s);
				struct sp_pkt pk = { .data = t.data, .caplen = t.caplen, .wirelen = t.wirelen, .ts = t.ts };
				if (sp_write(w, &pk) < 0)
					_exit(1);
			}
			_exit(w && sp_writer_free(w) == 0 ? 0 : 1);
		}
	}
	close(p[1]);
	char eb[SP_ERRBUF];
	struct sp_reader_conf c = { .format = fmt == SP_FMT_VDE ? SP_FMT_VDE : SP_FMT_AUTO };
	struct sp_reader *r = sp_reader_new(p[0], &c, eb);
	int next[NWRITERS] = { 0 }, torn = 0, order = 0, total = 0, rc;
	struct sp_pkt pk;
	static struct tp t;
	while (r && (rc = sp_read(r, &pk)) != 0) {
		if (rc < 0) {
			if (!torn)
				diag("  reader: %d %s", rc, sp_reader_error(r));
			torn++;
			if (rc != SP_EBAD)
				break;
			continue;
		}
		int id = pk.caplen >= 18 ? pk.data[11] : -1, seq = -1;
		if (id >= 0 && id < NWRITERS) {
			memcpy(&seq, pk.data + 14, 4);
			if (seq >= 0 && seq < NRECS) {
				gen_rec(&t, fmt, id, seq);
				/* VDE carries no time; the others carry exactly the writer's. */
				int64_t wts = fmt == SP_FMT_VDE ? SP_TS_NONE : t.ts;
				if (pk.caplen != t.caplen || pk.ts != wts || memcmp(pk.data, t.data, t.caplen) != 0) {
					if (!torn)
						diag("  record %d of writer %d: caplen %u (want %u) ts %lld (want %lld)", seq,
						     id, pk.caplen, t.caplen, (long long)pk.ts, (long long)wts);
					torn++;
				}
				if (seq != next[id])
					order++;
				next[id] = seq + 1;
				total++;
				continue;
			}
		}
		if (!torn)
			diag("  a record of %u bytes from no writer", pk.caplen);
		torn++;
	}
	close(p[0]);
	int exits = 0;
	for (int id = 0; id < NWRITERS; id++) {
		int st;
		waitpid(kids[id], &st, 0);
		exits += WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	const char *n = sp_format_name(fmt);
	is_int(exits, NWRITERS, "%s: %d writer processes on one pipe all finish", n, NWRITERS);
	is_int(torn, 0, "%s: no torn, merged or bad record among records of up to PIPE_BUF bytes", n);
	is_int(order, 0, "%s: each writer's records arrive in its order", n);
	is_int(total, NWRITERS * NRECS, "%s: every record arrives (count in = count out)", n);
	sp_reader_free(r);
}

/* ---- non-blocking reads ---- */

static void test_nonblocking(void)
{
	int p[2];
	if (pipe2(p, O_NONBLOCK) < 0)
		abort();
	struct buf rec = { 0 };
	vde_rec(&rec, &P[0]);
	char eb[SP_ERRBUF];
	struct sp_reader_conf c = { .format = SP_FMT_VDE };
	struct sp_reader *r = sp_reader_new(p[0], &c, eb);
	struct sp_pkt pk;
	is_int(sp_read_nb(r, &pk), SP_EAGAIN, "sp_read_nb: nothing written yet gives SP_EAGAIN");
	ok(write(p[1], rec.d, 1) == 1, "write one byte of a vde record");
	is_int(sp_read_nb(r, &pk), SP_EAGAIN, "sp_read_nb: half a length header gives SP_EAGAIN");
	ok(write(p[1], rec.d + 1, 30) == 30, "write 30 more bytes");
	is_int(sp_read_nb(r, &pk), SP_EAGAIN, "sp_read_nb: a partial record gives SP_EAGAIN");
	ok(write(p[1], rec.d + 31, rec.n - 31) == (ssize_t)(rec.n - 31), "write the rest and a second record");
	ok(write(p[1], rec.d, rec.n) == (ssize_t)rec.n, "write a second record");
	is_int(sp_read_nb(r, &pk), 1, "sp_read_nb: the whole record is returned");
	ok(pk.caplen == 60 && memcmp(pk.data, P[0].data, 60) == 0, "sp_read_nb: with its bytes");
	ok(sp_reader_buffered(r), "sp_reader_buffered: the second record is already buffered");
	is_int(sp_read_nb(r, &pk), 1, "sp_read_nb: the buffered second record");
	close(p[1]);
	is_int(sp_read_nb(r, &pk), 0, "sp_read_nb: clean end after the writer closes");
	sp_reader_free(r);
	close(p[0]);
	bfree(&rec);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	make_packets();
	test_pcap();
	test_pcapng();
	test_vde();
	test_ascii_stream();
	test_writer();
	test_shared_pipe(SP_FMT_PCAP);
	test_shared_pipe(SP_FMT_VDE);
	test_shared_pipe(SP_FMT_ASCII);
	test_nonblocking();
	return done_testing();
}
