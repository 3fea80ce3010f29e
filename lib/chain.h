/* SPDX-License-Identifier: BSD-2-Clause */
/* chain.h: neighbouring stages of one shell pipeline find each other and open the return direction. */
#ifndef STDPKT_CHAIN_H
#define STDPKT_CHAIN_H

#include <stdint.h>
#include <sys/types.h>

/*
 * The problem.  In `stdpkt A | stdpkt B` the shell gives A a pipe to B and
 * nothing back.  sp_chain_meet() lets the two stages find each other behind
 * the same `|` and hands each a connected AF_UNIX stream socket, so that the
 * user types no FIFO.  Filters typed between them (`A | awk ... | B`, sed,
 * grep, `tee FILE`) keep the forward direction; the return direction goes
 * around them on the socket.
 *
 * Design.
 *  - Topology comes from /proc, matched by pipe inode, never by process
 *    group alone: the writer of a pipe has readlink(/proc/P/fd/1) ==
 *    "pipe:[INO]" and its reader has the same link at fd 0.  Non-interactive
 *    bash puts every pipeline of a script in one process group, so only the
 *    inode match pairs stages correctly when several pipelines run at once.
 *    Each step costs one readlink per process in /proc (any session: a
 *    member may run setsid); only the holders found are read further.  Only
 *    fd 0 and fd 1 of a process count: that is how a filter is wired into
 *    a pipeline.  Processes of other uids are never walked through; root,
 *    who can see them, reports them as the chain's end.
 *  - Walking upstream from our stdin pipe: its writer is a stage (comm
 *    "stdpkt", "pktlink" or "pktinetd", see sp_chain_is_stage_name) -> the peer; an
 *    ordinary program -> a filter, continue from its own stdin pipe; a
 *    process of another uid, no writer, a stdin that is no anonymous pipe
 *    (a file, a FIFO, a tty) -> the chain starts there: no peer, decided at
 *    once, without waiting.  Walking downstream is the mirror image (stdout,
 *    readers, fd 1).  FIFOs are not followed: wiring made by hand is taken as
 *    the user's topology, one-way.
 *  - Races.  The shell forks the members in any order, and a member between
 *    fork and exec still looks like the shell.  A process that looks
 *    un-exec'd (its exe is its parent's exe, it has no child, it is younger
 *    than SP_CHAIN_EXEC_GRACE_MS), a young wrapper (env, nice, stdbuf,
 *    setpriv, timeout ...) whose command has not started, a young fork
 *    holding the pipe at another fd (not yet moved to 0 or 1), or a holder
 *    that changed between two looks, is waited for (polling /proc every ms)
 *    until it settles or grows too old (then a subshell: a filter).  A chain
 *    end with no holder at all is confirmed by a second look.  Only when the
 *    neighbour is known to be a stage does a side wait for the meeting
 *    itself, at most timeout_ms.  A chain with no stage next to us costs a
 *    few /proc passes (1-3 ms on a 2-cpu VM with ~100 processes), no wait.
 *  - Rendezvous.  The downstream stage, once its walk found a stage, listens
 *    on a UNIX socket named after its stdin pipe inode, RUNDIR/p<INO>.sock;
 *    the upstream stage, whose walk ended at that pipe, connects (retrying
 *    every 2 ms until the name exists).  RUNDIR is $STDPKT_RUNDIR if set (all
 *    stages must then see the same value), else /run/user/UID/stdpkt when
 *    /run/user/UID exists, else /tmp/stdpkt-UID; it is made 0700 and used
 *    only if it is a real directory (not a symlink) owned by us with no group
 *    or other permission bits.  A filesystem path, unlike an abstract name,
 *    is independent of network namespaces and protected by the directory's
 *    mode.  The listening socket is removed when the call returns.
 *  - Proof.  Each side checks SO_PEERCRED on the connection: the same uid as
 *    ours, and the pid really holds the far end of the chain it walked
 *    (/proc/PID/fd/1 is the first pipe for the upstream peer, /proc/PID/fd/0
 *    the last pipe for the downstream one).  Then a 64-byte hello and reply
 *    carrying a magic, a version, both pipe inodes and the number of filters
 *    must agree; anything else closes the link with a reason, and that side
 *    stays one-way.
 *  - Threat model.  Processes of other uids cannot reach RUNDIR (0700) and,
 *    if they could, would fail the uid check; they are never walked through
 *    either.  Processes of our own uid are trusted as the user is (they could
 *    ptrace us anyway); the pid check only keeps an unrelated stage of ours
 *    from joining a link by mistake.  root is trusted as always.
 *
 * Use.  in_fd and out_fd should be 0 and 1: the neighbours look at those
 * fds of ours.  Call once, at start, before reading or writing any frame and before
 * unshare(CLONE_NEWUSER) (the uid check) -- a network namespace does not
 * matter for filesystem sockets, but calling it first is simplest.  Ignore
 * SIGPIPE (or use MSG_NOSIGNAL): a peer that dies makes writes fail with
 * EPIPE and reads return 0, never a hang.
 *
 *  kind SP_LINK_NONE      one-way: in_fd/out_fd as they are.
 *  kind SP_LINK_DIRECT    no filter between: fd carries frames in BOTH
 *                         directions (the faster IPC behind the same `|`);
 *                         leave the pipe alone (never read or write it).
 *  kind SP_LINK_FILTERED  filters between: forward frames keep using the
 *                         pipe (through the filters, as typed); fd carries
 *                         only the return direction, around the filters.
 * Directions on the socket: for `up`, we read forward frames from up.fd
 * (DIRECT only) and write return frames to it; for `down`, we write forward
 * frames to down.fd (DIRECT only) and read return frames from it.  The
 * socket is a byte stream: carry the same stream formats as on pipes
 * (sp_reader/sp_writer work on it unchanged); shutdown(fd, SHUT_WR) ends one
 * direction and leaves the other open, like closing one pipe.
 */

#define SP_CHAIN_MAGIC "SPCHAIN"   /* 7 bytes + version byte in the hello */
#define SP_CHAIN_VERSION 1
#define SP_CHAIN_HELLO_LEN 64
#define SP_CHAIN_EXEC_GRACE_MS 300 /* how long a fork may take to exec */
#define SP_CHAIN_MAXHOPS 32        /* filters followed at most */
#define SP_CHAIN_TIMEOUT_DEFAULT 2000

enum sp_link_kind {
	SP_LINK_NONE = 0,     /* no peer: one-way */
	SP_LINK_DIRECT = 1,   /* peer on the other end of our pipe: socket both ways */
	SP_LINK_FILTERED = 2, /* peer behind filters: socket for the return direction only */
};

/* Flags of sp_chain_meet. */
enum {
	SP_CHAIN_NO_UP = 1 << 0,   /* do not look upstream (in_fd is not the packet input) */
	SP_CHAIN_NO_DOWN = 1 << 1, /* do not look downstream */
};

struct sp_chain_link {
	int kind;           /* enum sp_link_kind */
	int fd;             /* the connected socket (caller closes), -1 for NONE */
	pid_t peer_pid;     /* the peer stage as verified, 0 for NONE */
	int filters;        /* processes between us and the peer (0 = DIRECT) */
	uint64_t near_ino;  /* our end's pipe inode (stdin for up, stdout for down), 0 if no pipe */
	uint64_t far_ino;   /* the peer's end's pipe inode (== near_ino when DIRECT) */
	int err;            /* 0, or the SP_E* code that left this side one-way */
	char why[160];      /* why the link is NONE or failed ("chain start: stdin is not a pipe") */
};

/*
 * Meets the upstream neighbour on in_fd's pipe and the downstream neighbour
 * on out_fd's pipe (either may be -1), waiting at most timeout_ms (<= 0:
 * SP_CHAIN_TIMEOUT_DEFAULT) and only when a neighbour is a stage.  Always
 * fills both links (NONE where there is no peer).  Returns 0 when nothing
 * went wrong, or a negative SP_E* code with errbuf (SP_ERRBUF) filled when a
 * side failed in a way worth reporting (unsafe RUNDIR, a peer that gave a bad
 * handshake, a stage that never answered); that side is NONE and the caller
 * may go on one-way after printing the message.
 */
int sp_chain_meet(int in_fd, int out_fd, unsigned flags, int timeout_ms, struct sp_chain_link *up,
		  struct sp_chain_link *down, char *errbuf);

/* Whether a process named comm (as /proc/PID/comm) is a stage that meets neighbours. */
int sp_chain_is_stage_name(const char *comm);

/* The inode of fd if it is an anonymous pipe (not a FIFO), else 0. */
uint64_t sp_chain_pipe_ino(int fd);

/* Makes and checks the rendezvous directory; fills dir[dirlen].  0 or SP_E*. */
int sp_chain_rundir(char *dir, size_t dirlen, char *errbuf);

/* The rendezvous socket path for a stage reading pipe ino.  0 or SP_E*. */
int sp_chain_sockpath(uint64_t ino, char *path, size_t pathlen, char *errbuf);

/* The kind's name: "none", "direct", "filtered". */
const char *sp_chain_kind_name(int kind);

/* The handshake, exposed for tests.  role: 1 = hello (from upstream), 2 = reply. */
struct sp_chain_hello {
	uint8_t role;
	uint8_t status;     /* reply: 0 = accepted, else a reason code */
	uint16_t filters;   /* filters between, as the sender counted them */
	uint32_t pid;       /* the sender's pid (informative; SO_PEERCRED is what counts) */
	uint64_t up_ino;    /* the upstream stage's stdout pipe */
	uint64_t down_ino;  /* the downstream stage's stdin pipe */
};
void sp_chain_hello_encode(uint8_t out[SP_CHAIN_HELLO_LEN], const struct sp_chain_hello *h);
/* 0, or SP_EFORMAT with a reason in errbuf (bad magic, version, role). */
int sp_chain_hello_decode(const uint8_t in[SP_CHAIN_HELLO_LEN], struct sp_chain_hello *h, char *errbuf);

#endif
