/* SPDX-License-Identifier: BSD-2-Clause */
/* stdpkt.c: a pipeline stage that is a whole network stack: a fresh namespace whose TAP interfaces are streams. */
/*
 * Shape of a stage.
 *  - main thread: parses options, makes the namespace (rootless through a
 *    user namespace), creates one TAP per interface, configures it all by
 *    rtnetlink, starts the command, then only waits (signalfd + eventfd)
 *    and cleans up.
 *  - per interface two threads, one per direction, so a stage never blocks
 *    one direction on the other: `in` reads the interface's RX endpoint and
 *    writes frames to the TAP, `out` reads the TAP and writes the TX endpoint,
 *    flushing whenever the TAP has nothing more ready.  An endpoint is a
 *    small value (kind, path, fd, format): "-", a FIFO or file, unix:PATH or
 *    none, opened by its own thread, so a blocking FIFO open never stalls
 *    anything else and stages may open each other's FIFOs in any order.  A
 *    later duplex link only has to hand an already open fd to an endpoint.
 *  - the command runs as pid 2 of a fresh PID namespace under a tiny init
 *    (pid 1) that forwards signals and dies with us (PR_SET_PDEATHSIG), so
 *    that when it ends the kernel kills every process the command left.
 *  - with -n a watchdog forked before the namespace exists removes
 *    /run/netns/NAME when our end of a pipe closes, even after kill -9.
 *  - chain links (lib/chain.h): before anything else the stage meets the
 *    stdpkt stages next to it in the shell pipeline; a link's socket
 *    becomes a second source and sink of an interface, or replaces the
 *    pipe (wire_links says which).  An interface thus has up to two
 *    sources (each its own thread) and two sinks (each its own writer,
 *    under a lock, as a hub relay writes from a source thread too).
 *  - the main thread also answers pktctl on RUNDIR/ctl-PID.sock: status,
 *    and swapping a link's socket between frames (ctl_swap).
 *
 * Super-frames (pcap interfaces).  A pcap interface opens its TAP with
 * IFF_VNET_HDR and TSO/CSUM offloads.  Outgoing: a frame whose checksum the
 * kernel left partial and that is not GSO gets its checksum finished here,
 * so every ordinary frame on a stream is valid; a TCP GSO super-frame (up to
 * 64 KiB) is written as one big ordinary IP frame whose TCP checksum field
 * holds the pseudo-header sum.  Incoming: a TCP frame longer than the
 * interface's MTU is handed to the kernel as GSO (gso_size from the MTU and
 * its own headers, checksum partial), anything else as a plain frame that
 * the kernel verifies.  ASCII and VDE interfaces carry only ordinary frames:
 * their TAPs have no offloads, so the kernel segments and checksums.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chain.h"
#include "csum.h"
#include "netns.h"
#include "port.h"
#include "stdpkt.h"

#define MAXIF 16
#define MAXADDR 16
#define MAXSYSCTL 64
#define BATCH 64
#define VHLEN ((uint32_t)sizeof(struct virtio_net_hdr))
/*
 * SO_SNDBUF/SO_RCVBUF of a link socket (the kernel doubles it: 512 KiB, eight
 * super-frames).  The default (~200 KiB) holds three, and the sender would
 * wait for the receiver every few frames; but 4 MiB was slower still: a
 * burst that large passes through the caches cold on every one of its four
 * copies (TAP read, socket write, socket read, TAP write), about 10% more
 * stage CPU per byte (bench/duplex.sh).  A smaller limit is no error.
 */
#define LINK_SOCKBUF (256 << 10)

static const char *prog = "stdpkt";

/* One end of an interface's stream: where its frames come from or go to. */
enum ep_kind { EP_NONE, EP_STDIO, EP_PATH, EP_UNIX, EP_FD };
struct endpoint {
	enum ep_kind kind;
	const char *path;
	int fd; /* -1 until opened; EP_FD: already open (a chain link's socket) */
};

struct iface;

/*
 * Where an interface's frames come from.  src[0] is the -I RX (stdin by
 * default) or, on a direct chain link, the link's socket; src[1] is a chain
 * link's return direction.  Each has its own thread, so one slow neighbour
 * never holds up the other.
 */
struct source {
	struct iface *f;
	struct endpoint ep;
	int link;           /* a chain link's socket */
	int upstream;       /* carries what the stage before sends (stdin or the up link) */
	int discard;        /* read and dropped: a FIFO made by hand already carries these frames */
	struct sink *relay; /* hub: what arrives here also goes on to this sink */
	pid_t peer;
	pthread_t th;
	int have;
	atomic_int done;
	atomic_int next_fd;        /* pktctl: the link's new socket, taken at the old one's end */
	_Atomic uint64_t pkts, bytes; /* frames read here (a chain link's rx counts) */
};

/* Where an interface's frames go: snk[0] the -I TX (stdout by default), snk[1] a chain link. */
struct sink {
	struct endpoint ep;
	int link;
	int on; /* has an endpoint at all */
	pid_t peer;
	struct sp_writer *w;
	pthread_mutex_t mu; /* the out thread and a hub relay may both write */
	atomic_int closed;  /* its reader went away (EPIPE): frames for it are no longer taken */
	_Atomic uint64_t relayed;
	_Atomic uint64_t pkts, bytes, dropped; /* frames written here, and lost for it */
};

/* A chain link as met (or handed over by pktctl): its socket and where it is wired. */
struct linkref {
	int kind; /* enum sp_link_kind */
	int fd;
	pid_t peer;
	struct iface *f;
	struct source *src;
	struct sink *snk;
};
static struct linkref lk[2]; /* 0: the stage before, 1: the stage after */

struct iface {
	char name[IFNAMSIZ];
	struct endpoint rx, tx; /* as the options give them; copied into src[0] and snk[0] */
	struct source src[2];
	struct sink snk[2];
	char *spec; /* the -I argument, which rx and tx point into */
	int format;
	uint8_t mac[6];
	int have_mac;
	unsigned mtu;
	struct sp_ipaddr addr[MAXADDR];
	int naddr;
	/* runtime */
	struct sp_port *port;
	int ifindex;
	int vnet;
	unsigned link_mtu;
	pthread_t th_in, th_out;
	int have_in, have_out;
	atomic_int in_done, out_done;
	atomic_int tx_closed; /* every sink's reader went away: frames are no longer taken */
	_Atomic uint64_t in_pkts, in_bytes, in_bad, in_refused, in_discarded; /* by the in threads */
	_Atomic uint64_t out_pkts, out_bytes, out_dropped; /* by the out thread and a hub relay */
	int shared_unix; /* rx and tx are one UNIX connection, opened by the in thread */
	atomic_int shared_fd;
};

static struct iface ifs[MAXIF];
static int nif = 1;
static struct sp_ipaddr gws[4];
static int ngw;
static struct {
	char *key, *val;
} sysctls[MAXSYSCTL];
static int nsysctl;
static const char *setups[16]; /* -x: shell commands run in the namespace before frames flow */
static int nsetup;
static int opt_forward, opt_nat, opt_counts, opt_afpacket, opt_oneway, opt_verbose;
static int auto_split; /* eth1 was made by a second subnet, not by -I */
static int given_fd[2] = { -1, -1 }, given_peer[2]; /* --up-fd/--down-fd: links pktctl made */
static int opt_noctl;
static const char *opt_name, *opt_out;

static int evfd = -1;   /* threads -> main: something ended */
static int stopfd = -1; /* main -> out threads: drain, flush and end */
static atomic_int fatal_seen;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: stdpkt [OPTIONS] [-- COMMAND [ARGS...]]\n"
		"A network stack in a fresh namespace whose interfaces are packet streams.\n"
		"Interfaces (eth0 reads stdin and writes stdout unless -I says otherwise):\n"
		"  -I RX,TX      start the next interface (the first -I redefines eth0); RX and TX are\n"
		"                '-' (stdin/stdout), a FIFO or file path, unix:PATH, or none\n"
		"  -a ADDR/LEN   add an IPv4 or IPv6 address (repeatable); without -I, an address in\n"
		"                another subnet than eth0's (same family) starts eth1, facing stdout\n"
		"  -m MAC        MAC address (default 02:PP:PP:PP:PP:II from pid and index)\n"
		"  -M MTU        MTU\n"
		"  -F FORMAT     stream format: ascii (default), pcap, vde\n"
		"Stage:\n"
		"  -g GATEWAY    default route via GATEWAY (repeat for IPv4 and IPv6)\n"
		"  -f            forwarding on\n"
		"  -s KEY=VALUE  a sysctl inside the stage (repeatable)\n"
		"  --nat         masquerade what leaves by the last interface (implies -f)\n"
		"  -x 'CMD'      run sh -c CMD in the stage before frames flow (iptables, ip route ...);\n"
		"                the stage fails if it fails (repeatable)\n"
		"  -n NAME       name the namespace for `ip netns` (/run/netns/NAME)\n"
		"  -o FILE       the command's stdout and stderr go to FILE (default: our stderr)\n"
		"  -C FILE       read options from FILE, one per line\n"
		"  -c            print per-interface counts to stderr at exit\n"
		"  -v            say what chain links were met\n"
		"  --one-way     do not meet neighbouring stages: stdin in, stdout out only\n"
		"  --no-ctl      no control socket for pktctl\n"
		"  --up-fd FD:PID, --down-fd FD:PID\n"
		"                links made by pktctl (a stage it inserts), the peer stage's pid\n"
		"  --afpacket    veth pairs and AF_PACKET instead of TAP (what an ordinary user gets\n"
		"                when /dev/net/tun is not open to all)\n"
		"  -h            this help\n");
}

static void die_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	fprintf(stderr, "usage: stdpkt [OPTIONS] [-- COMMAND [ARGS...]]  (stdpkt -h for help)\n");
	exit(2);
}

static void parse_endpoint(struct endpoint *e, const char *s, const char *whole)
{
	e->fd = -1;
	if (!*s)
		die_usage("bad interface endpoints '%s': empty RX or TX", whole);
	if (strcmp(s, "-") == 0)
		e->kind = EP_STDIO;
	else if (strcmp(s, "none") == 0)
		e->kind = EP_NONE;
	else if (strncmp(s, "unix:", 5) == 0) {
		e->kind = EP_UNIX;
		e->path = s + 5;
		if (!*e->path || strlen(e->path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			die_usage("bad unix socket path in '%s'", whole);
	} else {
		e->kind = EP_PATH;
		e->path = s;
	}
}

static int parse_mac(const char *s, uint8_t *mac)
{
	unsigned v[6];
	char end;
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &end) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return mac[0] & 1 ? -1 : 0; /* a multicast source address would be refused by the kernel */
}

/* Splits a config file into words appended to *av; '#' starts a comment. */
static void read_config(const char *path, char ***av, int *ac, int *cap)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "%s: cannot open '%s': %s\n", prog, path, strerror(errno));
		exit(2);
	}
	char *line = NULL;
	size_t n = 0;
	while (getline(&line, &n, f) >= 0) {
		char *h = strchr(line, '#');
		if (h && (h == line || h[-1] == ' ' || h[-1] == '\t'))
			*h = 0;
		for (char *sv, *w = strtok_r(line, " \t\r\n", &sv); w; w = strtok_r(NULL, " \t\r\n", &sv)) {
			if (*ac + 2 >= *cap) {
				*cap *= 2;
				*av = realloc(*av, (size_t)*cap * sizeof **av);
				if (!*av)
					exit(1);
			}
			(*av)[(*ac)++] = strdup(w);
		}
	}
	free(line);
	fclose(f);
}

/* The expanded argument vector: file-scope, as the options point into it for the whole run. */
static char **av;

/* Replaces every -C FILE before `--` by the file's words, in place, so option order is kept. */
static char **expand_config(int argc, char **argv, int *outc)
{
	int cap = argc + 16, ac = 0, depth = 0;
	av = malloc((size_t)cap * sizeof *av);
	if (!av)
		exit(1);
	av[ac++] = argv[0];
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0)
			break;
		if (strcmp(a, "-C") == 0 || (strncmp(a, "-C", 2) == 0 && a[2])) {
			const char *file = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
			if (!file)
				die_usage("option requires an argument -- '%s'", "C");
			if (++depth > 8)
				die_usage("too many config files at '%s'", file);
			read_config(file, &av, &ac, &cap);
			continue;
		}
		/* An option's argument is never taken for -C. */
		if (a[0] == '-' && a[1] && strchr("IamMFgsnox", a[1]) && !a[2] && i + 1 < argc) {
			if (ac + 3 >= cap)
				av = realloc(av, (size_t)(cap *= 2) * sizeof *av);
			av[ac++] = argv[i++];
		}
		if (ac + 2 >= cap)
			av = realloc(av, (size_t)(cap *= 2) * sizeof *av);
		if (!av)
			exit(1);
		av[ac++] = argv[i];
	}
	for (; i < argc; i++) {
		if (ac + 2 >= cap)
			av = realloc(av, (size_t)(cap *= 2) * sizeof *av);
		if (!av)
			exit(1);
		av[ac++] = argv[i];
	}
	av[ac] = NULL;
	*outc = ac;
	return av;
}

/*
 * Whether a, given with no -I, starts eth1: it is of a family eth0 already
 * has an address of, and in none of those subnets.  An address of the other
 * family stays on eth0, so `-a 192.0.2.1/24 -a 2001:db8::1/64` is one
 * dual-stack interface as before.
 */
static int other_subnet(const struct iface *f, const struct sp_ipaddr *a)
{
	int same_family = 0;
	for (int k = 0; k < f->naddr; k++) {
		const struct sp_ipaddr *b = &f->addr[k];
		if (b->family != a->family)
			continue;
		same_family = 1;
		int plen = b->plen < a->plen ? b->plen : a->plen, whole = plen / 8, rest = plen % 8;
		if (memcmp(a->addr, b->addr, (size_t)whole) == 0 &&
		    (!rest || ((a->addr[whole] ^ b->addr[whole]) & (0xff00 >> rest) & 0xff) == 0))
			return 0;
	}
	return same_family;
}

static void parse_args(int argc, char **argv, char ***cmd)
{
	static const struct option lo[] = {
		{ "nat", no_argument, NULL, 'N' },
		{ "afpacket", no_argument, NULL, 'P' },
		{ "one-way", no_argument, NULL, 'O' },
		{ "up-fd", required_argument, NULL, 'U' },
		{ "down-fd", required_argument, NULL, 'W' },
		{ "no-ctl", no_argument, NULL, 'Z' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char eb[SP_ERRBUF];
	int c, started = 0;
	struct iface *cur = &ifs[0];
	cur->rx.kind = EP_STDIO;
	cur->tx.kind = EP_STDIO;
	cur->rx.fd = cur->tx.fd = -1;
	cur->format = SP_FMT_ASCII;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+I:a:m:M:F:g:fs:n:o:chvx:", lo, NULL)) != -1) {
		switch (c) {
		case 'I': {
			if (auto_split)
				die_usage("-I '%s' after a second subnet made eth1: with -I, give -I for every interface",
					  optarg);
			if (started) {
				if (nif >= MAXIF)
					die_usage("too many interfaces at '%s'", optarg);
				cur = &ifs[nif++];
				cur->format = SP_FMT_ASCII;
			}
			started = 1;
			char *s = cur->spec = strdup(optarg), *comma = s ? strchr(s, ',') : NULL;
			if (!comma)
				die_usage("bad interface endpoints '%s': want RX,TX", optarg);
			*comma = 0;
			parse_endpoint(&cur->rx, s, optarg);
			parse_endpoint(&cur->tx, comma + 1, optarg);
			break;
		}
		case 'a': {
			struct sp_ipaddr a;
			if (sp_ipaddr_parse(optarg, &a, eb) < 0 || a.plen < 0)
				die_usage("bad address '%s': want ADDR/LEN", optarg);
			if (!started && nif == 1 && other_subnet(&ifs[0], &a)) {
				/* The rule of the man page: a second subnet without -I is a second interface, eth1. */
				auto_split = 1;
				cur = &ifs[nif++];
				cur->format = ifs[0].format;
				cur->mtu = ifs[0].mtu;
				ifs[0].tx.kind = EP_NONE;
				cur->rx.kind = EP_NONE;
				cur->tx.kind = EP_STDIO;
				cur->rx.fd = cur->tx.fd = -1;
			}
			if (cur->naddr >= MAXADDR)
				die_usage("too many addresses at '%s'", optarg);
			cur->addr[cur->naddr++] = a;
			break;
		}
		case 'm':
			if (parse_mac(optarg, cur->mac) < 0)
				die_usage("bad mac address '%s'", optarg);
			cur->have_mac = 1;
			break;
		case 'M': {
			uint64_t v;
			if (sp_parse_num(optarg, 68, 65535, 0, &v) < 0)
				die_usage("bad mtu '%s': want 68..65535", optarg);
			cur->mtu = (unsigned)v;
			break;
		}
		case 'F': {
			int f = sp_format_parse(optarg);
			if (f != SP_FMT_ASCII && f != SP_FMT_PCAP && f != SP_FMT_VDE)
				die_usage("bad format '%s': want ascii, pcap or vde", optarg);
			cur->format = f;
			break;
		}
		case 'g':
			if ((size_t)ngw >= sizeof gws / sizeof gws[0])
				die_usage("too many gateways at '%s'", optarg);
			if (sp_ipaddr_parse(optarg, &gws[ngw], eb) < 0 || gws[ngw].plen >= 0)
				die_usage("bad gateway '%s'", optarg);
			ngw++;
			break;
		case 'f':
			opt_forward = 1;
			break;
		case 's': {
			char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg || nsysctl >= MAXSYSCTL)
				die_usage("bad sysctl '%s': want KEY=VALUE", optarg);
			sysctls[nsysctl].key = strndup(optarg, (size_t)(eq - optarg));
			sysctls[nsysctl].val = eq + 1;
			nsysctl++;
			break;
		}
		case 'N':
			opt_nat = opt_forward = 1;
			break;
		case 'P':
			opt_afpacket = 1;
			break;
		case 'O':
			opt_oneway = 1;
			break;
		case 'U':
		case 'W': {
			/* FD:PID, a socket pktctl made for a stage it inserts, and the peer on its other end. */
			int fd, pid, used = 0;
			if (sscanf(optarg, "%d:%d%n", &fd, &pid, &used) != 2 || optarg[used] || fd < 3 || pid <= 0)
				die_usage("bad link '%s': want FD:PID", optarg);
			given_fd[c == 'W'] = fd;
			given_peer[c == 'W'] = pid;
			break;
		}
		case 'Z':
			opt_noctl = 1;
			break;
		case 'x':
			if ((size_t)nsetup >= sizeof setups / sizeof setups[0])
				die_usage("too many -x commands at '%s'", optarg);
			setups[nsetup++] = optarg;
			break;
		case 'v':
			opt_verbose = 1;
			break;
		case 'n':
			if (!sp_ns_name_ok(optarg))
				die_usage("bad namespace name '%s'", optarg);
			opt_name = optarg;
			break;
		case 'o':
			opt_out = optarg;
			break;
		case 'c':
			opt_counts = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case '?':
		default:
			if (optopt && strchr("IamMFgsnoCx", optopt))
				die_usage("option requires an argument -- '%s'", (char[]){ (char)optopt, 0 });
			if (optopt)
				die_usage("unknown option -- '%s'", (char[]){ (char)optopt, 0 });
			die_usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc && strcmp(argv[optind - 1], "--") != 0)
		die_usage("unexpected argument '%s': put the command after --", argv[optind]);
	*cmd = optind < argc ? argv + optind : NULL;

	int stdin_users = 0, stdout_users = 0;
	for (int i = 0; i < nif; i++) {
		snprintf(ifs[i].name, sizeof ifs[i].name, "eth%d", i);
		stdin_users += ifs[i].rx.kind == EP_STDIO;
		stdout_users += ifs[i].tx.kind == EP_STDIO;
		if (!ifs[i].have_mac) {
			uint32_t pid = (uint32_t)getpid();
			uint8_t m[6] = { 0x02, (uint8_t)(pid >> 24), (uint8_t)(pid >> 16), (uint8_t)(pid >> 8),
					 (uint8_t)pid, (uint8_t)i };
			memcpy(ifs[i].mac, m, 6);
		}
		ifs[i].shared_unix = ifs[i].rx.kind == EP_UNIX && ifs[i].tx.kind == EP_UNIX &&
				     strcmp(ifs[i].rx.path, ifs[i].tx.path) == 0;
		atomic_store(&ifs[i].shared_fd, -1);
	}
	if (stdin_users > 1)
		die_usage("stdin is the RX of more than one interface%s", "");
	if (stdout_users > 1)
		die_usage("stdout is the TX of more than one interface%s", "");
}

/* ---- endpoints ---- */

static void notify(void)
{
	uint64_t one = 1;
	if (write(evfd, &one, sizeof one) < 0) {
		/* The counter cannot overflow in practice; nothing else to do. */
	}
}

/* Opens an endpoint in its own thread: may block (a FIFO waits for its other end). */
static int ep_open(struct iface *f, struct endpoint *e, int tx)
{
	if (e->kind == EP_FD)
		return e->fd;
	if (e->kind == EP_STDIO)
		return e->fd = tx ? 1 : 0;
	if (e->kind == EP_UNIX) {
		if (f->shared_unix && tx) {
			/* The in thread connects; the out thread waits for that fd. */
			while (atomic_load(&f->shared_fd) == -1)
				usleep(1000);
			return e->fd = atomic_load(&f->shared_fd);
		}
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		snprintf(sa.sun_path, sizeof sa.sun_path, "%s", e->path);
		int s = -1;
		/* The listener may start after us: retry for a while, as a FIFO open would wait. */
		for (int i = 0; i < 10000; i++) {
			s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (s < 0)
				break;
			if (connect(s, (struct sockaddr *)&sa, sizeof sa) == 0)
				break;
			int err = errno;
			close(s);
			s = -1;
			errno = err;
			if (err != ENOENT && err != ECONNREFUSED)
				break;
			usleep(1000);
		}
		if (s < 0) {
			fprintf(stderr, "%s: cannot connect to 'unix:%s': %s\n", prog, e->path, strerror(errno));
			if (f->shared_unix)
				atomic_store(&f->shared_fd, -2);
			return -1;
		}
		if (f->shared_unix)
			atomic_store(&f->shared_fd, s);
		return e->fd = s;
	}
	int fd;
	if (!tx) {
		fd = open(e->path, O_RDONLY | O_CLOEXEC);
	} else {
		struct stat sb;
		if (stat(e->path, &sb) == 0 && S_ISFIFO(sb.st_mode))
			fd = open(e->path, O_WRONLY | O_CLOEXEC);
		else
			fd = open(e->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	}
	if (fd < 0) {
		fprintf(stderr, "%s: cannot open '%s': %s\n", prog, e->path, strerror(errno));
		return -1;
	}
	return e->fd = fd;
}

/*
 * A pipe of 64 KiB holds one super-frame: the writer would wait for the
 * reader at every frame.  1 MiB (the default pipe-max-size) lets a burst
 * through with few wake-ups.  Best effort: a smaller limit is no error.
 */
static void grow_pipe(int fd)
{
	struct stat sb;
	if (fstat(fd, &sb) == 0 && S_ISFIFO(sb.st_mode) && fcntl(fd, F_GETPIPE_SZ) < (1 << 20))
		fcntl(fd, F_SETPIPE_SZ, 1 << 20);
}

static const char *ep_name(const struct endpoint *e, int tx)
{
	if (e->kind == EP_STDIO)
		return tx ? "stdout" : "stdin";
	if (e->kind == EP_FD)
		return "chain link";
	return e->path;
}

/* ---- frames: stream -> TAP ---- */

/* Writes one stream frame to a vnet TAP, as GSO when it is a TCP frame longer than the link allows. */
static int vnet_send(struct iface *f, const struct sp_pkt *p)
{
	struct virtio_net_hdr vh;
	uint8_t hdr[14 + 60 + 60];
	struct iovec iov[3];
	int n = 0;
	const uint8_t *b = p->data;
	uint32_t len = p->caplen;
	memset(&vh, 0, sizeof vh);
	iov[n++] = (struct iovec){ &vh, VHLEN };
	if (len > f->link_mtu + 14 && len >= 14 + 20) {
		uint16_t et = (uint16_t)(b[12] << 8 | b[13]);
		uint32_t ihl = 0, l4len = 0, sum = 0;
		int ok = 0;
		if (et == 0x0800 && (b[14] >> 4) == 4 && b[23] == 6) {
			ihl = (b[14] & 15u) * 4;
			uint32_t tot = (uint32_t)(b[16] << 8 | b[17]);
			if (ihl >= 20 && tot > ihl && 14 + tot <= len) {
				l4len = tot - ihl;
				sum = sp_csum_pseudo4(b + 26, b + 30, 6, (uint16_t)l4len);
				vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
				ok = 1;
			}
		} else if (et == 0x86dd && len >= 14 + 40 && (b[14] >> 4) == 6 && b[20] == 6) {
			ihl = 40;
			l4len = (uint32_t)(b[18] << 8 | b[19]);
			if (l4len && 54 + l4len <= len) {
				sum = sp_csum_pseudo6(b + 22, b + 38, 6, l4len);
				vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
				ok = 1;
			}
		}
		uint32_t th = 14 + ihl, thl = 0;
		if (ok && th + 20 <= len) {
			thl = (b[th + 12] >> 4) * 4u;
			ok = thl >= 20 && th + thl <= len && l4len > thl && f->link_mtu > ihl + thl;
		} else {
			ok = 0;
		}
		if (ok) {
			if (b[th + 13] & 0x80) /* CWR: segments keep ECN as the sender meant */
				vh.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
			vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
			vh.hdr_len = (uint16_t)(th + thl);
			vh.gso_size = (uint16_t)(f->link_mtu - ihl - thl);
			vh.csum_start = (uint16_t)th;
			vh.csum_offset = 16;
			/* CHECKSUM_PARTIAL wants the folded pseudo-header sum, not complemented. */
			memcpy(hdr, b, th + thl);
			uint16_t c = (uint16_t)~sp_csum_fold(sum);
			memcpy(hdr + th + 16, &c, 2);
			iov[n++] = (struct iovec){ hdr, th + thl };
			b += th + thl;
			len -= th + thl;
		} else {
			memset(&vh, 0, sizeof vh);
		}
	}
	iov[n++] = (struct iovec){ (void *)b, len };
	for (;;) {
		ssize_t w = writev(f->port->fd, iov, n);
		if (w >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			struct pollfd pfd = { .fd = f->port->fd, .events = POLLOUT };
			poll(&pfd, 1, 100);
			continue;
		}
		return -1;
	}
}

/* ---- frames: TAP -> stream ---- */

/* Strips the vnet header; finishes a partial checksum unless the frame is a GSO super-frame. */
static void vnet_to_stream(struct sp_pkt *p)
{
	struct virtio_net_hdr vh;
	memcpy(&vh, p->data, VHLEN);
	uint8_t *b = (uint8_t *)p->data + VHLEN; /* the TAP port's own buffer: ours to edit */
	uint32_t len = p->caplen - VHLEN;
	if ((vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && vh.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		uint32_t cs = vh.csum_start, co = cs + vh.csum_offset;
		if (cs < len && co + 2 <= len) {
			uint16_t c = sp_csum(b + cs, len - cs, 0);
			/* UDP sends 0 as "no checksum": a computed zero is written as its other form. */
			if (c == 0 && vh.csum_offset == 6)
				c = 0xffff;
			memcpy(b + co, &c, 2);
		}
	}
	p->data = b;
	p->caplen = p->wirelen = len;
}

/*
 * A super-frame goes straight from the TAP's buffer to the stream: the
 * writer would copy 64 KiB into its buffer only to write it out alone.
 * Whatever the writer holds goes first, so the order is kept.
 */
static int write_big_pcap(struct sp_writer *w, int fd, const struct sp_pkt *p)
{
	int rc = sp_writer_flush(w);
	if (rc < 0)
		return rc;
	int64_t ts = sp_now_ns();
	uint32_t h[4] = { (uint32_t)(ts / 1000000000), (uint32_t)(ts % 1000000000), p->caplen, p->caplen };
	struct iovec iov[2] = { { h, sizeof h }, { (void *)p->data, p->caplen } };
	size_t left = sizeof h + p->caplen;
	while (left) {
		ssize_t k = writev(fd, iov, 2);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			poll(&pfd, 1, -1);
			continue;
		}
		if (k <= 0)
			return SP_EIO;
		left -= (size_t)k;
		for (int i = 0; i < 2 && k > 0; i++) {
			size_t take = (size_t)k < iov[i].iov_len ? (size_t)k : iov[i].iov_len;
			iov[i].iov_base = (uint8_t *)iov[i].iov_base + take;
			iov[i].iov_len -= take;
			k -= (ssize_t)take;
		}
	}
	return 0;
}

static atomic_int stopping; /* main is ending the stage: a link that closes now is no news */

static const char *side_name(const struct source *s)
{
	return s->upstream ? "the stage before" : "the stage after";
}

/* An interface's input is over when every source that counts (not a discarded duplicate) ended. */
static void source_done(struct source *s)
{
	struct iface *f = s->f;
	atomic_store(&s->done, 1);
	int all = 1;
	for (int k = 0; k < 2; k++)
		if (!f->src[k].discard)
			all &= atomic_load(&f->src[k].done);
	if (all)
		atomic_store(&f->in_done, 1);
	notify();
}

static void sink_closed(struct iface *f, struct sink *k, int err);

/* A frame for a sink: the caller holds k->mu.  Big pcap frames skip the writer's buffer. */
static int sink_write(struct iface *f, struct sink *k, const struct sp_pkt *p)
{
	return f->vnet && p->caplen > 4096 ? write_big_pcap(k->w, k->ep.fd, p) : sp_write(k->w, p);
}

/* Hub: a frame that came from one neighbour goes on to the other, as on a shared segment. */
static void relay_frame(struct iface *f, struct sink *k, const struct sp_pkt *p)
{
	if (atomic_load(&k->closed) || !k->w) {
		atomic_fetch_add(&k->dropped, 1);
		return;
	}
	pthread_mutex_lock(&k->mu);
	int rc = sink_write(f, k, p);
	pthread_mutex_unlock(&k->mu);
	if (rc == SP_EBAD)
		atomic_fetch_add(&f->out_dropped, 1);
	else if (rc < 0)
		sink_closed(f, k, errno);
	else {
		atomic_fetch_add(&k->relayed, 1);
		atomic_fetch_add(&k->pkts, 1);
		atomic_fetch_add(&k->bytes, p->caplen);
	}
}

static void relay_flush(struct iface *f, struct sink *k)
{
	if (atomic_load(&k->closed) || !k->w)
		return;
	pthread_mutex_lock(&k->mu);
	int rc = sp_writer_flush(k->w);
	pthread_mutex_unlock(&k->mu);
	if (rc < 0)
		sink_closed(f, k, errno);
}

static void *in_thread(void *arg)
{
	struct source *s = arg;
	struct iface *f = s->f;
	char eb[SP_ERRBUF];
	struct sp_reader *r = NULL;
	if (ep_open(f, &s->ep, 0) < 0) {
		atomic_store(&fatal_seen, 1);
		goto out;
	}
	if (f->vnet)
		grow_pipe(s->ep.fd);
	/* ASCII interfaces also take pcap (auto-detected): a capture file can feed any stage. */
	struct sp_reader_conf rc = { .format = f->format == SP_FMT_ASCII ? SP_FMT_AUTO : f->format };
	r = sp_reader_new(s->ep.fd, &rc, eb);
	if (!r) {
		fprintf(stderr, "%s: cannot read '%s': %s\n", prog, ep_name(&s->ep, 0), eb);
		atomic_store(&fatal_seen, 1);
		goto out;
	}
	for (;;) {
		struct sp_pkt p;
		/* Relayed frames never wait in our buffer while we may block on a read. */
		if (s->relay && !sp_reader_buffered(r))
			relay_flush(f, s->relay);
		int n = sp_read(r, &p);
		if (n == 1) {
			if (s->discard) {
				atomic_fetch_add(&f->in_discarded, 1);
				continue;
			}
			atomic_fetch_add(&f->in_pkts, 1);
			atomic_fetch_add(&f->in_bytes, p.caplen);
			atomic_fetch_add(&s->pkts, 1);
			atomic_fetch_add(&s->bytes, p.caplen);
			if (s->relay)
				relay_frame(f, s->relay, &p);
			int rc2;
			if (f->vnet) {
				rc2 = vnet_send(f, &p) < 0 ? -1 : 1;
				/* EIO is an interface set down: counted below, as a NIC that is down drops. */
				if (rc2 < 0 && (errno == EBADFD || errno == ENODEV))
					break;
				if (rc2 < 0)
					atomic_fetch_add(&f->in_refused, 1);
			} else {
				rc2 = sp_port_send(f->port, &p, 1);
				if (rc2 == SP_EBAD) {
					atomic_fetch_add(&f->in_refused, 1);
					continue;
				}
				if (rc2 < 0) {
					fprintf(stderr, "%s: cannot send on '%s': %s\n", prog, f->name, f->port->err);
					atomic_store(&fatal_seen, 1);
					break;
				}
			}
			continue;
		}
		if (n == SP_EBAD) {
			atomic_fetch_add(&f->in_bad, 1);
			fprintf(stderr, "%s: skipped bad record '%s': %s\n", prog, ep_name(&s->ep, 0),
				sp_reader_error(r));
			continue;
		}
		if (n <= 0 && s->link) {
			/* pktctl swapped the link: the old socket's end was our cue; go on reading the new one. */
			int nf = atomic_exchange(&s->next_fd, -1);
			if (nf >= 0) {
				sp_reader_free(r);
				s->ep.fd = nf;
				r = sp_reader_new(nf, &rc, eb);
				if (!r) {
					fprintf(stderr, "%s: cannot read the new link: %s\n", prog, eb);
					break;
				}
				continue;
			}
		}
		if (n < 0 && s->link) {
			/* A neighbour that died with frames unread resets the link: news, not our failure. */
			if (!s->discard && !atomic_load(&stopping))
				fprintf(stderr, "%s: %s: link to %s (pid %d) broke: %s\n", prog, f->name,
					side_name(s), (int)s->peer, sp_reader_error(r));
			break;
		}
		if (n < 0) {
			fprintf(stderr, "%s: cannot read '%s': %s\n", prog, ep_name(&s->ep, 0), sp_reader_error(r));
			atomic_store(&fatal_seen, 1);
		}
		/* The stage after us ends after us in a chain: its link closing first is worth a line. */
		if (n == 0 && s->link && !s->upstream && !s->discard && !atomic_load(&stopping))
			fprintf(stderr, "%s: %s: %s (pid %d) went away; its side of the chain is cut\n", prog,
				f->name, side_name(s), (int)s->peer);
		break;
	}
out:
	if (s->relay)
		relay_flush(f, s->relay);
	source_done(s);
	/* The reader is freed at exit; the out thread may still need a shared fd. */
	return NULL;
}

/* A sink's reader went away: no more frames for it; the interface's output ends with its last sink. */
static void sink_closed(struct iface *f, struct sink *k, int err)
{
	if (atomic_exchange(&k->closed, 1))
		return;
	if (k->link) {
		if (!atomic_load(&stopping) && err != EPIPE && err != ECONNRESET)
			fprintf(stderr, "%s: %s: cannot write to the stage (pid %d): %s\n", prog, f->name,
				(int)k->peer, strerror(err));
	} else if (err != EPIPE) {
		fprintf(stderr, "%s: cannot write '%s': %s\n", prog, ep_name(&k->ep, 1), k->w ? sp_writer_error(k->w) : strerror(err));
		atomic_store(&fatal_seen, 1);
	}
	int all = 1;
	for (int i = 0; i < 2; i++)
		if (f->snk[i].on)
			all &= atomic_load(&f->snk[i].closed);
	if (all)
		atomic_store(&f->tx_closed, 1);
}

static void *out_thread(void *arg)
{
	struct iface *f = arg;
	char eb[SP_ERRBUF];
	for (int i = 0; i < 2; i++) {
		struct sink *k = &f->snk[i];
		if (!k->on || k->w)
			continue;
		if (ep_open(f, &k->ep, 1) < 0) {
			atomic_store(&fatal_seen, 1);
			goto out;
		}
		if (f->vnet)
			grow_pipe(k->ep.fd);
		struct sp_writer_conf wc = { .format = f->format };
		pthread_mutex_lock(&k->mu);
		k->w = sp_writer_new(k->ep.fd, &wc, eb);
		pthread_mutex_unlock(&k->mu);
		if (!k->w) {
			fprintf(stderr, "%s: cannot write '%s': %s\n", prog, ep_name(&k->ep, 1), eb);
			atomic_store(&fatal_seen, 1);
			goto out;
		}
	}
	struct sp_pkt v[BATCH];
	int stop = 0;
	for (;;) {
		int n = sp_port_recv(f->port, v, BATCH);
		if (n < 0) {
			fprintf(stderr, "%s: cannot receive on '%s': %s\n", prog, f->name, f->port->err);
			atomic_store(&fatal_seen, 1);
			break;
		}
		for (int i = 0; i < n; i++) {
			if (f->vnet)
				vnet_to_stream(&v[i]);
			int sent = 0, bad = 0;
			for (int j = 0; j < 2; j++) {
				struct sink *k = &f->snk[j];
				if (!k->on)
					continue;
				if (atomic_load(&k->closed)) {
					atomic_fetch_add(&k->dropped, 1);
					continue;
				}
				pthread_mutex_lock(&k->mu);
				int rc = sink_write(f, k, &v[i]);
				pthread_mutex_unlock(&k->mu);
				if (rc == SP_EBAD) {
					bad = 1;
					atomic_fetch_add(&k->dropped, 1);
				} else if (rc < 0) {
					sink_closed(f, k, errno);
					atomic_fetch_add(&k->dropped, 1);
				} else {
					sent = 1;
					atomic_fetch_add(&k->pkts, 1);
					atomic_fetch_add(&k->bytes, v[i].caplen);
				}
			}
			/* A linked interface whose neighbour is gone keeps taking frames, counted as dropped. */
			if (bad || !sent)
				atomic_fetch_add(&f->out_dropped, 1);
			if (sent) {
				atomic_fetch_add(&f->out_pkts, 1);
				atomic_fetch_add(&f->out_bytes, v[i].caplen);
			}
		}
		if (atomic_load(&f->tx_closed) && !f->snk[0].link && !f->snk[1].link)
			break;
		if (n == BATCH)
			continue;
		/* Nothing more ready: whatever is buffered goes out now, so a ping is never stuck. */
		for (int j = 0; j < 2; j++) {
			struct sink *k = &f->snk[j];
			if (!k->on || atomic_load(&k->closed))
				continue;
			pthread_mutex_lock(&k->mu);
			int rc = sp_writer_flush(k->w);
			pthread_mutex_unlock(&k->mu);
			if (rc < 0)
				sink_closed(f, k, errno);
		}
		if ((atomic_load(&f->tx_closed) && !f->snk[0].link && !f->snk[1].link) || stop)
			break;
		struct pollfd pfd[2] = { { .fd = f->port->fd, .events = POLLIN },
					 { .fd = stopfd, .events = POLLIN } };
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			stop = 1; /* one more non-blocking pass drains the TAP */
	}
out:
	atomic_store(&f->out_done, 1);
	notify();
	return NULL;
}

/* ---- chain links ---- */

static int is_named_fifo(int fd)
{
	struct stat sb;
	return fstat(fd, &sb) == 0 && S_ISFIFO(sb.st_mode) && !sp_chain_pipe_ino(fd);
}

static void ep_fd(struct endpoint *e, int fd)
{
	e->kind = EP_FD;
	e->fd = fd;
	e->path = NULL;
}

/*
 * Puts the links sp_chain_meet found on the interfaces (the man page's
 * CHAIN section says the same in words):
 *  - the up link belongs to the interface reading stdin (U), the down link
 *    to the one writing stdout (D); one interface may be both;
 *  - a direct link replaces the pipe: frames both ways go on the socket;
 *    a filtered link carries only the return direction, around the filters;
 *  - a return direction goes where the options left nothing (the TX of an
 *    `-I -,none`-like eth0 of a router, the RX of its eth1); elsewhere it is
 *    a second source or sink of the interface;
 *  - an interface that already reads a path given by -I, or a stdin that is
 *    a named FIFO, has a return path made by hand: the link's returns are
 *    read and dropped, so nothing arrives twice;
 *  - one interface with both links is a hub: what comes from one neighbour
 *    also goes on to the other, so a chain of one-interface stages is one
 *    segment;
 *  - a linked stage neither reads nor writes frames on a terminal or /dev/null.
 */
static int wire_links(const struct sp_chain_link *up, const struct sp_chain_link *down, int U, int D)
{
	int linked = 0;
	int stdin_fifo = is_named_fifo(0);
	if (up->kind != SP_LINK_NONE && U >= 0) {
		struct iface *u = &ifs[U];
		if (up->kind == SP_LINK_DIRECT) {
			ep_fd(&u->src[0].ep, up->fd);
			u->src[0].link = 1;
			u->src[0].peer = up->peer_pid;
		}
		struct sink *k = u->snk[0].on ? &u->snk[1] : &u->snk[0];
		ep_fd(&k->ep, up->fd);
		k->on = k->link = 1;
		k->peer = up->peer_pid;
		linked = 1;
		lk[0] = (struct linkref){ up->kind, up->fd, up->peer_pid, u,
					  up->kind == SP_LINK_DIRECT ? &u->src[0] : NULL, k };
	}
	if (down->kind != SP_LINK_NONE && D >= 0) {
		struct iface *d = &ifs[D];
		int handmade = d->rx.kind == EP_PATH || d->rx.kind == EP_UNIX ||
			       (d->rx.kind == EP_STDIO && up->kind == SP_LINK_NONE && stdin_fifo);
		if (down->kind == SP_LINK_DIRECT) {
			ep_fd(&d->snk[0].ep, down->fd);
			d->snk[0].on = d->snk[0].link = 1;
			d->snk[0].peer = down->peer_pid;
		}
		struct source *s = d->src[0].ep.kind == EP_NONE ? &d->src[0] : &d->src[1];
		ep_fd(&s->ep, down->fd);
		s->link = 1;
		s->upstream = 0;
		s->discard = handmade;
		s->peer = down->peer_pid;
		linked |= !handmade;
		lk[1] = (struct linkref){ down->kind, down->fd, down->peer_pid, d, s,
					  down->kind == SP_LINK_DIRECT ? &d->snk[0] : NULL };
		if (U == D && up->kind != SP_LINK_NONE && !handmade) {
			d->src[0].relay = &d->snk[0];
			s->relay = &d->snk[1];
		}
	}
	if (linked) {
		/* A terminal or /dev/null has no frames: a background chain `... </dev/null &` keeps running. */
		struct stat sb;
		int chardev_in = fstat(0, &sb) == 0 && S_ISCHR(sb.st_mode);
		int chardev_out = fstat(1, &sb) == 0 && S_ISCHR(sb.st_mode);
		for (int i = 0; i < nif; i++) {
			if (ifs[i].src[0].ep.kind == EP_STDIO && chardev_in)
				ifs[i].src[0].ep.kind = EP_NONE;
			if (ifs[i].snk[0].ep.kind == EP_STDIO && chardev_out)
				ifs[i].snk[0].on = 0;
		}
	}
	return linked;
}

/* ---- the control socket (pktctl) ---- */

/* Frames read from the stream that the interface would not take (bad, or it was down). */
static uint64_t in_refused(struct iface *f)
{
	struct sp_port_stats ps = { 0 };
	if (f->port)
		sp_port_stats(f->port, &ps);
	return f->in_bad + f->in_refused + ps.tx_errs;
}

static char ctl_path[100];
static char **cmd_argv;
static atomic_int quit_asked;

/* RUNDIR/ctl-PID.sock, made before the user namespace (whose uid 0 would pick another RUNDIR). */
static int ctl_listen(char *eb)
{
	char dir[128];
	if (sp_chain_rundir(dir, sizeof dir, eb) < 0)
		return -1;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	/* RUNDIR names are at most 80 bytes (sp_chain_rundir): the path fits sun_path. */
	snprintf(ctl_path, sizeof ctl_path, "%.80s/ctl-%d.sock", dir, (int)getpid());
	memcpy(sa.sun_path, ctl_path, strlen(ctl_path) + 1);
	unlink(ctl_path); /* a stale one of a dead stage that had our pid */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 8) < 0) {
		snprintf(eb, SP_ERRBUF, "cannot listen on '%s': %s", ctl_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		ctl_path[0] = 0;
		return -1;
	}
	return fd;
}

struct outbuf {
	char b[8192];
	size_t n;
};

__attribute__((format(printf, 2, 3))) static void put_f(struct outbuf *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(o->b + o->n, sizeof o->b - o->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		o->n += (size_t)k < sizeof o->b - o->n ? (size_t)k : sizeof o->b - o->n - 1;
}

static void put_status(struct outbuf *o)
{
	put_f(o, "pid %d\nname %s\n", (int)getpid(), opt_name ? opt_name : "-");
	put_f(o, "command");
	for (char **a = cmd_argv; a && *a; a++)
		put_f(o, " %s", *a);
	put_f(o, "%s\n", cmd_argv ? "" : " -");
	for (int i = 0; i < nif; i++) {
		struct iface *f = &ifs[i];
		const uint8_t *m = f->mac;
		put_f(o, "iface %s mac %02x:%02x:%02x:%02x:%02x:%02x", f->name, m[0], m[1], m[2], m[3], m[4], m[5]);
		for (int k = 0; k < f->naddr; k++) {
			char a[INET6_ADDRSTRLEN];
			inet_ntop(f->addr[k].family, f->addr[k].addr, a, sizeof a);
			put_f(o, " addr %s/%d", a, f->addr[k].plen);
		}
		put_f(o, "\ncount %s rx %" PRIu64 " %" PRIu64 " bad %" PRIu64 " tx %" PRIu64 " %" PRIu64
			 " dropped %" PRIu64 "\n",
		      f->name, (uint64_t)f->in_pkts, (uint64_t)f->in_bytes, in_refused(f),
		      (uint64_t)f->out_pkts, (uint64_t)f->out_bytes, (uint64_t)f->out_dropped);
	}
	for (int i = 0; i < 2; i++) {
		struct linkref *l = &lk[i];
		const char *side = i ? "down" : "up";
		if (!l->f) {
			put_f(o, "link %s none\n", side);
			continue;
		}
		uint64_t rp = l->src ? l->src->pkts : 0, rb = l->src ? l->src->bytes : 0;
		put_f(o, "link %s %s peer %d iface %s rx %" PRIu64 " %" PRIu64 " tx %" PRIu64 " %" PRIu64
			 " dropped %" PRIu64 " relayed %" PRIu64 "%s\n",
		      side, sp_chain_kind_name(l->kind), (int)l->peer, l->f->name, rp, rb,
		      l->snk ? (uint64_t)l->snk->pkts : 0, l->snk ? (uint64_t)l->snk->bytes : 0,
		      l->snk ? (uint64_t)l->snk->dropped : 0, l->snk ? (uint64_t)l->snk->relayed : 0,
		      l->src && l->src->discard ? " discarded" : "");
	}
}

/*
 * swap: the link of one side gets a new socket (from pktctl, SCM_RIGHTS).
 * The sink changes under its lock, between two frames; the source's thread
 * is woken by shutting the old socket for reading and takes the new one at
 * that end.  The old socket is kept open, never read or written again, so
 * the old peer sees no end (it is being swapped too, or removed).  Frames
 * still in the old socket are lost: they were in flight.
 */
static int ctl_swap(int side, int nfd, pid_t peer, char *why, size_t whylen)
{
	struct linkref *l = &lk[side];
	if (!l->f || l->kind != SP_LINK_DIRECT || !l->src || !l->snk) {
		snprintf(why, whylen, "the %s side has no direct link to swap", side ? "down" : "up");
		return -1;
	}
	struct iface *f = l->f;
	struct sink *k = l->snk;
	struct source *s = l->src;
	int v = LINK_SOCKBUF;
	setsockopt(nfd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
	setsockopt(nfd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
	char eb[SP_ERRBUF];
	struct sp_writer_conf wc = { .format = f->format };
	struct sp_writer *w = sp_writer_new(nfd, &wc, eb);
	if (!w) {
		snprintf(why, whylen, "%.100s", eb);
		return -1;
	}
	pthread_mutex_lock(&k->mu);
	if (k->w) {
		sp_writer_flush(k->w);
		sp_writer_free(k->w);
	}
	k->w = w;
	k->ep.fd = nfd;
	k->peer = peer;
	atomic_store(&k->closed, 0);
	atomic_store(&f->tx_closed, 0);
	pthread_mutex_unlock(&k->mu);
	int old = l->fd;
	s->peer = peer;
	if (atomic_load(&s->done)) {
		/* Its thread had already seen the old link end: start a new one on the new link. */
		if (s->have)
			pthread_join(s->th, NULL);
		s->ep.fd = nfd;
		atomic_store(&s->done, 0);
		atomic_store(&f->in_done, 0);
		if (pthread_create(&s->th, NULL, in_thread, s) != 0) {
			snprintf(why, whylen, "cannot start a thread: %s", strerror(errno));
			return -1;
		}
		s->have = 1;
	} else {
		atomic_store(&s->next_fd, nfd);
		shutdown(old, SHUT_RD);
	}
	l->fd = nfd;
	l->peer = peer;
	return 0;
}

/* One request per connection: "status", "swap up|down PEERPID" with a socket attached, "quit". */
static void ctl_serve(int lfd)
{
	int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return;
	struct ucred cr;
	socklen_t cl = sizeof cr;
	struct outbuf *o = calloc(1, sizeof *o);
	if (!o || getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 || (cr.uid != getuid() && cr.uid != 0)) {
		free(o);
		close(c);
		return;
	}
	struct timeval tv = { 1, 0 }; /* a client that says nothing must not hold the stage */
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	char req[256];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { req, sizeof req - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof cm.buf };
	ssize_t n = recvmsg(c, &mh, MSG_CMSG_CLOEXEC);
	int nfd = -1;
	for (struct cmsghdr *h = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; h; h = CMSG_NXTHDR(&mh, h))
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS)
			memcpy(&nfd, CMSG_DATA(h), sizeof nfd);
	req[n > 0 ? n : 0] = 0;
	req[strcspn(req, "\r\n")] = 0;
	char side[8];
	int peer = 0;
	if (strcmp(req, "status") == 0) {
		put_status(o);
		put_f(o, "ok\n");
	} else if (sscanf(req, "swap %7s %d", side, &peer) == 2 && (!strcmp(side, "up") || !strcmp(side, "down"))) {
		char why[160];
		if (nfd < 0)
			put_f(o, "error: swap without a socket\n");
		else if (ctl_swap(strcmp(side, "down") == 0, nfd, (pid_t)peer, why, sizeof why) < 0)
			put_f(o, "error: %s\n", why);
		else {
			put_f(o, "ok\n");
			nfd = -1;
		}
	} else if (strcmp(req, "quit") == 0) {
		atomic_store(&quit_asked, 1);
		put_f(o, "ok\n");
	} else {
		put_f(o, "error: unknown request '%.60s'\n", req);
	}
	if (nfd >= 0)
		close(nfd);
	if (write(c, o->b, o->n) < 0) {
		/* the client went away: nothing to tell it */
	}
	free(o);
	close(c);
	if (atomic_load(&quit_asked))
		notify();
}

/* ---- the command, under its own init ---- */

struct init_arg {
	char **cmd;
	int outfd, errfd;
};
static volatile pid_t cmd_pid;

static void fwd_signal(int sig)
{
	if (cmd_pid > 0)
		kill(cmd_pid, sig);
}

static void put(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) < 0) {
		/* Nowhere left to report. */
	}
}

/* pid 1 of the command's PID namespace, a fork of the stage. */
static int init_main(void *arg)
{
	struct init_arg *a = arg;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* Out of the way first: outfd or errfd may sit at any of 0..3. */
	int err = fcntl(a->errfd, F_DUPFD_CLOEXEC, 10), out = fcntl(a->outfd, F_DUPFD_CLOEXEC, 10);
	int nul = open("/dev/null", O_RDONLY);
	if (err < 0 || out < 0 || nul < 0 || dup2(nul, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0 ||
	    dup3(err, 3, O_CLOEXEC) < 0)
		_exit(126);
	/* Nothing of the stage may stay open here: not the packet stream, not a TAP. */
	close_range(4, ~0u, 0);
	sigset_t all;
	sigfillset(&all);
	pid_t pid = fork();
	if (pid < 0)
		_exit(126);
	if (pid == 0) {
		struct sigaction dfl = { .sa_handler = SIG_DFL };
		for (int s = 1; s < NSIG; s++)
			sigaction(s, &dfl, NULL);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		execvp(a->cmd[0], a->cmd);
		int err = errno;
		put(3, "stdpkt: cannot run '");
		put(3, a->cmd[0]);
		put(3, "': ");
		put(3, strerror(err));
		put(3, "\n");
		_exit(err == ENOENT ? 127 : 126);
	}
	cmd_pid = pid;
	struct sigaction fw = { .sa_handler = fwd_signal };
	sigemptyset(&fw.sa_mask);
	int fwds[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
	for (size_t i = 0; i < sizeof fwds / sizeof fwds[0]; i++)
		sigaction(fwds[i], &fw, NULL);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	for (;;) {
		int st;
		pid_t w = waitpid(-1, &st, 0);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			_exit(126);
		if (w == pid)
			_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	}
}

/* ---- helpers run before any thread exists ---- */

/* Runs argv quietly (its output to our stderr), waiting for it; returns its exit status or -1. */
static int run_quiet(char *const argv[], int show_errors)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		dup2(nul, 0);
		dup2(show_errors ? 2 : nul, 1);
		if (!show_errors)
			dup2(nul, 2);
		sigset_t all;
		sigfillset(&all);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		execvp(argv[0], argv);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int setup_nat(const char *ifname)
{
	char rules[512];
	snprintf(rules, sizeof rules,
		 "add table inet stdpkt_nat; "
		 "add chain inet stdpkt_nat post { type nat hook postrouting priority srcnat; }; "
		 "add rule inet stdpkt_nat post oifname \"%s\" masquerade",
		 ifname);
	char *nft[] = { "nft", rules, NULL };
	if (run_quiet(nft, 0) == 0)
		return 0;
	char *ipt[] = { "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", (char *)ifname, "-j", "MASQUERADE", NULL };
	return run_quiet(ipt, 1) == 0 ? 0 : -1;
}

/* The watchdog: removes /run/netns/NAME once the stage is gone, however it went. */
static int start_watchdog(const char *name)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(p[1]);
		/* Chain links and the rest must close with the stage, not live on here. */
		for (int fd = 3; fd < 1024; fd++)
			if (fd != p[0])
				close(fd);
		setsid(); /* a kill of the stage's process group must not take the watchdog too */
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		signal(SIGPIPE, SIG_IGN);
		int fd = open("/dev/null", O_RDWR);
		dup2(fd, 0);
		dup2(fd, 1);
		/* stderr stays: a failed clean-up is worth a line */
		char c;
		int mounted = 0, done = 0;
		ssize_t r;
		while ((r = read(p[0], &c, 1)) != 0) {
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				break;
			if (c == 'M')
				mounted = 1;
			if (c == 'D')
				done = 1;
		}
		if (mounted && !done) {
			char eb[SP_ERRBUF];
			if (sp_ns_unname(name, eb) < 0)
				fprintf(stderr, "%s: %s\n", prog, eb);
		}
		_exit(0);
	}
	close(p[0]);
	return p[1];
}

/* The fallback interface: ethN <-> ethN-pipe, frames of the stream sent and taken on ethN-pipe. */
static int veth_port(struct sp_nl *nl, struct iface *f, char *eb)
{
	char peer[IFNAMSIZ], key[96];
	snprintf(peer, sizeof peer, "%.8s-pipe", f->name);
	f->vnet = 0;
	if (sp_nl_veth_add(nl, f->name, peer, eb) < 0 || sp_link_no_offload(f->name, eb) < 0 ||
	    sp_link_no_offload(peer, eb) < 0)
		return -1;
	int pidx = (int)if_nametoindex(peer), idx = (int)if_nametoindex(f->name);
	snprintf(key, sizeof key, "net/ipv6/conf/%s/disable_ipv6", peer);
	if (sp_sysctl_set(key, "1", eb) < 0 && !strstr(eb, "no such key"))
		return -1;
	if (sp_nl_link_set(nl, idx, f->mac, f->mtu, -1, eb) < 0 ||
	    sp_nl_link_set(nl, pidx, NULL, f->mtu, 1, eb) < 0)
		return -1;
	struct sp_port_conf pc = { .flags = SP_PORT_RX | SP_PORT_TX | SP_PORT_NONBLOCK | SP_PORT_PROMISC,
				   .batch = BATCH };
	f->port = sp_port_open("afpacket", peer, &pc, eb);
	return f->port ? 0 : -1;
}

static void fail(const char *msg)
{
	fprintf(stderr, "%s: %s\n", prog, msg);
	if (ctl_path[0])
		unlink(ctl_path); /* or dead stages' sockets pile up in the run directory */
	exit(1);
}

int main(int argc, char **argv)
{
	char eb[SP_ERRBUF];
	char **cmd = NULL;
	int ac;
	av = expand_config(argc, argv, &ac);
	parse_args(ac, av, &cmd);

	int outfd = 2;
	if (opt_out) {
		outfd = open(opt_out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
		if (outfd < 0) {
			fprintf(stderr, "%s: cannot open '%s': %s\n", prog, opt_out, strerror(errno));
			return 1;
		}
	}

	/*
	 * Meet the neighbouring stages before anything else: before the user
	 * namespace (the peer's uid is checked against ours) and before the
	 * watchdog fork, which would otherwise look like a second holder of
	 * our pipes to a neighbour walking /proc.
	 */
	int U = -1, D = -1;
	for (int i = 0; i < nif; i++) {
		if (ifs[i].rx.kind == EP_STDIO)
			U = i;
		if (ifs[i].tx.kind == EP_STDIO)
			D = i;
	}
	struct sp_chain_link up = { .kind = SP_LINK_NONE, .fd = -1 }, down = up;
	unsigned cf = (U < 0 ? SP_CHAIN_NO_UP : 0) | (D < 0 ? SP_CHAIN_NO_DOWN : 0);
	if (given_fd[0] >= 0 || given_fd[1] >= 0) {
		/* Started by pktctl with its links made: nothing to meet. */
		struct sp_chain_link *l[2] = { &up, &down };
		for (int i = 0; i < 2; i++) {
			struct stat sb;
			if (given_fd[i] < 0)
				continue;
			if (fstat(given_fd[i], &sb) < 0 || !S_ISSOCK(sb.st_mode))
				die_usage("bad link fd '%s': not an open socket", i ? "--down-fd" : "--up-fd");
			fcntl(given_fd[i], F_SETFD, FD_CLOEXEC);
			l[i]->kind = SP_LINK_DIRECT;
			l[i]->fd = given_fd[i];
			l[i]->peer_pid = given_peer[i];
		}
		if (up.kind != SP_LINK_NONE && U < 0)
			die_usage("--up-fd needs an interface reading stdin%s", "");
		if (down.kind != SP_LINK_NONE && D < 0)
			die_usage("--down-fd needs an interface writing stdout%s", "");
	} else if (!opt_oneway && cf != (SP_CHAIN_NO_UP | SP_CHAIN_NO_DOWN)) {
		if (sp_chain_meet(0, 1, cf, 0, &up, &down, eb) < 0)
			fprintf(stderr, "%s: chain link: %s\n", prog, eb);
		if (opt_verbose) {
			fprintf(stderr, "%s: up %s: %s\n", prog, sp_chain_kind_name(up.kind), up.why);
			fprintf(stderr, "%s: down %s: %s\n", prog, sp_chain_kind_name(down.kind), down.why);
		}
	}
	for (int i = 0; i < nif; i++) {
		struct iface *f = &ifs[i];
		for (int k = 0; k < 2; k++) {
			f->src[k].f = f;
			atomic_store(&f->src[k].next_fd, -1);
			f->src[k].ep = (struct endpoint){ .kind = EP_NONE, .fd = -1 };
			f->snk[k].ep = (struct endpoint){ .kind = EP_NONE, .fd = -1 };
			pthread_mutex_init(&f->snk[k].mu, NULL);
		}
		f->src[0].ep = f->rx;
		f->src[0].upstream = f->rx.kind == EP_STDIO;
		f->snk[0].ep = f->tx;
		f->snk[0].on = f->tx.kind != EP_NONE;
	}
	int linked = wire_links(&up, &down, U, D);
	for (int i = 0; i < 2; i++) {
		int fd = i ? down.fd : up.fd, v = LINK_SOCKBUF;
		if (fd >= 0) {
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
		}
	}

	/*
	 * The control socket, in RUNDIR as the chain's rendezvous: made now,
	 * while getuid() is still our own uid outside any user namespace.
	 */
	int ctlfd = -1;
	cmd_argv = cmd;
	if (!opt_noctl && (ctlfd = ctl_listen(eb)) < 0)
		fprintf(stderr, "%s: no control socket: %s\n", prog, eb);

	/*
	 * The stage dies with whoever started it: a chain left without its
	 * shell must not linger.  A stage pktctl inserted lives for its links
	 * instead (pktctl exits at once).
	 */
	pid_t ppid = getppid();
	if (given_fd[0] < 0 && given_fd[1] < 0)
		prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != ppid)
		return 1;
	/* Signals are taken synchronously by the main thread; every thread inherits this mask. */
	sigset_t sigs;
	sigemptyset(&sigs);
	int caught[] = { SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGQUIT };
	for (size_t i = 0; i < sizeof caught / sizeof caught[0]; i++)
		sigaddset(&sigs, caught[i]);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN); /* a closed stream shows as EPIPE, handled as the end of the stage */

	int wdfd = -1;
	if (opt_name) {
		if (geteuid() != 0)
			fail("cannot name the namespace: -n needs root (it mounts under /run/netns)");
		if ((wdfd = start_watchdog(opt_name)) < 0)
			fail("cannot start the watchdog for -n");
	}

	int rootless;
	if (sp_ns_create(&rootless, eb) < 0)
		fail(eb);
	if (opt_name) {
		if (sp_ns_name(opt_name, eb) < 0)
			fail(eb);
		if (write(wdfd, "M", 1) != 1)
			fail("cannot reach the watchdog");
	}
#define FAIL(...)                                                             \
	do {                                                                  \
		fprintf(stderr, "%s: ", prog);                                \
		fprintf(stderr, __VA_ARGS__);                                 \
		fputc('\n', stderr);                                          \
		goto cleanup;                                                 \
	} while (0)
	int status = 1;
	struct sp_nl *nl = NULL;
	pid_t init_pid = -1;
	if ((evfd = eventfd(0, EFD_CLOEXEC)) < 0 || (stopfd = eventfd(0, EFD_CLOEXEC)) < 0)
		FAIL("cannot create an eventfd: %s", strerror(errno));
	if (!(nl = sp_nl_open(eb)))
		FAIL("%s", eb);
	if (sp_nl_link_set(nl, 1, NULL, 0, 1, eb) < 0)
		FAIL("%s", eb);
	for (int i = 0; i < nif; i++) {
		struct iface *f = &ifs[i];
		int has6 = 0;
		for (int k = 0; k < f->naddr; k++)
			has6 |= f->addr[k].family == AF_INET6;
		f->vnet = f->format == SP_FMT_PCAP;
		struct sp_port_conf pc = { .flags = SP_PORT_RX | SP_PORT_TX | SP_PORT_NONBLOCK |
						    (f->vnet ? SP_PORT_VNET : 0),
					   .mac = f->mac, .mtu = f->mtu, .batch = BATCH };
		f->port = opt_afpacket ? NULL : sp_port_open("tap", f->name, &pc, eb);
		if (!f->port && !opt_afpacket && !strstr(eb, "Permission denied") &&
		    !strstr(eb, "Operation not permitted") && !strstr(eb, "No such file"))
			FAIL("%s", eb);
		if (!f->port) {
			/* No TAP for us: a veth pair, the stage's side ethN, the stream's side an AF_PACKET socket. */
			if (veth_port(nl, f, eb) < 0)
				FAIL("%s", eb);
		}
		f->ifindex = (int)if_nametoindex(f->name);
		f->link_mtu = f->mtu ? f->mtu : 1500;
		char key[64];
		/* No IPv6 address: no IPv6 at all, so the stream carries only the traffic asked for. */
		snprintf(key, sizeof key, "net/ipv6/conf/%.15s/disable_ipv6", f->name);
		if (!has6 && sp_sysctl_set(key, "1", eb) < 0 && !strstr(eb, "no such key"))
			FAIL("%s", eb);
		/*
		 * A stage is alone on its link: DAD only delays.  Its link-local
		 * address matters most, as neighbour solicitations wait for it
		 * to leave the tentative state (a second of lost pings).
		 */
		snprintf(key, sizeof key, "net/ipv6/conf/%.15s/accept_dad", f->name);
		if (has6 && sp_sysctl_set(key, "0", eb) < 0)
			FAIL("%s", eb);
		/*
		 * Addresses before the link goes up, with arp_notify: the stack
		 * announces itself by a gratuitous ARP as it comes up, the way a
		 * booting host (or the original's DAD) says hello on its link, and
		 * its peers learn its MAC before the first ping needs it.
		 */
		int has4 = 0;
		for (int k = 0; k < f->naddr; k++) {
			has4 |= f->addr[k].family == AF_INET;
			if (sp_nl_addr_add(nl, f->ifindex, &f->addr[k], eb) < 0)
				FAIL("%s on '%s'", eb, f->name);
		}
		snprintf(key, sizeof key, "net/ipv4/conf/%.15s/arp_notify", f->name);
		if (has4 && sp_sysctl_set(key, "1", eb) < 0)
			FAIL("%s", eb);
		if (sp_nl_link_set(nl, f->ifindex, NULL, 0, 1, eb) < 0)
			FAIL("%s", eb);
	}
	/*
	 * What the stack sends may flow now (its first frame, the gratuitous
	 * ARP, is the stage's boot).  Input waits until routes, sysctls and
	 * NAT are in place, so nothing is forwarded by a half-made stage.
	 */
	for (int i = 0; i < nif; i++) {
		struct iface *f = &ifs[i];
		/* Link sinks are open already: their writers exist before any hub relay may use them. */
		for (int k = 0; k < 2; k++) {
			struct sink *kk = &f->snk[k];
			if (kk->on && kk->ep.kind == EP_FD) {
				struct sp_writer_conf wc = { .format = f->format };
				if (!(kk->w = sp_writer_new(kk->ep.fd, &wc, eb)))
					FAIL("cannot write the chain link: %s", eb);
			}
		}
		if (f->snk[0].on || f->snk[1].on) {
			if (pthread_create(&f->th_out, NULL, out_thread, f) != 0)
				FAIL("cannot start a thread: %s", strerror(errno));
			f->have_out = 1;
		}
	}
	for (int g = 0; g < ngw; g++)
		if (sp_nl_route_default(nl, &gws[g], 0, eb) < 0)
			FAIL("%s", eb);
	if (opt_forward) {
		if (sp_sysctl_set("net/ipv4/ip_forward", "1", eb) < 0 ||
		    sp_sysctl_set("net/ipv6/conf/all/forwarding", "1", eb) < 0)
			FAIL("%s", eb);
	}
	for (int k = 0; k < nsysctl; k++)
		if (sp_sysctl_set(sysctls[k].key, sysctls[k].val, eb) < 0)
			FAIL("%s", eb);
	if (opt_nat && setup_nat(ifs[nif - 1].name) < 0)
		FAIL("cannot set up masquerading on '%s': neither nft nor iptables worked", ifs[nif - 1].name);

	/* -x: rules a middle stage needs (iptables, ip route) are in place before the first frame. */
	for (int k = 0; k < nsetup; k++) {
		char *sh[] = { "sh", "-c", (char *)setups[k], NULL };
		int rc = run_quiet(sh, 1);
		if (rc != 0)
			FAIL("setup command failed '%s': exit %d", setups[k], rc);
	}
	for (int i = 0; i < nif; i++) {
		struct iface *f = &ifs[i];
		int live = 0;
		for (int k = 0; k < 2; k++) {
			struct source *s = &f->src[k];
			if (s->ep.kind == EP_NONE) {
				atomic_store(&s->done, 1);
				continue;
			}
			if (pthread_create(&s->th, NULL, in_thread, s) != 0)
				FAIL("cannot start a thread: %s", strerror(errno));
			s->have = 1;
			live |= !s->discard;
		}
		f->have_in = live;
		if (!live)
			atomic_store(&f->in_done, 1);
	}
	if (cmd) {
		static struct init_arg ia;
		ia.cmd = cmd;
		ia.outfd = outfd;
		ia.errfd = 2;
		/*
		 * Our next child is pid 1 of a new PID namespace.  After this no
		 * thread may be created (the kernel refuses CLONE_THREAD once the
		 * children's PID namespace differs), so every thread exists now.
		 * A plain fork(), unlike clone() on a stack of our own, leaves
		 * glibc (and the sanitizers) in a state the child may use.
		 */
		if (unshare(CLONE_NEWPID) < 0)
			FAIL("cannot create a pid namespace: %s", strerror(errno));
		init_pid = fork();
		if (init_pid < 0)
			FAIL("cannot start '%s': %s", cmd[0], strerror(errno));
		if (init_pid == 0)
			_exit(init_main(&ia));
	}

	int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd < 0)
		FAIL("cannot create a signalfd: %s", strerror(errno));
	int any_rx = 0;
	for (int i = 0; i < nif; i++)
		any_rx |= ifs[i].have_in;
	int sig = 0, cmd_status = -1;
	for (;;) {
		struct pollfd pfd[3] = { { .fd = sfd, .events = POLLIN },
					 { .fd = evfd, .events = POLLIN },
					 { .fd = ctlfd, .events = POLLIN } };
		if (poll(pfd, 3, -1) < 0 && errno != EINTR)
			break;
		if (pfd[2].revents)
			ctl_serve(ctlfd);
		if (atomic_load(&quit_asked))
			break;
		if (pfd[0].revents) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) == sizeof si && si.ssi_signo != SIGCHLD) {
				sig = (int)si.ssi_signo;
				break;
			}
		}
		if (init_pid > 0) {
			int st;
			if (waitpid(init_pid, &st, WNOHANG) == init_pid) {
				cmd_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
				init_pid = -1;
				break;
			}
		}
		if (pfd[1].revents) {
			uint64_t x;
			if (read(evfd, &x, sizeof x) < 0) {
				/* a spurious wake-up is harmless */
			}
		}
		if (atomic_load(&fatal_seen))
			break;
		/* Without a command the stage lives for its streams: all inputs ended, or all outputs closed. */
		if (!cmd) {
			int all_in = 1, all_out = 1, any_tx = 0, nup = 0, up_done = 1;
			for (int i = 0; i < nif; i++) {
				all_in &= atomic_load(&ifs[i].in_done);
				if (ifs[i].snk[0].on || ifs[i].snk[1].on) {
					any_tx = 1;
					all_out &= atomic_load(&ifs[i].tx_closed);
				}
				for (int k = 0; k < 2; k++) {
					if (ifs[i].src[k].have && ifs[i].src[k].upstream) {
						nup++;
						up_done &= atomic_load(&ifs[i].src[k].done);
					}
				}
			}
			/*
			 * In a linked chain the end travels downstream: the stage
			 * before us ended, so do we, and the stage after sees
			 * our end.  Waiting for all inputs would wait for the
			 * stage after us, which waits for us.
			 */
			if (linked && nup && up_done)
				break;
			if ((any_rx && all_in) || (any_tx && all_out))
				break;
		}
	}
	/*
	 * The command is gone, but TCP may still have data or a FIN in flight
	 * (a sender that closed its socket and exited): keep bridging until the
	 * namespace's connections are done, at most 5 s, or the last segments
	 * of a transfer would die with the namespace.
	 */
	for (int i = 0; cmd_status >= 0 && !sig && i < 1000; i++) {
		int busy = sp_ns_tcp_busy(eb);
		if (busy <= 0 || atomic_load(&fatal_seen))
			break;
		struct pollfd pfd = { .fd = sfd, .events = POLLIN };
		if (poll(&pfd, 1, 5) > 0) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) == sizeof si && si.ssi_signo != SIGCHLD)
				sig = (int)si.ssi_signo;
		}
	}
	/* The command first: a signal is passed on and given a moment, then its whole PID namespace goes. */
	if (init_pid > 0) {
		int st;
		if (sig)
			kill(init_pid, sig);
		for (int i = 0; sig && i < 200; i++) {
			if (waitpid(init_pid, &st, WNOHANG) == init_pid) {
				cmd_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
				init_pid = -1;
				break;
			}
			usleep(5000);
		}
		if (init_pid > 0) {
			kill(init_pid, SIGKILL);
			waitpid(init_pid, &st, 0);
			init_pid = -1;
		}
	}
	/* The out threads drain what the stack still sent, flush, and end; a stuck one is not waited for. */
	atomic_store(&stopping, 1);
	uint64_t one = 1;
	if (write(stopfd, &one, sizeof one) < 0) {
		/* cannot happen on an eventfd we own */
	}
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 1;
	for (int i = 0; i < nif; i++)
		if (ifs[i].have_out && pthread_timedjoin_np(ifs[i].th_out, NULL, &dl) == 0)
			ifs[i].have_out = 0;

	if (cmd_status >= 0)
		status = cmd_status;
	else if (sig)
		status = 128 + sig;
	else if (atomic_load(&fatal_seen))
		status = 1;
	else
		status = 0;
	if (opt_counts) {
		for (int i = 0; i < nif; i++) {
			struct iface *f = &ifs[i];
			fprintf(stderr,
				"%s: %s: rx %" PRIu64 " packets, %" PRIu64 " bytes, %" PRIu64 " bad; tx %" PRIu64
				" packets, %" PRIu64 " bytes, %" PRIu64 " dropped\n",
				prog, f->name, f->in_pkts, f->in_bytes, in_refused(f), f->out_pkts,
				f->out_bytes, f->out_dropped);
		}
	}
cleanup:
	if (ctl_path[0])
		unlink(ctl_path);
	if (init_pid > 0) {
		kill(init_pid, SIGKILL);
		waitpid(init_pid, NULL, 0);
	}
	if (opt_name) {
		if (sp_ns_unname(opt_name, eb) < 0)
			fprintf(stderr, "%s: %s\n", prog, eb);
		else if (write(wdfd, "D", 1) != 1) {
			/* the watchdog is gone already; it would only have unmounted again */
		}
	}
	fflush(stdout);
	/* Threads may sit in a blocking read or FIFO open: _exit ends them with the process. */
	fflush(stderr);
	_exit(status);
}
