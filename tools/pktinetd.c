/* SPDX-License-Identifier: BSD-2-Clause */
/* pktinetd.c: an inetd for packet streams: a fresh stack (a command template) per flow, source or destination, started on the first frame and ended when idle. */
/*
 * Shape.  One thread, one poll loop: stdin (frames from the chain), one
 * socket per child, a signalfd (SIGCHLD, SIGUSR1, the ending signals).
 *  - Each input frame is classified into a key (a 5-tuple, a source or a
 *    destination address; ARP and neighbour discovery by the address they
 *    are about, see lib/flowkey.c).  A key with a live child: the frame goes to
 *    that child's stdin.  A new key: the template is forked with %-words
 *    substituted, and the frame waits in the child's socket until the stack
 *    is configured and starts reading it (stdpkt reads its input only once
 *    addresses and routes are in place), so the first frame of a flow is
 *    never lost to the boot.
 *  - A child's stdin and stdout are one AF_UNIX stream socket, not pipes:
 *    stdpkt's chain walk then sees at once that it is not in a shell
 *    pipeline (no pipe inode to follow), instead of waiting for our forks
 *    that still hold other children's pipes to exec.
 *  - What a child writes is read (any format), and written whole to our
 *    stdout in one format.  Frames to a child are batched by an sp_writer and
 *    flushed when the input has nothing more ready; a child whose socket is
 *    full loses the frame, counted, like a full NIC queue: one slow stack
 *    never stalls the others.
 *  - A child idle (no frame either way) for -i seconds gets SIGTERM; a
 *    child that exits is reaped and its key forgotten; a new frame of that
 *    key later starts a new child.  At most -n children run at once (ending
 *    ones count until reaped): a new key beyond that is dropped, counted.
 *  - Children get PR_SET_PDEATHSIG(SIGTERM): a kill -9 of the launcher ends
 *    them, and stdpkt then removes its namespace itself.
 *  - A server the template starts may listen a few ms after its stack
 *    reads the first SYN; the RST it then sends is held back and the SYN
 *    given again (struct held), so a per-connection server is not refused.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/sockios.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chain.h"
#include "flowkey.h"
#include "stdpkt.h"

static const char *prog = "pktinetd";

/*
 * A SYN given to a child still booting.  A stack that answers it with RST
 * has only not started its listener yet (stdpkt starts the command once the
 * stack is up, so the first frames may arrive before it listens): the RST
 * is swallowed and the SYN given again a little later, so the client's
 * connect succeeds at once instead of failing with "connection refused".
 */
#define NHELD 8
struct held {
	uint8_t *frame;
	uint32_t len;
	int64_t due;   /* when to give it again; 0: not scheduled */
	int64_t delay; /* next backoff */
};

struct child {
	pid_t pid;
	int fd;
	unsigned seq;
	struct sp_fkey key;
	int keyed;   /* in the key table: takes frames */
	int ending;  /* SIGTERM sent by us (idle or shutdown) */
	int idled;   /* ended because idle */
	int reaped;
	int eof;     /* its stdout ended */
	int64_t end_at; /* when we sent SIGTERM */
	int status;  /* wait status once reaped */
	int wr_shut; /* our write side shut (input ended) */
	int dirty;   /* writer holds unflushed frames */
	size_t unflushed;
	size_t qlimit; /* bytes that may wait in its socket */
	struct sp_writer *w;
	struct sp_reader *r;
	int64_t born, last; /* monotonic ns */
	uint64_t in, out, dropped;
	struct held held[NHELD];
	char name[160];
};

static int opt_mode = SP_FK_FLOW;
static int64_t opt_idle_ns = 10 * 1000000000LL;
static unsigned opt_max = 64;
static int opt_fmt = 0; /* 0: the input's */
static int opt_counts, opt_verbose;
static int64_t opt_boot_ns = 1000000000LL;
static size_t opt_qbytes = 1u << 20;
static char **tmpl;
static int ntmpl;

static struct child **kids;
static unsigned nkids; /* live (not freed) */
static unsigned seq;

static struct sp_writer *outw;
/* Frames come in on in_fd and replies leave by out_fd: stdin and stdout, or the link to the stage before. */
static int in_fd = 0, out_fd = 1;
static int out_fmt;
static int out_closed;

static struct {
	uint64_t in, bad, unparsable, to_kids, flooded, nokey, limit, queue, failed_start;
	uint64_t syn_again, started, adopted, idle, exited, failed, killed, out, out_bad;
} st;
static unsigned fail_msgs;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pktinetd [OPTIONS] -- TEMPLATE [ARGS...]\n"
		"Starts TEMPLATE (usually `stdpkt -a %%d/24 ...`) for each new flow, source or destination\n"
		"seen on stdin, gives it that key's frames and merges its frames into stdout; ends idle ones.\n"
		"  -k KEY      flow (5-tuple, default), src (source address) or dst (destination address)\n"
		"  -i SECONDS  end a child idle (no frame either way) that long (default 10; 0.001..86400)\n"
		"  -n MAX      children at once (default 64; 1..4096); a new key beyond is dropped, counted\n"
		"  -q BYTES    frames queued to one child at most (default 1m; k/m suffixes)\n"
		"  -w SECONDS  boot window (default 1, 0 = off): a RST a child sends that soon after its\n"
		"              start to a SYN means its listener is not up yet: it is held back and the\n"
		"              SYN given again after 1, 2, 4 ... ms\n"
		"  -F FORMAT   format of stdout and of the children's stdin: ascii, pcap or vde\n"
		"              (default: the input's); stdin is ASCII, pcap or pcapng, or VDE if -F vde\n"
		"  -c          print counts to stderr at exit (and on SIGUSR1, with one line per child)\n"
		"  -v          one line per child started and ended, with its counts\n"
		"  -h          this help\n"
		"Template words: %%s source address, %%d destination address, %%S source port,\n"
		"%%D destination port, %%P protocol, %%k the key, %%n child number (1, 2, ...), %%%% a %%.\n");
}

static void die_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	fprintf(stderr, "usage: pktinetd [OPTIONS] -- TEMPLATE [ARGS...]  (pktinetd -h for help)\n");
	exit(2);
}


/* ---- keys (sp_flowkey() in lib/flowkey.c classifies) ---- */

static const char *proto_name(int proto, char *buf, size_t n)
{
	switch (proto) {
	case -1: return "arp";
	case 1: return "icmp";
	case 6: return "tcp";
	case 17: return "udp";
	case 58: return "icmp6";
	case 132: return "sctp";
	default: snprintf(buf, n, "%d", proto); return buf;
	}
}

static void key_name(const struct sp_fkey *k, char *out, size_t n)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN], pb[16];
	int af = k->fam == 4 ? AF_INET : AF_INET6;
	inet_ntop(af, k->a, a, sizeof a);
	inet_ntop(af, k->b, b, sizeof b);
	switch (k->kind) {
	case SP_FK_KSRC: snprintf(out, n, "src-%s", a); break;
	case SP_FK_KDST: snprintf(out, n, "dst-%s", a); break;
	case SP_FK_KPAIR: snprintf(out, n, "pair-%s-%s", a, b); break;
	default:
		snprintf(out, n, "%s-%s-%u-%s-%u", proto_name(k->proto, pb, sizeof pb), a, k->pa, b, k->pb);
	}
}

/* ---- children ---- */

static struct child *find_key(const struct sp_fkey *k)
{
	for (unsigned i = 0; i < nkids; i++)
		if (kids[i]->keyed && memcmp(&kids[i]->key, k, sizeof *k) == 0)
			return kids[i];
	return NULL;
}

/* Substitutes the %-words of one template word; NULL if out of memory. */
static char *subst(const char *w, const struct sp_flowkey *f, const char *kname, unsigned n)
{
	size_t cap = strlen(w) + 128, len = 0;
	char *o = malloc(cap);
	if (!o)
		return NULL;
	int af = f->fam == 4 ? AF_INET : AF_INET6;
	for (const char *s = w; *s; s++) {
		char tmp[INET6_ADDRSTRLEN + 16];
		const char *add = tmp;
		if (*s != '%' || !s[1]) {
			tmp[0] = *s;
			tmp[1] = 0;
		} else {
			switch (*++s) {
			case 's': inet_ntop(af, f->src, tmp, sizeof tmp); break;
			case 'd': inet_ntop(af, f->dst, tmp, sizeof tmp); break;
			case 'S': snprintf(tmp, sizeof tmp, "%u", f->sport); break;
			case 'D': snprintf(tmp, sizeof tmp, "%u", f->dport); break;
			case 'P': add = proto_name(f->proto, tmp, sizeof tmp); break;
			case 'k': add = kname; break;
			case 'n': snprintf(tmp, sizeof tmp, "%u", n); break;
			default: tmp[0] = '%'; tmp[1] = 0; break;
			}
		}
		size_t al = strlen(add);
		if (len + al + 1 > cap) {
			cap = (len + al + 1) * 2;
			char *g = realloc(o, cap);
			if (!g) {
				free(o);
				return NULL;
			}
			o = g;
		}
		memcpy(o + len, add, al);
		len += al;
	}
	o[len] = 0;
	return o;
}

static int child_fmt(void) { return opt_fmt ? opt_fmt : out_fmt; }

static struct child *spawn(const struct sp_flowkey *c)
{
	char eb[SP_ERRBUF];
	struct child *k = calloc(1, sizeof *k);
	if (!k)
		return NULL;
	k->seq = ++seq;
	k->key = c->key;
	key_name(&c->key, k->name, sizeof k->name);
	char **av = calloc((size_t)ntmpl + 1, sizeof *av);
	int sv[2] = { -1, -1 };
	if (!av)
		goto fail;
	for (int i = 0; i < ntmpl; i++)
		if (!(av[i] = subst(tmpl[i], c, k->name, k->seq)))
			goto fail;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		fprintf(stderr, "%s: cannot create a socket for '%s': %s\n", prog, k->name, strerror(errno));
		goto fail;
	}
	/* Room for a burst queued while the stack boots; root may pass the system's limit. */
	int sz = (int)opt_qbytes;
	if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) < 0)
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	if (setsockopt(sv[1], SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) < 0)
		setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	/*
	 * Without root the buffer stops at net.core.wmem_max: the queue limit
	 * is what the socket really holds (SIOCOUTQ counts in its units), so a
	 * child that does not read makes us drop, never block.
	 */
	int got = 0;
	socklen_t gl = sizeof got;
	k->qlimit = opt_qbytes;
	if (getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &got, &gl) == 0 && got > 0 && (size_t)got < k->qlimit)
		k->qlimit = (size_t)got;
	pid_t ppid = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: cannot start '%s' for '%s': %s\n", prog, av[0], k->name, strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		/* A stack must not outlive the launcher, even after kill -9. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != ppid)
			_exit(1);
		if (dup2(sv[1], 0) < 0 || dup2(sv[1], 1) < 0)
			_exit(126);
		sigset_t all;
		sigfillset(&all);
		signal(SIGPIPE, SIG_DFL);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		execvp(av[0], av);
		fprintf(stderr, "%s: cannot run '%s': %s\n", prog, av[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	for (int i = 0; i < ntmpl; i++)
		free(av[i]);
	free(av);
	close(sv[1]);
	k->pid = pid;
	k->fd = sv[0];
	fcntl(k->fd, F_SETFL, O_NONBLOCK);
	struct sp_writer_conf wc = { .format = child_fmt(), .flags = SP_W_BIGWRITE };
	/* A child speaks what it is given: VDE if told, else ASCII or pcap, told apart by themselves. */
	struct sp_reader_conf rc = { .format = child_fmt() == SP_FMT_VDE ? SP_FMT_VDE : SP_FMT_AUTO };
	if (!(k->w = sp_writer_new(k->fd, &wc, eb)) || !(k->r = sp_reader_new(k->fd, &rc, eb))) {
		/* The process exists now: it is ended and reaped like any other. */
		fprintf(stderr, "%s: cannot set up the streams of '%s': %s\n", prog, k->name, eb);
		kill(pid, SIGTERM);
		k->ending = 1;
	} else {
		k->keyed = 1;
	}
	k->born = k->last = sp_mono_ns();
	kids[nkids++] = k;
	st.started++;
	if (opt_verbose)
		fprintf(stderr, "%s: started %d for '%s'\n", prog, (int)pid, k->name);
	return k->keyed ? k : NULL;
fail:
	if (av) {
		for (int i = 0; i < ntmpl; i++)
			free(av[i]);
		free(av);
	}
	if (sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	free(k);
	st.failed_start++;
	return NULL;
}


/* A RST from a booting child to a held SYN: not listening yet; the SYN goes again after a backoff. */
static int swallow_rst(struct child *k, const struct sp_pkt *p)
{
	struct sp_tcpinfo r, s;
	if (k->last - k->born >= opt_boot_ns || !sp_tcpinfo(p->data, p->caplen, &r) || !(r.flags & 0x04))
		return 0;
	size_t n = r.fam == 4 ? 4 : 16;
	for (int i = 0; i < NHELD; i++) {
		struct held *h = &k->held[i];
		if (!h->frame || h->due || !sp_tcpinfo(h->frame, h->len, &s))
			continue;
		if (s.fam == r.fam && !memcmp(h->frame + s.src_off, p->data + r.dst_off, n) &&
		    !memcmp(h->frame + s.dst_off, p->data + r.src_off, n) && s.sport == r.dport && s.dport == r.sport) {
			h->due = k->last + h->delay;
			if (h->delay < 64000000)
				h->delay *= 2;
			st.syn_again++;
			return 1;
		}
	}
	return 0;
}

static void out_frame(const struct sp_pkt *p);

/* Reads what a child has written, without blocking; returns 0 at its end of stream. */
static int drain_child(struct child *k)
{
	if (k->eof)
		return 0;
	for (int i = 0; i < 4096; i++) {
		struct sp_pkt p;
		int rc = sp_read_nb(k->r, &p);
		if (rc == 1) {
			k->out++;
			k->last = sp_mono_ns();
			if (!swallow_rst(k, &p))
				out_frame(&p);
			continue;
		}
		if (rc == SP_EAGAIN)
			return 1;
		if (rc == SP_EBAD) {
			st.out_bad++;
			fprintf(stderr, "%s: skipped bad record from '%s': %s\n", prog, k->name, sp_reader_error(k->r));
			continue;
		}
		/* A child that ends with frames of ours unread resets the socket: only its end, no error. */
		if (rc < 0 && errno != ECONNRESET)
			fprintf(stderr, "%s: cannot read from '%s': %s\n", prog, k->name, sp_reader_error(k->r));
		k->eof = 1;
		return 0;
	}
	return 1;
}

static void child_status_line(const struct child *k, const char *how)
{
	fprintf(stderr, "%s: child %d '%s': in %" PRIu64 ", out %" PRIu64 ", dropped %" PRIu64 "; %s after %" PRId64
		" ms\n",
		prog, (int)k->pid, k->name, k->in, k->out, k->dropped, how, (sp_mono_ns() - k->born) / 1000000);
}

static void free_child(unsigned i)
{
	struct child *k = kids[i];
	if (k->r)
		drain_child(k);
	if (k->w)
		sp_writer_free(k->w);
	if (k->r)
		sp_reader_free(k->r);
	close(k->fd);
	for (int j = 0; j < NHELD; j++)
		free(k->held[j].frame);
	char how[64];
	if (k->idled)
		snprintf(how, sizeof how, "ended idle");
	else if (WIFEXITED(k->status))
		snprintf(how, sizeof how, "exited %d", WEXITSTATUS(k->status));
	else
		snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(k->status));
	/* Our SIGTERM shows as that signal, or as stdpkt's exit status 128+15. */
	int by_us = k->ending && (WIFSIGNALED(k->status) || (WIFEXITED(k->status) && WEXITSTATUS(k->status) >= 128));
	if (k->idled) {
		st.idle++;
	} else if (by_us) {
		st.killed++;
	} else if (WIFEXITED(k->status) && WEXITSTATUS(k->status) == 0) {
		st.exited++;
	} else {
		st.failed++;
		/* A template that cannot run would print this for every frame: say it a few times. */
		if (fail_msgs++ < 5)
			fprintf(stderr, "%s: child %d for '%s' %s\n", prog, (int)k->pid, k->name, how);
	}
	if (opt_verbose)
		child_status_line(k, how);
	free(k);
	kids[i] = kids[--nkids];
}

static void end_child(struct child *k, int idle)
{
	if (k->ending)
		return;
	k->ending = 1;
	k->idled = idle;
	k->keyed = 0;
	k->end_at = sp_mono_ns();
	kill(k->pid, SIGTERM);
}

static void reap(void)
{
	for (;;) {
		int s;
		pid_t pid = waitpid(-1, &s, WNOHANG);
		if (pid <= 0)
			return;
		for (unsigned i = 0; i < nkids; i++)
			if (kids[i]->pid == pid) {
				kids[i]->reaped = 1;
				kids[i]->status = s;
				kids[i]->keyed = 0;
				free_child(i);
				break;
			}
	}
}

/* Bytes one frame takes in the children's format, at most. */
static size_t rec_size(uint32_t caplen)
{
	switch (child_fmt()) {
	case SP_FMT_PCAP: return caplen + 16;
	case SP_FMT_VDE: return caplen + 2;
	default: return sp_ascii_maxlen(caplen);
	}
}

static void to_child(struct child *k, const struct sp_pkt *p, int hold)
{
	int q = 0;
	size_t need = rec_size(p->caplen);
	/* Unix stream sockets count what the reader has not taken yet as the sender's. */
	if (ioctl(k->fd, SIOCOUTQ, &q) < 0)
		q = 0;
	if ((size_t)q + k->unflushed + need > k->qlimit) {
		k->dropped++;
		st.queue++;
		return;
	}
	int rc = sp_write(k->w, p);
	if (rc == SP_EBAD) {
		k->dropped++;
		st.queue++;
		return;
	}
	if (rc < 0) {
		/* The child closed its input (it is ending by itself): what it no longer takes is dropped. */
		k->dropped++;
		st.queue++;
		k->keyed = 0;
		return;
	}
	k->in++;
	k->last = sp_mono_ns();
	struct sp_tcpinfo t;
	if (hold && k->last - k->born < opt_boot_ns && sp_tcpinfo(p->data, p->caplen, &t) &&
	    (t.flags & 0x16) == 0x02) {
		/* A SYN to a stack still booting: kept, in case its listener is not up yet. */
		struct held *h = NULL;
		for (int i = 0; i < NHELD && !h; i++)
			if (!k->held[i].frame)
				h = &k->held[i];
		if (h && (h->frame = malloc(p->caplen))) {
			memcpy(h->frame, p->data, p->caplen);
			h->len = p->caplen;
			h->due = 0;
			h->delay = 1000000;
		}
	}
	k->unflushed += need;
	k->dirty = 1;
	st.to_kids++;
}

static void flush_children(void)
{
	for (unsigned i = 0; i < nkids; i++) {
		struct child *k = kids[i];
		if (!k->dirty)
			continue;
		k->dirty = 0;
		k->unflushed = 0;
		if (sp_writer_flush(k->w) < 0)
			k->keyed = 0; /* it no longer reads: ending by itself, reaped on SIGCHLD */
	}
}

static void dispatch(const struct sp_pkt *p)
{
	struct sp_flowkey c;
	int kind = sp_flowkey(p->data, p->caplen, opt_mode, &c);
	if (kind < 0) {
		st.unparsable++;
		if (st.unparsable <= 5)
			fprintf(stderr, "%s: dropped frame %" PRIu64 ": %s\n", prog, st.in, c.why);
		return;
	}
	if (kind == SP_FK_FLOOD) {
		int any = 0;
		for (unsigned i = 0; i < nkids; i++)
			if (kids[i]->keyed) {
				to_child(kids[i], p, 1);
				any = 1;
			}
		st.flooded++;
		if (!any)
			st.nokey++;
		return;
	}
	struct child *k = find_key(&c.key);
	if (k) {
		to_child(k, p, 1);
		return;
	}
	if (opt_mode == SP_FK_FLOW) {
		/* ARP/ND: to every child between the two addresses. */
		if (c.key.kind == SP_FK_KPAIR) {
			int any = 0;
			for (unsigned i = 0; i < nkids; i++) {
				struct child *x = kids[i];
				if (x->keyed && x->key.fam == c.key.fam && !memcmp(x->key.a, c.key.a, 16) &&
				    !memcmp(x->key.b, c.key.b, 16)) {
					to_child(x, p, 1);
					any = 1;
				}
			}
			if (any)
				return;
		} else {
			/* A flow's first packet adopts the stack its ARP started. */
			struct sp_fkey pk = { .kind = SP_FK_KPAIR, .fam = c.key.fam };
			memcpy(pk.a, c.key.a, 16);
			memcpy(pk.b, c.key.b, 16);
			if ((k = find_key(&pk))) {
				k->key = c.key;
				key_name(&c.key, k->name, sizeof k->name);
				st.adopted++;
				to_child(k, p, 1);
				return;
			}
		}
	}
	if (!c.may_start) {
		st.nokey++;
		return;
	}
	if (nkids >= opt_max) {
		st.limit++;
		return;
	}
	if (!(k = spawn(&c))) {
		st.nokey++;
		return;
	}
	to_child(k, p, 1);
}

/* ---- output ---- */

static void out_frame(const struct sp_pkt *p)
{
	char eb[SP_ERRBUF];
	if (out_closed)
		return;
	if (!outw) {
		struct sp_writer_conf wc = { .format = opt_fmt ? opt_fmt : (out_fmt ? out_fmt : SP_FMT_ASCII) };
		if (!(outw = sp_writer_new(out_fd, &wc, eb))) {
			fprintf(stderr, "%s: cannot write to stdout: %s\n", prog, eb);
			out_closed = 1;
			return;
		}
	}
	int rc = sp_write(outw, p);
	if (rc == SP_EBAD) {
		st.out_bad++;
		return;
	}
	if (rc < 0) {
		if (errno != EPIPE)
			fprintf(stderr, "%s: cannot write to stdout: %s\n", prog, sp_writer_error(outw));
		out_closed = 1;
		return;
	}
	st.out++;
}

static void print_counts(int per_child)
{
	fprintf(stderr,
		"%s: frames in %" PRIu64 ", bad %" PRIu64 ", to children %" PRIu64 ", flooded %" PRIu64
		", out %" PRIu64 "; dropped: unparsable %" PRIu64 ", no child %" PRIu64 ", limit %" PRIu64
		", queue full %" PRIu64 "\n",
		prog, st.in, st.bad, st.to_kids, st.flooded, st.out, st.unparsable, st.nokey, st.limit, st.queue);
	fprintf(stderr,
		"%s: children started %" PRIu64 ", syn again %" PRIu64 ", adopted %" PRIu64 ", ended idle %" PRIu64 ", exited %" PRIu64
		", failed %" PRIu64 ", ended by us %" PRIu64 ", could not start %" PRIu64 ", running %u\n",
		prog, st.started, st.syn_again, st.adopted, st.idle, st.exited, st.failed, st.killed, st.failed_start, nkids);
	for (unsigned i = 0; per_child && i < nkids; i++)
		child_status_line(kids[i], kids[i]->ending ? "ending" : "running");
}

static void check_template(void)
{
	for (int i = 0; i < ntmpl; i++)
		for (const char *s = tmpl[i]; *s; s++)
			if (*s == '%') {
				if (!s[1] || !strchr("sdSDPkn%", s[1]))
					die_usage("bad template word '%s': unknown %%-sequence", tmpl[i]);
				s++;
			}
}

int main(int argc, char **argv)
{
	char eb[SP_ERRBUF];
	int o;
	uint64_t v;
	while ((o = getopt(argc, argv, "+k:i:n:q:w:F:cvh")) != -1) {
		switch (o) {
		case 'k':
			if (!strcmp(optarg, "flow"))
				opt_mode = SP_FK_FLOW;
			else if (!strcmp(optarg, "src"))
				opt_mode = SP_FK_SRC;
			else if (!strcmp(optarg, "dst"))
				opt_mode = SP_FK_DST;
			else
				die_usage("bad key '%s': flow, src or dst", optarg);
			break;
		case 'i': {
			char *end;
			errno = 0;
			double d = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(d >= 0.001 && d <= 86400))
				die_usage("bad idle time '%s': 0.001..86400 seconds", optarg);
			opt_idle_ns = (int64_t)(d * 1e9);
			break;
		}
		case 'w': {
			char *end;
			errno = 0;
			double d = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(d >= 0 && d <= 60))
				die_usage("bad boot window '%s': 0..60 seconds", optarg);
			opt_boot_ns = (int64_t)(d * 1e9);
			break;
		}
		case 'n':
			if (sp_parse_num(optarg, 1, 4096, 0, &v) < 0)
				die_usage("bad child limit '%s': 1..4096", optarg);
			opt_max = (unsigned)v;
			break;
		case 'q':
			if (sp_parse_num(optarg, 4000, 1000000000, 1, &v) < 0)
				die_usage("bad queue size '%s': 4k..1g bytes", optarg);
			opt_qbytes = (size_t)v;
			break;
		case 'F':
			opt_fmt = sp_format_parse(optarg);
			if (opt_fmt != SP_FMT_ASCII && opt_fmt != SP_FMT_PCAP && opt_fmt != SP_FMT_VDE)
				die_usage("bad format '%s': ascii, pcap or vde", optarg);
			break;
		case 'c': opt_counts = 1; break;
		case 'v': opt_verbose = 1; break;
		case 'h': usage(stdout); return 0;
		default:
			fprintf(stderr, "usage: pktinetd [OPTIONS] -- TEMPLATE [ARGS...]  (pktinetd -h for help)\n");
			return 2;
		}
	}
	if (optind >= argc)
		die_usage("no command template%s", "");
	tmpl = argv + optind;
	ntmpl = argc - optind;
	check_template();
	if (!(kids = calloc(opt_max, sizeof *kids))) {
		fprintf(stderr, "%s: cannot allocate the child table: %s\n", prog, strerror(ENOMEM));
		return 1;
	}

	sigset_t sigs;
	sigemptyset(&sigs);
	int caught[] = { SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGUSR1 };
	for (size_t i = 0; i < sizeof caught / sizeof caught[0]; i++)
		sigaddset(&sigs, caught[i]);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		fprintf(stderr, "%s: cannot create a signalfd: %s\n", prog, strerror(errno));
		return 1;
	}
	/*
	 * After `stdpkt ... |` the stage before us waits to meet us behind the pipe: the replies then go
	 * back on the link it opens (stdpkt(1), CHAIN LINKS), with no FIFO.  A direct link carries both
	 * directions; with filters between us, frames still come through them on stdin.
	 */
	struct sp_chain_link up, down;
	if (sp_chain_meet(0, -1, 0, 0, &up, &down, eb) < 0)
		fprintf(stderr, "%s: chain link: %s\n", prog, eb);
	else if (up.kind == SP_LINK_DIRECT)
		in_fd = out_fd = up.fd;
	else if (up.kind == SP_LINK_FILTERED)
		out_fd = up.fd;
	if (opt_verbose)
		fprintf(stderr, "%s: upstream link: %s%s%s\n", prog, sp_chain_kind_name(up.kind),
			up.why[0] ? ": " : "", up.why);
	/*
	 * stdin is polled with the other streams, and sp_read_nb may read
	 * again after a whole record, so it must not block; a terminal is left
	 * as it is (its reads come a line at a time anyway).
	 */
	if (!isatty(in_fd))
		fcntl(in_fd, F_SETFL, fcntl(in_fd, F_GETFL) | O_NONBLOCK);
	/* As stdpkt: ASCII and pcap(ng) are told apart by themselves, VDE must be said. */
	struct sp_reader_conf ic = { .format = opt_fmt == SP_FMT_VDE ? SP_FMT_VDE : SP_FMT_AUTO };
	struct sp_reader *in = sp_reader_new(in_fd, &ic, eb);
	if (!in) {
		fprintf(stderr, "%s: cannot read stdin: %s\n", prog, eb);
		return 1;
	}
	if (opt_fmt) {
		/* A pcap stdout gets its header now, even if no frame ever comes. */
		struct sp_writer_conf wc = { .format = opt_fmt };
		if (!(outw = sp_writer_new(out_fd, &wc, eb))) {
			fprintf(stderr, "%s: cannot write to stdout: %s\n", prog, eb);
			return 1;
		}
	}

	int in_done = 0, sig = 0, status = 0;
	struct pollfd *pfd = calloc((size_t)opt_max + 2, sizeof *pfd);
	struct child **pk = calloc((size_t)opt_max, sizeof *pk);
	if (!pfd || !pk) {
		fprintf(stderr, "%s: cannot allocate the poll table: %s\n", prog, strerror(ENOMEM));
		return 1;
	}
	while (!sig) {
		if (in_done && nkids == 0)
			break;
		int64_t now = sp_mono_ns(), next = -1;
		for (unsigned i = 0; i < nkids; i++) {
			struct child *k = kids[i];
			if (k->ending) {
				/* stdpkt ends within about a second of SIGTERM; one that does not is killed. */
				int64_t dl = k->end_at + 5000000000LL;
				if (dl <= now)
					kill(k->pid, SIGKILL);
				else if (next < 0 || dl < next)
					next = dl;
				continue;
			}
			int again = 0;
			for (int j = 0; j < NHELD; j++) {
				struct held *h = &k->held[j];
				if (!h->frame)
					continue;
				if (now - k->born >= opt_boot_ns) {
					/* Booted long ago: a RST now is the service's answer. */
					if (!h->due) {
						free(h->frame);
						h->frame = NULL;
						continue;
					}
				}
				if (h->due && h->due <= now) {
					struct sp_pkt sp = { .data = h->frame, .caplen = h->len, .wirelen = h->len,
							     .ts = SP_TS_NONE };
					h->due = 0;
					to_child(k, &sp, 0);
					again = 1;
				} else if (h->due && (next < 0 || h->due < next)) {
					next = h->due;
				}
			}
			if (again)
				flush_children();
			int64_t dl = k->last + opt_idle_ns;
			if (dl <= now)
				end_child(k, 1);
			else if (next < 0 || dl < next)
				next = dl;
		}
		int np = 0;
		pfd[np++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pfd[np++] = (struct pollfd){ .fd = in_done ? -1 : in_fd, .events = POLLIN };
		unsigned nk = nkids;
		for (unsigned i = 0; i < nk; i++) {
			pk[i] = kids[i];
			pfd[np++] = (struct pollfd){ .fd = kids[i]->eof ? -1 : kids[i]->fd, .events = POLLIN };
		}
		int tmo = next < 0 ? -1 : (int)((next - now) / 1000000 + 1);
		if (poll(pfd, (nfds_t)np, tmo) < 0 && errno != EINTR) {
			fprintf(stderr, "%s: poll failed: %s\n", prog, strerror(errno));
			status = 1;
			break;
		}
		/* Children first: their replies are older than the input that is waiting. */
		for (unsigned i = 0; i < nk; i++) {
			if (!pfd[2 + i].revents)
				continue;
			struct child *k = pk[i];
			if (!drain_child(k)) {
				/* Its stdout closed: it is ending by itself; stop feeding it, wait for SIGCHLD. */
				k->keyed = 0;
				k->eof = 1;
			}
		}
		if (pfd[1].revents) {
			for (int b = 0; b < 4096; b++) {
				struct sp_pkt p;
				int rc = sp_read_nb(in, &p);
				if (rc == 1) {
					st.in++;
					if (!out_fmt)
						out_fmt = sp_reader_format(in) == SP_FMT_PCAPNG ? SP_FMT_PCAP
												   : sp_reader_format(in);
					dispatch(&p);
					continue;
				}
				if (rc == SP_EAGAIN)
					break;
				if (rc == SP_EBAD) {
					st.bad++;
					fprintf(stderr, "%s: skipped bad record 'stdin': %s\n", prog, sp_reader_error(in));
					continue;
				}
				if (rc < 0) {
					fprintf(stderr, "%s: cannot read 'stdin': %s\n", prog, sp_reader_error(in));
					status = 1;
				}
				/* End of input: children finish what they have; ones without a command end now. */
				in_done = 1;
				flush_children();
				for (unsigned i = 0; i < nkids; i++)
					if (!kids[i]->wr_shut) {
						kids[i]->wr_shut = 1;
						shutdown(kids[i]->fd, SHUT_WR);
					}
				break;
			}
			flush_children();
		}
		if (outw && !out_closed && sp_writer_flush(outw) < 0) {
			if (errno != EPIPE)
				fprintf(stderr, "%s: cannot write to stdout: %s\n", prog, sp_writer_error(outw));
			out_closed = 1;
		}
		if (out_closed && !in_done) {
			/* Nobody reads the replies any more: the chain is over. */
			in_done = 1;
			for (unsigned i = 0; i < nkids; i++)
				end_child(kids[i], 0);
		}
		if (pfd[0].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof si) == sizeof si) {
				if (si.ssi_signo == SIGCHLD)
					continue;
				if (si.ssi_signo == SIGUSR1)
					print_counts(1);
				else
					sig = (int)si.ssi_signo;
			}
			reap();
		}
	}
	/* Ending: every child gets SIGTERM and 2 s to clean up its namespace, then SIGKILL. */
	for (unsigned i = 0; i < nkids; i++)
		end_child(kids[i], 0);
	for (int t = 0; nkids && t < 400; t++) {
		for (unsigned i = 0; i < nkids; i++)
			drain_child(kids[i]);
		reap();
		if (nkids)
			usleep(5000);
	}
	for (unsigned i = 0; i < nkids; i++)
		kill(kids[i]->pid, SIGKILL);
	while (nkids) {
		int s;
		pid_t pid = waitpid(-1, &s, 0);
		if (pid < 0)
			break;
		for (unsigned i = 0; i < nkids; i++)
			if (kids[i]->pid == pid) {
				kids[i]->status = s;
				free_child(i);
				break;
			}
	}
	if (outw && sp_writer_free(outw) < 0 && !out_closed && errno != EPIPE)
		fprintf(stderr, "%s: cannot write to stdout: %s\n", prog, strerror(errno));
	if (opt_counts)
		print_counts(0);
	sp_reader_free(in);
	free(pfd);
	free(pk);
	free(kids);
	return sig ? 128 + sig : status;
}
