/* SPDX-License-Identifier: BSD-2-Clause */
/* test_chain.c: TAP unit tests of the chain rendezvous: handshake codec, rundir checks, meetings between forked stages. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chain.h"
#include "stdpkt.h"

static int n, failed;
static char tmp[128];

static void ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ok(int cond, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%s %d - ", cond ? "ok" : "not ok", ++n);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	if (!cond)
		failed++;
	fflush(stdout);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void test_hello(void)
{
	struct sp_chain_hello h = { .role = 1, .status = 0, .filters = 3, .pid = 123456,
				    .up_ino = 0x0102030405060708ull, .down_ino = 42 },
			      g;
	uint8_t b[SP_CHAIN_HELLO_LEN];
	char eb[SP_ERRBUF];
	sp_chain_hello_encode(b, &h);
	ok(sp_chain_hello_decode(b, &g, eb) == 0 && g.role == 1 && g.filters == 3 && g.pid == 123456 &&
		   g.up_ino == h.up_ino && g.down_ino == 42,
	   "hello survives encode and decode");
	uint8_t c[SP_CHAIN_HELLO_LEN];
	memcpy(c, b, sizeof c);
	c[0] = 'X';
	ok(sp_chain_hello_decode(c, &g, eb) == SP_EFORMAT && strstr(eb, "magic"), "bad magic refused: %s", eb);
	memcpy(c, b, sizeof c);
	c[7] = 99;
	ok(sp_chain_hello_decode(c, &g, eb) == SP_EFORMAT && strstr(eb, "version"), "other version refused: %s",
	   eb);
	memcpy(c, b, sizeof c);
	c[8] = 7;
	ok(sp_chain_hello_decode(c, &g, eb) == SP_EFORMAT && strstr(eb, "role"), "bad role refused: %s", eb);
	memcpy(c, b, sizeof c);
	c[63] = 1;
	ok(sp_chain_hello_decode(c, &g, eb) == SP_EFORMAT && strstr(eb, "reserved"),
	   "non-zero reserved byte refused: %s", eb);
}

static void test_pipe_ino(void)
{
	int p[2];
	struct stat st;
	if (pipe(p) < 0)
		abort();
	fstat(p[0], &st);
	ok(sp_chain_pipe_ino(p[0]) == (uint64_t)st.st_ino && sp_chain_pipe_ino(p[1]) == (uint64_t)st.st_ino,
	   "both ends of a pipe give its inode");
	close(p[0]);
	close(p[1]);
	char fifo[192];
	snprintf(fifo, sizeof fifo, "%s/fifo", tmp);
	mkfifo(fifo, 0600);
	int f = open(fifo, O_RDWR);
	ok(f >= 0 && sp_chain_pipe_ino(f) == 0, "a named FIFO is not followed");
	close(f);
	int s[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	ok(sp_chain_pipe_ino(s[0]) == 0 && sp_chain_pipe_ino(-1) == 0, "a socket and a bad fd give 0");
	close(s[0]);
	close(s[1]);
}

static void test_rundir(void)
{
	char dir[192], got[128], eb[SP_ERRBUF];
	snprintf(dir, sizeof dir, "%s/run", tmp);
	setenv("STDPKT_RUNDIR", dir, 1);
	struct stat st;
	ok(sp_chain_rundir(got, sizeof got, eb) == 0 && strcmp(got, dir) == 0 && stat(dir, &st) == 0 &&
		   (st.st_mode & 0777) == 0700,
	   "rundir is made with mode 0700");
	chmod(dir, 0755);
	ok(sp_chain_rundir(got, sizeof got, eb) == SP_EIO && strstr(eb, "unsafe"), "a 0755 rundir is refused: %s",
	   eb);
	chmod(dir, 0700);
	char link[192];
	snprintf(link, sizeof link, "%s/link", tmp);
	symlink(dir, link);
	setenv("STDPKT_RUNDIR", link, 1);
	ok(sp_chain_rundir(got, sizeof got, eb) == SP_EIO && strstr(eb, "unsafe"), "a symlinked rundir is refused");
	setenv("STDPKT_RUNDIR", dir, 1);
	char path[128];
	ok(sp_chain_sockpath(77, path, sizeof path, eb) == 0 && strstr(path, "/p77.sock"), "socket path %s", path);
}

static void test_no_pipes(void)
{
	struct sp_chain_link up, down;
	char eb[SP_ERRBUF];
	int dn = open("/dev/null", O_RDWR);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = sp_chain_meet(dn, dn, 0, 5000, &up, &down, eb);
	long ms = ms_since(&t0);
	ok(rc == 0 && up.kind == SP_LINK_NONE && down.kind == SP_LINK_NONE && up.fd == -1 && down.fd == -1,
	   "no pipes: both links none (%s / %s)", up.why, down.why);
	ok(ms < 2500, "no pipes: no waiting for the timeout (%ld ms)", ms);
	close(dn);
}

/* Runs fn in a child whose stdout is out (and stdin in, or /dev/null); returns its pid. */
static pid_t child(int in, int out, int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		int dn = open("/dev/null", O_RDWR);
		dup2(in >= 0 ? in : dn, 0);
		dup2(out >= 0 ? out : dn, 1);
		for (int fd = 3; fd < 64; fd++)
			close(fd);
		_exit(fn(arg));
	}
	return pid;
}

static int wait_rc(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Upstream stage: meets, sends "ping" forward on the link if direct, expects "pong" back. */
static int upstream_stage(void *arg)
{
	int expect = *(int *)arg;
	struct sp_chain_link up, down;
	char eb[SP_ERRBUF];
	sp_chain_meet(0, 1, 0, 3000, &up, &down, eb);
	if (down.kind != expect || up.kind != SP_LINK_NONE)
		return 10;
	if (expect == SP_LINK_DIRECT && write(down.fd, "ping", 4) != 4)
		return 11;
	char b[8] = { 0 };
	ssize_t k = read(down.fd, b, 4);
	if (k != 4 || memcmp(b, "pong", 4) != 0)
		return 12;
	return 0;
}

static int cat_filter(void *arg)
{
	(void)arg;
	execlp("cat", "cat", (char *)NULL);
	return 127;
}

/* Makes fd 0 the read end of a new pipe; returns the write end. */
static int stdin_pipe(void)
{
	int p[2];
	if (pipe(p) < 0)
		abort();
	if (p[0] != 0) {
		dup2(p[0], 0);
		close(p[0]);
	}
	return p[1];
}

static void test_direct(void)
{
	int w = stdin_pipe();
	int expect = SP_LINK_DIRECT;
	pid_t pid = child(-1, w, upstream_stage, &expect);
	close(w);
	struct sp_chain_link up, down;
	char eb[SP_ERRBUF];
	int rc = sp_chain_meet(0, -1, 0, 3000, &up, &down, eb);
	ok(rc == 0 && up.kind == SP_LINK_DIRECT && up.peer_pid == pid && up.filters == 0 && up.fd >= 0,
	   "direct: met the upstream stage (%s)", up.why);
	ok(down.kind == SP_LINK_NONE && strstr(down.why, "not an anonymous pipe"), "direct: nothing downstream (%s)",
	   down.why);
	char b[8] = { 0 };
	ok(up.fd >= 0 && read(up.fd, b, 4) == 4 && memcmp(b, "ping", 4) == 0, "direct: forward bytes on the socket");
	ok(up.fd >= 0 && write(up.fd, "pong", 4) == 4, "direct: return bytes on the socket");
	ok(wait_rc(pid) == 0, "direct: the upstream stage saw a direct link and got the reply");
	/* The peer is gone: the link reports it at once rather than hanging. */
	ok(up.fd >= 0 && read(up.fd, b, 4) == 0, "direct: a dead peer reads as end of stream");
	errno = 0;
	ssize_t k = 0;
	for (int i = 0; i < 4 && k >= 0; i++)
		k = send(up.fd, "x", 1, MSG_NOSIGNAL);
	ok(k < 0 && errno == EPIPE, "direct: writing to a dead peer fails with EPIPE");
	if (up.fd >= 0)
		close(up.fd);
	close(0);
}

static void test_filtered(void)
{
	int w = stdin_pipe(); /* filter -> us */
	int p[2];
	if (pipe(p) < 0)
		abort();
	/*
	 * Our forks inherit our stage name until they exec; a shell's fork is named after the
	 * shell, so the filter's fork must never pass for a stage while cat starts.
	 */
	prctl(PR_SET_NAME, "sh");
	pid_t cat = child(p[0], w, cat_filter, NULL);
	prctl(PR_SET_NAME, "pktlink");
	int expect = SP_LINK_FILTERED;
	pid_t pid = child(-1, p[1], upstream_stage, &expect);
	close(w);
	close(p[0]);
	close(p[1]);
	struct sp_chain_link up, down;
	char eb[SP_ERRBUF];
	int rc = sp_chain_meet(0, -1, 0, 3000, &up, &down, eb);
	ok(rc == 0 && up.kind == SP_LINK_FILTERED && up.peer_pid == pid && up.filters == 1 &&
		   up.far_ino != up.near_ino,
	   "filtered: met the upstream stage around cat (%s)", up.why);
	ok(up.fd >= 0 && write(up.fd, "pong", 4) == 4, "filtered: return bytes on the socket");
	ok(wait_rc(pid) == 0, "filtered: the upstream stage saw a filtered link and got the reply");
	if (up.fd >= 0)
		close(up.fd);
	close(0);
	wait_rc(cat);
}

/* A process named like a stage that holds the pipe but never meets. */
static int silent_stage(void *arg)
{
	(void)arg;
	sleep(5);
	return 0;
}

struct impostor {
	uint64_t ino;
	int garbage; /* 1: send garbage; 0: a well-formed hello */
};

/* Connects to the listener for ino and speaks; returns 0 if the stage hung up on it without a reply. */
static int impostor(void *arg)
{
	struct impostor *im = arg;
	char eb[SP_ERRBUF];
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (sp_chain_sockpath(im->ino, a.sun_path, sizeof a.sun_path, eb) < 0)
		return 20;
	for (int i = 0; i < 400; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
			uint8_t b[SP_CHAIN_HELLO_LEN];
			struct sp_chain_hello h = { .role = 1, .pid = (uint32_t)getpid(), .down_ino = im->ino };
			sp_chain_hello_encode(b, &h);
			if (im->garbage)
				memset(b, 'G', sizeof b);
			if (send(fd, b, sizeof b, MSG_NOSIGNAL) != (ssize_t)sizeof b)
				return 21;
			ssize_t k = read(fd, b, sizeof b);
			close(fd);
			return k == 0 || (k < 0 && errno == ECONNRESET) ? 0 : 22;
		}
		close(fd);
		usleep(5000);
	}
	return 23;
}

static void test_impostor(void)
{
	int w = stdin_pipe();
	pid_t silent = child(-1, w, silent_stage, NULL);
	close(w);
	struct impostor im = { .ino = sp_chain_pipe_ino(0), .garbage = 0 };
	/* Not in the pipeline: it holds neither end. */
	pid_t imp = child(-1, -1, impostor, &im);
	struct sp_chain_link up, down;
	char eb[SP_ERRBUF];
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = sp_chain_meet(0, -1, 0, 800, &up, &down, eb);
	long ms = ms_since(&t0);
	ok(rc == SP_EIO && up.kind == SP_LINK_NONE && up.fd == -1 && strstr(up.why, "1 impostor refused"),
	   "impostor: a process not holding the pipe cannot join (%s)", up.why);
	ok(ms >= 700 && ms < 3000, "impostor: a silent stage is waited for, up to the timeout (%ld ms)", ms);
	ok(wait_rc(imp) == 0, "impostor: it was hung up on without a reply");
	kill(silent, SIGKILL);
	wait_rc(silent);
	close(0);
}

/* A stage holding the pipe that speaks garbage on the link. */
static int garbage_stage(void *arg)
{
	struct impostor im = { .ino = *(uint64_t *)arg, .garbage = 1 };
	return impostor(&im);
}

static void test_garbage(void)
{
	int w = stdin_pipe();
	uint64_t ino = sp_chain_pipe_ino(0);
	pid_t g = child(-1, w, garbage_stage, &ino);
	close(w);
	struct sp_chain_link up, down;
	char eb[SP_ERRBUF];
	int rc = sp_chain_meet(0, -1, 0, 3000, &up, &down, eb);
	ok(rc == SP_EFORMAT && up.kind == SP_LINK_NONE && up.fd == -1 && strstr(eb, "bad handshake"),
	   "garbage: refused with a reason (%s)", eb);
	ok(wait_rc(g) == 0, "garbage: the garbage stage was hung up on");
	close(0);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	snprintf(tmp, sizeof tmp, "/tmp/test_chain.XXXXXX");
	if (!mkdtemp(tmp))
		return 1;
	/* Forked stages are recognised by name, as stdpkt and pktlink are. */
	prctl(PR_SET_NAME, "pktlink");
	test_hello();
	test_pipe_ino();
	test_rundir();
	test_no_pipes();
	test_direct();
	test_filtered();
	test_impostor();
	test_garbage();
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		failed++;
	printf("1..%d\n", n);
	return failed != 0;
}
