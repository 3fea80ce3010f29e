/* SPDX-License-Identifier: BSD-2-Clause */
/* reader.c: the batched stream reader: detects the format and frames pcap, pcapng, ASCII and VDE records. */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stdpkt.h"
#include "internal.h"

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_MAGIC_NS 0xa1b23c4du
#define PCAPNG_MAGIC 0x0a0d0d0au
#define NEED 1000 /* internal: the buffer holds no whole record yet */

struct sp_reader {
	int fd;
	int fmt;          /* detected or forced; SP_FMT_AUTO until known */
	uint32_t maxframe;
	uint8_t *buf;
	size_t cap, start, end;
	uint64_t off;     /* stream offset of buf[start] */
	uint64_t line;    /* ASCII: number of the last line taken */
	int eof;
	int64_t rtime;    /* when the last read(2) returned data */
	int pushed_end;   /* push mode: no more bytes will come */
	int dead;         /* a fatal error was returned; it is returned again */
	int skipline;     /* ASCII: inside an over-long line already reported */
	size_t scanned;   /* ASCII: bytes after start known to hold no newline */
	uint64_t skip;    /* binary: bytes of a refused record still to discard */
	int swapped, nsec; /* pcap header */
	int hdr_seen;
	uint8_t *frame;   /* ASCII: decoded frame */
	pcap_t *pc;       /* pcapng through libpcap */
	FILE *pcf;
	struct sp_stats st;
	char err[SP_ERRBUF];
};

static uint32_t get32(const uint8_t *p, int swapped)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return swapped ? __builtin_bswap32(v) : v;
}

struct sp_reader *sp_reader_new(int fd, const struct sp_reader_conf *conf, char *errbuf)
{
	struct sp_reader_conf c = { 0 };
	if (conf)
		c = *conf;
	if (c.format == SP_FMT_PCAPNG)
		c.format = SP_FMT_AUTO; /* libpcap takes it from the magic */
	if (c.format < SP_FMT_AUTO || c.format > SP_FMT_VDE) {
		snprintf(errbuf, SP_ERRBUF, "unknown input format %d", c.format);
		return NULL;
	}
	if (!c.maxframe)
		c.maxframe = SP_MAXFRAME_DEFAULT;
	if (c.maxframe < SP_ETH_HLEN || c.maxframe > SP_MAXFRAME_LIMIT) {
		snprintf(errbuf, SP_ERRBUF, "maximum frame size %" PRIu32 " out of range", c.maxframe);
		return NULL;
	}
	/* Room for the longest ASCII line of a maximal frame, or a whole binary record. */
	size_t need = sp_ascii_maxlen(c.maxframe) + 64;
	if (!c.bufsize)
		c.bufsize = 1u << 20;
	if (c.bufsize < need)
		c.bufsize = need;
	struct sp_reader *r = calloc(1, sizeof *r);
	if (r) {
		r->buf = calloc(1, c.bufsize + SP_SLACK);
		r->frame = malloc(c.maxframe + SP_SLACK);
	}
	if (!r || !r->buf || !r->frame) {
		if (r) {
			free(r->buf);
			free(r->frame);
		}
		free(r);
		snprintf(errbuf, SP_ERRBUF, "out of memory");
		return NULL;
	}
	r->fd = fd;
	r->fmt = c.format;
	r->maxframe = c.maxframe;
	r->cap = c.bufsize;
	return r;
}

void sp_reader_free(struct sp_reader *r)
{
	if (!r)
		return;
	if (r->pc)
		pcap_close(r->pc); /* closes pcf too */
	free(r->buf);
	free(r->frame);
	free(r);
}

int sp_reader_format(const struct sp_reader *r) { return r->fmt; }
int64_t sp_reader_time(const struct sp_reader *r) { return r->rtime ? r->rtime : sp_now_ns(); }
const char *sp_reader_error(const struct sp_reader *r) { return r->err; }
const struct sp_stats *sp_reader_stats(const struct sp_reader *r) { return &r->st; }

int sp_reader_buffered(const struct sp_reader *r)
{
	return r->end > r->start || (r->pc != NULL && !r->eof);
}

static int fatal(struct sp_reader *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fatal(struct sp_reader *r, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof r->err, fmt, ap);
	va_end(ap);
	r->dead = code;
	return code;
}

static void compact(struct sp_reader *r)
{
	if (r->start > 0 && (r->start == r->end || r->cap - r->end < r->cap / 4)) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
}

size_t sp_reader_push(struct sp_reader *r, const void *data, size_t len)
{
	if (r->eof)
		return 0;
	compact(r);
	if (r->cap - r->end < len && r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	if (len > r->cap - r->end)
		len = r->cap - r->end;
	memcpy(r->buf + r->end, data, len);
	r->end += len;
	r->rtime = sp_now_ns();
	return len;
}

void sp_reader_push_end(struct sp_reader *r) { r->pushed_end = 1; }

/* One read(2) into the free tail of the buffer.  >0 bytes, 0 end, SP_EAGAIN, SP_EIO. */
static int fill(struct sp_reader *r)
{
	compact(r);
	if (r->end == r->cap)
		return NEED; /* full: the framer decides what that means */
	if (r->fd < 0)
		return r->pushed_end ? 0 : SP_EAGAIN;
	for (;;) {
		ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);
		if (n > 0) {
			r->end += (size_t)n;
			r->rtime = sp_now_ns();
			return 1;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return SP_EAGAIN;
		return fatal(r, SP_EIO, "read failed at byte offset %" PRIu64 ": %s",
			     r->off + (r->end - r->start), strerror(errno));
	}
}

static void take(struct sp_reader *r, size_t n)
{
	r->start += n;
	r->off += n;
}

/* ---- pcapng through libpcap: it reads our buffered bytes first, then the fd ---- */

static ssize_t cookie_read(void *cookie, char *out, size_t n)
{
	struct sp_reader *r = cookie;
	if (r->end > r->start) {
		size_t k = r->end - r->start;
		if (k > n)
			k = n;
		memcpy(out, r->buf + r->start, k);
		take(r, k);
		return (ssize_t)k;
	}
	if (r->eof)
		return 0;
	for (;;) {
		ssize_t k = read(r->fd, out, n);
		if (k >= 0 || errno != EINTR) {
			if (k > 0)
				r->off += (uint64_t)k;
			return k;
		}
	}
}

static int pcapng_open(struct sp_reader *r)
{
	cookie_io_functions_t io = { .read = cookie_read };
	char pe[PCAP_ERRBUF_SIZE];
	r->pcf = fopencookie(r, "r", io);
	if (!r->pcf)
		return fatal(r, SP_ENOMEM, "out of memory");
	r->pc = pcap_fopen_offline_with_tstamp_precision(r->pcf, PCAP_TSTAMP_PRECISION_NANO, pe);
	if (!r->pc) {
		fclose(r->pcf);
		r->pcf = NULL;
		return fatal(r, SP_EFORMAT, "pcapng: %s", pe);
	}
	int dlt = pcap_datalink(r->pc);
	if (dlt != DLT_EN10MB)
		return fatal(r, SP_EFORMAT, "pcapng: link type %d (%s) is not ethernet", dlt,
			     pcap_datalink_val_to_name(dlt) ? pcap_datalink_val_to_name(dlt) : "?");
	r->fmt = SP_FMT_PCAPNG;
	return 0;
}

static int pcapng_next(struct sp_reader *r, struct sp_pkt *p)
{
	struct pcap_pkthdr *h;
	const u_char *d;
	for (;;) {
		int rc = pcap_next_ex(r->pc, &h, &d);
		if (rc == PCAP_ERROR_BREAK) {
			r->eof = 1;
			return 0;
		}
		if (rc != 1)
			return fatal(r, SP_EFORMAT, "pcapng: %s", pcap_geterr(r->pc));
		if (h->caplen > r->maxframe || h->caplen == 0) {
			r->st.bad++;
			snprintf(r->err, sizeof r->err, "pcapng block near byte offset %" PRIu64
				 ": record of %u bytes is outside 1..%" PRIu32, r->off, h->caplen, r->maxframe);
			return SP_EBAD;
		}
		p->data = d;
		p->caplen = h->caplen;
		p->wirelen = h->len > h->caplen ? h->len : h->caplen;
		/* nano precision was asked; a time past 2262 would overflow int64 and is taken modulo */
		p->ts = (int64_t)((uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec);
		return 1;
	}
}

/* ---- framers: each returns 1 packet, NEED, SP_EBAD, or a fatal code ---- */

static int bad_rec(struct sp_reader *r, uint64_t at, uint64_t skip, const char *fmt, uint32_t a, uint32_t b)
{
	int n = snprintf(r->err, sizeof r->err, "byte offset %" PRIu64 ": ", at);
	snprintf(r->err + n, sizeof r->err - (size_t)n, fmt, a, b);
	r->skip = skip;
	r->st.bad++;
	return SP_EBAD;
}

static int is_pcap_magic(uint32_t m)
{
	return m == PCAP_MAGIC_US || m == PCAP_MAGIC_NS || m == __builtin_bswap32(PCAP_MAGIC_US) ||
	       m == __builtin_bswap32(PCAP_MAGIC_NS);
}

static int pcap_header(struct sp_reader *r, const uint8_t *h)
{
	uint32_t m;
	memcpy(&m, h, 4);
	r->swapped = m == __builtin_bswap32(PCAP_MAGIC_US) || m == __builtin_bswap32(PCAP_MAGIC_NS);
	r->nsec = m == PCAP_MAGIC_NS || m == __builtin_bswap32(PCAP_MAGIC_NS);
	uint32_t ver = get32(h + 4, r->swapped);
	uint16_t major = (uint16_t)(r->swapped ? ver >> 16 : ver & 0xffff);
	if (major != 2)
		return fatal(r, SP_EFORMAT, "byte offset %" PRIu64 ": pcap version %u is not 2", r->off, major);
	uint32_t lt = get32(h + 20, r->swapped) & 0xffff;
	if (lt != 1)
		return fatal(r, SP_EFORMAT, "byte offset %" PRIu64 ": link type %" PRIu32 " (%s) is not ethernet",
			     r->off + 20, lt,
			     pcap_datalink_val_to_name((int)lt) ? pcap_datalink_val_to_name((int)lt) : "unknown");
	r->hdr_seen = 1;
	take(r, 24);
	return 0;
}

static int frame_pcap(struct sp_reader *r, struct sp_pkt *p)
{
	for (;;) {
		size_t have = r->end - r->start;
		const uint8_t *h = r->buf + r->start;
		if (have < 16)
			return NEED;
		uint32_t m;
		memcpy(&m, h, 4);
		/* A second writer's file header in a merged FIFO: a version-2 pcap header. */
		/* At the end of the stream a short record whose seconds look like a magic is a record. */
		if (is_pcap_magic(m) && (have >= 24 || !r->eof)) {
			if (have < 24)
				return NEED;
			uint32_t ver;
			memcpy(&ver, h + 4, 4);
			if (ver == 0x00040002u || ver == 0x04000200u) {
				int rc = pcap_header(r, h);
				if (rc < 0)
					return rc;
				continue;
			}
		}
		uint32_t caplen = get32(h + 8, r->swapped), wirelen = get32(h + 12, r->swapped);
		if (caplen > SP_MAXFRAME_LIMIT)
			return fatal(r, SP_EFORMAT, "byte offset %" PRIu64 ": corrupt record header (length %" PRIu32 ")",
				     r->off, caplen);
		if (caplen > r->maxframe || caplen == 0) {
			uint64_t at = r->off;
			take(r, 16);
			return bad_rec(r, at, caplen, "record of %" PRIu32 " bytes is outside 1..%" PRIu32, caplen,
				       r->maxframe);
		}
		if (have < 16 + (size_t)caplen)
			return NEED;
		uint32_t sec = get32(h, r->swapped), frac = get32(h + 4, r->swapped);
		p->data = h + 16;
		p->caplen = caplen;
		p->wirelen = wirelen > caplen ? wirelen : caplen;
		p->ts = (int64_t)sec * 1000000000 + (int64_t)frac * (r->nsec ? 1 : 1000);
		take(r, 16 + caplen);
		return 1;
	}
}

static int frame_vde(struct sp_reader *r, struct sp_pkt *p)
{
	size_t have = r->end - r->start;
	const uint8_t *h = r->buf + r->start;
	if (have < 2)
		return NEED;
	uint32_t len = (uint32_t)h[0] << 8 | h[1];
	if (len < SP_ETH_HLEN || len > r->maxframe) {
		uint64_t at = r->off;
		take(r, 2);
		return bad_rec(r, at, len, "vde record of %" PRIu32 " bytes is outside %" PRIu32 "..max", len,
			       SP_ETH_HLEN);
	}
	if (have < 2 + (size_t)len)
		return NEED;
	p->data = h + 2;
	p->caplen = p->wirelen = len;
	p->ts = SP_TS_NONE;
	take(r, 2 + len);
	return 1;
}

static int ascii_line(struct sp_reader *r, struct sp_pkt *p, const uint8_t *s, size_t len)
{
	r->line++;
	char why[SP_ERRBUF];
	int rc = sp_ascii_decode_x((const char *)s, len, r->frame, r->maxframe, p, why, 1);
	if (rc == SP_EBAD) {
		snprintf(r->err, sizeof r->err, "line %" PRIu64 ": %.200s", r->line, why);
		r->st.bad++;
	}
	return rc;
}

static int frame_ascii(struct sp_reader *r, struct sp_pkt *p)
{
	for (;;) {
		const uint8_t *s = r->buf + r->start;
		size_t have = r->end - r->start;
		if (!r->skipline && !r->scanned) {
			size_t k = sp_ascii_line_fast((const char *)s, have, r->frame, r->maxframe, p);
			if (k) {
				take(r, k);
				r->line++;
				return 1;
			}
		}
		/* Not rescanning what an earlier call searched keeps tiny reads of long lines linear. */
		const uint8_t *nl = r->scanned < have ? memchr(s + r->scanned, '\n', have - r->scanned) : NULL;
		if (!nl) {
			r->scanned = have;
			if (have < r->cap)
				return NEED;
			/* A line longer than any valid frame's: report once, then discard up to its end. */
			take(r, have);
			r->scanned = 0;
			if (r->skipline)
				return NEED;
			r->skipline = 1;
			r->line++;
			snprintf(r->err, sizeof r->err, "line %" PRIu64 ": longer than the %zu bytes of a maximal frame",
				 r->line, r->cap);
			r->st.bad++;
			return SP_EBAD;
		}
		size_t len = (size_t)(nl - s);
		take(r, len + 1);
		r->scanned = 0;
		if (r->skipline) {
			r->skipline = 0;
			continue;
		}
		int rc = ascii_line(r, p, s, len);
		if (rc != 0)
			return rc;
	}
}

static int detect(struct sp_reader *r)
{
	size_t have = r->end - r->start;
	if (have < 4 && !r->eof)
		return NEED;
	uint32_t m = 0;
	if (have >= 4)
		memcpy(&m, r->buf + r->start, 4);
	if (is_pcap_magic(m))
		r->fmt = SP_FMT_PCAP;
	else if (m == PCAPNG_MAGIC && r->fd < 0)
		return fatal(r, SP_EFORMAT, "byte offset 0: pcapng cannot be framed from pushed bytes");
	else if (m == PCAPNG_MAGIC)
		return pcapng_open(r);
	else
		r->fmt = SP_FMT_ASCII;
	return 0;
}

static int parse(struct sp_reader *r, struct sp_pkt *p)
{
	if (r->skip) {
		size_t k = r->end - r->start;
		if (k > r->skip)
			k = (size_t)r->skip;
		take(r, k);
		r->skip -= k;
		if (r->skip)
			return NEED;
	}
	if (r->fmt == SP_FMT_AUTO) {
		int rc = detect(r);
		if (rc)
			return rc;
		if (r->pc)
			return pcapng_next(r, p);
	}
	switch (r->fmt) {
	case SP_FMT_PCAP:
		if (!r->hdr_seen) {
			if (r->end - r->start < 24)
				return NEED;
			uint32_t m;
			memcpy(&m, r->buf + r->start, 4);
			if (!is_pcap_magic(m))
				return fatal(r, SP_EFORMAT, "byte offset 0: not a pcap file (magic 0x%08" PRIx32 ")", m);
			int rc = pcap_header(r, r->buf + r->start);
			if (rc < 0)
				return rc;
		}
		return frame_pcap(r, p);
	case SP_FMT_PCAPNG:
		return pcapng_next(r, p);
	case SP_FMT_VDE:
		return frame_vde(r, p);
	default:
		return frame_ascii(r, p);
	}
}

/* The stream has ended: what is left in the buffer is a last line or a truncated record. */
static int at_end(struct sp_reader *r, struct sp_pkt *p)
{
	size_t have = r->end - r->start;
	if (r->skip)
		return fatal(r, SP_ETRUNC, "byte offset %" PRIu64 ": stream ended %" PRIu64
			     " bytes short of the end of a refused record", r->off, r->skip);
	if (have == 0)
		return 0;
	if (r->fmt == SP_FMT_ASCII || r->fmt == SP_FMT_AUTO) {
		const uint8_t *s = r->buf + r->start;
		take(r, have);
		if (r->skipline) {
			r->skipline = 0;
			return 0;
		}
		int rc = ascii_line(r, p, s, have);
		return rc; /* 0 for a trailing blank/comment line: the clean end */
	}
	uint64_t want;
	const uint8_t *h = r->buf + r->start;
	if (r->fmt == SP_FMT_VDE)
		want = have < 2 ? 2 : 2 + ((uint32_t)h[0] << 8 | h[1]);
	else if (!r->hdr_seen)
		want = 24;
	else
		want = have < 16 ? 16 : 16 + (uint64_t)get32(h + 8, r->swapped);
	return fatal(r, SP_ETRUNC, "byte offset %" PRIu64 ": truncated %s: %" PRIu64 " of %" PRIu64
		     " bytes present, %" PRIu64 " missing", r->off,
		     r->hdr_seen || r->fmt == SP_FMT_VDE ? "record" : "file header", (uint64_t)have, want,
		     want - have);
}

static int next(struct sp_reader *r, struct sp_pkt *p, int nb)
{
	if (r->dead)
		return r->dead;
	int did_read = 0;
	for (;;) {
		int rc = parse(r, p);
		if (rc == 1) {
			r->st.pkts++;
			r->st.bytes += p->caplen;
			return 1;
		}
		if (rc != NEED)
			return rc;
		if (r->eof) {
			if (r->pc)
				return 0;
			rc = at_end(r, p);
			if (rc == 1) {
				r->st.pkts++;
				r->st.bytes += p->caplen;
			}
			return rc;
		}
		if (nb && did_read)
			return SP_EAGAIN;
		rc = fill(r);
		did_read = 1;
		if (rc == 0)
			r->eof = 1;
		else if (rc < 0 || rc == SP_EAGAIN)
			return rc;
		else if (rc == NEED && r->fmt != SP_FMT_ASCII && r->fmt != SP_FMT_AUTO)
			return fatal(r, SP_EFORMAT, "byte offset %" PRIu64 ": record larger than the buffer", r->off);
	}
}

int sp_read(struct sp_reader *r, struct sp_pkt *p) { return next(r, p, 0); }
int sp_read_nb(struct sp_reader *r, struct sp_pkt *p) { return next(r, p, 1); }
