/* SPDX-License-Identifier: BSD-2-Clause */
/* pktlink: a chain stage without a network stack that meets its neighbours and relays frames both ways. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "chain.h"
#include "stdpkt.h"

static const char *prog = "pktlink";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pktlink [-1eGhnv] [-B bytes] [-F format] [-o file] [-P bytes] [-t ms]\n"
		"  Meets the stdpkt/pktlink stages next to it in a shell pipeline, then relays\n"
		"  frames downstream (stdin or the upstream link -> stdout or the downstream link)\n"
		"  and return frames upstream (downstream link -> upstream link).\n"
		"  -1        one-way: do not look for neighbours\n"
		"  -B bytes  socket buffer size of the links (SO_SNDBUF/SO_RCVBUF; default the kernel's)\n"
		"  -e        echo: with no downstream peer, send every frame back upstream too\n"
		"  -F fmt    stream format on pipes and links: ascii (default), pcap or vde\n"
		"  -n        meet, report, exit (no relaying)\n"
		"  -o file   write the return frames that reach this stage to file\n"
		"  -P bytes  pipe buffer size of stdin and stdout when they are pipes (F_SETPIPE_SZ)\n"
		"  -t ms     wait at most ms for a neighbouring stage (default 2000)\n"
		"  -v        print what the meeting found and the frame counts to stderr\n"
		"  -G        testing: speak garbage to the downstream stage instead of meeting it\n"
		"  -h        this help\n");
}

struct flow {
	const char *name; /* for messages */
	int in_fd, out_fd, echo_fd;
	int out_sock, echo_sock; /* shutdown(SHUT_WR) rather than close at the end */
	int format;
	uint64_t pkts, echoed;
	int failed;
	char err[SP_ERRBUF + 64];
};

static int open_writer(struct sp_writer **w, int fd, int format, char *err, size_t errlen)
{
	struct sp_writer_conf wc = { .format = format, .flags = SP_W_BIGWRITE };
	char eb[SP_ERRBUF];
	*w = sp_writer_new(fd, &wc, eb);
	if (!*w) {
		snprintf(err, errlen, "cannot write stream: %s", eb);
		return -1;
	}
	return 0;
}

static void end_output(int fd, int sock)
{
	/* A socket carries the other direction too: end only ours. */
	if (sock)
		shutdown(fd, SHUT_WR);
	else
		close(fd);
}

static void *relay(void *arg)
{
	struct flow *f = arg;
	struct sp_reader_conf rc = { .format = f->format == SP_FMT_ASCII ? SP_FMT_AUTO : f->format };
	char eb[SP_ERRBUF];
	struct sp_reader *r = sp_reader_new(f->in_fd, &rc, eb);
	struct sp_writer *w = NULL, *e = NULL;
	if (!r) {
		snprintf(f->err, sizeof f->err, "cannot read %s stream: %s", f->name, eb);
		f->failed = 1;
		return NULL;
	}
	if ((f->out_fd >= 0 && open_writer(&w, f->out_fd, f->format, f->err, sizeof f->err) < 0) ||
	    (f->echo_fd >= 0 && open_writer(&e, f->echo_fd, f->format, f->err, sizeof f->err) < 0)) {
		f->failed = 1;
		goto out;
	}
	for (;;) {
		/* Flush before a read that may block, so frames never wait in our buffer. */
		if (!sp_reader_buffered(r)) {
			if (w && sp_writer_flush(w) < 0) {
				snprintf(f->err, sizeof f->err, "relay failed '%s': %s", f->name,
					 sp_writer_error(w));
				f->failed = 1;
				break;
			}
			if (e && sp_writer_flush(e) < 0) {
				sp_writer_free(e);
				e = NULL;
				end_output(f->echo_fd, f->echo_sock);
				f->echo_fd = -1;
			}
		}
		struct sp_pkt p;
		int rc2 = sp_read(r, &p);
		if (rc2 == SP_EBAD)
			continue;
		if (rc2 == 0)
			break;
		if (rc2 < 0) {
			snprintf(f->err, sizeof f->err, "relay failed '%s': %s", f->name, sp_reader_error(r));
			f->failed = 1;
			break;
		}
		f->pkts++;
		int wr = w ? sp_write(w, &p) : 0;
		if (wr < 0 && wr != SP_EBAD) {
			snprintf(f->err, sizeof f->err, "relay failed '%s': %s", f->name, sp_writer_error(w));
			f->failed = 1;
			break;
		}
		if (e) {
			/* The echo's receiver may be gone while our own output still flows: stop echoing only. */
			if (sp_write(e, &p) < 0 && sp_writer_flush(e) < 0) {
				sp_writer_free(e);
				e = NULL;
				end_output(f->echo_fd, f->echo_sock);
				f->echo_fd = -1;
				continue;
			}
			f->echoed++;
		}
	}
out:
	if (w) {
		int fr = sp_writer_free(w);
		if (fr < 0 && !f->failed) {
			snprintf(f->err, sizeof f->err, "relay failed '%s': cannot flush: %s", f->name,
				 strerror(errno));
			f->failed = 1;
		}
	}
	if (e)
		sp_writer_free(e);
	sp_reader_free(r);
	if (f->out_fd >= 0)
		end_output(f->out_fd, f->out_sock);
	if (f->echo_fd >= 0)
		end_output(f->echo_fd, f->echo_sock);
	return NULL;
}

/* -G: connect to whatever listens for our stdout pipe and send it garbage, as a broken peer would. */
static void speak_garbage(int timeout_ms)
{
	char path[108], eb[SP_ERRBUF];
	uint64_t ino = sp_chain_pipe_ino(1);
	if (!ino || sp_chain_sockpath(ino, path, sizeof path, eb) < 0)
		return;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	for (int waited = 0; waited < timeout_ms; waited += 5) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return;
		if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
			static const char junk[SP_CHAIN_HELLO_LEN] = "GET / HTTP/1.0\r\n\r\nthis is not a stdpkt stage";
			if (write(fd, junk, sizeof junk) < 0)
				perror("pktlink: garbage");
			char b[64];
			(void)!read(fd, b, sizeof b); /* until the stage hangs up on us */
			close(fd);
			return;
		}
		close(fd);
		struct timespec t = { 0, 5000000 };
		nanosleep(&t, NULL);
	}
}

int main(int argc, char **argv)
{
	int oneway = 0, echo = 0, meet_only = 0, verbose = 0, garbage = 0, format = SP_FMT_ASCII;
	uint64_t timeout = SP_CHAIN_TIMEOUT_DEFAULT, sockbuf = 0, pipesz = 0;
	const char *retfile = NULL;
	int c;
	while ((c = getopt(argc, argv, "1B:eF:Ghno:P:t:v")) != -1) {
		switch (c) {
		case '1': oneway = 1; break;
		case 'B':
			if (sp_parse_num(optarg, 4096, 1 << 30, 1, &sockbuf) < 0) {
				fprintf(stderr, "%s: bad socket buffer size '%s': 4096..1g\n", prog, optarg);
				return 2;
			}
			break;
		case 'P':
			if (sp_parse_num(optarg, 4096, 1 << 30, 1, &pipesz) < 0) {
				fprintf(stderr, "%s: bad pipe size '%s': 4096..1g\n", prog, optarg);
				return 2;
			}
			break;
		case 'e': echo = 1; break;
		case 'F':
			format = sp_format_parse(optarg);
			if (format != SP_FMT_ASCII && format != SP_FMT_PCAP && format != SP_FMT_VDE) {
				fprintf(stderr, "%s: bad format '%s': ascii, pcap or vde\n", prog, optarg);
				return 2;
			}
			break;
		case 'G': garbage = 1; break;
		case 'h': usage(stdout); return 0;
		case 'n': meet_only = 1; break;
		case 'o': retfile = optarg; break;
		case 't':
			if (sp_parse_num(optarg, 1, 600000, 0, &timeout) < 0) {
				fprintf(stderr, "%s: bad timeout '%s': 1..600000 ms\n", prog, optarg);
				return 2;
			}
			break;
		case 'v': verbose = 1; break;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);

	struct sp_chain_link up, down;
	char eb[SP_ERRBUF];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (garbage) {
		speak_garbage((int)timeout);
		oneway = 1;
	}
	unsigned flags = oneway ? SP_CHAIN_NO_UP | SP_CHAIN_NO_DOWN : 0;
	int rc = sp_chain_meet(0, 1, flags, (int)timeout, &up, &down, eb);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc < 0)
		fprintf(stderr, "%s: meeting failed: %s\n", prog, eb);
	if (verbose) {
		long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		fprintf(stderr, "%s: up %s: %s\n", prog, sp_chain_kind_name(up.kind), up.why);
		fprintf(stderr, "%s: down %s: %s\n", prog, sp_chain_kind_name(down.kind), down.why);
		fprintf(stderr, "%s: met in %ld ms\n", prog, ms);
	}
	if (meet_only)
		return rc < 0;

	if (pipesz) {
		/* Not a pipe, or over /proc/sys/fs/pipe-max-size: keep the size it has. */
		for (int fd = 0; fd <= 1; fd++)
			if (sp_chain_pipe_ino(fd))
				fcntl(fd, F_SETPIPE_SZ, (int)pipesz);
	}
	if (sockbuf) {
		int v = (int)sockbuf;
		for (int i = 0; i < 2; i++) {
			int fd = i ? down.fd : up.fd;
			if (fd >= 0) {
				setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
				setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
			}
		}
	}
	int retfd = -1;
	if (up.kind != SP_LINK_NONE)
		retfd = up.fd;
	else if (retfile) {
		retfd = open(retfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
		if (retfd < 0) {
			fprintf(stderr, "%s: cannot open '%s': %s\n", prog, retfile, strerror(errno));
			return 1;
		}
	}
	/* DIRECT: the pipe served only to meet; frames go on the socket. */
	struct flow fwd = { .name = "forward", .format = format, .echo_fd = -1 };
	fwd.in_fd = up.kind == SP_LINK_DIRECT ? up.fd : 0;
	fwd.out_fd = down.kind == SP_LINK_DIRECT ? down.fd : 1;
	fwd.out_sock = down.kind == SP_LINK_DIRECT;
	if (echo && down.kind == SP_LINK_NONE && retfd >= 0) {
		fwd.echo_fd = retfd;
		fwd.echo_sock = up.kind != SP_LINK_NONE;
	}
	struct flow ret = { .name = "return", .format = format, .echo_fd = -1 };
	pthread_t th;
	int have_ret = down.kind != SP_LINK_NONE;
	if (have_ret) {
		ret.in_fd = down.fd;
		ret.out_fd = retfd;
		ret.out_sock = up.kind != SP_LINK_NONE;
		if (pthread_create(&th, NULL, relay, &ret) != 0) {
			fprintf(stderr, "%s: cannot start thread: %s\n", prog, strerror(errno));
			return 1;
		}
	}
	relay(&fwd);
	if (have_ret)
		pthread_join(th, NULL);
	if (fwd.failed)
		fprintf(stderr, "%s: %s\n", prog, fwd.err);
	if (ret.failed)
		fprintf(stderr, "%s: %s\n", prog, ret.err);
	if (verbose)
		fprintf(stderr, "%s: forward %llu frames, return %llu frames, echoed %llu\n", prog,
			(unsigned long long)fwd.pkts, (unsigned long long)ret.pkts,
			(unsigned long long)fwd.echoed);
	return fwd.failed || ret.failed;
}
