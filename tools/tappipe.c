/* SPDX-License-Identifier: BSD-2-Clause */
/* tappipe: a TAP device on stdin/stdout: frames the host's stack sends on it are written out, frames read in are handed to the stack. */
#include <getopt.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "port.h"
#include "pump.h"
#include "stdpkt.h"

static const char *prog = "tappipe";

static struct {
	const char *ifname;
	int exit_at_eof;     /* cleared by -k */
	struct sp_pump_opts po; /* -T -t -v -c -F -i */
	uint32_t maxframe;
} opt = { .exit_at_eof = 1, .po.outfmt = SP_FMT_ASCII };

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [-ukTtvh] [-m mac] [-M mtu] [-F ascii|pcap|vde] [-i auto|ascii|pcap|pcapng|vde]\n"
		"       [-c count] [name]\n"
		"  creates a TAP device (name, or the kernel's tapN) and copies frames both ways:\n"
		"  what the host's stack sends on it goes to stdout, frames read from stdin reach the stack\n"
		"  -m mac    the device's MAC address (aa:bb:cc:dd:ee:ff)\n"
		"  -M mtu    the device's MTU\n"
		"  -u        bring the device up\n"
		"  -k        keep running when stdin ends (by default tappipe exits, removing the device)\n"
		"  -F fmt    output format (default ascii)\n"
		"  -i fmt    input format (default auto: pcap, pcapng or ascii)\n"
		"  -t        ascii output carries the timestamp column\n"
		"  -T        hand timestamped input to the stack at its original spacing\n"
		"  -c count  exit after writing count frames out\n"
		"  -v        print the device's name at start and counts at exit to stderr\n",
		prog);
}

/* The pump's messages, bad records and errors alike, are whole: they only need our name in front. */
static void on_msg(void *arg, int kind, uint64_t recno, const char *msg)
{
	(void)arg, (void)kind, (void)recno;
	fprintf(stderr, "%s: %s\n", prog, msg);
}

/* On SIGUSR1, and at exit with -v. */
static void print_stats(void *arg, const struct sp_pump_counts *n, int at_exit)
{
	(void)arg;
	if (at_exit && !opt.po.verbose)
		return;
	fprintf(stderr, "%s: %s: %" PRIu64 " received, %" PRIu64 " sent, %" PRIu64 " bad\n", prog, opt.ifname, n->rx,
		n->tx, n->bad);
}

static int parse_mac(const char *s, uint8_t *mac)
{
	unsigned b[6];
	char end;
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &end) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

int main(int argc, char **argv)
{
	int o;
	uint64_t v;
	char perr[SP_PUMP_ERRBUF];
	uint8_t mac[6];
	struct sp_port_conf c = { .flags = SP_PORT_RX | SP_PORT_TX | SP_PORT_NONBLOCK };
	while ((o = getopt(argc, argv, "uk" SP_PUMP_OPTSTRING "m:M:h")) != -1) {
		switch (sp_pump_getopt(&opt.po, o, optarg, perr)) {
		case 1: continue;
		case SP_EINVAL: fprintf(stderr, "%s: %s\n", prog, perr); return 2;
		}
		switch (o) {
		case 'u': c.flags |= SP_PORT_UP; break;
		case 'k': opt.exit_at_eof = 0; break;
		case 'm':
			if (parse_mac(optarg, mac) < 0) {
				fprintf(stderr, "%s: bad mac address '%s': not six hex bytes separated by colons\n",
					prog, optarg);
				return 2;
			}
			c.mac = mac;
			break;
		case 'M':
			if (sp_parse_num(optarg, 68, 65521, 0, &v) < 0) {
				fprintf(stderr, "%s: bad mtu '%s': not from 68 to 65521\n", prog, optarg);
				return 2;
			}
			c.mtu = (unsigned)v;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind > 1) {
		usage(stderr);
		return 2;
	}
	const char *name = optind < argc ? argv[optind] : NULL;
	if (name && (!*name || strlen(name) >= IFNAMSIZ)) {
		fprintf(stderr, "%s: bad device name '%s': not 1 to %d bytes\n", prog, name, IFNAMSIZ - 1);
		return 2;
	}

	char err[SP_ERRBUF];
	/* One port both ways: its reads and writes share no state. */
	struct sp_port *port = sp_port_open("tap", name, &c, err);
	if (!port) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return 1;
	}
	opt.ifname = port->name;
	/* Frames the size the device carries, a VLAN tag included; the stack drops longer ones anyway. */
	unsigned mtu = sp_if_mtu(opt.ifname);
	opt.maxframe = (mtu ? mtu : 1500) + 18;
	if (opt.po.verbose)
		fprintf(stderr, "%s: %s\n", prog, opt.ifname);
	struct sp_writer_conf wc = { .format = opt.po.outfmt, .flags = opt.po.wflags };
	struct sp_writer *w = sp_writer_new(1, &wc, err);
	if (!w) {
		fprintf(stderr, "%s: cannot write 'stdout': %s\n", prog, err);
		return 1;
	}
	struct sp_pump_conf pc = {
		.name = opt.ifname,
		.rxp = port, .w = w, .out_name = "stdout", .rx_limit = opt.po.count,
		.txp = port, .infd = 0, .in_name = "stdin", .infmt = opt.po.infmt, .maxframe = opt.maxframe,
		.timed = opt.po.timed, .exit_at_eof = opt.exit_at_eof,
		.on_msg = on_msg, .on_stats = print_stats,
	};
	int st = sp_pump_run(&pc);
	fflush(stderr);
	_exit(st);
}
