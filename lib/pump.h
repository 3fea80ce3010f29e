/* SPDX-License-Identifier: BSD-2-Clause */
/* pump.h: the two loops that join a packet port and a pair of streams, as ethpipe and tappipe run them. */
#ifndef STDPKT_PUMP_H
#define STDPKT_PUMP_H

#include "port.h"
#include "stdpkt.h"

/*
 * A pump runs up to two worker threads: receive (port -> writer, flushed
 * whenever the port has nothing more, so interactive traffic is not held)
 * and transmit (a reader on an input fd -> port, in batches that copy the
 * reader's data, optionally at the input's timestamp spacing).  The thread
 * that calls sp_pump_run() takes the signals and decides when to stop.
 * Like the rest of the library it never prints: bad records go to on_bad,
 * a worker's fatal error to on_error, both with the message ready to print
 * after "prog: ".
 */

/* Room for every message a pump makes (a reader's or port's error inside one of ours). */
#define SP_PUMP_ERRBUF (2 * SP_ERRBUF + 128)

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
	/* run: whether the end of input ends the run (it always does without receive) */
	int exit_at_eof;
	/* Callbacks, any may be NULL; arg is passed back.  Called from the workers except on_stats. */
	void (*on_bad)(void *arg, uint64_t recno, const char *msg); /* a record skipped and counted */
	void (*on_error)(void *arg, const char *msg);              /* a worker ended with an error */
	void (*on_stats)(void *arg);                               /* SIGUSR1 */
	void *arg;
};

struct sp_pump_counts {
	uint64_t rx;  /* frames written out */
	uint64_t tx;  /* frames the port took */
	uint64_t bad; /* input records skipped: unreadable, or refused by the port */
};

struct sp_pump_end {
	int status;    /* 0, or 1 if a worker failed */
	int rx_joined; /* the receive worker has ended (or never ran): its port and writer are free to close */
	int tx_joined; /* the same for transmit */
};

struct sp_pump;

/* Copies conf (the strings and objects it points to must outlive the pump); NULL with errbuf filled. */
struct sp_pump *sp_pump_new(const struct sp_pump_conf *conf, char *errbuf);
/* Frees the pump; only after sp_pump_run reported both workers joined. */
void sp_pump_free(struct sp_pump *p);

/*
 * Starts the workers and waits for signals in the calling thread, which it
 * makes block SIGUSR1, SIGUSR2, SIGINT, SIGTERM and SIGHUP (SIGPIPE is
 * ignored).  SIGUSR1 calls on_stats; SIGINT, SIGTERM, SIGHUP stop.  The run
 * also ends when receive ends, or when transmit ends with an error, without
 * receive, or with exit_at_eof.  Workers that do not stop within 2 seconds
 * (a stalled output, a blocking input) are left running and reported as not
 * joined.  Returns 0 and fills *end, or < 0 with errbuf filled if a worker
 * could not start (end->status is then 1 too).
 */
int sp_pump_run(struct sp_pump *p, struct sp_pump_end *end, char *errbuf);

/* The loops themselves, for a caller that runs its own threads; 0 at a normal end, < 0 with errbuf. */
int sp_pump_rx(struct sp_pump *p, char *errbuf);
int sp_pump_tx(struct sp_pump *p, char *errbuf);
/* Asks both loops to end at their next frame or wait; safe from any thread. */
void sp_pump_stop(struct sp_pump *p);

void sp_pump_counts(const struct sp_pump *p, struct sp_pump_counts *c);
/* Gives infd back its file status flags if a transmit loop still has them changed. */
void sp_pump_restore_input(struct sp_pump *p);

/* The MTU of the interface name in the caller's namespace, 0 if unknown. */
unsigned sp_if_mtu(const char *name);

#endif
