/* SPDX-License-Identifier: BSD-2-Clause */
/* pktconv: converts packet streams between the ASCII (EtherPIPE), pcap, pcapng and VDE formats. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stdpkt.h"

static const char *prog = "pktconv";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [-tscuh] [-F ascii|pcap|vde] [-i auto|ascii|pcap|pcapng|vde] [-m maxframe]\n"
		"       [-n count] [-w outfile] [file ...]\n"
		"  -F fmt   output format (default ascii)\n"
		"  -i fmt   input format (default auto: pcap, pcapng or ascii; vde only when given)\n"
		"  -t       ascii output starts each line with a nanosecond timestamp\n"
		"  -s       strict: the first bad record is an error (exit 1)\n"
		"  -c       print packet, byte and bad-record counts to stderr at the end\n"
		"  -u       flush after every packet\n"
		"  -m n     largest frame accepted, in bytes (default %d)\n"
		"  -n n     stop after n packets\n"
		"  -w file  write to file instead of standard output\n",
		prog, SP_MAXFRAME_DEFAULT);
}

int main(int argc, char **argv)
{
	struct sp_writer_conf wc = { .format = SP_FMT_ASCII };
	struct sp_reader_conf rc = { 0 };
	int strict = 0, counts = 0, opt;
	uint64_t limit = UINT64_MAX, v;
	const char *outfile = NULL;
	char err[SP_ERRBUF];

	while ((opt = getopt(argc, argv, "F:i:tscum:n:w:h")) != -1) {
		switch (opt) {
		case 'F':
			wc.format = sp_format_parse(optarg);
			if (wc.format != SP_FMT_ASCII && wc.format != SP_FMT_PCAP && wc.format != SP_FMT_VDE) {
				fprintf(stderr, "%s: bad output format '%s': use ascii, pcap or vde\n", prog, optarg);
				return 2;
			}
			break;
		case 'i':
			rc.format = sp_format_parse(optarg);
			if (rc.format < 0) {
				fprintf(stderr, "%s: bad input format '%s': use auto, ascii, pcap, pcapng or vde\n",
					prog, optarg);
				return 2;
			}
			break;
		case 't': wc.flags |= SP_W_TS; break;
		case 's': strict = 1; break;
		case 'c': counts = 1; break;
		case 'u': wc.flags |= SP_W_UNBUF; break;
		case 'm':
			if (sp_parse_num(optarg, SP_ETH_HLEN, SP_MAXFRAME_LIMIT, 1, &v) < 0) {
				fprintf(stderr, "%s: bad maximum frame size '%s': must be %d..%u\n", prog, optarg,
					SP_ETH_HLEN, SP_MAXFRAME_LIMIT);
				return 2;
			}
			rc.maxframe = (uint32_t)v;
			wc.snaplen = (uint32_t)v;
			break;
		case 'n':
			if (sp_parse_num(optarg, 0, UINT64_MAX, 1, &limit) < 0) {
				fprintf(stderr, "%s: bad count '%s': must be a whole number\n", prog, optarg);
				return 2;
			}
			break;
		case 'w': outfile = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}

	int ofd = 1;
	if (outfile && strcmp(outfile, "-") != 0) {
		ofd = open(outfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
		if (ofd < 0) {
			fprintf(stderr, "%s: cannot open '%s': %s\n", prog, outfile, strerror(errno));
			return 1;
		}
	}
	struct sp_writer *w = sp_writer_new(ofd, &wc, err);
	if (!w) {
		fprintf(stderr, "%s: cannot write '%s': %s\n", prog, outfile ? outfile : "-", err);
		return 1;
	}

	char *stdin_only[] = { "-", NULL };
	char **inputs = optind < argc ? argv + optind : stdin_only;
	uint64_t pkts = 0, bytes = 0, bad = 0;
	int status = 0;
	for (; *inputs && status == 0 && pkts < limit; inputs++) {
		const char *name = *inputs;
		int fd = 0;
		if (strcmp(name, "-") != 0 && (fd = open(name, O_RDONLY | O_CLOEXEC)) < 0) {
			fprintf(stderr, "%s: cannot open '%s': %s\n", prog, name, strerror(errno));
			status = 1;
			break;
		}
		struct sp_reader *r = sp_reader_new(fd, &rc, err);
		if (!r) {
			fprintf(stderr, "%s: cannot read '%s': %s\n", prog, name, err);
			status = 1;
		}
		while (r && pkts < limit) {
			struct sp_pkt p;
			int n = sp_read(r, &p);
			if (n == 0)
				break;
			if (n == SP_EBAD) {
				fprintf(stderr, "%s: skipped bad record '%s': %s\n", prog, name, sp_reader_error(r));
				if (strict) {
					status = 1;
					break;
				}
				continue;
			}
			if (n < 0) {
				fprintf(stderr, "%s: cannot read '%s': %s\n", prog, name, sp_reader_error(r));
				status = 1;
				break;
			}
			/* Unstamped frames (ASCII without -t, VDE) are stamped when they arrived, not when written. */
			if (p.ts == SP_TS_NONE)
				p.ts = sp_reader_time(r);
			n = sp_write(w, &p);
			if (n == SP_EBAD) {
				fprintf(stderr, "%s: skipped packet %" PRIu64 " of '%s': %s\n", prog,
					sp_reader_stats(r)->pkts, name, sp_writer_error(w));
				if (strict) {
					status = 1;
					break;
				}
				continue;
			}
			if (n < 0) {
				fprintf(stderr, "%s: cannot write '%s': %s\n", prog, outfile ? outfile : "-",
					sp_writer_error(w));
				status = 1;
				break;
			}
			pkts++;
		}
		if (r) {
			bad += sp_reader_stats(r)->bad;
			sp_reader_free(r);
		}
		if (fd > 0)
			close(fd);
	}
	if (sp_writer_flush(w) < 0 && status == 0) {
		fprintf(stderr, "%s: cannot write '%s': %s\n", prog, outfile ? outfile : "-", sp_writer_error(w));
		status = 1;
	}
	bad += sp_writer_stats(w)->bad;
	bytes = sp_writer_stats(w)->bytes;
	sp_writer_free(w);
	if (ofd != 1 && close(ofd) < 0 && status == 0) {
		fprintf(stderr, "%s: cannot write '%s': %s\n", prog, outfile, strerror(errno));
		status = 1;
	}
	if (counts)
		fprintf(stderr, "%s: %" PRIu64 " packets, %" PRIu64 " bytes, %" PRIu64 " bad\n", prog, pkts, bytes,
			bad);
	return status;
}
