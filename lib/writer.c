/* SPDX-License-Identifier: BSD-2-Clause */
/* writer.c: the batched stream writer: whole records only, PIPE_BUF-atomic on FIFOs, short writes retried. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stdpkt.h"

struct sp_writer {
	int fd;
	int fmt;
	unsigned flags;
	uint8_t *buf;
	size_t cap, len;
	size_t limit;  /* flush before a batch would pass this: PIPE_BUF on FIFOs */
	int64_t now;   /* the clock for unstamped packets, read once per batch */
	int now_uses;
	struct sp_stats st;
	char err[SP_ERRBUF];
};

struct sp_writer *sp_writer_new(int fd, const struct sp_writer_conf *conf, char *errbuf)
{
	struct sp_writer_conf c = { .format = SP_FMT_ASCII };
	if (conf)
		c = *conf;
	if (c.format != SP_FMT_ASCII && c.format != SP_FMT_PCAP && c.format != SP_FMT_VDE) {
		snprintf(errbuf, SP_ERRBUF, "format '%s' cannot be written", sp_format_name(c.format));
		return NULL;
	}
	if (!c.snaplen)
		c.snaplen = SP_MAXFRAME_DEFAULT;
	if (!c.bufsize)
		c.bufsize = 256u << 10;
	struct sp_writer *w = calloc(1, sizeof *w);
	if (w)
		w->buf = malloc(c.bufsize);
	if (!w || !w->buf) {
		free(w);
		snprintf(errbuf, SP_ERRBUF, "out of memory");
		return NULL;
	}
	w->fd = fd;
	w->fmt = c.format;
	w->flags = c.flags;
	w->cap = c.bufsize;
	w->limit = w->cap;
	struct stat sb;
	if (!(c.flags & SP_W_BIGWRITE) && fstat(fd, &sb) == 0 && S_ISFIFO(sb.st_mode))
		w->limit = PIPE_BUF;
	if (w->fmt == SP_FMT_PCAP) {
		/* nanosecond magic, version 2.4, thiszone 0, sigfigs 0, snaplen, LINKTYPE_ETHERNET */
		uint32_t h[6] = { 0xa1b23c4du, 0x00040002u, 0, 0, c.snaplen, 1 };
		memcpy(w->buf, h, sizeof h);
		w->len = sizeof h;
	}
	return w;
}

const char *sp_writer_error(const struct sp_writer *w) { return w->err; }
const struct sp_stats *sp_writer_stats(const struct sp_writer *w) { return &w->st; }

/* Writes buf[0..n) completely, waiting out EAGAIN, retrying EINTR and short writes. */
static int put(struct sp_writer *w, const uint8_t *b, size_t n)
{
	while (n > 0) {
		ssize_t k = write(w->fd, b, n);
		if (k > 0) {
			b += k;
			n -= (size_t)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = { .fd = w->fd, .events = POLLOUT };
			if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
				goto fail;
			continue;
		}
		if (k == 0)
			errno = EIO;
	fail:
		snprintf(w->err, sizeof w->err, "write failed: %s", strerror(errno));
		return SP_EIO;
	}
	return 0;
}

int sp_writer_flush(struct sp_writer *w)
{
	if (!w->len)
		return 0;
	int rc = put(w, w->buf, w->len);
	w->len = 0;
	w->now_uses = 0;
	return rc;
}

int sp_writer_free(struct sp_writer *w)
{
	if (!w)
		return 0;
	int rc = sp_writer_flush(w);
	free(w->buf);
	free(w);
	return rc;
}

static int grow(struct sp_writer *w, size_t need)
{
	if (w->len + need <= w->cap)
		return 0;
	int rc = sp_writer_flush(w);
	if (rc < 0)
		return rc;
	if (need > w->cap) {
		uint8_t *nb = realloc(w->buf, need);
		if (!nb) {
			snprintf(w->err, sizeof w->err, "out of memory");
			return SP_ENOMEM;
		}
		w->buf = nb;
		w->cap = need;
	}
	return 0;
}

/* Packets that carry no time are stamped when written; one clock read serves a batch. */
static int64_t stamp(struct sp_writer *w, const struct sp_pkt *p)
{
	if (p->ts != SP_TS_NONE)
		return p->ts;
	if (w->now_uses == 0) {
		w->now = sp_now_ns();
		w->now_uses = 32;
	}
	w->now_uses--;
	return w->now;
}

int sp_write(struct sp_writer *w, const struct sp_pkt *p)
{
	size_t before = w->len, need;
	int rc;
	switch (w->fmt) {
	case SP_FMT_ASCII:
		if (p->caplen < SP_ETH_HLEN)
			goto refuse;
		need = sp_ascii_maxlen(p->caplen);
		if ((rc = grow(w, need)) < 0)
			return rc;
		before = w->len;
		if (w->flags & SP_W_TS) {
			struct sp_pkt q = *p;
			q.ts = stamp(w, p);
			w->len += (size_t)sp_ascii_encode((char *)w->buf + w->len, &q, 1);
		} else {
			w->len += (size_t)sp_ascii_encode((char *)w->buf + w->len, p, 0);
		}
		break;
	case SP_FMT_VDE:
		if (p->caplen > 0xffff || p->caplen < SP_ETH_HLEN)
			goto refuse;
		need = 2 + (size_t)p->caplen;
		if ((rc = grow(w, need)) < 0)
			return rc;
		before = w->len;
		w->buf[w->len] = (uint8_t)(p->caplen >> 8);
		w->buf[w->len + 1] = (uint8_t)p->caplen;
		memcpy(w->buf + w->len + 2, p->data, p->caplen);
		w->len += need;
		break;
	default: {
		need = 16 + (size_t)p->caplen;
		if ((rc = grow(w, need)) < 0)
			return rc;
		before = w->len;
		int64_t ts = stamp(w, p);
		uint32_t h[4] = { (uint32_t)(ts / 1000000000), (uint32_t)(ts % 1000000000), p->caplen,
				  p->wirelen > p->caplen ? p->wirelen : p->caplen };
		memcpy(w->buf + w->len, h, 16);
		memcpy(w->buf + w->len + 16, p->data, p->caplen);
		w->len += need;
	}
	}
	w->st.pkts++;
	w->st.bytes += p->caplen;
	/* On a FIFO no write(2) may pass PIPE_BUF or split a record: the kernel keeps such writes whole. */
	if (w->len > w->limit && before > 0) {
		size_t rec = w->len - before;
		w->len = before;
		if ((rc = sp_writer_flush(w)) < 0)
			return rc;
		memmove(w->buf, w->buf + before, rec);
		w->len = rec;
	}
	if (w->len >= w->limit || (w->flags & SP_W_UNBUF))
		return sp_writer_flush(w);
	return 0;
refuse:
	w->st.bad++;
	snprintf(w->err, sizeof w->err, "frame of %" PRIu32 " bytes cannot be written as %s", p->caplen,
		 sp_format_name(w->fmt));
	return SP_EBAD;
}
