/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz.h: the body shared by the stream fuzz targets: read an input three ways, compare, and round-trip it through the writer. */
#ifndef STDPKT_FUZZ_H
#define STDPKT_FUZZ_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "stdpkt.h"

/*
 * Oracles, each an abort() so libFuzzer and the replayer report it:
 *  - the reader never crashes, hangs or over-reads (the sanitizers watch);
 *  - reading the input at once and reading it through a non-blocking pipe a few bytes per
 *    write(2) give the identical packets and errors (a framer must survive any split);
 *  - pushing it into a push-mode reader (fd -1) in the same chunks gives them too;
 *  - every packet read, written in the same format and read back, is the same packet.
 */

struct fz_log {
	uint8_t *d;
	size_t n, cap;
};

static void fz_put(struct fz_log *l, const void *p, size_t n)
{
	if (l->n + n > l->cap) {
		l->cap = (l->n + n) * 2 + 256;
		l->d = realloc(l->d, l->cap);
		if (!l->d)
			abort();
	}
	memcpy(l->d + l->n, p, n);
	l->n += n;
}

static void fz_log_rc(struct fz_log *l, int rc, const struct sp_pkt *p, const char *err)
{
	fz_put(l, &rc, sizeof rc);
	if (rc == 1) {
		fz_put(l, &p->caplen, 4);
		fz_put(l, &p->wirelen, 4);
		fz_put(l, &p->ts, 8);
		fz_put(l, p->data, p->caplen);
	} else if (rc < 0) {
		fz_put(l, err, strlen(err));
	}
}

static int fz_memfd(const uint8_t *d, size_t n)
{
	static int fd = -1;
	if (fd < 0)
		fd = memfd_create("fuzz", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) != 0)
		abort();
	for (size_t i = 0; i < n;) {
		ssize_t k = write(fd, d + i, n - i);
		if (k <= 0)
			abort();
		i += (size_t)k;
	}
	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
	return fd;
}

/* Every result of one reader over fd until the end or a fatal error; also writes each packet out via w. */
static void fz_read_all(int fd, const struct sp_reader_conf *c, struct fz_log *log, struct sp_writer *w)
{
	char eb[SP_ERRBUF];
	struct sp_reader *r = sp_reader_new(fd, c, eb);
	if (!r)
		abort();
	for (;;) {
		struct sp_pkt p;
		int rc = sp_read(r, &p);
		if (rc == 1 && (p.caplen == 0 || p.caplen > c->maxframe || p.wirelen < p.caplen))
			abort(); /* the reader promised 1..maxframe bytes and wirelen >= caplen */
		fz_log_rc(log, rc, &p, sp_reader_error(r));
		if (rc == 1 && w)
			(void)sp_write(w, &p);
		if (rc == 0 || (rc < 0 && rc != SP_EBAD))
			break;
	}
	sp_reader_free(r);
}

/* The same input through a non-blocking pipe, chunk bytes per write, drained with sp_read_nb between writes. */
static void fz_read_split(const uint8_t *d, size_t n, size_t chunk, const struct sp_reader_conf *c,
			  struct fz_log *log)
{
	int pp[2];
	if (pipe2(pp, O_NONBLOCK | O_CLOEXEC) < 0)
		abort();
	char eb[SP_ERRBUF];
	struct sp_reader *r = sp_reader_new(pp[0], c, eb);
	if (!r)
		abort();
	size_t off = 0;
	int done = 0;
	struct sp_pkt p;
	while (!done) {
		if (off < n) {
			size_t k = n - off < chunk ? n - off : chunk;
			ssize_t wr = write(pp[1], d + off, k);
			if (wr > 0)
				off += (size_t)wr;
			else if (errno != EAGAIN)
				abort();
		} else if (pp[1] >= 0) {
			close(pp[1]);
			pp[1] = -1;
		}
		for (;;) {
			int rc = pp[1] < 0 ? sp_read(r, &p) : sp_read_nb(r, &p);
			if (rc == SP_EAGAIN)
				break;
			fz_log_rc(log, rc, &p, sp_reader_error(r));
			if (rc == 0 || (rc < 0 && rc != SP_EBAD)) {
				done = 1;
				break;
			}
		}
	}
	if (pp[1] >= 0)
		close(pp[1]);
	close(pp[0]);
	sp_reader_free(r);
}

/* The same input pushed chunk bytes at a time into a push-mode reader (fd -1), as ethpipefs frames writes. */
static void fz_read_push(const uint8_t *d, size_t n, size_t chunk, const struct sp_reader_conf *c,
			 struct fz_log *log)
{
	char eb[SP_ERRBUF];
	struct sp_reader *r = sp_reader_new(-1, c, eb);
	if (!r)
		abort();
	size_t off = 0;
	struct sp_pkt p;
	for (;;) {
		if (off < n) {
			size_t k = n - off < chunk ? n - off : chunk;
			off += sp_reader_push(r, d + off, k);
		} else {
			sp_reader_push_end(r);
		}
		int rc;
		while ((rc = sp_read_nb(r, &p)) != SP_EAGAIN) {
			fz_log_rc(log, rc, &p, sp_reader_error(r));
			if (rc == 0 || (rc < 0 && rc != SP_EBAD))
				goto out;
		}
	}
out:
	sp_reader_free(r);
}

/* Reads back what the writer produced and checks it packet by packet against orig (packets only). */
static void fz_check_roundtrip(int fmt, const struct fz_log *orig, int wfd, uint32_t maxframe)
{
	struct sp_reader_conf c = { .format = fmt, .maxframe = maxframe };
	struct fz_log back = { 0 };
	if (lseek(wfd, 0, SEEK_SET) != 0)
		abort();
	fz_read_all(wfd, &c, &back, NULL);
	size_t i = 0, j = 0;
	while (i < orig->n) {
		int rb;
		if (j + 20 > back.n)
			abort(); /* a packet went in and did not come back */
		memcpy(&rb, back.d + j, sizeof rb);
		if (rb != 1)
			abort(); /* what we wrote must read back without errors */
		uint32_t ca, wa, cb, wb;
		int64_t ta, tb;
		memcpy(&ca, orig->d + i + 4, 4);
		memcpy(&wa, orig->d + i + 8, 4);
		memcpy(&ta, orig->d + i + 12, 8);
		memcpy(&cb, back.d + j + 4, 4);
		memcpy(&wb, back.d + j + 8, 4);
		memcpy(&tb, back.d + j + 12, 8);
		if (ca != cb || memcmp(orig->d + i + 20, back.d + j + 20, ca) != 0)
			abort();
		if (fmt != SP_FMT_VDE && wa != wb)
			abort(); /* pcap and ascii (len=) keep the wire length; vde has no field for it */
		/* A time the packet carried must survive; pcap holds seconds only in 0..2^32-1. */
		if (ta != SP_TS_NONE && ta != tb &&
		    (fmt == SP_FMT_ASCII || (fmt == SP_FMT_PCAP && ta >= 0 && ta / 1000000000 <= UINT32_MAX)))
			abort();
		i += 20 + ca;
		j += 20 + cb;
	}
	/* Nothing more than what went in: the rest of back is its clean end. */
	int end;
	if (j + sizeof end != back.n || (memcpy(&end, back.d + j, sizeof end), end != 0))
		abort();
	free(back.d);
}

/* The whole target: fmt is the forced input format. */
static int fz_run(int fmt, const uint8_t *data, size_t size)
{
	/* Two configurations: jumbo frames, and a small maxframe whose buffer is small enough for
	 * over-long lines and buffer-full paths to be reached by small inputs.  Buffers are the
	 * least the reader allows (bufsize 1): a default 1 MiB per reader would cost most of the
	 * run's time in allocation under ASan. */
	static const struct {
		uint32_t maxframe;
		size_t bufsize;
	} confs[2] = { { 9216, 1 }, { 100, 1 } };
	for (int k = 0; k < 2; k++) {
		struct sp_reader_conf c = { .format = fmt, .maxframe = confs[k].maxframe, .bufsize = confs[k].bufsize };
		if (!c.maxframe)
			c.maxframe = SP_MAXFRAME_DEFAULT;
		struct fz_log bulk = { 0 }, split = { 0 }, pk = { 0 };
		int fd = fz_memfd(data, size);
		int wfd = memfd_create("fuzz-out", MFD_CLOEXEC);
		char eb[SP_ERRBUF];
		struct sp_writer_conf wc = { .format = fmt == SP_FMT_PCAPNG ? SP_FMT_PCAP : fmt, .flags = SP_W_TS, .bufsize = 16384 };
		struct sp_writer *w = sp_writer_new(wfd, &wc, eb);
		if (wfd < 0 || !w)
			abort();
		fz_read_all(fd, &c, &bulk, w);
		if (sp_writer_free(w) < 0)
			abort();
		/* The packets alone, for the round trip, re-read with a second reader (it is deterministic). */
		fd = fz_memfd(data, size);
		{
			struct sp_reader *r = sp_reader_new(fd, &c, eb);
			struct sp_pkt p;
			int rc;
			while ((rc = sp_read(r, &p)) == 1 || rc == SP_EBAD)
				if (rc == 1)
					fz_log_rc(&pk, 1, &p, "");
			sp_reader_free(r);
		}
		fz_check_roundtrip(wc.format, &pk, wfd, c.maxframe);
		close(wfd);
		/* pcapng goes through libpcap's blocking stdio reads: the split comparison is for our framers. */
		if (fmt != SP_FMT_PCAPNG) {
			/* Mostly small splits; one byte at a time often enough, without making every run syscall-bound. */
			size_t chunk = size > 8192 ? 61 : 1 + (size ? data[size / 2] % 16 : 0);
			fz_read_split(data, size, chunk, &c, &split);
			if (split.n != bulk.n || memcmp(split.d, bulk.d, bulk.n) != 0) {
				fprintf(stderr, "fuzz: split reading (chunk %zu, maxframe %u) differs from bulk reading\n",
					chunk, c.maxframe);
				abort();
			}
			struct fz_log pushed = { 0 };
			fz_read_push(data, size, chunk, &c, &pushed);
			if (pushed.n != bulk.n || memcmp(pushed.d, bulk.d, bulk.n) != 0) {
				fprintf(stderr, "fuzz: push-mode reading (chunk %zu, maxframe %u) differs from bulk reading\n",
					chunk, c.maxframe);
				abort();
			}
			free(pushed.d);
		}
		free(bulk.d);
		free(split.d);
		free(pk.d);
	}
	return 0;
}

#endif
