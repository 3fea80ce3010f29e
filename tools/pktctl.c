/* SPDX-License-Identifier: BSD-2-Clause */
/* pktctl: lists the running stdpkt stages and their chains, and inserts, removes or replaces a stage of a running chain. */
/*
 * Every stdpkt stage listens on RUNDIR/ctl-PID.sock (RUNDIR as for the
 * chain rendezvous, see chain.h: private to the user).  A request is one
 * line, the reply text ending in "ok" or "error: REASON":
 *   status                 pid, name, command, interfaces, counts, links
 *   swap up|down PEERPID   (with a socket attached by SCM_RIGHTS) the link
 *                          of that side continues on the new socket
 *   quit                   the stage ends as if its input had ended
 * Changing a chain is only swaps: pktctl makes socket pairs, starts a new
 * stage on them (stdpkt --up-fd/--down-fd) and tells the neighbours to
 * continue on the new sockets; the other stages never restart.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chain.h"
#include "stdpkt.h"

static const char *prog = "pktctl";
static char rundir[128];

static void usage(FILE *f)
{
	fprintf(f, "usage: pktctl ls\n"
		   "       pktctl stat STAGE\n"
		   "       pktctl insert UP DOWN -- STDPKT-OPTIONS...\n"
		   "       pktctl remove STAGE\n"
		   "       pktctl replace STAGE -- STDPKT-OPTIONS...\n"
		   "Inspect and change running stdpkt chains.  STAGE, UP and DOWN are a stage's pid or\n"
		   "its -n name; UP and DOWN must be neighbours joined by a direct link.\n"
		   "  ls       every running stage of ours, grouped into chains, with counts\n"
		   "  stat     one stage's status: interfaces, addresses, per-link counts, peers\n"
		   "  insert   start `stdpkt STDPKT-OPTIONS` between UP and DOWN; prints its pid\n"
		   "  remove   join STAGE's two neighbours directly, then end STAGE\n"
		   "  replace  start `stdpkt STDPKT-OPTIONS` in STAGE's place, then end STAGE\n"
		   "  -h       this help\n");
}

static void die_usage(const char *msg)
{
	fprintf(stderr, "%s: %s\n", prog, msg);
	fprintf(stderr, "usage: pktctl ls|stat|insert|remove|replace ...  (pktctl -h for help)\n");
	exit(2);
}

/* Sends one request (and fd, if >= 0) to stage pid; fills out (NUL-terminated).  0 ok, -1 error (out says). */
static int request(int pid, const char *req, int fd, char *out, size_t outlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof sa.sun_path, "%.80s/ctl-%d.sock", rundir, pid);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
		snprintf(out, outlen, "error: no stage %d answers: %s\n", pid, strerror(errno));
		if (s >= 0)
			close(s);
		return -1;
	}
	struct timeval tv = { 5, 0 };
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { (void *)req, strlen(req) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		memset(&cm, 0, sizeof cm);
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof cm.buf;
		struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(h), &fd, sizeof fd);
	}
	if (sendmsg(s, &mh, MSG_NOSIGNAL) < 0) {
		snprintf(out, outlen, "error: cannot send to stage %d: %s\n", pid, strerror(errno));
		close(s);
		return -1;
	}
	size_t n = 0;
	for (;;) {
		ssize_t k = read(s, out + n, outlen - 1 - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
		if (n == outlen - 1)
			break;
	}
	out[n] = 0;
	close(s);
	/* The reply's last line says how it went. */
	if (n >= 3 && strcmp(out + n - 3, "ok\n") == 0 && (n == 3 || out[n - 4] == '\n'))
		return 0;
	if (!n)
		snprintf(out, outlen, "error: stage %d said nothing\n", pid);
	return -1;
}

/* What a status reply says that pktctl needs. */
struct stage {
	int pid;
	char name[64];
	char kind[2][16]; /* up, down: none, direct, filtered */
	int peer[2];
	char text[8192];
};

static int get_status(int pid, struct stage *st)
{
	memset(st, 0, sizeof *st);
	st->pid = pid;
	if (request(pid, "status", -1, st->text, sizeof st->text) < 0)
		return -1;
	for (char *l = st->text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		char side[8], kind[16];
		int peer = 0;
		if (sscanf(l, "name %63s", st->name) == 1)
			continue;
		int k = sscanf(l, "link %7s %15s peer %d", side, kind, &peer);
		if (k >= 2) {
			int i = strcmp(side, "down") == 0;
			snprintf(st->kind[i], sizeof st->kind[i], "%s", kind);
			st->peer[i] = k == 3 ? peer : 0;
		}
	}
	return 0;
}

/* Every pid with a control socket in RUNDIR; sockets of stages that are gone are removed. */
static int list_pids(int *pids, int max)
{
	DIR *d = opendir(rundir);
	if (!d)
		return 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < max) {
		int pid, used = 0;
		if (sscanf(e->d_name, "ctl-%d.sock%n", &pid, &used) != 1 || e->d_name[used])
			continue;
		if (kill(pid, 0) < 0 && errno == ESRCH) {
			/* A stage killed with -9 leaves its socket: ours to tidy, RUNDIR is ours. */
			char p[256];
			snprintf(p, sizeof p, "%.80s/%.100s", rundir, e->d_name);
			unlink(p);
			continue;
		}
		pids[n++] = pid;
	}
	closedir(d);
	return n;
}

static int resolve(const char *what)
{
	char *end;
	long v = strtol(what, &end, 10);
	if (*what && !*end && v > 0 && v < INT_MAX)
		return (int)v;
	int pids[512], n = list_pids(pids, 512), found = 0;
	struct stage st;
	for (int i = 0; i < n; i++)
		if (get_status(pids[i], &st) == 0 && strcmp(st.name, what) == 0) {
			if (found) {
				fprintf(stderr, "%s: more than one stage named '%s'\n", prog, what);
				exit(1);
			}
			found = pids[i];
		}
	if (!found) {
		fprintf(stderr, "%s: no stage '%s'\n", prog, what);
		exit(1);
	}
	return found;
}

static void need_status(int pid, struct stage *st)
{
	if (get_status(pid, st) < 0) {
		fprintf(stderr, "%s: cannot get the status of '%d': %s", prog, pid, st->text + 7);
		exit(1);
	}
}

/* One line per stage: pid, name, addresses, counts of its interfaces, its links. */
static void print_stage(const struct stage *st)
{
	printf("  %d %s", st->pid, st->name);
	for (const char *l = st->text; *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		char ifn[16];
		unsigned long long rx, tx, bad, dr, b1, b2;
		if (strncmp(l, "iface ", 6) == 0) {
			/* "iface eth0 mac M addr A addr B": name and addresses */
			const char *p = l + 6, *e = l + len;
			printf(" %.*s", (int)strcspn(p, " \n"), p);
			for (const char *q = p; q < e && (q = strstr(q, " addr ")) && q < e; q += 6)
				printf("%s%.*s", q == strstr(p, " addr ") ? "=" : ",", (int)strcspn(q + 6, " \n"), q + 6);
		} else if (sscanf(l, "count %15s rx %llu %llu bad %llu tx %llu %llu dropped %llu", ifn, &rx, &b1, &bad,
				  &tx, &b2, &dr) == 7) {
			printf(" [rx %llu tx %llu dropped %llu]", rx, tx, dr);
		}
		l += len + (nl != NULL);
	}
	for (int i = 0; i < 2; i++)
		if (strcmp(st->kind[i], "none") != 0)
			printf(" %s:%s:%d", i ? "down" : "up", st->kind[i], st->peer[i]);
	putchar('\n');
}

static int cmd_ls(void)
{
	static int pids[512];
	static struct stage st[512];
	int n = list_pids(pids, 512), m = 0;
	for (int i = 0; i < n; i++)
		if (get_status(pids[i], &st[m]) == 0)
			m++;
	/* Chains: start at a stage no listed stage links down to, follow the links down. */
	int done[512] = { 0 }, chain = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < m; i++) {
			if (done[i])
				continue;
			int head = 1;
			for (int j = 0; pass == 0 && j < m; j++)
				if (j != i && st[i].peer[0] == st[j].pid && st[j].peer[1] == st[i].pid)
					head = 0;
			if (!head)
				continue;
			printf("chain %d:", ++chain);
			int order[512], len = 0;
			for (int k = i; k >= 0 && !done[k] && len < 512;) {
				done[k] = 1;
				order[len++] = k;
				printf(" %s%d(%s)", len > 1 ? "| " : "", st[k].pid, st[k].name);
				int next = -1;
				for (int j = 0; j < m; j++)
					if (st[k].peer[1] && st[j].pid == st[k].peer[1])
						next = j;
				k = next;
			}
			putchar('\n');
			for (int k = 0; k < len; k++)
				print_stage(&st[order[k]]);
		}
	}
	return 0;
}

static void swap(int pid, const char *side, int fd, int peer)
{
	char req[64], out[512];
	snprintf(req, sizeof req, "swap %s %d\n", side, peer);
	if (request(pid, req, fd, out, sizeof out) < 0) {
		fprintf(stderr, "%s: cannot swap the %s link of '%d': %s", prog, side, pid,
			strncmp(out, "error: ", 7) ? out : out + 7);
		exit(1);
	}
}

/* Starts `stdpkt --up-fd 3:UP --down-fd 4:DOWN ARGS` on the given sockets; returns its pid once it answers. */
static int start_stage(int upfd, int up, int downfd, int down, char **args)
{
	char exe[PATH_MAX], path[PATH_MAX + 16];
	ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
	const char *bin = "stdpkt";
	if (k > 0) {
		exe[k] = 0;
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			snprintf(path, sizeof path, "%s/stdpkt", exe);
			if (access(path, X_OK) == 0)
				bin = path;
		}
	}
	int nargs = 0;
	while (args[nargs])
		nargs++;
	char **av = calloc((size_t)nargs + 6, sizeof *av);
	char a1[32], a2[32];
	if (!av)
		exit(1);
	snprintf(a1, sizeof a1, "3:%d", up);
	snprintf(a2, sizeof a2, "4:%d", down);
	int n = 0;
	av[n++] = "stdpkt";
	av[n++] = "--up-fd";
	av[n++] = a1;
	av[n++] = "--down-fd";
	av[n++] = a2;
	for (int i = 0; i < nargs; i++)
		av[n++] = args[i];
	av[n] = NULL;
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: cannot start a stage: %s\n", prog, strerror(errno));
		exit(1);
	}
	if (pid == 0) {
		/* Out of our session: the new stage lives for its links, not for this command. */
		setsid();
		int nul = open("/dev/null", O_RDWR);
		int u = fcntl(upfd, F_DUPFD, 10), d = fcntl(downfd, F_DUPFD, 10);
		if (nul < 0 || u < 0 || d < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || dup2(u, 3) < 0 ||
		    dup2(d, 4) < 0)
			_exit(126);
		execvp(bin, av);
		fprintf(stderr, "%s: cannot run '%s': %s\n", prog, bin, strerror(errno));
		_exit(127);
	}
	free(av);
	/* It answers once its control socket listens; its interfaces and threads come up within ms. */
	struct stage st;
	for (int i = 0; i < 1000; i++) {
		int wst;
		if (waitpid(pid, &wst, WNOHANG) == pid) {
			fprintf(stderr, "%s: the new stage failed (exit %d)\n", prog,
				WIFEXITED(wst) ? WEXITSTATUS(wst) : 128 + WTERMSIG(wst));
			exit(1);
		}
		if (get_status(pid, &st) == 0)
			return pid;
		struct timespec t = { 0, 5000000 };
		nanosleep(&t, NULL);
	}
	kill(pid, SIGTERM);
	fprintf(stderr, "%s: the new stage %d never answered\n", prog, (int)pid);
	exit(1);
}

static int direct(const struct stage *st, int side)
{
	return strcmp(st->kind[side], "direct") == 0;
}

static int cmd_insert(int up, int down, char **args)
{
	struct stage a, b;
	need_status(up, &a);
	need_status(down, &b);
	if (!direct(&a, 1) || a.peer[1] != down || !direct(&b, 0) || b.peer[0] != up) {
		fprintf(stderr, "%s: cannot insert between '%d' and '%d': they are not neighbours on a direct link\n",
			prog, up, down);
		return 1;
	}
	int p[2], q[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, q) < 0) {
		fprintf(stderr, "%s: cannot make a socket pair: %s\n", prog, strerror(errno));
		return 1;
	}
	int n = start_stage(p[1], up, q[0], down, args);
	swap(up, "down", p[0], n);
	swap(down, "up", q[1], n);
	printf("%d\n", n);
	return 0;
}

static int cmd_remove(int pid, char **args)
{
	struct stage s;
	need_status(pid, &s);
	if (!direct(&s, 0) || !direct(&s, 1)) {
		fprintf(stderr, "%s: cannot take '%d' out: it needs direct links to stages on both sides\n", prog, pid);
		return 1;
	}
	int up = s.peer[0], down = s.peer[1];
	int p[2], q[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0) {
		fprintf(stderr, "%s: cannot make a socket pair: %s\n", prog, strerror(errno));
		return 1;
	}
	int n = 0;
	if (args) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, q) < 0) {
			fprintf(stderr, "%s: cannot make a socket pair: %s\n", prog, strerror(errno));
			return 1;
		}
		n = start_stage(p[1], up, q[0], down, args);
		swap(up, "down", p[0], n);
		swap(down, "up", q[1], n);
	} else {
		swap(up, "down", p[0], down);
		swap(down, "up", p[1], up);
	}
	char out[256];
	if (request(pid, "quit\n", -1, out, sizeof out) < 0)
		fprintf(stderr, "%s: stage '%d' did not take quit: %s", prog, pid, out);
	if (n)
		printf("%d\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	int c;
	while ((c = getopt(argc, argv, "+h")) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		die_usage("unknown option");
	}
	if (optind >= argc)
		die_usage("missing command");
	signal(SIGPIPE, SIG_IGN);
	char eb[SP_ERRBUF];
	if (sp_chain_rundir(rundir, sizeof rundir, eb) < 0) {
		fprintf(stderr, "%s: %s\n", prog, eb);
		return 1;
	}
	const char *cmd = argv[optind];
	char **rest = argv + optind + 1;
	int nrest = argc - optind - 1;
	/* STDPKT-OPTIONS follow a `--`; everything before it are the stages. */
	char **opts = NULL;
	for (int i = 0; i < nrest; i++)
		if (strcmp(rest[i], "--") == 0) {
			opts = rest + i + 1;
			nrest = i;
			break;
		}
	if (strcmp(cmd, "ls") == 0) {
		if (nrest || opts)
			die_usage("ls takes no argument");
		return cmd_ls();
	}
	if (strcmp(cmd, "stat") == 0) {
		if (nrest != 1 || opts)
			die_usage("stat takes one STAGE");
		struct stage st;
		need_status(resolve(rest[0]), &st);
		char *ok = strstr(st.text, "\nok\n");
		if (ok)
			ok[1] = 0;
		fputs(st.text, stdout);
		return 0;
	}
	if (strcmp(cmd, "insert") == 0) {
		if (nrest != 2 || !opts)
			die_usage("insert takes UP DOWN -- STDPKT-OPTIONS");
		return cmd_insert(resolve(rest[0]), resolve(rest[1]), opts);
	}
	if (strcmp(cmd, "remove") == 0) {
		if (nrest != 1 || opts)
			die_usage("remove takes one STAGE");
		return cmd_remove(resolve(rest[0]), NULL);
	}
	if (strcmp(cmd, "replace") == 0) {
		if (nrest != 1 || !opts)
			die_usage("replace takes STAGE -- STDPKT-OPTIONS");
		return cmd_remove(resolve(rest[0]), opts);
	}
	die_usage("unknown command");
	return 2;
}
