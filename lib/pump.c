/* SPDX-License-Identifier: BSD-2-Clause */
/* pump.c: the receive and transmit loops between a packet port and a pair of streams, and the thread that runs them. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pump.h"

#define RX_BATCH 256
#define TX_BATCH 512
#define TX_BYTES (1u << 20) /* frame bytes gathered before a send, besides TX_BATCH */

struct sp_pump {
	struct sp_pump_conf c;
	pthread_t main_tid, rxt, txt;
	int stopfd[2];
	atomic_int stopping, rx_done, tx_done, status;
	atomic_uint_least64_t n_rx, n_tx, n_bad;
	atomic_int in_flags; /* to restore: the input's description may be shared; -1 = untouched */
};

/* Every message goes to on_msg: the library never prints. */
static void say(const struct sp_pump *p, int kind, uint64_t recno, const char *msg)
{
	if (p->c.on_msg)
		p->c.on_msg(p->c.arg, kind, recno, msg);
}

static struct sp_pump *pump_new(const struct sp_pump_conf *conf)
{
	struct sp_pump *p = calloc(1, sizeof *p);
	if (!p) {
		if (conf->on_msg)
			conf->on_msg(conf->arg, SP_PUMP_ERROR, 0, "cannot start: out of memory");
		return NULL;
	}
	p->c = *conf;
	atomic_init(&p->in_flags, -1);
	if (pipe2(p->stopfd, O_CLOEXEC) < 0) {
		char msg[SP_PUMP_ERRBUF];
		snprintf(msg, sizeof msg, "cannot make a pipe: %s", strerror(errno));
		say(p, SP_PUMP_ERROR, 0, msg);
		free(p);
		return NULL;
	}
	return p;
}

static void pump_stop(struct sp_pump *p)
{
	atomic_store(&p->stopping, 1);
	if (write(p->stopfd[1], "x", 1) < 0) {
		/* the workers then stop at their next frame */
	}
}

static void counts(const struct sp_pump *p, struct sp_pump_counts *n)
{
	n->rx = atomic_load(&p->n_rx);
	n->tx = atomic_load(&p->n_tx);
	n->bad = atomic_load(&p->n_bad);
}

/* Gives the input back its file status flags if a transmit loop still has them changed. */
static void restore_input(struct sp_pump *p)
{
	int fl = atomic_exchange(&p->in_flags, -1);
	if (fl >= 0)
		fcntl(p->c.infd, F_SETFL, fl);
}

/*
 * Frees what no worker still uses: the writer and the receive port once
 * receive is joined, the transmit port and the pump once both are.  The
 * input gets its flags back all the same: its description may be shared.
 */
static void pump_close(struct sp_pump *p, int rx_joined, int tx_joined)
{
	restore_input(p);
	if (!rx_joined)
		return;
	sp_writer_free(p->c.w);
	if (p->c.rxp != p->c.txp)
		sp_port_close(p->c.rxp);
	if (!tx_joined)
		return;
	sp_port_close(p->c.txp);
	close(p->stopfd[0]);
	close(p->stopfd[1]);
	free(p);
}

int sp_pump_getopt(struct sp_pump_opts *opts, int o, const char *arg, char *errbuf)
{
	switch (o) {
	case 'T': opts->timed = 1; return 1;
	case 't': opts->wflags |= SP_W_TS; return 1;
	case 'v': opts->verbose = 1; return 1;
	case 'c':
		if (sp_parse_num(arg, 1, UINT64_MAX, 1, &opts->count) == 0)
			return 1;
		snprintf(errbuf, SP_PUMP_ERRBUF, "bad count '%s': not a number from 1 up", arg);
		return SP_EINVAL;
	case 'F':
		opts->outfmt = sp_format_parse(arg);
		if (opts->outfmt == SP_FMT_ASCII || opts->outfmt == SP_FMT_PCAP || opts->outfmt == SP_FMT_VDE)
			return 1;
		snprintf(errbuf, SP_PUMP_ERRBUF, "bad output format '%s': not ascii, pcap or vde", arg);
		return SP_EINVAL;
	case 'i':
		opts->infmt = sp_format_parse(arg);
		if (opts->infmt >= 0)
			return 1;
		snprintf(errbuf, SP_PUMP_ERRBUF, "bad input format '%s': not auto, ascii, pcap, pcapng or vde", arg);
		return SP_EINVAL;
	}
	return 0;
}

static void bad(struct sp_pump *p, uint64_t recno, const char *msg)
{
	atomic_fetch_add(&p->n_bad, 1);
	say(p, SP_PUMP_BAD, recno, msg);
}

/* ---- receive: port -> writer ---- */

static int rx_loop(struct sp_pump *p, char *errbuf)
{
	struct sp_port *rxp = p->c.rxp;
	struct sp_writer *w = p->c.w;
	struct sp_pkt v[RX_BATCH];
	int dirty = 0;
	while (!atomic_load(&p->stopping)) {
		int n = sp_port_recv(rxp, v, RX_BATCH);
		if (n < 0) {
			snprintf(errbuf, SP_PUMP_ERRBUF, "%s", rxp->err);
			return SP_EIO;
		}
		if (n == 0) {
			/* Nothing more right now: whatever is buffered goes out, so interactive traffic is not held. */
			if (dirty && sp_writer_flush(w) < 0)
				goto werr;
			dirty = 0;
			struct pollfd pfd[2] = { { .fd = rxp->fd, .events = POLLIN },
						 { .fd = p->stopfd[0], .events = POLLIN } };
			if (poll(pfd, 2, -1) < 0 && errno != EINTR) {
				snprintf(errbuf, SP_PUMP_ERRBUF, "cannot poll '%s': %s", p->c.name, strerror(errno));
				return SP_EIO;
			}
			continue;
		}
		for (int i = 0; i < n; i++) {
			int rc = sp_write(w, &v[i]);
			if (rc == SP_EBAD)
				continue; /* a runt the format cannot carry; the writer counts it */
			if (rc < 0)
				goto werr;
			dirty = 1;
			uint64_t k = atomic_fetch_add(&p->n_rx, 1) + 1;
			if (p->c.rx_limit && k >= p->c.rx_limit)
				goto done;
		}
	}
done:
	if (sp_writer_flush(w) < 0)
		goto werr;
	return 0;
werr:
	/* A reader that went away (EPIPE) is a normal end, like head(1) after enough lines. */
	if (errno == EPIPE)
		return 0;
	snprintf(errbuf, SP_PUMP_ERRBUF, "cannot write '%s': %s", p->c.out_name, sp_writer_error(w));
	return SP_EIO;
}

/* ---- transmit: reader -> port ---- */

struct txbatch {
	struct sp_pkt v[TX_BATCH];
	uint64_t recno[TX_BATCH]; /* input record number, for messages */
	uint8_t *buf;
	size_t used;
	int n;
};

/* Sends the batch; a frame the port refuses is reported and skipped.  0, or < 0 on a port failure. */
static int tx_flush(struct sp_pump *p, struct txbatch *b, char *errbuf)
{
	struct sp_port *txp = p->c.txp;
	int i = 0;
	while (i < b->n) {
		int k = sp_port_send(txp, b->v + i, b->n - i);
		if (k == SP_EBAD) {
			char msg[SP_PUMP_ERRBUF];
			snprintf(msg, sizeof msg, "%s: input frame %" PRIu64 " skipped", txp->err, b->recno[i]);
			bad(p, b->recno[i], msg);
			i++;
			continue;
		}
		if (k < 0) {
			snprintf(errbuf, SP_PUMP_ERRBUF, "%s", txp->err);
			return SP_EIO;
		}
		if (k == 0) {
			/* A non-blocking port (TAP, shared with receive) is full: wait for room here. */
			struct pollfd pfd = { .fd = txp->fd, .events = POLLOUT };
			poll(&pfd, 1, 100);
			continue;
		}
		atomic_fetch_add(&p->n_tx, (uint64_t)k);
		i += k;
	}
	b->n = 0;
	b->used = 0;
	return 0;
}


/* Sleeps until the monotonic time due; 1 if asked to stop meanwhile. */
static int sleep_until(struct sp_pump *p, int64_t due)
{
	for (;;) {
		int64_t d = due - sp_mono_ns();
		if (d <= 0)
			return 0;
		struct timespec ts = { d / 1000000000, d % 1000000000 };
		struct pollfd pfd = { .fd = p->stopfd[0], .events = POLLIN };
		if (ppoll(&pfd, 1, &ts, NULL) > 0)
			return 1;
	}
}

/* The loop proper, with the reader and batch made; the input may be non-blocking. */
static int tx_loop(struct sp_pump *p, struct sp_reader *r, struct txbatch *b, char *errbuf)
{
	const struct sp_pump_conf *c = &p->c;
	int64_t t0 = SP_TS_NONE, m0 = 0;
	uint64_t taken = 0;
	while (!atomic_load(&p->stopping)) {
		if (!sp_reader_buffered(r) && b->n && tx_flush(p, b, errbuf) < 0)
			return SP_EIO;
		struct sp_pkt pk;
		int k = sp_read_nb(r, &pk);
		if (k == SP_EAGAIN) {
			if (b->n && tx_flush(p, b, errbuf) < 0)
				return SP_EIO;
			struct pollfd pfd[2] = { { .fd = c->infd, .events = POLLIN },
						 { .fd = p->stopfd[0], .events = POLLIN } };
			poll(pfd, 2, -1);
			continue;
		}
		if (k == SP_EBAD) {
			char msg[SP_PUMP_ERRBUF];
			snprintf(msg, sizeof msg, "skipped bad record '%s': %s", c->in_name, sp_reader_error(r));
			bad(p, sp_reader_stats(r)->pkts + sp_reader_stats(r)->bad, msg);
			continue;
		}
		if (k == 0)
			break;
		if (k < 0) {
			snprintf(errbuf, SP_PUMP_ERRBUF, "cannot read '%s': %s", c->in_name, sp_reader_error(r));
			return SP_EIO;
		}
		if (c->timed && pk.ts != SP_TS_NONE) {
			if (t0 == SP_TS_NONE) {
				t0 = pk.ts;
				m0 = sp_mono_ns();
			} else if (pk.ts > t0) {
				int64_t due = m0 + (pk.ts - t0);
				if (due > sp_mono_ns()) {
					if (b->n && tx_flush(p, b, errbuf) < 0)
						return SP_EIO;
					if (sleep_until(p, due))
						break;
				}
			}
		}
		if (b->n == TX_BATCH || b->used + pk.caplen > TX_BYTES + c->maxframe) {
			if (tx_flush(p, b, errbuf) < 0)
				return SP_EIO;
		}
		/* The reader's data lives until its next call: the batch keeps a copy. */
		memcpy(b->buf + b->used, pk.data, pk.caplen);
		b->v[b->n] = pk;
		b->v[b->n].data = b->buf + b->used;
		b->recno[b->n] = sp_reader_stats(r)->pkts + sp_reader_stats(r)->bad;
		b->used += pk.caplen;
		b->n++;
		if (c->tx_limit && ++taken >= c->tx_limit)
			break;
	}
	if (b->n && tx_flush(p, b, errbuf) < 0)
		return SP_EIO;
	return 0;
}

static int tx_run(struct sp_pump *p, char *errbuf)
{
	const struct sp_pump_conf *c = &p->c;
	char err[SP_ERRBUF];
	struct sp_reader_conf rc = { .format = c->infmt, .maxframe = c->maxframe };
	struct sp_reader *r = sp_reader_new(c->infd, &rc, err);
	struct txbatch *b = calloc(1, sizeof *b);
	if (b)
		b->buf = malloc(TX_BYTES + c->maxframe);
	int ret = SP_ENOMEM;
	if (!r || !b || !b->buf) {
		snprintf(errbuf, SP_PUMP_ERRBUF, "cannot read '%s': %s", c->in_name, r ? strerror(ENOMEM) : err);
		goto out;
	}
	/*
	 * A pipe or socket is read non-blocking, so a partial record at the end
	 * of the buffer never keeps complete frames from being sent.
	 */
	struct stat sb;
	int oldfl = fcntl(c->infd, F_GETFL);
	int nonblock = fstat(c->infd, &sb) == 0 && (S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode)) && oldfl >= 0 &&
		       fcntl(c->infd, F_SETFL, oldfl | O_NONBLOCK) == 0;
	if (nonblock)
		atomic_store(&p->in_flags, oldfl);
	ret = tx_loop(p, r, b, errbuf);
	restore_input(p);
out:
	if (b)
		free(b->buf);
	free(b);
	sp_reader_free(r);
	return ret;
}

/* ---- run: the workers, and the calling thread waiting for signals ---- */

/* Tells the main thread (which waits for signals) that a worker is done. */
static void notify(struct sp_pump *p, atomic_int *flag, int st)
{
	if (st)
		atomic_store(&p->status, st);
	atomic_store(flag, 1);
	pthread_kill(p->main_tid, SIGUSR2);
}

/* One worker: a loop, its error reported, then the main thread told. */
static void work(struct sp_pump *p, int (*loop)(struct sp_pump *, char *), atomic_int *done)
{
	char err[SP_PUMP_ERRBUF];
	int st = loop(p, err) < 0;
	if (st)
		say(p, SP_PUMP_ERROR, 0, err);
	notify(p, done, st);
}

static void *rx_main(void *arg)
{
	struct sp_pump *p = arg;
	work(p, rx_loop, &p->rx_done);
	return NULL;
}

static void *tx_main(void *arg)
{
	struct sp_pump *p = arg;
	work(p, tx_run, &p->tx_done);
	return NULL;
}

int sp_pump_run(const struct sp_pump_conf *conf)
{
	struct sp_pump *p = pump_new(conf);
	if (!p) {
		/* Taken all the same: the caller never closes them. */
		sp_writer_free(conf->w);
		if (conf->rxp != conf->txp)
			sp_port_close(conf->rxp);
		sp_port_close(conf->txp);
		return 1;
	}
	int rx = conf->rxp != NULL, tx = conf->txp != NULL;

	/* Every signal is taken here, by sigwait, so workers never see EINTR surprises. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	p->main_tid = pthread_self();

	int e = 0;
	if ((rx && (e = pthread_create(&p->rxt, NULL, rx_main, p)) != 0) ||
	    (tx && (e = pthread_create(&p->txt, NULL, tx_main, p)) != 0)) {
		/* A worker that did start keeps the pump: it is left, as at any exit that cannot join. */
		char msg[SP_PUMP_ERRBUF];
		snprintf(msg, sizeof msg, "cannot start a thread: %s", strerror(e));
		say(p, SP_PUMP_ERROR, 0, msg);
		return 1;
	}
	struct sp_pump_counts n;
	for (;;) {
		int sig;
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGUSR1) {
			counts(p, &n);
			if (conf->on_stats)
				conf->on_stats(conf->arg, &n, 0);
			continue;
		}
		if (sig != SIGUSR2)
			break;
		if (rx && atomic_load(&p->rx_done))
			break;
		if (tx && atomic_load(&p->tx_done) && (conf->exit_at_eof || atomic_load(&p->status) || !rx))
			break;
	}
	pump_stop(p);
	/* A worker stuck on a stalled output or a blocking input is not waited for long. */
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 2;
	int rx_joined = !rx || pthread_timedjoin_np(p->rxt, NULL, &dl) == 0;
	int tx_joined = !tx || (atomic_load(&p->tx_done) && pthread_join(p->txt, NULL) == 0);
	int status = atomic_load(&p->status);
	counts(p, &n);
	if (conf->on_stats)
		conf->on_stats(conf->arg, &n, 1);
	pump_close(p, rx_joined, tx_joined);
	return status;
}

unsigned sp_if_mtu(const char *name)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return 0;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));
	int rc = ioctl(s, SIOCGIFMTU, &ifr);
	close(s);
	return rc < 0 ? 0 : (unsigned)ifr.ifr_mtu;
}
