/* SPDX-License-Identifier: BSD-2-Clause */
/* ethpipefs: mounts EtherPIPE device files (N for ASCII lines, rN for pcap) over AF_PACKET ports with FUSE. */
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#include "port.h"
#include "stdpkt.h"

static const char *prog = "ethpipefs";

#define MAXPORTS 64
#define RX_BATCH 64
#define TX_BATCH 64
#define TAKE_MAX 512 /* iovecs in one read reply, well under IOV_MAX */
#define MAXFRAME SP_MAXFRAME_DEFAULT
#define ARENA (2 * (size_t)MAXFRAME)
/* A partial ASCII line longer than this cannot be a frame we accept, runs of blanks included. */
#define INO_ROOT 1
#define INO_STATS 2
#define PCAP_MAGIC_NS 0xa1b23c4du

enum { H_STATS, H_ASCII, H_RAW };

/* One encoded frame (a line or a pcap record), shared by every reader queue that holds it. */
struct rec {
	atomic_uint ref;
	uint32_t len;
	char data[];
};

/* A read request waiting for frames. */
struct pend {
	fuse_req_t req;
	size_t size;
	struct pend *next;
};

struct port;

/* One open file: a reader queue if opened for reading, a framer if opened for writing. */
struct handle {
	int kind;
	struct port *port;
	/* reader: guarded by port->mu */
	int reading;
	struct handle *rnext, *rprev;
	struct rec **q;
	size_t qhead, qlen, qcap, qbytes;
	uint32_t off; /* bytes of the first record already returned */
	uint64_t drops;
	struct pend *pend, **pend_tail;
	struct fuse_pollhandle *ph;
	/* writer: guarded by wmu */
	int writing;
	pthread_mutex_t wmu;
	struct sp_reader *wr; /* frames the written bytes, in push mode */
	int broken;           /* a pcap stream that cannot be resynchronised */
	uint8_t *arena;
	size_t used;
	struct sp_pkt v[TX_BATCH];
	int nv;
	/* stats file */
	char *text;
	size_t textlen;
	/* every open handle, so that those never released (lazy unmount) are freed at exit */
	struct handle *anext, *aprev;
};

struct port {
	int idx;
	char ifname[64];
	struct sp_port *rx, *tx;
	pthread_mutex_t mu; /* readers, their queues and pending requests */
	struct handle *readers;
	int nascii, nraw;
	pthread_mutex_t txmu; /* the back-end is not shared between threads */
	pthread_t thr;
	int started;
	atomic_uint_fast64_t rx_pkts, rx_bytes, tx_pkts, tx_bytes, tx_errs, bad, drops;
};

static struct port ports[MAXPORTS];
static int nports;
static struct fuse_session *session;
static int stopfd = -1;
static atomic_int stopping;
static mode_t file_mode = 0600;
static uid_t owner_uid;
static gid_t owner_gid;
static struct timespec mount_time;
static size_t qlimit = 4u << 20;
static int with_ts, verbose;
static struct rec *pcap_header;
static pthread_mutex_t all_mu = PTHREAD_MUTEX_INITIALIZER;
static struct handle *all_handles;
/* Modes and owners set by chmod/chown, per inode; guarded by attr_mu. */
static pthread_mutex_t attr_mu = PTHREAD_MUTEX_INITIALIZER;
static mode_t node_mode[2 * MAXPORTS + 3];
static uid_t node_uid[2 * MAXPORTS + 3];
static gid_t node_gid[2 * MAXPORTS + 3];

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [-fptvh] [-m mode] [-q bytes] [-o fuse-options] mountpoint iface...\n"
		"  -f        stay in the foreground (default: daemonize)\n"
		"  -o opts   FUSE mount options, e.g. allow_other (default_permissions is always on)\n"
		"  -m mode   permissions of the device files (default 0600; owner: the mounting user)\n"
		"  -q n      bytes queued per reader before frames are dropped for it (default 4m)\n"
		"  -p        do not put the interfaces into promiscuous mode\n"
		"  -t        ascii files start each line with a nanosecond timestamp\n"
		"  -v        print per-port counts to stderr at exit (always on SIGUSR1)\n"
		"files: N = ascii lines of the N-th iface, rN = pcap, stats = counters\n",
		prog);
}

/* ---- records and reader queues ---- */

static struct rec *rec_new(size_t len)
{
	struct rec *r = malloc(sizeof *r + len);
	if (r) {
		atomic_init(&r->ref, 1);
		r->len = (uint32_t)len;
	}
	return r;
}

static void rec_unref(struct rec *r)
{
	if (r && atomic_fetch_sub(&r->ref, 1) == 1)
		free(r);
}

/* Appends a record to a reader's queue, or drops it when the reader is over its bound. */
static void q_push(struct handle *h, struct rec *r)
{
	if (h->qlen && h->qbytes + r->len > qlimit) {
		h->drops++;
		atomic_fetch_add(&h->port->drops, 1);
		return;
	}
	if (h->qlen == h->qcap) {
		size_t ncap = h->qcap ? 2 * h->qcap : 64;
		struct rec **nq = malloc(ncap * sizeof *nq);
		if (!nq) {
			h->drops++;
			atomic_fetch_add(&h->port->drops, 1);
			return;
		}
		for (size_t i = 0; i < h->qlen; i++)
			nq[i] = h->q[(h->qhead + i) % h->qcap];
		free(h->q);
		h->q = nq;
		h->qcap = ncap;
		h->qhead = 0;
	}
	atomic_fetch_add(&r->ref, 1);
	h->q[(h->qhead + h->qlen) % h->qcap] = r;
	h->qlen++;
	h->qbytes += r->len;
}

static struct rec *q_pop(struct handle *h)
{
	struct rec *r = h->q[h->qhead];
	h->qhead = (h->qhead + 1) % h->qcap;
	h->qlen--;
	h->qbytes -= r->len;
	h->off = 0;
	return r;
}

/*
 * Answers one read of size bytes from the queue (which must not be empty):
 * whole records only, unless the first does not fit at all, in which case
 * its first size bytes go now and the rest on the next read.
 */
static void reply_from_queue(struct handle *h, fuse_req_t req, size_t size)
{
	struct rec *first = h->q[h->qhead];
	size_t rem = first->len - h->off;
	if (rem > size) {
		fuse_reply_buf(req, first->data + h->off, size);
		h->off += (uint32_t)size;
		return;
	}
	struct iovec iov[TAKE_MAX];
	struct rec *taken[TAKE_MAX];
	int n = 0;
	iov[0] = (struct iovec){ 0 }; /* the loop always fills it: the first record fits */
	size_t left = size;
	while (h->qlen && n < TAKE_MAX) {
		struct rec *r = h->q[h->qhead];
		size_t len = r->len - h->off;
		if (len > left)
			break;
		iov[n].iov_base = r->data + h->off;
		iov[n].iov_len = len;
		taken[n++] = q_pop(h);
		left -= len;
	}
	fuse_reply_iov(req, iov, n);
	for (int i = 0; i < n; i++)
		rec_unref(taken[i]);
}

/* Serves waiting reads and pollers of a reader; called with port->mu held. */
static void serve(struct handle *h)
{
	while (h->pend && h->qlen) {
		struct pend *p = h->pend;
		h->pend = p->next;
		if (!h->pend)
			h->pend_tail = &h->pend;
		reply_from_queue(h, p->req, p->size);
		free(p);
	}
	if (h->ph && h->qlen) {
		fuse_lowlevel_notify_poll(h->ph);
		fuse_pollhandle_destroy(h->ph);
		h->ph = NULL;
	}
}

/*
 * A signal to a process blocked in read(2): answer EINTR so it is not stuck in
 * the kernel.  The data is the port, never freed, not the handle: libfuse may
 * call this after another thread has answered the request and the reader has
 * closed its file.
 */
static void on_interrupt(fuse_req_t req, void *data)
{
	struct port *pt = data;
	pthread_mutex_lock(&pt->mu);
	for (struct handle *h = pt->readers; h; h = h->rnext) {
		for (struct pend **pp = &h->pend; *pp; pp = &(*pp)->next) {
			if ((*pp)->req != req)
				continue;
			struct pend *p = *pp;
			*pp = p->next;
			if (!*pp)
				h->pend_tail = pp;
			fuse_reply_err(req, EINTR);
			free(p);
			pthread_mutex_unlock(&pt->mu);
			return;
		}
	}
	pthread_mutex_unlock(&pt->mu);
}

/* Answers every waiting read of a reader with err, or end of file for 0; port->mu held. */
static void fail_pending(struct handle *h, int err)
{
	while (h->pend) {
		struct pend *p = h->pend;
		h->pend = p->next;
		if (err)
			fuse_reply_err(p->req, err);
		else
			fuse_reply_buf(p->req, NULL, 0);
		free(p);
	}
	h->pend_tail = &h->pend;
}

/* ---- receive: one thread per port ---- */

static struct rec *encode_ascii(const struct sp_pkt *p)
{
	struct rec *r = rec_new(sp_ascii_maxlen(p->caplen));
	if (!r)
		return NULL;
	int n = sp_ascii_encode(r->data, p, with_ts);
	if (n < 0) {
		rec_unref(r);
		return NULL;
	}
	r->len = (uint32_t)n;
	return r;
}

static struct rec *encode_pcap(const struct sp_pkt *p)
{
	struct rec *r = rec_new(16 + (size_t)p->caplen);
	if (!r)
		return NULL;
	int64_t ts = p->ts == SP_TS_NONE ? sp_now_ns() : p->ts;
	uint32_t h[4] = { (uint32_t)(ts / 1000000000), (uint32_t)(ts % 1000000000), p->caplen, p->wirelen };
	memcpy(r->data, h, 16);
	memcpy(r->data + 16, p->data, p->caplen);
	return r;
}

static void *rx_thread(void *arg)
{
	struct port *pt = arg;
	struct sp_pkt v[RX_BATCH];
	int errs = 0;
	while (!atomic_load(&stopping)) {
		struct pollfd pfd[2] = { { .fd = pt->rx->fd, .events = POLLIN }, { .fd = stopfd, .events = POLLIN } };
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		if (pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
			/* The link went down or away: report it once, clear it, and do not spin on it. */
			int e = 0;
			socklen_t l = sizeof e;
			getsockopt(pt->rx->fd, SOL_SOCKET, SO_ERROR, &e, &l);
			if (e && errs++ < 3)
				fprintf(stderr, "%s: receive failed '%s': %s\n", prog, pt->ifname, strerror(e));
			struct pollfd sp = { .fd = stopfd, .events = POLLIN };
			poll(&sp, 1, 100);
		}
		int n = sp_port_recv(pt->rx, v, RX_BATCH);
		if (n < 0) {
			/* A link going down is transient; keep trying rather than tearing the mount down. */
			if (errs++ < 3)
				fprintf(stderr, "%s: receive failed '%s': %s\n", prog, pt->ifname, pt->rx->err);
			struct pollfd sp = { .fd = stopfd, .events = POLLIN };
			poll(&sp, 1, 100);
			continue;
		}
		if (n == 0)
			continue;
		pthread_mutex_lock(&pt->mu);
		for (int i = 0; i < n; i++) {
			atomic_fetch_add(&pt->rx_pkts, 1);
			atomic_fetch_add(&pt->rx_bytes, v[i].caplen);
			struct rec *ra = pt->nascii ? encode_ascii(&v[i]) : NULL;
			struct rec *rr = pt->nraw ? encode_pcap(&v[i]) : NULL;
			for (struct handle *h = pt->readers; h; h = h->rnext) {
				struct rec *r = h->kind == H_RAW ? rr : ra;
				if (r)
					q_push(h, r);
				else if ((h->kind == H_RAW ? pt->nraw : pt->nascii) && v[i].caplen >= SP_ETH_HLEN) {
					h->drops++; /* out of memory */
					atomic_fetch_add(&pt->drops, 1);
				}
			}
			rec_unref(ra);
			rec_unref(rr);
		}
		for (struct handle *h = pt->readers; h; h = h->rnext)
			serve(h);
		pthread_mutex_unlock(&pt->mu);
	}
	return NULL;
}

/* ---- transmit ---- */

static void tx_flush(struct handle *h)
{
	struct port *pt = h->port;
	int done = 0, idle = 0;
	if (!h->nv)
		return;
	pthread_mutex_lock(&pt->txmu);
	while (done < h->nv) {
		int k = sp_port_send(pt->tx, h->v + done, h->nv - done);
		if (k < 0) {
			/* The first few say why; the rest are only counted, not to flood the log. */
			if (atomic_load(&pt->tx_errs) < 3)
				fprintf(stderr, "%s: send failed '%s': %s\n", prog, pt->ifname, pt->tx->err);
			/* Skip the frame at fault and keep the rest of the batch. */
			atomic_fetch_add(&pt->tx_errs, 1);
			done++;
			continue;
		}
		if (k == 0) {
			/* The kernel's queue is full: give it a moment, but never block forever. */
			if (++idle > 1000) {
				atomic_fetch_add(&pt->tx_errs, (uint64_t)(h->nv - done));
				break;
			}
			struct timespec ts = { 0, 100000 };
			nanosleep(&ts, NULL);
			continue;
		}
		for (int i = done; i < done + k; i++)
			atomic_fetch_add(&pt->tx_bytes, h->v[i].caplen);
		atomic_fetch_add(&pt->tx_pkts, (uint64_t)k);
		done += k;
		idle = 0;
	}
	pthread_mutex_unlock(&pt->txmu);
	h->nv = 0;
	h->used = 0;
}

/* Room in the arena for a frame of up to need bytes; flushes the batch when there is none. */
static uint8_t *tx_room(struct handle *h, size_t need)
{
	if (h->nv == TX_BATCH || ARENA - h->used < need)
		tx_flush(h);
	return h->arena + h->used;
}

static void tx_add(struct handle *h, uint32_t caplen, uint32_t wirelen)
{
	h->v[h->nv] = (struct sp_pkt){ .data = h->arena + h->used, .caplen = caplen, .wirelen = wirelen,
				       .ts = SP_TS_NONE };
	h->nv++;
	h->used += caplen;
}

static void bad_record(struct handle *h, const char *why)
{
	atomic_fetch_add(&h->port->bad, 1);
	fprintf(stderr, "%s: skipped bad record '%s%d': %s\n", prog, h->kind == H_RAW ? "r" : "", h->port->idx, why);
}

/* Takes every whole frame the pushed bytes hold; < 0 when the stream cannot go on (pcap). */
static int drain(struct handle *h)
{
	for (;;) {
		struct sp_pkt p;
		int k = sp_read_nb(h->wr, &p);
		if (k == 1) {
			memcpy(tx_room(h, p.caplen), p.data, p.caplen);
			tx_add(h, p.caplen, p.wirelen);
		} else if (k == SP_EBAD) {
			bad_record(h, sp_reader_error(h->wr));
		} else if (k == SP_EAGAIN || k == 0) {
			return 0;
		} else {
			bad_record(h, sp_reader_error(h->wr));
			return -1;
		}
	}
}

/*
 * Written bytes go through the library's framer (the same one every stream reader uses, and
 * the fuzzers test), so a line or record cut across writes is sent once, whole.
 */
static int stream_write(struct handle *h, const char *buf, size_t size)
{
	size_t off = 0;
	do {
		off += sp_reader_push(h->wr, buf + off, size - off);
		if (drain(h) < 0) {
			h->broken = 1;
			break;
		}
	} while (off < size);
	tx_flush(h);
	return h->broken ? -EINVAL : 0;
}

/* ---- file system ---- */

static int ino_port(fuse_ino_t ino) { return (int)((ino - 3) / 2); }
static int ino_valid(fuse_ino_t ino) { return ino >= 1 && ino < 3 + 2 * (fuse_ino_t)nports; }

static void fill_attr(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_ino = ino;
	st->st_atim = st->st_mtim = st->st_ctim = mount_time;
	pthread_mutex_lock(&attr_mu);
	st->st_uid = node_uid[ino];
	st->st_gid = node_gid[ino];
	if (ino == INO_ROOT) {
		st->st_mode = S_IFDIR | node_mode[ino];
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | node_mode[ino];
		st->st_nlink = 1;
	}
	pthread_mutex_unlock(&attr_mu);
}

static void node_name(fuse_ino_t ino, char *buf, size_t n)
{
	if (ino == INO_STATS)
		snprintf(buf, n, "stats");
	else
		snprintf(buf, n, "%s%d", (ino - 3) % 2 ? "r" : "", ino_port(ino));
}

static void ep_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (parent != INO_ROOT) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	for (fuse_ino_t ino = 2; ino_valid(ino); ino++) {
		char nm[32];
		node_name(ino, nm, sizeof nm);
		if (strcmp(nm, name) == 0) {
			struct fuse_entry_param e = { .ino = ino, .attr_timeout = 1, .entry_timeout = 1 };
			fill_attr(ino, &e.attr);
			fuse_reply_entry(req, &e);
			return;
		}
	}
	fuse_reply_err(req, ENOENT);
}

static void ep_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	struct stat st;
	if (!ino_valid(ino)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_attr(ino, &st);
	fuse_reply_attr(req, &st, 1);
}

/* chmod and chown change the files' permissions; truncation (O_TRUNC, `>`) is accepted and means nothing. */
static void ep_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
	(void)fi;
	if (!ino_valid(ino)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	pthread_mutex_lock(&attr_mu);
	if (to_set & FUSE_SET_ATTR_MODE)
		node_mode[ino] = attr->st_mode & 07777;
	if (to_set & FUSE_SET_ATTR_UID)
		node_uid[ino] = attr->st_uid;
	if (to_set & FUSE_SET_ATTR_GID)
		node_gid[ino] = attr->st_gid;
	pthread_mutex_unlock(&attr_mu);
	struct stat st;
	fill_attr(ino, &st);
	fuse_reply_attr(req, &st, 1);
}

static void ep_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	if (ino != INO_ROOT) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	char *buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	size_t used = 0;
	/* Entry i: 0 ".", 1 "..", then inodes 2, 3, ... */
	for (off_t i = off; i < 2 + 1 + 2 * (off_t)nports; i++) {
		char nm[32];
		struct stat st = { 0 };
		if (i < 2) {
			snprintf(nm, sizeof nm, "%s", i ? ".." : ".");
			st.st_ino = INO_ROOT;
			st.st_mode = S_IFDIR;
		} else {
			st.st_ino = (ino_t)i;
			st.st_mode = S_IFREG;
			node_name((fuse_ino_t)i, nm, sizeof nm);
		}
		size_t n = fuse_add_direntry(req, buf + used, size - used, nm, &st, i + 1);
		if (n > size - used)
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static char *stats_text(size_t *len)
{
	size_t cap = 256 * (size_t)nports + 1, n = 0;
	char *t = malloc(cap);
	if (!t)
		return NULL;
	for (int i = 0; i < nports; i++) {
		struct port *pt = &ports[i];
		struct sp_port_stats ks = { 0 };
		sp_port_stats(pt->rx, &ks);
		pthread_mutex_lock(&pt->mu);
		int nr = pt->nascii + pt->nraw;
		pthread_mutex_unlock(&pt->mu);
		n += (size_t)snprintf(t + n, cap - n,
				      "%d %s rx_pkts=%" PRIu64 " rx_bytes=%" PRIu64 " tx_pkts=%" PRIu64
				      " tx_bytes=%" PRIu64 " bad=%" PRIu64 " reader_drops=%" PRIu64
				      " kernel_drops=%" PRIu64 " tx_errs=%" PRIu64 " readers=%d\n",
				      i, pt->ifname, (uint64_t)pt->rx_pkts, (uint64_t)pt->rx_bytes, (uint64_t)pt->tx_pkts,
				      (uint64_t)pt->tx_bytes, (uint64_t)pt->bad, (uint64_t)pt->drops, ks.rx_drops,
				      (uint64_t)pt->tx_errs, nr);
	}
	*len = n;
	return t;
}

static void handle_free(struct handle *h);

static void ep_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (!ino_valid(ino) || ino == INO_ROOT) {
		fuse_reply_err(req, ino == INO_ROOT ? EISDIR : ENOENT);
		return;
	}
	struct handle *h = calloc(1, sizeof *h);
	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	int acc = fi->flags & O_ACCMODE;
	h->pend_tail = &h->pend;
	pthread_mutex_lock(&all_mu);
	h->anext = all_handles;
	if (all_handles)
		all_handles->aprev = h;
	all_handles = h;
	pthread_mutex_unlock(&all_mu);
	if (ino == INO_STATS) {
		if (acc != O_RDONLY) {
			handle_free(h);
			fuse_reply_err(req, EACCES);
			return;
		}
		h->kind = H_STATS;
		h->text = stats_text(&h->textlen);
		fi->direct_io = 1; /* a fresh snapshot at every open, never a cached one */
		fi->fh = (uintptr_t)h;
		fuse_reply_open(req, fi);
		return;
	}
	h->port = &ports[ino_port(ino)];
	h->kind = (ino - 3) % 2 ? H_RAW : H_ASCII;
	h->reading = acc != O_WRONLY;
	h->writing = acc != O_RDONLY;
	if (h->writing) {
		pthread_mutex_init(&h->wmu, NULL);
		char eb[SP_ERRBUF];
		struct sp_reader_conf rc = { .format = h->kind == H_RAW ? SP_FMT_PCAP : SP_FMT_ASCII };
		h->arena = malloc(ARENA);
		h->wr = sp_reader_new(-1, &rc, eb);
		if (!h->arena || !h->wr) {
			handle_free(h);
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	if (h->reading) {
		struct port *pt = h->port;
		pthread_mutex_lock(&pt->mu);
		if (h->kind == H_RAW) {
			pt->nraw++;
			q_push(h, pcap_header); /* every opener first gets a file header */
		} else {
			pt->nascii++;
		}
		h->rnext = pt->readers;
		if (pt->readers)
			pt->readers->rprev = h;
		pt->readers = h;
		pthread_mutex_unlock(&pt->mu);
	}
	fi->direct_io = 1;
	fi->nonseekable = 1;
	fi->fh = (uintptr_t)h;
	fuse_reply_open(req, fi);
}

static void ep_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	if (h->kind == H_STATS) {
		/*
		 * Replied from a copy: the reader may close the file, and its release
		 * free the text, as soon as the kernel has the data, before writev returns.
		 */
		size_t o = off < 0 || (size_t)off > h->textlen ? h->textlen : (size_t)off;
		size_t n = size < h->textlen - o ? size : h->textlen - o;
		char *copy = n ? malloc(n) : NULL;
		if (n && !copy) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		if (n)
			memcpy(copy, h->text + o, n);
		fuse_reply_buf(req, copy, n);
		free(copy);
		return;
	}
	if (!h->reading || size == 0) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	/*
	 * Registered before the lock (the callback takes it), and checked under
	 * the lock below, so an interrupt is never lost between the two.
	 */
	fuse_req_interrupt_func(req, on_interrupt, h->port);
	struct port *pt = h->port;
	pthread_mutex_lock(&pt->mu);
	if (h->qlen && !h->pend) {
		reply_from_queue(h, req, size);
	} else if (fuse_req_interrupted(req)) {
		fuse_reply_err(req, EINTR);
	} else if (fi->flags & O_NONBLOCK) {
		fuse_reply_err(req, EAGAIN);
	} else {
		struct pend *p = malloc(sizeof *p);
		if (!p) {
			fuse_reply_err(req, ENOMEM);
		} else {
			*p = (struct pend){ .req = req, .size = size };
			*h->pend_tail = p;
			h->pend_tail = &p->next;
			serve(h);
		}
	}
	pthread_mutex_unlock(&pt->mu);
}

static void ep_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)ino;
	(void)off;
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	if (h->kind == H_STATS || !h->writing) {
		fuse_reply_err(req, EBADF);
		return;
	}
	int rc = 0;
	pthread_mutex_lock(&h->wmu);
	rc = h->broken ? -EINVAL : stream_write(h, buf, size);
	pthread_mutex_unlock(&h->wmu);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, size);
}

static void ep_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	(void)ino;
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	unsigned rev = 0;
	if (h->kind == H_STATS)
		rev = POLLIN | POLLRDNORM;
	if (h->writing)
		rev |= POLLOUT | POLLWRNORM;
	if (h->reading) {
		pthread_mutex_lock(&h->port->mu);
		if (h->qlen)
			rev |= POLLIN | POLLRDNORM;
		else if (ph) {
			/* Kept until frames arrive: the receive thread then wakes the poller. */
			if (h->ph)
				fuse_pollhandle_destroy(h->ph);
			h->ph = ph;
			ph = NULL;
		}
		pthread_mutex_unlock(&h->port->mu);
	}
	if (ph)
		fuse_pollhandle_destroy(ph);
	fuse_reply_poll(req, rev);
}

/* Frees an open file; readers still waiting get end of file (the mount is going away). */
static void handle_free(struct handle *h)
{
	if (h->reading) {
		struct port *pt = h->port;
		pthread_mutex_lock(&pt->mu);
		fail_pending(h, 0);
		if (h->rprev)
			h->rprev->rnext = h->rnext;
		else
			pt->readers = h->rnext;
		if (h->rnext)
			h->rnext->rprev = h->rprev;
		if (h->kind == H_RAW)
			pt->nraw--;
		else
			pt->nascii--;
		while (h->qlen)
			rec_unref(q_pop(h));
		if (h->ph)
			fuse_pollhandle_destroy(h->ph);
		pthread_mutex_unlock(&pt->mu);
		if (h->drops && verbose)
			fprintf(stderr, "%s: reader of '%s%d' lost %" PRIu64 " frames (too slow)\n", prog,
				h->kind == H_RAW ? "r" : "", pt->idx, h->drops);
	}
	if (h->writing) {
		pthread_mutex_lock(&h->wmu);
		/* The last line may lack its newline, as text tools allow; a cut pcap record is bad. */
		if (!h->broken) {
			sp_reader_push_end(h->wr);
			drain(h);
		}
		tx_flush(h);
		pthread_mutex_unlock(&h->wmu);
		pthread_mutex_destroy(&h->wmu);
	}
	pthread_mutex_lock(&all_mu);
	if (h->aprev)
		h->aprev->anext = h->anext;
	else
		all_handles = h->anext;
	if (h->anext)
		h->anext->aprev = h->aprev;
	pthread_mutex_unlock(&all_mu);
	free(h->q);
	sp_reader_free(h->wr);
	free(h->arena);
	free(h->text);
	free(h);
}

static void ep_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	handle_free((struct handle *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* Larger writes: one request can carry a mebibyte of lines (the kernel caps it at its max_pages). */
static void ep_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	conn->max_write = 1u << 20;
}

static const struct fuse_lowlevel_ops ops = {
	.init = ep_init,
	.lookup = ep_lookup,
	.getattr = ep_getattr,
	.setattr = ep_setattr,
	.readdir = ep_readdir,
	.open = ep_open,
	.read = ep_read,
	.write = ep_write,
	.poll = ep_poll,
	.release = ep_release,
};

/* ---- main ---- */

static void print_stats(void)
{
	size_t n;
	char *t = stats_text(&n);
	if (!t)
		return;
	for (char *s = t, *nl; (nl = strchr(s, '\n')); s = nl + 1)
		fprintf(stderr, "%s: %.*s\n", prog, (int)(nl - s), s);
	free(t);
}

/* SIGUSR1 is blocked everywhere and taken here, so counts print from a normal thread. */
static void *sig_thread(void *arg)
{
	(void)arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	for (;;) {
		int sig;
		if (sigwait(&set, &sig) != 0)
			continue;
		if (atomic_load(&stopping))
			return NULL;
		print_stats();
	}
}

int main(int argc, char **argv)
{
	int fg = 0, promisc = 1, opt;
	uint64_t v;
	const char *fuse_opts[32];
	int nopts = 0;

	while ((opt = getopt(argc, argv, "+fo:m:q:ptvh")) != -1) {
		switch (opt) {
		case 'f': fg = 1; break;
		case 'o':
			if (nopts == 32) {
				fprintf(stderr, "%s: too many -o options '%s': at most 32\n", prog, optarg);
				return 2;
			}
			fuse_opts[nopts++] = optarg;
			break;
		case 'm': {
			char *end;
			errno = 0;
			unsigned long m = strtoul(optarg, &end, 8);
			if (errno || *end || end == optarg || m > 0777) {
				fprintf(stderr, "%s: bad mode '%s': must be octal 0..0777\n", prog, optarg);
				return 2;
			}
			file_mode = (mode_t)m;
			break;
		}
		case 'q':
			if (sp_parse_num(optarg, 1000, 4000000000ull, 1, &v) < 0) {
				fprintf(stderr, "%s: bad queue size '%s': must be 1k..4g bytes\n", prog, optarg);
				return 2;
			}
			qlimit = (size_t)v;
			break;
		case 'p': promisc = 0; break;
		case 't': with_ts = 1; break;
		case 'v': verbose = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind < 2) {
		usage(stderr);
		return 2;
	}
	if (argc - optind - 1 > MAXPORTS) {
		fprintf(stderr, "%s: too many interfaces '%s': at most %d\n", prog, argv[argc - 1], MAXPORTS);
		return 2;
	}
	/* Absolute, because daemonizing changes to / and unmounting would miss a relative path. */
	char *mnt = realpath(argv[optind], NULL);
	struct stat mst;
	if (!mnt || stat(mnt, &mst) < 0) {
		fprintf(stderr, "%s: bad mount point '%s': %s\n", prog, argv[optind], strerror(errno));
		return 1;
	}
	if (!S_ISDIR(mst.st_mode)) {
		fprintf(stderr, "%s: bad mount point '%s': not a directory\n", prog, argv[optind]);
		free(mnt);
		return 1;
	}

	owner_uid = getuid();
	owner_gid = getgid();
	clock_gettime(CLOCK_REALTIME, &mount_time);
	for (size_t i = 0; i < sizeof node_mode / sizeof node_mode[0]; i++) {
		node_mode[i] = i == INO_ROOT ? 0755 : i == INO_STATS ? 0444 : file_mode;
		node_uid[i] = owner_uid;
		node_gid[i] = owner_gid;
	}
	/* Whoever may use a file may list and enter the directory: -m 0666 opens it to all. */
	node_mode[INO_ROOT] = 0700 | (file_mode & 060 ? 050 : 0) | (file_mode & 006 ? 005 : 0);

	pcap_header = rec_new(24);
	if (!pcap_header) {
		fprintf(stderr, "%s: cannot allocate: %s\n", prog, strerror(errno));
		free(mnt);
		return 1;
	}
	{
		/* Host order, as libpcap writes: magic, version 2.4 (two 16-bit fields), zone, sigfigs, snaplen, link. */
		uint32_t h[6] = { PCAP_MAGIC_NS, 0, 0, 0, SP_MAXFRAME_DEFAULT, 1 };
		uint16_t ver[2] = { 2, 4 };
		memcpy(pcap_header->data, h, 24);
		memcpy(pcap_header->data + 4, ver, 4);
	}

	/* Ports first: a missing interface is reported before anything is mounted. */
	char err[SP_ERRBUF];
	for (int i = optind + 1; i < argc; i++) {
		struct port *pt = &ports[nports];
		pt->idx = nports;
		snprintf(pt->ifname, sizeof pt->ifname, "%s", argv[i]);
		pthread_mutex_init(&pt->mu, NULL);
		pthread_mutex_init(&pt->txmu, NULL);
		/* Separate sockets for each direction: the receive thread and writers never share one. */
		struct sp_port_conf rc = { .flags = SP_PORT_RX | SP_PORT_NONBLOCK | (promisc ? SP_PORT_PROMISC : 0) };
		struct sp_port_conf tc = { .flags = SP_PORT_TX };
		pt->rx = sp_port_open("afpacket", argv[i], &rc, err);
		if (pt->rx)
			pt->tx = sp_port_open("afpacket", argv[i], &tc, err);
		if (!pt->rx || !pt->tx) {
			fprintf(stderr, "%s: cannot open interface '%s': %s\n", prog, argv[i], err);
			for (int j = 0; j <= nports; j++) {
				sp_port_close(ports[j].rx);
				sp_port_close(ports[j].tx);
			}
			rec_unref(pcap_header);
			free(mnt);
			return 1;
		}
		nports++;
	}

	char optbuf[64];
	snprintf(optbuf, sizeof optbuf, "default_permissions,fsname=ethpipefs,subtype=ethpipefs");
	char *fargv[2 + 2 * 32 + 2];
	int fargc = 0;
	fargv[fargc++] = argv[0];
	fargv[fargc++] = "-o";
	fargv[fargc++] = optbuf;
	for (int i = 0; i < nopts; i++) {
		fargv[fargc++] = "-o";
		fargv[fargc++] = (char *)fuse_opts[i];
	}
	fargv[fargc] = NULL;
	struct fuse_args args = FUSE_ARGS_INIT(fargc, fargv);

	int rc = 1;
	sigset_t usr1, old;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);

	session = fuse_session_new(&args, &ops, sizeof ops, NULL);
	if (!session) {
		fprintf(stderr, "%s: bad fuse options '%s': see mount.fuse3(8)\n", prog, nopts ? fuse_opts[0] : "");
		rc = 2;
		goto out_ports;
	}
	if (fuse_set_signal_handlers(session) != 0) {
		fprintf(stderr, "%s: cannot set signal handlers: %s\n", prog, strerror(errno));
		goto out_session;
	}
	if (fuse_session_mount(session, mnt) != 0) {
		fprintf(stderr, "%s: cannot mount '%s': see the message above\n", prog, mnt);
		goto out_signals;
	}
	if (fuse_daemonize(fg) != 0)
		goto out_unmount;

	/* Threads start after the fork of daemonizing, which they would not survive. */
	stopfd = eventfd(0, EFD_CLOEXEC);
	if (stopfd < 0) {
		fprintf(stderr, "%s: cannot make an eventfd: %s\n", prog, strerror(errno));
		goto out_unmount;
	}
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_t sigthr;
	int sig_ok = pthread_create(&sigthr, NULL, sig_thread, NULL) == 0;
	for (int i = 0; i < nports; i++) {
		int e = pthread_create(&ports[i].thr, NULL, rx_thread, &ports[i]);
		if (e) {
			fprintf(stderr, "%s: cannot start a thread '%s': %s\n", prog, ports[i].ifname, strerror(e));
			break;
		}
		ports[i].started = 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	/* A positive result is the signal that ended the loop: a normal way to stop a daemon. */
	rc = fuse_session_loop_mt(session, cfg) < 0 ? 1 : 0;
	fuse_loop_cfg_destroy(cfg);

	/* The loop's workers are gone; stop the receivers, then let blocked readers go. */
	atomic_store(&stopping, 1);
	uint64_t one = 1;
	if (write(stopfd, &one, sizeof one) < 0)
		fprintf(stderr, "%s: cannot stop the receive threads: %s\n", prog, strerror(errno));
	for (int i = 0; i < nports; i++)
		if (ports[i].started)
			pthread_join(ports[i].thr, NULL);
	if (sig_ok) {
		pthread_kill(sigthr, SIGUSR1);
		pthread_join(sigthr, NULL);
	}
	/* Open files get no release once the loop is over: waiting reads are answered, handles freed. */
	while (all_handles)
		handle_free(all_handles);
	int worth = verbose;
	for (int i = 0; i < nports; i++)
		if (ports[i].drops || ports[i].bad || ports[i].tx_errs)
			worth = 1;
	if (worth)
		print_stats();
	close(stopfd);
out_unmount:
	fuse_session_unmount(session);
out_signals:
	fuse_remove_signal_handlers(session);
out_session:
	fuse_session_destroy(session);
out_ports:
	/* Handles never released (a lazy unmount with files still open) go with the process. */
	for (int i = 0; i < nports; i++) {
		sp_port_close(ports[i].rx);
		sp_port_close(ports[i].tx);
	}
	fuse_opt_free_args(&args);
	rec_unref(pcap_header);
	free(mnt);
	return rc;
}
