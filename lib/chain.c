/* SPDX-License-Identifier: BSD-2-Clause */
/* chain.c: finds the neighbouring stages of a shell pipeline through /proc and meets them on a UNIX socket. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "chain.h"
#include "stdpkt.h"

static void fmt(char *buf, size_t len, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *buf, size_t len, const char *f, ...)
{
	if (!buf || !len)
		return;
	va_list ap;
	va_start(ap, f);
	vsnprintf(buf, len, f, ap);
	va_end(ap);
}

static int64_t mono_ms(void) { return sp_mono_ns() / 1000000; }

static void sleep_ms(int ms)
{
	struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000 };
	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

const char *sp_chain_kind_name(int kind)
{
	switch (kind) {
	case SP_LINK_DIRECT: return "direct";
	case SP_LINK_FILTERED: return "filtered";
	default: return "none";
	}
}

int sp_chain_is_stage_name(const char *comm)
{
	return strcmp(comm, "stdpkt") == 0 || strcmp(comm, "pktlink") == 0 || strcmp(comm, "pktinetd") == 0;
}

/*
 * Programs that run another one: they exec it (env, nice, setpriv, stdbuf)
 * or fork it and wait (timeout).  Until the command runs they hide what the
 * pipeline member really is, so a young one with no child is waited for.
 */
static int is_wrapper_name(const char *comm)
{
	static const char *const names[] = { "timeout", "time", "strace", "env", "nice", "ionice",
					     "setpriv", "stdbuf", "chrt", "taskset", "nohup", "setsid" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(comm, names[i]) == 0)
			return 1;
	return 0;
}

static uint64_t link_pipe_ino(const char *link)
{
	unsigned long long ino;
	char end;
	if (sscanf(link, "pipe:[%llu%c", &ino, &end) == 2 && end == ']')
		return ino;
	return 0;
}

uint64_t sp_chain_pipe_ino(int fd)
{
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode))
		return 0;
	/* A FIFO has a name; only an anonymous pipe reads back as "pipe:[INO]". */
	char path[64], link[128];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof link - 1);
	if (n <= 0)
		return 0;
	link[n] = 0;
	uint64_t ino = link_pipe_ino(link);
	return ino == (uint64_t)st.st_ino ? ino : 0;
}

/* ---- the rendezvous directory ---- */

static int check_dir(const char *dir, char *errbuf)
{
	struct stat st;
	if (lstat(dir, &st) < 0) {
		fmt(errbuf, SP_ERRBUF, "cannot use rendezvous directory '%s': %s", dir, strerror(errno));
		return SP_EIO;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077)) {
		fmt(errbuf, SP_ERRBUF,
		    "unsafe rendezvous directory '%s': must be a directory of uid %u with mode 0700", dir,
		    (unsigned)getuid());
		return SP_EIO;
	}
	return 0;
}

int sp_chain_rundir(char *dir, size_t dirlen, char *errbuf)
{
	const char *env = getenv("STDPKT_RUNDIR");
	char base[128];
	uid_t uid = getuid();
	snprintf(base, sizeof base, "/run/user/%u", (unsigned)uid);
	struct stat st;
	int n;
	if (env && *env)
		n = snprintf(dir, dirlen, "%s", env);
	else if (lstat(base, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid && !(st.st_mode & 077))
		n = snprintf(dir, dirlen, "%s/stdpkt", base);
	else
		n = snprintf(dir, dirlen, "/tmp/stdpkt-%u", (unsigned)uid);
	if (n < 0 || (size_t)n >= dirlen || (size_t)n > 80) {
		fmt(errbuf, SP_ERRBUF, "rendezvous directory name too long");
		return SP_EINVAL;
	}
	/* mkdir never follows or changes an existing entry; check_dir then refuses anything not ours. */
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		fmt(errbuf, SP_ERRBUF, "cannot make rendezvous directory '%s': %s", dir, strerror(errno));
		return SP_EIO;
	}
	return check_dir(dir, errbuf);
}

int sp_chain_sockpath(uint64_t ino, char *path, size_t pathlen, char *errbuf)
{
	char dir[128];
	int rc = sp_chain_rundir(dir, sizeof dir, errbuf);
	if (rc < 0)
		return rc;
	int n = snprintf(path, pathlen, "%s/p%llu.sock", dir, (unsigned long long)ino);
	if (n < 0 || (size_t)n >= pathlen || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		fmt(errbuf, SP_ERRBUF, "rendezvous socket path too long");
		return SP_EINVAL;
	}
	return 0;
}

/* ---- the handshake ---- */

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}
static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Layout: "SPCHAIN" version role status filters(2) pid(4) up_ino(8) down_ino(8), zeros to 64. */
void sp_chain_hello_encode(uint8_t out[SP_CHAIN_HELLO_LEN], const struct sp_chain_hello *h)
{
	memset(out, 0, SP_CHAIN_HELLO_LEN);
	memcpy(out, SP_CHAIN_MAGIC, 7);
	out[7] = SP_CHAIN_VERSION;
	out[8] = h->role;
	out[9] = h->status;
	out[10] = (uint8_t)(h->filters >> 8);
	out[11] = (uint8_t)h->filters;
	out[12] = (uint8_t)(h->pid >> 24);
	out[13] = (uint8_t)(h->pid >> 16);
	out[14] = (uint8_t)(h->pid >> 8);
	out[15] = (uint8_t)h->pid;
	put64(out + 16, h->up_ino);
	put64(out + 24, h->down_ino);
}

int sp_chain_hello_decode(const uint8_t in[SP_CHAIN_HELLO_LEN], struct sp_chain_hello *h, char *errbuf)
{
	if (memcmp(in, SP_CHAIN_MAGIC, 7) != 0) {
		fmt(errbuf, SP_ERRBUF, "bad handshake: no %s magic (first bytes %02x %02x %02x %02x)",
		    SP_CHAIN_MAGIC, in[0], in[1], in[2], in[3]);
		return SP_EFORMAT;
	}
	if (in[7] != SP_CHAIN_VERSION) {
		fmt(errbuf, SP_ERRBUF, "bad handshake: version %u, we speak %u", in[7], SP_CHAIN_VERSION);
		return SP_EFORMAT;
	}
	if (in[8] != 1 && in[8] != 2) {
		fmt(errbuf, SP_ERRBUF, "bad handshake: role %u", in[8]);
		return SP_EFORMAT;
	}
	for (int i = 32; i < SP_CHAIN_HELLO_LEN; i++)
		if (in[i]) {
			fmt(errbuf, SP_ERRBUF, "bad handshake: reserved byte %d is not zero", i);
			return SP_EFORMAT;
		}
	h->role = in[8];
	h->status = in[9];
	h->filters = (uint16_t)(in[10] << 8 | in[11]);
	h->pid = (uint32_t)in[12] << 24 | (uint32_t)in[13] << 16 | (uint32_t)in[14] << 8 | in[15];
	h->up_ino = get64(in + 16);
	h->down_ino = get64(in + 24);
	return 0;
}

/* ---- the process table ---- */

struct proc {
	pid_t pid, ppid, sid;
	uid_t uid;
	unsigned long long start; /* clock ticks since boot */
	uint64_t in_ino, out_ino; /* fd 0 and fd 1 if anonymous pipes */
	char comm[17];
};

struct table {
	struct proc *p;
	size_t n, cap;
};

static uint64_t fd_ino(pid_t pid, int fd)
{
	char path[64], link[128];
	snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, fd);
	ssize_t n = readlink(path, link, sizeof link - 1);
	if (n <= 0)
		return 0;
	link[n] = 0;
	return link_pipe_ino(link);
}

static int read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return (int)n;
}

/* Every process's parent and age (to see forks that have not exec'd), and the pipes at its fds 0 and 1. */
static uint64_t fd_ino_at(int procfd, pid_t pid, int fd)
{
	char path[64], link[128];
	snprintf(path, sizeof path, "%d/fd/%d", (int)pid, fd);
	ssize_t n = readlinkat(procfd, path, link, sizeof link - 1);
	if (n <= 0)
		return 0;
	link[n] = 0;
	return link_pipe_ino(link);
}

/* Fills p from /proc/PID/stat (relative to procfd); with_fds also reads fds 0 and 1.  0 or -1. */
static int load_proc(int procfd, pid_t pid, struct proc *p, int with_fds)
{
	char path[64], buf[1024];
	fmt(path, sizeof path, "%d/stat", (int)pid);
	int fd = openat(procfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* The file's owner is the process's euid: no second path walk for it. */
	struct stat st;
	ssize_t len = fstat(fd, &st) == 0 ? read(fd, buf, sizeof buf - 1) : -1;
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = 0;
	char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');
	if (!lp || !rp || rp < lp)
		return -1;
	memset(p, 0, sizeof *p);
	p->pid = pid;
	p->uid = st.st_uid;
	size_t cl = (size_t)(rp - lp - 1);
	if (cl > 16)
		cl = 16;
	memcpy(p->comm, lp + 1, cl);
	p->comm[cl] = 0;
	/* After "comm) ": state ppid pgrp session ... field 22 is starttime. */
	char state;
	int ppid, pgrp, sid;
	if (sscanf(rp + 2, "%c %d %d %d", &state, &ppid, &pgrp, &sid) != 4 || state == 'Z')
		return -1;
	p->ppid = ppid;
	p->sid = sid;
	char *s = rp + 2;
	for (int f = 3; f < 22 && s; f++) {
		s = strchr(s, ' ');
		if (s)
			s++;
	}
	if (!s)
		return -1;
	p->start = strtoull(s, NULL, 10);
	if (with_fds) {
		p->in_ino = fd_ino_at(procfd, pid, 0);
		p->out_ino = fd_ino_at(procfd, pid, 1);
	}
	return 0;
}

static int table_add(struct table *t, const struct proc *p)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct proc *np = realloc(t->p, cap * sizeof *np);
		if (!np)
			return SP_ENOMEM;
		t->p = np;
		t->cap = cap;
	}
	t->p[t->n++] = *p;
	return 0;
}

/* Fills t with the processes of /proc that pick() loads into p and accepts. */
static int scan(struct table *t, int (*pick)(int procfd, pid_t pid, pid_t self, struct proc *p, const void *arg),
		const void *arg)
{
	t->n = 0;
	DIR *d = opendir("/proc");
	if (!d)
		return SP_EIO;
	int procfd = dirfd(d);
	pid_t self = getpid();
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		struct proc p;
		if (!pick(procfd, atoi(e->d_name), self, &p, arg))
			continue;
		if (table_add(t, &p) < 0) {
			closedir(d);
			return SP_ENOMEM;
		}
	}
	closedir(d);
	return 0;
}

struct holding {
	uint64_t ino;
	int fdno;
};

static int pick_holder(int procfd, pid_t pid, pid_t self, struct proc *p, const void *arg)
{
	const struct holding *h = arg;
	return pid != self && fd_ino_at(procfd, pid, h->fdno) == h->ino && load_proc(procfd, pid, p, 1) == 0;
}

/*
 * The cheap pass, one readlink per process: the processes (not us) whose fd
 * fdno is pipe ino, fully loaded.  Reading every /proc/PID/stat costs ten
 * times more, and is left to the rare cases that need it (recent()).
 */
static int holders(uint64_t ino, int fdno, struct table *t)
{
	struct holding h = { ino, fdno };
	return scan(t, pick_holder, &h);
}

/*
 * Recent processes, those with a pid not far below ours (pids are handed out
 * in increasing order, and a pipeline's members and their children are made
 * around the time we were): for telling a fork on its way to exec from a
 * subshell (children) and for seeing forks that hold a pipe at another fd.
 * After pids wrap this misses some, which can only make a neighbour wait.
 */
#define SP_CHAIN_PID_WINDOW 1024
static int pick_recent(int procfd, pid_t pid, pid_t self, struct proc *p, const void *arg)
{
	(void)arg;
	return pid + SP_CHAIN_PID_WINDOW >= self && load_proc(procfd, pid, p, 0) == 0;
}

static int recent(struct table *t) { return scan(t, pick_recent, NULL); }

static int64_t age_ms(const struct proc *p)
{
	struct timespec now;
	clock_gettime(CLOCK_BOOTTIME, &now);
	long hz = sysconf(_SC_CLK_TCK);
	if (hz <= 0)
		hz = 100;
	int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	return now_ms - (int64_t)(p->start * 1000 / (unsigned long long)hz);
}

static int same_exe(pid_t a, pid_t b)
{
	char pa[64], pb[64], la[4096], lb[4096];
	snprintf(pa, sizeof pa, "/proc/%d/exe", (int)a);
	snprintf(pb, sizeof pb, "/proc/%d/exe", (int)b);
	ssize_t na = readlink(pa, la, sizeof la - 1), nb = readlink(pb, lb, sizeof lb - 1);
	if (na <= 0 || nb <= 0)
		return -1;
	return na == nb && memcmp(la, lb, (size_t)na) == 0;
}

static const struct proc *find(const struct table *t, pid_t pid)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->p[i].pid == pid)
			return &t->p[i];
	return NULL;
}

/*
 * Whether holder p may still become something else, so that we must look
 * again: a fork of the shell that has not exec'd yet, or a wrapper (env,
 * timeout ...) whose command has not started.  A wrapper whose child is
 * already a stage gives that child in *stage_child.  rec is the recent
 * processes, loaded on first need (*have); p changing between the two
 * passes also means looking again.
 */
static int pending(struct table *rec, int *have, const struct proc *p, pid_t *stage_child)
{
	if (age_ms(p) >= SP_CHAIN_EXEC_GRACE_MS)
		return 0;
	int wrapper = is_wrapper_name(p->comm);
	if (!wrapper) {
		int s = same_exe(p->pid, p->ppid);
		if (s < 0) {
			char path[64], comm[32];
			snprintf(path, sizeof path, "/proc/%d/comm", (int)p->ppid);
			if (read_small(path, comm, sizeof comm) <= 0)
				return 0;
			comm[strcspn(comm, "\n")] = 0;
			s = strcmp(p->comm, comm) == 0;
		}
		if (!s) {
			/* Exec'd since the first pass (its exe is new): look again, as what it is now. */
			char path[64], comm[32];
			snprintf(path, sizeof path, "/proc/%d/comm", (int)p->pid);
			if (read_small(path, comm, sizeof comm) <= 0)
				return 0;
			comm[strcspn(comm, "\n")] = 0;
			return strcmp(comm, p->comm) != 0;
		}
	}
	if (!*have) {
		if (recent(rec) < 0)
			return 0;
		*have = 1;
	}
	const struct proc *q = find(rec, p->pid);
	if (!q || strcmp(q->comm, p->comm) != 0)
		return 1; /* it exec'd between the passes */
	int children = 0;
	for (size_t i = 0; i < rec->n; i++) {
		const struct proc *c = &rec->p[i];
		if (c->ppid != p->pid)
			continue;
		children++;
		if (wrapper && sp_chain_is_stage_name(c->comm)) {
			*stage_child = c->pid;
			return 0;
		}
		/* The wrapper's command, forked but not exec'd yet. */
		if (wrapper && strcmp(c->comm, p->comm) == 0)
			return 1;
	}
	/* A wrapper yet to start its command; a fork yet to exec (a subshell runs children). */
	return children == 0;
}

/* Whether fd of pid is open for writing (else reading), from its fdinfo flags. */
static int fd_writes(pid_t pid, int fd)
{
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", (int)pid, fd);
	if (read_small(path, buf, sizeof buf) <= 0)
		return -1;
	char *f = strstr(buf, "flags:");
	if (!f)
		return -1;
	return (strtoul(f + 6, NULL, 8) & O_ACCMODE) != O_RDONLY;
}

/* Whether pid holds the given end of pipe ino at any fd (a fork that has not yet moved it to 0 or 1). */
static int holds_anywhere(pid_t pid, uint64_t ino, int write_end)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	struct dirent *e;
	int found = 0;
	while (!found && (e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		int fd = atoi(e->d_name);
		found = fd_ino(pid, fd) == ino && fd_writes(pid, fd) == write_end;
	}
	closedir(d);
	return found;
}

/* ---- the walk ---- */

enum { UP, DOWN };

struct walk {
	int found;        /* 1: a stage holds the far end */
	pid_t pid;        /* that stage (one of the holders) */
	char comm[17];
	int filters;
	uint64_t far_ino; /* the pipe the stage holds */
};

/*
 * Follows pipes away from us: upstream through writers' stdin, downstream
 * through readers' stdout, across filters, until a stage or the chain's end.
 */
static int walk(int dir, uint64_t ino, int64_t deadline, struct walk *w, char *why, size_t whylen)
{
	uid_t uid = getuid();
	const char *end = dir == UP ? "writer" : "reader";
	uint64_t cur = ino;
	int confirmed = 0, rc = 0;
	struct table t = { 0 }, rec = { 0 };
	memset(w, 0, sizeof *w);
	for (;;) {
		int have_rec = 0;
		rc = holders(cur, dir == UP ? 1 : 0, &t);
		if (rc < 0) {
			fmt(why, whylen, "cannot read /proc: %s", strerror(errno));
			break;
		}
		const struct proc *holder = NULL, *stage = NULL, *other = NULL;
		int waiting = 0;
		uint64_t next = 0;
		for (size_t i = 0; i < t.n; i++) {
			const struct proc *p = &t.p[i];
			if (p->uid != uid) {
				other = p;
				continue;
			}
			holder = p;
			if (sp_chain_is_stage_name(p->comm)) {
				stage = p;
				break;
			}
			pid_t child = 0;
			if (pending(&rec, &have_rec, p, &child))
				waiting = 1;
			if (child) {
				/* The wrapper's command is the stage (it may not have shown in the first pass). */
				stage = find(&rec, child);
				break;
			}
			uint64_t n = dir == UP ? p->in_ino : p->out_ino;
			if (n && !next)
				next = n;
		}
		if (stage) {
			w->found = 1;
			w->pid = stage->pid;
			snprintf(w->comm, sizeof w->comm, "%s", stage->comm);
			w->far_ino = cur;
			fmt(why, whylen, "stage %d (%s) holds pipe:[%llu]", (int)stage->pid, stage->comm,
			    (unsigned long long)cur);
			break;
		}
		/*
		 * The shell makes the pipe, forks a member, which moves the pipe to
		 * its fd 0 or 1 and execs; until then the pipe is only at another fd
		 * of the shell or of the fork.  A young process that holds it so is
		 * on its way: wait (at most the exec grace) rather than call the
		 * chain ended.  An old one is a reader such as the shell of $(...),
		 * which holds the pipe at another fd for good: not waited for.  (An
		 * interactive shell is old too, but forks a pipeline's members one
		 * right after another, well before a stage has exec'd and looked.)
		 */
		if (!holder && !other) {
			if (!have_rec && recent(&rec) == 0)
				have_rec = 1;
			for (size_t i = 0; have_rec && i < rec.n && !waiting; i++) {
				const struct proc *p = &rec.p[i];
				if (p->uid == uid && p->pid != getpid() && age_ms(p) < SP_CHAIN_EXEC_GRACE_MS &&
				    holds_anywhere(p->pid, cur, dir == UP))
					waiting = 1;
			}
		}
		if (waiting && mono_ms() < deadline) {
			sleep_ms(1);
			continue;
		}
		if (other && !holder) {
			fmt(why, whylen, "chain ends: the %s of pipe:[%llu] is process %d of uid %u, not ours",
			    end, (unsigned long long)cur, (int)other->pid, (unsigned)other->uid);
			break;
		}
		if (!holder && !confirmed) {
			/*
			 * The shell may have forked the member and closed its own copy
			 * between our passes: the member, new since, shows in the next.
			 */
			confirmed = 1;
			continue;
		}
		if (!holder) {
			fmt(why, whylen, "chain ends: no %s of ours holds pipe:[%llu]", end,
			    (unsigned long long)cur);
			break;
		}
		if (!next) {
			fmt(why, whylen, "chain ends at process %d (%s): its %s is not a pipe", (int)holder->pid,
			    holder->comm, dir == UP ? "stdin" : "stdout");
			break;
		}
		if (++w->filters > SP_CHAIN_MAXHOPS) {
			fmt(why, whylen, "chain ends: more than %d filters", SP_CHAIN_MAXHOPS);
			break;
		}
		cur = next;
		confirmed = 0;
	}
	free(t.p);
	free(rec.p);
	return rc;
}

/* ---- the meeting ---- */

struct side {
	int dir;
	int state; /* S_* */
	int lfd;   /* listening socket (UP) */
	int fd;    /* connection */
	int64_t retry_at;
	uint8_t buf[SP_CHAIN_HELLO_LEN];
	size_t have;
	int refused; /* connections from processes that do not hold the pipe */
	char path[108];
	struct walk w;
	struct sp_chain_link *l;
};

enum { S_DONE, S_ACCEPT, S_CONNECT, S_READ };

static void side_fail(struct side *s, int err, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void side_fail(struct side *s, int err, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	vsnprintf(s->l->why, sizeof s->l->why, f, ap);
	va_end(ap);
	s->l->err = err;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->state = S_DONE;
}

/* The peer must be of our uid and hold, at fd, the pipe it is supposed to hold. */
static int check_peer(int fd, int peer_fd, uint64_t ino, pid_t *pid, char *why, size_t whylen)
{
	struct ucred cr;
	socklen_t len = sizeof cr;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
		fmt(why, whylen, "cannot get peer credentials: %s", strerror(errno));
		return -1;
	}
	*pid = cr.pid;
	if (cr.uid != getuid()) {
		fmt(why, whylen, "refused pid %d: uid %u is not ours", (int)cr.pid, (unsigned)cr.uid);
		return -1;
	}
	if (fd_ino(cr.pid, peer_fd) != ino) {
		fmt(why, whylen, "refused pid %d: it does not hold pipe:[%llu] at fd %d", (int)cr.pid,
		    (unsigned long long)ino, peer_fd);
		return -1;
	}
	return 0;
}

static void side_succeed(struct side *s, pid_t pid)
{
	struct sp_chain_link *l = s->l;
	/* The caller gets an ordinary blocking socket, as it would get a pipe. */
	int fl = fcntl(s->fd, F_GETFL);
	if (fl >= 0)
		fcntl(s->fd, F_SETFL, fl & ~O_NONBLOCK);
	l->fd = s->fd;
	s->fd = -1;
	l->peer_pid = pid;
	l->filters = s->w.filters;
	l->far_ino = s->w.far_ino;
	l->kind = s->w.filters ? SP_LINK_FILTERED : SP_LINK_DIRECT;
	l->err = 0;
	if (s->w.filters)
		snprintf(l->why, sizeof l->why, "met %s %d through %d filter%s", s->w.comm, (int)pid,
			 s->w.filters, s->w.filters == 1 ? "" : "s");
	else
		snprintf(l->why, sizeof l->why, "met %s %d directly", s->w.comm, (int)pid);
	s->state = S_DONE;
}

/* Reads what is there of the 64-byte message; 1 when whole, 0 not yet, -1 closed or failed. */
static int read_msg(struct side *s)
{
	while (s->have < sizeof s->buf) {
		ssize_t n = recv(s->fd, s->buf + s->have, sizeof s->buf - s->have, MSG_DONTWAIT);
		if (n > 0) {
			s->have += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		return -1;
	}
	return 1;
}

static int send_msg(int fd, const struct sp_chain_hello *h)
{
	uint8_t b[SP_CHAIN_HELLO_LEN];
	sp_chain_hello_encode(b, h);
	/* 64 bytes into a fresh socket's empty buffer always go in one piece. */
	return send(fd, b, sizeof b, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)sizeof b ? 0 : -1;
}

static void step_up(struct side *s)
{
	char why[200];
	if (s->state == S_ACCEPT) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		pid_t pid;
		if (check_peer(fd, 1, s->w.far_ino, &pid, why, sizeof why) < 0) {
			/* Not our neighbour: refuse it and keep waiting for the real one. */
			close(fd);
			s->refused++;
			fmt(s->l->why, sizeof s->l->why, "%s", why);
			return;
		}
		s->fd = fd;
		s->have = 0;
		s->state = S_READ;
	}
	if (s->state == S_READ) {
		int r = read_msg(s);
		if (r == 0)
			return;
		struct ucred cr;
		socklen_t len = sizeof cr;
		getsockopt(s->fd, SOL_SOCKET, SO_PEERCRED, &cr, &len);
		if (r < 0) {
			side_fail(s, SP_ETRUNC, "stage %d closed the link during the handshake", (int)cr.pid);
			return;
		}
		struct sp_chain_hello h, rep = { .role = 2, .pid = (uint32_t)getpid(),
						 .up_ino = s->w.far_ino, .down_ino = s->l->near_ino,
						 .filters = (uint16_t)s->w.filters };
		if (sp_chain_hello_decode(s->buf, &h, why) < 0) {
			side_fail(s, SP_EFORMAT, "stage %d: %s", (int)cr.pid, why);
			return;
		}
		if (h.role != 1 || h.up_ino != s->w.far_ino || h.down_ino != s->l->near_ino ||
		    h.filters != s->w.filters) {
			rep.status = 1;
			send_msg(s->fd, &rep);
			side_fail(s, SP_EFORMAT,
				  "stage %d: handshake disagrees (pipes %llu..%llu through %u filters, we see %llu..%llu through %d)",
				  (int)cr.pid, (unsigned long long)h.up_ino, (unsigned long long)h.down_ino,
				  h.filters, (unsigned long long)s->w.far_ino, (unsigned long long)s->l->near_ino,
				  s->w.filters);
			return;
		}
		if (send_msg(s->fd, &rep) < 0) {
			side_fail(s, SP_EIO, "stage %d: cannot answer: %s", (int)cr.pid, strerror(errno));
			return;
		}
		side_succeed(s, cr.pid);
	}
}

static void step_down(struct side *s, int64_t now)
{
	char why[200];
	if (s->state == S_CONNECT) {
		if (now < s->retry_at)
			return;
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			side_fail(s, SP_EIO, "cannot make a socket: %s", strerror(errno));
			return;
		}
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		fmt(a.sun_path, sizeof a.sun_path, "%s", s->path);
		if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
			int e = errno;
			close(fd);
			/* Not listening yet (or its backlog is full): the stage is starting; try again soon. */
			if (e == ENOENT || e == ECONNREFUSED || e == EAGAIN || e == EINTR) {
				s->retry_at = now + 2;
				return;
			}
			side_fail(s, SP_EIO, "cannot connect to '%s': %s", s->path, strerror(e));
			return;
		}
		pid_t pid;
		if (check_peer(fd, 0, s->w.far_ino, &pid, why, sizeof why) < 0) {
			close(fd);
			side_fail(s, SP_EIO, "%s", why);
			return;
		}
		struct sp_chain_hello h = { .role = 1, .pid = (uint32_t)getpid(), .up_ino = s->l->near_ino,
					    .down_ino = s->w.far_ino, .filters = (uint16_t)s->w.filters };
		s->fd = fd;
		if (send_msg(fd, &h) < 0) {
			side_fail(s, SP_EIO, "stage %d: cannot send the handshake: %s", (int)pid, strerror(errno));
			return;
		}
		s->have = 0;
		s->state = S_READ;
		s->l->peer_pid = pid;
	}
	if (s->state == S_READ) {
		int r = read_msg(s);
		if (r == 0)
			return;
		pid_t pid = s->l->peer_pid;
		if (r < 0) {
			side_fail(s, SP_ETRUNC, "stage %d closed the link during the handshake", (int)pid);
			return;
		}
		struct sp_chain_hello h;
		if (sp_chain_hello_decode(s->buf, &h, why) < 0) {
			side_fail(s, SP_EFORMAT, "stage %d: %s", (int)pid, why);
			return;
		}
		if (h.role != 2 || h.status != 0 || h.up_ino != s->l->near_ino || h.down_ino != s->w.far_ino ||
		    h.filters != s->w.filters) {
			side_fail(s, SP_EFORMAT, "stage %d refused the link or disagrees about it (status %u)",
				  (int)pid, h.status);
			return;
		}
		side_succeed(s, pid);
	}
}

static void link_init(struct sp_chain_link *l)
{
	memset(l, 0, sizeof *l);
	l->fd = -1;
	l->kind = SP_LINK_NONE;
}

static int listen_on(struct side *s, char *why, size_t whylen)
{
	char eb[SP_ERRBUF];
	int rc = sp_chain_sockpath(s->l->near_ino, s->path, sizeof s->path, eb);
	if (rc < 0) {
		fmt(why, whylen, "%s", eb);
		return rc;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fmt(why, whylen, "cannot make a socket: %s", strerror(errno));
		return SP_EIO;
	}
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	fmt(a.sun_path, sizeof a.sun_path, "%s", s->path);
	/*
	 * Pipe inodes are not reused while the pipe lives, so a socket already
	 * there is a leftover of a stage that died with this inode number in
	 * another boot or long ago: replace it.
	 */
	unlink(s->path);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 8) < 0) {
		fmt(why, whylen, "cannot listen on '%s': %s", s->path, strerror(errno));
		close(fd);
		return SP_EIO;
	}
	s->lfd = fd;
	return 0;
}

int sp_chain_meet(int in_fd, int out_fd, unsigned flags, int timeout_ms, struct sp_chain_link *up,
		  struct sp_chain_link *down, char *errbuf)
{
	if (!up || !down)
		return SP_EINVAL;
	link_init(up);
	link_init(down);
	if (errbuf)
		errbuf[0] = 0;
	if (timeout_ms <= 0)
		timeout_ms = SP_CHAIN_TIMEOUT_DEFAULT;
	int64_t t0 = mono_ms(), deadline = t0 + timeout_ms;
	int64_t grace = t0 + (timeout_ms < SP_CHAIN_EXEC_GRACE_MS ? timeout_ms : SP_CHAIN_EXEC_GRACE_MS);
	struct side sides[2];
	memset(sides, 0, sizeof sides);
	sides[UP] = (struct side){ .dir = UP, .lfd = -1, .fd = -1, .l = up, .state = S_DONE };
	sides[DOWN] = (struct side){ .dir = DOWN, .lfd = -1, .fd = -1, .l = down, .state = S_DONE };
	up->near_ino = (flags & SP_CHAIN_NO_UP) ? 0 : sp_chain_pipe_ino(in_fd);
	down->near_ino = (flags & SP_CHAIN_NO_DOWN) ? 0 : sp_chain_pipe_ino(out_fd);
	if (flags & SP_CHAIN_NO_UP)
		snprintf(up->why, sizeof up->why, "not looked for");
	else if (!up->near_ino)
		snprintf(up->why, sizeof up->why, "chain start: stdin is not an anonymous pipe");
	if (flags & SP_CHAIN_NO_DOWN)
		snprintf(down->why, sizeof down->why, "not looked for");
	else if (!down->near_ino)
		snprintf(down->why, sizeof down->why, "chain end: stdout is not an anonymous pipe");

	for (int d = UP; d <= DOWN; d++) {
		struct side *s = &sides[d];
		if (!s->l->near_ino)
			continue;
		int rc = walk(d, s->l->near_ino, grace, &s->w, s->l->why, sizeof s->l->why);
		if (rc < 0) {
			s->l->err = rc;
			continue;
		}
		if (!s->w.found)
			continue;
		if (d == UP) {
			/*
			 * Only now, with a stage upstream: a chain without one costs no
			 * socket.  An upstream stage quicker than us retries its connect.
			 */
			rc = listen_on(s, s->l->why, sizeof s->l->why);
			if (rc < 0) {
				s->l->err = rc;
				continue;
			}
			s->state = S_ACCEPT;
		} else {
			char eb[SP_ERRBUF];
			rc = sp_chain_sockpath(s->w.far_ino, s->path, sizeof s->path, eb);
			if (rc < 0) {
				s->l->err = rc;
				fmt(s->l->why, sizeof s->l->why, "%s", eb);
				continue;
			}
			s->state = S_CONNECT;
		}
	}
	for (;;) {
		int64_t now = mono_ms();
		if (sides[UP].state != S_DONE)
			step_up(&sides[UP]);
		if (sides[DOWN].state != S_DONE)
			step_down(&sides[DOWN], now);
		if (sides[UP].state == S_DONE && sides[DOWN].state == S_DONE)
			break;
		now = mono_ms();
		if (now >= deadline) {
			for (int d = UP; d <= DOWN; d++) {
				struct side *s = &sides[d];
				if (s->state != S_DONE)
					side_fail(s, SP_EIO,
						  "stage %d (%s) did not meet us within %d ms (%d impostor%s refused)",
						  (int)s->w.pid, s->w.comm, timeout_ms, s->refused,
						  s->refused == 1 ? "" : "s");
			}
			break;
		}
		struct pollfd pf[2];
		int n = 0, wait = (int)(deadline - now);
		if (sides[UP].state == S_ACCEPT)
			pf[n++] = (struct pollfd){ .fd = sides[UP].lfd, .events = POLLIN };
		else if (sides[UP].state == S_READ)
			pf[n++] = (struct pollfd){ .fd = sides[UP].fd, .events = POLLIN };
		if (sides[DOWN].state == S_READ)
			pf[n++] = (struct pollfd){ .fd = sides[DOWN].fd, .events = POLLIN };
		else if (sides[DOWN].state == S_CONNECT && sides[DOWN].retry_at - now < wait)
			wait = (int)(sides[DOWN].retry_at - now);
		if (wait < 0)
			wait = 0;
		poll(pf, (nfds_t)n, wait);
	}
	if (sides[UP].lfd >= 0) {
		/* Past this point no one can join: the name is gone, late connections are refused. */
		close(sides[UP].lfd);
		unlink(sides[UP].path);
	}
	int ret = 0;
	for (int d = UP; d <= DOWN; d++) {
		struct sp_chain_link *l = sides[d].l;
		if (l->err && !ret) {
			ret = l->err;
			fmt(errbuf, SP_ERRBUF, "%s link: %s", d == UP ? "upstream" : "downstream", l->why);
		}
	}
	return ret;
}
