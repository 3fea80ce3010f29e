/* SPDX-License-Identifier: BSD-2-Clause */
/* ethpipe: a network interface on stdin/stdout: received frames are written out, frames read in are transmitted. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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

#include "port.h"
#include "stdpkt.h"

static const char *prog = "ethpipe";

#define RX_BATCH 256
#define TX_BATCH 512
#define TX_BYTES (1u << 20) /* frame bytes gathered before a send, besides TX_BATCH */

static struct {
	const char *ifname;
	int rx, tx;          /* directions enabled */
	int exit_at_eof;     /* -x, or implied by -s */
	int timed;           /* -T */
	int verbose;
	uint64_t count;      /* -c; 0 = no limit */
	int infmt, outfmt;
	unsigned wflags;
	uint32_t maxframe;
} opt = { .rx = 1, .tx = 1, .outfmt = SP_FMT_ASCII };

static struct sp_port *rxp, *txp;
static struct sp_writer *w;
static pthread_t main_tid;
static int stopfd[2] = { -1, -1 };
static atomic_int stopping, rx_done, tx_done, status;
static atomic_uint_least64_t n_rx, n_tx, n_bad;
static int stdin_flags = -1; /* to restore: stdin's description may be shared */

/* Tells the main thread (which waits for signals) that a worker is done. */
static void notify(atomic_int *flag, int st)
{
	if (st)
		atomic_store(&status, st);
	atomic_store(flag, 1);
	pthread_kill(main_tid, SIGUSR2);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [-rsxTtpuvh] [-F ascii|pcap|vde] [-i auto|ascii|pcap|pcapng|vde] [-c count]\n"
		"       [-m maxframe] interface [filter...]\n"
		"  frames received on the interface go to stdout, frames read from stdin are sent\n"
		"  -r        receive only (stdin is not read)\n"
		"  -s        send only (nothing is received); exits when stdin ends\n"
		"  -x        exit when stdin ends (by default ethpipe keeps receiving)\n"
		"  -F fmt    output format (default ascii)\n"
		"  -i fmt    input format (default auto: pcap, pcapng or ascii)\n"
		"  -t        ascii output carries the timestamp column\n"
		"  -T        send timestamped input at its original spacing\n"
		"  -p        promiscuous mode\n"
		"  -c count  exit after receiving count frames (with -s: after sending them)\n"
		"  -m bytes  largest input frame (default the interface's mtu + 18)\n"
		"  -u        flush the output after every frame\n"
		"  -v        print counts to stderr at exit\n"
		"  filter    a pcap-filter expression, applied in the kernel\n",
		prog);
}

static void print_stats(void)
{
	struct sp_port_stats s = { 0 };
	if (rxp)
		sp_port_stats(rxp, &s);
	fprintf(stderr, "%s: %s: %" PRIu64 " received, %" PRIu64 " dropped, %" PRIu64 " sent, %" PRIu64 " bad\n",
		prog, opt.ifname, (uint64_t)atomic_load(&n_rx), s.rx_drops, (uint64_t)atomic_load(&n_tx),
		(uint64_t)atomic_load(&n_bad));
}

/* ---- receive: port -> stdout ---- */

static void *rx_main(void *arg)
{
	(void)arg;
	struct sp_pkt v[RX_BATCH];
	int st = 0, dirty = 0;
	while (!atomic_load(&stopping)) {
		int n = sp_port_recv(rxp, v, RX_BATCH);
		if (n < 0) {
			fprintf(stderr, "%s: %s\n", prog, rxp->err);
			st = 1;
			break;
		}
		if (n == 0) {
			/* Nothing more right now: whatever is buffered goes out, so interactive traffic is not held. */
			if (dirty && sp_writer_flush(w) < 0)
				goto werr;
			dirty = 0;
			struct pollfd pfd[2] = { { .fd = rxp->fd, .events = POLLIN }, { .fd = stopfd[0], .events = POLLIN } };
			if (poll(pfd, 2, -1) < 0 && errno != EINTR) {
				fprintf(stderr, "%s: cannot poll '%s': %s\n", prog, opt.ifname, strerror(errno));
				st = 1;
				break;
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
			uint64_t k = atomic_fetch_add(&n_rx, 1) + 1;
			if (opt.count && k >= opt.count)
				goto done;
		}
	}
done:
	if (sp_writer_flush(w) < 0)
		goto werr;
	notify(&rx_done, st);
	return NULL;
werr:
	/* A reader that went away (EPIPE) is a normal end, like head(1) after enough lines. */
	if (errno != EPIPE) {
		fprintf(stderr, "%s: cannot write 'stdout': %s\n", prog, sp_writer_error(w));
		st = 1;
	}
	notify(&rx_done, st);
	return NULL;
}

/* ---- transmit: stdin -> port ---- */

struct txbatch {
	struct sp_pkt v[TX_BATCH];
	uint64_t recno[TX_BATCH]; /* input record number, for messages */
	uint8_t *buf;
	size_t used;
	int n;
};

/* Sends the batch; a frame the kernel refuses is reported and skipped. 0, or -1 on a port failure. */
static int tx_flush(struct txbatch *b)
{
	int i = 0;
	while (i < b->n) {
		int k = sp_port_send(txp, b->v + i, b->n - i);
		if (k == SP_EBAD) {
			fprintf(stderr, "%s: %s: input frame %" PRIu64 " skipped\n", prog, txp->err, b->recno[i]);
			atomic_fetch_add(&n_bad, 1);
			i++;
			continue;
		}
		if (k < 0) {
			fprintf(stderr, "%s: %s\n", prog, txp->err);
			return -1;
		}
		atomic_fetch_add(&n_tx, (uint64_t)k);
		i += k;
	}
	b->n = 0;
	b->used = 0;
	return 0;
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sleeps until the monotonic time due; 1 if asked to stop meanwhile. */
static int sleep_until(int64_t due)
{
	for (;;) {
		int64_t d = due - mono_ns();
		if (d <= 0)
			return 0;
		struct timespec ts = { d / 1000000000, d % 1000000000 };
		struct pollfd pfd = { .fd = stopfd[0], .events = POLLIN };
		if (ppoll(&pfd, 1, &ts, NULL) > 0)
			return 1;
	}
}

static void *tx_main(void *arg)
{
	(void)arg;
	int st = 0;
	char err[SP_ERRBUF];
	struct sp_reader_conf rc = { .format = opt.infmt, .maxframe = opt.maxframe };
	struct sp_reader *r = sp_reader_new(0, &rc, err);
	struct txbatch *b = calloc(1, sizeof *b);
	if (b)
		b->buf = malloc(TX_BYTES + opt.maxframe);
	if (!r || !b || !b->buf) {
		fprintf(stderr, "%s: cannot read 'stdin': %s\n", prog, r ? strerror(ENOMEM) : err);
		st = 1;
		goto out;
	}
	/*
	 * A pipe or socket is read non-blocking, so a partial record at the end
	 * of the buffer never keeps complete frames from being sent.
	 */
	struct stat sb;
	int oldfl = fcntl(0, F_GETFL);
	int nonblock = fstat(0, &sb) == 0 && (S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode)) && oldfl >= 0 &&
		       fcntl(0, F_SETFL, oldfl | O_NONBLOCK) == 0;
	if (nonblock)
		stdin_flags = oldfl;
	int64_t t0 = SP_TS_NONE, m0 = 0;
	uint64_t sent_goal = opt.count && !opt.rx ? opt.count : 0;
	uint64_t taken = 0;
	while (!atomic_load(&stopping)) {
		if (!sp_reader_buffered(r) && b->n && tx_flush(b) < 0) {
			st = 1;
			break;
		}
		struct sp_pkt p;
		int k = sp_read_nb(r, &p);
		if (k == SP_EAGAIN) {
			if (b->n && tx_flush(b) < 0) {
				st = 1;
				break;
			}
			struct pollfd pfd[2] = { { .fd = 0, .events = POLLIN }, { .fd = stopfd[0], .events = POLLIN } };
			poll(pfd, 2, -1);
			continue;
		}
		if (k == SP_EBAD) {
			fprintf(stderr, "%s: skipped bad record 'stdin': %s\n", prog, sp_reader_error(r));
			atomic_fetch_add(&n_bad, 1);
			continue;
		}
		if (k == 0)
			break;
		if (k < 0) {
			fprintf(stderr, "%s: cannot read 'stdin': %s\n", prog, sp_reader_error(r));
			st = 1;
			break;
		}
		if (opt.timed && p.ts != SP_TS_NONE) {
			if (t0 == SP_TS_NONE) {
				t0 = p.ts;
				m0 = mono_ns();
			} else if (p.ts > t0) {
				int64_t due = m0 + (p.ts - t0);
				if (due > mono_ns()) {
					if (b->n && tx_flush(b) < 0) {
						st = 1;
						break;
					}
					if (sleep_until(due))
						break;
				}
			}
		}
		if (b->n == TX_BATCH || b->used + p.caplen > TX_BYTES + opt.maxframe) {
			if (tx_flush(b) < 0) {
				st = 1;
				break;
			}
		}
		/* The reader's data lives until its next call: the batch keeps a copy. */
		memcpy(b->buf + b->used, p.data, p.caplen);
		b->v[b->n] = p;
		b->v[b->n].data = b->buf + b->used;
		b->recno[b->n] = sp_reader_stats(r)->pkts + sp_reader_stats(r)->bad;
		b->used += p.caplen;
		b->n++;
		if (sent_goal && ++taken >= sent_goal)
			break;
	}
	if (!st && b->n && tx_flush(b) < 0)
		st = 1;
	if (nonblock)
		fcntl(0, F_SETFL, oldfl);
	stdin_flags = -1;
out:
	if (b)
		free(b->buf);
	free(b);
	sp_reader_free(r);
	notify(&tx_done, st);
	return NULL;
}

static unsigned if_mtu(const char *name)
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

int main(int argc, char **argv)
{
	int o, promisc = 0;
	uint64_t v;
	while ((o = getopt(argc, argv, "rsxTtpuvc:F:i:m:h")) != -1) {
		switch (o) {
		case 'r': opt.tx = 0; break;
		case 's': opt.rx = 0; break;
		case 'x': opt.exit_at_eof = 1; break;
		case 'T': opt.timed = 1; break;
		case 't': opt.wflags |= SP_W_TS; break;
		case 'p': promisc = 1; break;
		case 'u': opt.wflags |= SP_W_UNBUF; break;
		case 'v': opt.verbose = 1; break;
		case 'c':
			if (sp_parse_num(optarg, 1, UINT64_MAX, 1, &opt.count) < 0) {
				fprintf(stderr, "%s: bad count '%s': not a number from 1 up\n", prog, optarg);
				return 2;
			}
			break;
		case 'F':
			opt.outfmt = sp_format_parse(optarg);
			if (opt.outfmt != SP_FMT_ASCII && opt.outfmt != SP_FMT_PCAP && opt.outfmt != SP_FMT_VDE) {
				fprintf(stderr, "%s: bad output format '%s': not ascii, pcap or vde\n", prog, optarg);
				return 2;
			}
			break;
		case 'i':
			opt.infmt = sp_format_parse(optarg);
			if (opt.infmt < 0) {
				fprintf(stderr, "%s: bad input format '%s': not auto, ascii, pcap, pcapng or vde\n",
					prog, optarg);
				return 2;
			}
			break;
		case 'm':
			if (sp_parse_num(optarg, SP_ETH_HLEN, 65535 + 18, 1, &v) < 0) {
				fprintf(stderr, "%s: bad frame size '%s': not from %d to %d\n", prog, optarg,
					SP_ETH_HLEN, 65535 + 18);
				return 2;
			}
			opt.maxframe = (uint32_t)v;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (!opt.rx && !opt.tx) {
		fprintf(stderr, "%s: bad options '-r -s': nothing left to do\n", prog);
		return 2;
	}
	opt.ifname = argv[optind++];
	/* The filter is the rest of the words, as tcpdump takes it. */
	char *filter = NULL;
	size_t flen = 0;
	for (int i = optind; i < argc; i++)
		flen += strlen(argv[i]) + 1;
	if (flen) {
		filter = calloc(1, flen);
		if (!filter)
			return 1;
		for (int i = optind; i < argc; i++) {
			if (i > optind)
				strcat(filter, " ");
			strcat(filter, argv[i]);
		}
		if (!opt.rx) {
			fprintf(stderr, "%s: bad filter '%s': a filter needs receiving (not -s)\n", prog, filter);
			free(filter);
			return 2;
		}
	}
	if (!opt.tx || !opt.rx)
		opt.exit_at_eof = !opt.rx;
	if (!opt.maxframe) {
		unsigned mtu = if_mtu(opt.ifname);
		opt.maxframe = mtu ? mtu + 18 : SP_MAXFRAME_DEFAULT;
	}

	char err[SP_ERRBUF];
	/* Receive and transmit use two sockets: the receiving one never sees what the other sends. */
	if (opt.rx) {
		struct sp_port_conf c = { .flags = SP_PORT_RX | SP_PORT_NONBLOCK | (promisc ? SP_PORT_PROMISC : 0),
					  .filter = filter };
		rxp = sp_port_open("afpacket", opt.ifname, &c, err);
		free(filter);
		if (!rxp) {
			fprintf(stderr, "%s: %s\n", prog, err);
			return strncmp(err, "bad filter", 10) == 0 ? 2 : 1;
		}
		struct sp_writer_conf wc = { .format = opt.outfmt, .flags = opt.wflags };
		w = sp_writer_new(1, &wc, err);
		if (!w) {
			fprintf(stderr, "%s: cannot write 'stdout': %s\n", prog, err);
			sp_port_close(rxp);
			return 1;
		}
	}
	if (opt.tx) {
		struct sp_port_conf c = { .flags = SP_PORT_TX };
		txp = sp_port_open("afpacket", opt.ifname, &c, err);
		if (!txp) {
			fprintf(stderr, "%s: %s\n", prog, err);
			sp_writer_free(w);
			sp_port_close(rxp);
			return 1;
		}
	}
	if (pipe2(stopfd, O_CLOEXEC) < 0) {
		fprintf(stderr, "%s: cannot make a pipe: %s\n", prog, strerror(errno));
		return 1;
	}

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
	main_tid = pthread_self();

	pthread_t rxt, txt;
	if (opt.rx && pthread_create(&rxt, NULL, rx_main, NULL) != 0) {
		fprintf(stderr, "%s: cannot start a thread: %s\n", prog, strerror(errno));
		return 1;
	}
	if (opt.tx && pthread_create(&txt, NULL, tx_main, NULL) != 0) {
		fprintf(stderr, "%s: cannot start a thread: %s\n", prog, strerror(errno));
		return 1;
	}
	for (;;) {
		int sig;
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGUSR1) {
			print_stats();
			continue;
		}
		if (sig != SIGUSR2)
			break;
		if (opt.rx && atomic_load(&rx_done))
			break;
		if (opt.tx && atomic_load(&tx_done) && (opt.exit_at_eof || atomic_load(&status) || !opt.rx))
			break;
	}
	atomic_store(&stopping, 1);
	if (write(stopfd[1], "x", 1) < 0) {
		/* the workers then stop at their next frame */
	}
	/* A worker stuck on a stalled stdout or a blocking stdin is not waited for long. */
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 2;
	int rx_joined = !opt.rx || pthread_timedjoin_np(rxt, NULL, &dl) == 0;
	if (opt.tx && atomic_load(&tx_done))
		pthread_join(txt, NULL);
	struct sp_port_stats s = { 0 };
	if (rxp)
		sp_port_stats(rxp, &s);
	if (opt.verbose || s.rx_drops)
		print_stats();
	if (rx_joined) {
		sp_writer_free(w);
		sp_port_close(rxp);
		if (opt.tx && atomic_load(&tx_done))
			sp_port_close(txp);
	}
	if (stdin_flags >= 0)
		fcntl(0, F_SETFL, stdin_flags);
	fflush(stderr);
	_exit(atomic_load(&status));
}
