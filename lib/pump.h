/* SPDX-License-Identifier: BSD-2-Clause */
/* pump.h: the two loops that join a packet port and a pair of streams, as ethpipe and tappipe run them. */
#ifndef STDPKT_PUMP_H
#define STDPKT_PUMP_H

#include "port.h"
#include "stdpkt.h"

/*
 * sp_pump_run() runs up to two worker threads: receive (port -> writer,
 * flushed whenever the port has nothing more, so interactive traffic is not
 * held) and transmit (a reader on an input fd -> port, in batches that copy
 * the reader's data, optionally at the input's timestamp spacing), while
 * the calling thread takes the signals and decides when to stop.  Like the
 * rest of the library it never prints: bad records and errors go to on_msg
 * with the message ready to print after "prog: ".
 */

/* Room for every message a pump makes (a reader's or port's error inside one of ours). */
#define SP_PUMP_ERRBUF (2 * SP_ERRBUF + 128)

enum {
	SP_PUMP_BAD = 1,   /* an input record was skipped and counted; recno: records read so far */
	SP_PUMP_ERROR = 2, /* the run fails (its status becomes 1); recno is 0 */
};

struct sp_pump_counts {
	uint64_t rx;  /* frames written out */
	uint64_t tx;  /* frames the port took */
	uint64_t bad; /* input records skipped: unreadable, or refused by the port */
};

struct sp_pump_conf {
	const char *name;     /* the port's name, for messages */
	/* receive; rxp == NULL: no receive thread */
	struct sp_port *rxp;
	struct sp_writer *w;
	const char *out_name; /* names the writer's fd in messages ("stdout") */
	uint64_t rx_limit;    /* stop after writing this many frames; 0 = no limit */
	/* transmit; txp == NULL: no transmit thread (txp may be rxp: recv and send share no state) */
	struct sp_port *txp;
	int infd;
	const char *in_name;  /* names infd in messages ("stdin") */
	int infmt;            /* enum sp_format */
	uint32_t maxframe;    /* largest input frame */
	int timed;            /* send timestamped frames at their original spacing */
	uint64_t tx_limit;    /* stop after taking this many input frames; 0 = no limit */
	/* whether the end of input ends the run (it always does without receive) */
	int exit_at_eof;
	/* Callbacks, either may be NULL; arg is passed back. */
	void (*on_msg)(void *arg, int kind, uint64_t recno, const char *msg); /* kind: SP_PUMP_*; from any thread */
	/* On SIGUSR1 (at_exit 0), and once the workers are joined (at_exit 1), in the calling thread. */
	void (*on_stats)(void *arg, const struct sp_pump_counts *n, int at_exit);
	void *arg;
};

/*
 * Runs the pump to its end and returns its exit status: 0, or 1 after an
 * SP_PUMP_ERROR message.  The calling thread blocks SIGUSR1, SIGUSR2, SIGINT,
 * SIGTERM and SIGHUP and ignores SIGPIPE: SIGUSR1 calls on_stats; SIGINT,
 * SIGTERM, SIGHUP stop.  The run also ends when receive ends, or when
 * transmit ends with an error, without receive, or with exit_at_eof.
 * The pump takes the writer and the ports: it frees the writer and closes
 * the receive port once receive has ended, the transmit port once both
 * have.  A worker that does not stop within 2 seconds (a stalled output, a
 * blocking input) is left running and what it uses stays open, so the
 * caller must exit soon after (with _exit: the worker may still run).
 */
int sp_pump_run(const struct sp_pump_conf *conf);

/* The options every pump tool takes alike: -T, -t, -v, -c count, -F fmt, -i fmt. */
#define SP_PUMP_OPTSTRING "Ttvc:F:i:"
struct sp_pump_opts {
	int timed;       /* -T */
	int verbose;     /* -v */
	uint64_t count;  /* -c; 0 = no limit */
	int infmt;       /* -i; 0 = auto */
	int outfmt;      /* -F; set it to the default before parsing */
	unsigned wflags; /* SP_W_TS from -t */
};
/* Takes option o of getopt if it is one of those: 1 = taken, 0 = not one, SP_EINVAL with errbuf = bad argument. */
int sp_pump_getopt(struct sp_pump_opts *opts, int o, const char *arg, char *errbuf);
/* The MTU of the interface name in the caller's namespace, 0 if unknown. */
unsigned sp_if_mtu(const char *name);

#endif
