/* SPDX-License-Identifier: BSD-2-Clause */
/* ethpipe: a network interface on stdin/stdout: received frames are written out, frames read in are transmitted. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "port.h"
#include "pump.h"
#include "stdpkt.h"

static const char *prog = "ethpipe";

static struct {
	const char *ifname;
	int rx, tx;          /* directions enabled */
	int exit_at_eof;     /* -x, or implied by -s */
	struct sp_pump_opts po; /* -T -t -v -c -F -i */
	uint32_t maxframe;
} opt = { .rx = 1, .tx = 1, .po.outfmt = SP_FMT_ASCII };

static struct sp_port *rxp; /* its drop count is part of the statistics */

/* The pump's messages, bad records and errors alike, are whole: they only need our name in front. */
static void on_msg(void *arg, int kind, uint64_t recno, const char *msg)
{
	(void)arg, (void)kind, (void)recno;
	fprintf(stderr, "%s: %s\n", prog, msg);
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

/* On SIGUSR1, and at exit with -v or whenever the kernel dropped frames: no loss goes unsaid. */
static void print_stats(void *arg, const struct sp_pump_counts *n, int at_exit)
{
	(void)arg;
	struct sp_port_stats s = { 0 };
	if (rxp)
		sp_port_stats(rxp, &s);
	if (at_exit && !opt.po.verbose && !s.rx_drops)
		return;
	fprintf(stderr, "%s: %s: %" PRIu64 " received, %" PRIu64 " dropped, %" PRIu64 " sent, %" PRIu64 " bad\n",
		prog, opt.ifname, n->rx, s.rx_drops, n->tx, n->bad);
}

int main(int argc, char **argv)
{
	int o, promisc = 0;
	uint64_t v;
	char perr[SP_PUMP_ERRBUF];
	while ((o = getopt(argc, argv, "rsxpu" SP_PUMP_OPTSTRING "m:h")) != -1) {
		switch (sp_pump_getopt(&opt.po, o, optarg, perr)) {
		case 1: continue;
		case SP_EINVAL: fprintf(stderr, "%s: %s\n", prog, perr); return 2;
		}
		switch (o) {
		case 'r': opt.tx = 0; break;
		case 's': opt.rx = 0; break;
		case 'x': opt.exit_at_eof = 1; break;
		case 'p': promisc = 1; break;
		case 'u': opt.po.wflags |= SP_W_UNBUF; break;
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
		unsigned mtu = sp_if_mtu(opt.ifname);
		opt.maxframe = mtu ? mtu + 18 : SP_MAXFRAME_DEFAULT;
	}

	char err[SP_ERRBUF];
	struct sp_writer *w = NULL;
	struct sp_port *txp = NULL;
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
		struct sp_writer_conf wc = { .format = opt.po.outfmt, .flags = opt.po.wflags };
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
	struct sp_pump_conf pc = {
		.name = opt.ifname,
		.rxp = rxp, .w = w, .out_name = "stdout", .rx_limit = opt.po.count,
		.txp = txp, .infd = 0, .in_name = "stdin", .infmt = opt.po.infmt, .maxframe = opt.maxframe,
		.timed = opt.po.timed, .tx_limit = opt.po.count && !opt.rx ? opt.po.count : 0,
		.exit_at_eof = opt.exit_at_eof,
		.on_msg = on_msg, .on_stats = print_stats,
	};
	int st = sp_pump_run(&pc);
	fflush(stderr);
	_exit(st);
}
