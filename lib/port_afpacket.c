/* SPDX-License-Identifier: BSD-2-Clause */
/* port_afpacket.c: the AF_PACKET back-end: a Linux interface whose frames arrive through a TPACKET_V3 ring and leave through sendmmsg. */
/*
 * spec is an interface name in the caller's network namespace.
 *
 * Receive (SP_PORT_RX): a TPACKET_V3 ring.  recv hands out the frames of one
 * ring block at a time; the block goes back to the kernel at the next recv,
 * so the data stays valid until then, as port.h promises.  Only frames the
 * interface received are delivered: PACKET_IGNORE_OUTGOING (and, should the
 * kernel lack it, a check of sll_pkttype) keeps out every frame sent on the
 * interface, by this port, by another port on the same interface, or by the
 * kernel's own stack.  A VLAN tag the driver stripped into the metadata
 * (veth and most NICs do) is put back into the frame, so a reader sees the
 * frame as it was on the wire.  The frame's timestamp is the kernel's.
 *
 * A filter (conf->filter, pcap-filter syntax) is compiled by libpcap for
 * Ethernet and attached with SO_ATTACH_FILTER before the socket is bound to
 * any protocol: until the bind no frame reaches the socket, so none can
 * slip in unfiltered.  A filter cannot see a stripped VLAN tag (libpcap only
 * emits the kernel's VLAN extensions for live captures), so "vlan" filters
 * match nothing on such interfaces.
 *
 * The kernel drops frames when the ring is full (the reader is slow); that
 * count, from PACKET_STATISTICS, is rx_drops.  The ring takes 32 MiB.
 *
 * Transmit (SP_PORT_TX): sendmmsg, one system call per batch.  A frame the
 * kernel refuses (too long for the MTU, shorter than a header) is counted in
 * tx_errs; send then returns the frames taken before it, or, if it is the
 * first of the batch, SP_EBAD with p->err saying why: the caller skips
 * that one frame and goes on.  A device that went away is SP_EIO.
 * A port opened with SP_PORT_TX only is bound to no protocol and receives
 * nothing, so it costs no copies of received traffic.
 *
 * recv and send share no state, so one thread may receive while another
 * sends on the same port; stats may be called from a third.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "port.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

/*
 * Many small blocks rather than a few big ones: the kernel hands a block over
 * when it is full or RETIRE_MS old, so at moderate rates big blocks would go
 * out mostly empty and the ring would hold far fewer frames than its size.
 * A block still holds the largest GSO frame (64 KiB).
 */
#define BLOCK_SIZE (128u << 10)
#define BLOCK_NR 256
#define RETIRE_MS 1           /* a partly filled block reaches the reader within this */
#define TX_MAX 1024           /* frames per sendmmsg */
#define VLAN_HLEN 4

struct afp {
	unsigned flags;
	int ifindex;
	uint32_t snaplen;
	/* receive side */
	uint8_t *ring;
	size_t ring_len;
	unsigned blk;                /* the block being handed out */
	struct tpacket_block_desc *held; /* block to give back at the next recv */
	uint32_t left;               /* frames left in the held block */
	struct tpacket3_hdr *next;   /* the next of them */
	int ignore_outgoing;         /* the kernel filters outgoing frames for us */
	/* transmit side */
	struct mmsghdr *msgs;
	struct iovec *iov;
	struct sockaddr_ll txaddr;
	/* counters: rx_* by the receiving thread, tx_* by the sending one, read by anyone */
	uint64_t rx_pkts, rx_bytes, tx_pkts, tx_bytes, tx_errs;
	pthread_mutex_t stmu; /* PACKET_STATISTICS resets on read: the running total needs a lock */
	uint64_t rx_drops;
};

static int fail(struct sp_port *p, const char *what, int err)
{
	snprintf(p->err, sizeof p->err, "%s '%s': %s", what, p->name, strerror(err));
	return SP_EIO;
}

static void add(uint64_t *c, uint64_t v) { __atomic_fetch_add(c, v, __ATOMIC_RELAXED); }
static uint64_t get(const uint64_t *c) { return __atomic_load_n(c, __ATOMIC_RELAXED); }

static int attach_filter(struct sp_port *p, const char *expr, uint32_t snaplen)
{
	pcap_t *pc = pcap_open_dead(DLT_EN10MB, (int)snaplen);
	if (!pc)
		return fail(p, "cannot compile the filter for", ENOMEM);
	struct bpf_program prog;
	if (pcap_compile(pc, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		snprintf(p->err, sizeof p->err, "bad filter '%s': %s", expr, pcap_geterr(pc));
		pcap_close(pc);
		return SP_EINVAL;
	}
	struct sock_fprog fp = { .len = (unsigned short)prog.bf_len, .filter = (struct sock_filter *)prog.bf_insns };
	int rc = 0;
	if (setsockopt(p->fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof fp) < 0)
		rc = fail(p, "cannot attach the filter to", errno);
	pcap_freecode(&prog);
	pcap_close(pc);
	return rc;
}

static int setup_ring(struct sp_port *p, struct afp *a)
{
	int v = TPACKET_V3;
	if (setsockopt(p->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof v) < 0)
		return fail(p, "cannot select TPACKET_V3 on", errno);
	/* Room before the MAC header to put back a stripped VLAN tag. */
	unsigned reserve = VLAN_HLEN;
	if (setsockopt(p->fd, SOL_PACKET, PACKET_RESERVE, &reserve, sizeof reserve) < 0)
		return fail(p, "cannot reserve headroom on", errno);
	struct tpacket_req3 req = {
		.tp_block_size = BLOCK_SIZE,
		.tp_block_nr = BLOCK_NR,
		.tp_frame_size = 2048,
		.tp_frame_nr = BLOCK_SIZE / 2048 * BLOCK_NR,
		.tp_retire_blk_tov = RETIRE_MS,
		.tp_feature_req_word = 0,
	};
	if (setsockopt(p->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0)
		return fail(p, "cannot set up the receive ring of", errno);
	a->ring_len = (size_t)BLOCK_SIZE * BLOCK_NR;
	/* The ring's pages are the kernel's and never swapped: no MAP_LOCKED needed. */
	void *m = mmap(NULL, a->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
	if (m == MAP_FAILED) {
		a->ring_len = 0;
		return fail(p, "cannot map the receive ring of", errno);
	}
	a->ring = m;
	return 0;
}

static void afp_free(struct sp_port *p, struct afp *a)
{
	if (a->ring)
		munmap(a->ring, a->ring_len);
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	pthread_mutex_destroy(&a->stmu);
	free(a->msgs);
	free(a->iov);
	free(a);
}

static int afp_open(struct sp_port *p, const char *spec, const struct sp_port_conf *c)
{
	snprintf(p->name, sizeof p->name, "%s", spec ? spec : "");
	if (!spec || !*spec || strlen(spec) >= IFNAMSIZ) {
		snprintf(p->err, sizeof p->err, "bad interface name '%s'", p->name);
		return SP_EINVAL;
	}
	struct afp *a = calloc(1, sizeof *a);
	if (!a)
		return fail(p, "cannot allocate", ENOMEM);
	pthread_mutex_init(&a->stmu, NULL);
	a->flags = c->flags;
	a->snaplen = c->snaplen ? c->snaplen : SP_MAXFRAME_DEFAULT;
	int rc = SP_EIO;
	a->msgs = calloc(TX_MAX, sizeof *a->msgs);
	a->iov = calloc(TX_MAX, sizeof *a->iov);
	if (!a->msgs || !a->iov) {
		rc = fail(p, "cannot allocate", ENOMEM);
		goto err;
	}
	a->ifindex = (int)if_nametoindex(spec);
	if (!a->ifindex) {
		rc = fail(p, "no such interface", errno == ENXIO ? ENODEV : errno);
		goto err;
	}
	/* Protocol 0: no frame is queued to the socket until the bind below. */
	p->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		rc = fail(p, "cannot open a packet socket for", errno);
		goto err;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	memcpy(ifr.ifr_name, spec, strlen(spec));
	if (ioctl(p->fd, SIOCGIFHWADDR, &ifr) == 0 && ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER &&
	    ifr.ifr_hwaddr.sa_family != ARPHRD_LOOPBACK) {
		snprintf(p->err, sizeof p->err, "not an ethernet interface '%s': link type %d", p->name,
			 ifr.ifr_hwaddr.sa_family);
		rc = SP_EINVAL;
		goto err;
	}
	if (c->flags & SP_PORT_RX) {
		int one = 1;
		if (setsockopt(p->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) == 0)
			a->ignore_outgoing = 1;
		if (c->filter && (rc = attach_filter(p, c->filter, a->snaplen)) < 0)
			goto err;
		if ((rc = setup_ring(p, a)) < 0)
			goto err;
		if (c->flags & SP_PORT_PROMISC) {
			struct packet_mreq mr = { .mr_ifindex = a->ifindex, .mr_type = PACKET_MR_PROMISC };
			if (setsockopt(p->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0) {
				rc = fail(p, "cannot set promiscuous mode on", errno);
				goto err;
			}
		}
	}
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = (c->flags & SP_PORT_RX) ? htons(ETH_P_ALL) : 0,
		.sll_ifindex = a->ifindex,
	};
	if (bind(p->fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
		rc = fail(p, "cannot bind to", errno);
		goto err;
	}
	a->txaddr = sll;
	for (int i = 0; i < TX_MAX; i++) {
		a->msgs[i].msg_hdr.msg_iov = &a->iov[i];
		a->msgs[i].msg_hdr.msg_iovlen = 1;
	}
	p->priv = a;
	return 0;
err:
	afp_free(p, a);
	return rc;
}

/* Points *v at frame h, putting back a VLAN tag the driver moved into the metadata. */
static int take_frame(struct afp *a, struct tpacket3_hdr *h, struct sp_pkt *v)
{
	if (!a->ignore_outgoing) {
		const struct sockaddr_ll *sll = (const void *)((uint8_t *)h + TPACKET_ALIGN(sizeof *h));
		if (sll->sll_pkttype == PACKET_OUTGOING)
			return 0;
	}
	uint8_t *mac = (uint8_t *)h + h->tp_mac;
	uint32_t cap = h->tp_snaplen, wire = h->tp_len;
	if ((h->tp_status & TP_STATUS_VLAN_VALID) && cap >= 12) {
		uint16_t tpid = (h->tp_status & TP_STATUS_VLAN_TPID_VALID) && h->hv1.tp_vlan_tpid
					? h->hv1.tp_vlan_tpid
					: ETH_P_8021Q;
		uint16_t tag[2] = { htons(tpid), htons((uint16_t)h->hv1.tp_vlan_tci) };
		/* PACKET_RESERVE left VLAN_HLEN bytes before mac, ours to write */
		memmove(mac - VLAN_HLEN, mac, 12);
		mac -= VLAN_HLEN;
		memcpy(mac + 12, tag, 4);
		cap += VLAN_HLEN;
		wire += VLAN_HLEN;
	}
	if (cap > a->snaplen)
		cap = a->snaplen;
	v->data = mac;
	v->caplen = cap;
	v->wirelen = wire < cap ? cap : wire;
	v->ts = (int64_t)h->tp_sec * 1000000000 + h->tp_nsec;
	return 1;
}

static int afp_recv(struct sp_port *p, struct sp_pkt *v, int n)
{
	struct afp *a = p->priv;
	if (!a->ring) {
		snprintf(p->err, sizeof p->err, "cannot receive on '%s': port not opened for receiving", p->name);
		return SP_EINVAL;
	}
	int got = 0;
	while (got == 0) {
		if (a->held && a->left == 0) {
			__atomic_store_n(&a->held->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
			a->held = NULL;
			a->blk = (a->blk + 1) % BLOCK_NR;
		}
		if (!a->held) {
			struct tpacket_block_desc *b = (void *)(a->ring + (size_t)a->blk * BLOCK_SIZE);
			if (!(__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) {
				if (a->flags & SP_PORT_NONBLOCK)
					return 0;
				struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
				if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
					return fail(p, "cannot poll", errno);
				if (pfd.revents & (POLLERR | POLLNVAL)) {
					int e = 0;
					socklen_t l = sizeof e;
					getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &e, &l);
					if (e)
						return fail(p, "cannot receive on", e);
				}
				continue;
			}
			a->held = b;
			a->left = b->hdr.bh1.num_pkts;
			a->next = (void *)((uint8_t *)b + b->hdr.bh1.offset_to_first_pkt);
		}
		while (a->left && got < n) {
			struct tpacket3_hdr *h = a->next;
			a->left--;
			a->next = (void *)((uint8_t *)h + h->tp_next_offset);
			if (take_frame(a, h, &v[got])) {
				add(&a->rx_pkts, 1);
				add(&a->rx_bytes, v[got].caplen);
				got++;
			}
		}
	}
	return got;
}

static int afp_send(struct sp_port *p, const struct sp_pkt *v, int n)
{
	struct afp *a = p->priv;
	int done = 0;
	while (done < n) {
		int k = n - done > TX_MAX ? TX_MAX : n - done;
		for (int i = 0; i < k; i++) {
			a->iov[i].iov_base = (void *)v[done + i].data;
			a->iov[i].iov_len = v[done + i].caplen;
		}
		int r = sendmmsg(p->fd, a->msgs, (unsigned)k, (a->flags & SP_PORT_NONBLOCK) ? MSG_DONTWAIT : 0);
		if (r > 0) {
			uint64_t bytes = 0;
			for (int i = 0; i < r; i++)
				bytes += v[done + i].caplen;
			add(&a->tx_pkts, (uint64_t)r);
			add(&a->tx_bytes, bytes);
			done += r;
			continue;
		}
		int e = r < 0 ? errno : EIO;
		if (e == EINTR)
			continue;
		if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS) {
			if (a->flags & SP_PORT_NONBLOCK)
				return done;
			/* The device queue is full: wait for room rather than spin. */
			struct pollfd pfd = { .fd = p->fd, .events = POLLOUT };
			poll(&pfd, 1, e == ENOBUFS ? 1 : -1);
			continue;
		}
		if (e == ENODEV || e == ENXIO || e == EBADF)
			return done ? done : fail(p, "cannot send on", e);
		/* This frame is refused (EMSGSIZE, EINVAL, ENETDOWN...): the ones before it went. */
		if (done)
			return done;
		add(&a->tx_errs, 1);
		snprintf(p->err, sizeof p->err, "cannot send a frame of %u bytes on '%s': %s", v[0].caplen, p->name,
			 strerror(e));
		return SP_EBAD;
	}
	return done;
}

static int afp_stats(struct sp_port *p, struct sp_port_stats *s)
{
	struct afp *a = p->priv;
	s->rx_pkts = get(&a->rx_pkts);
	s->rx_bytes = get(&a->rx_bytes);
	s->tx_pkts = get(&a->tx_pkts);
	s->tx_bytes = get(&a->tx_bytes);
	s->tx_errs = get(&a->tx_errs);
	pthread_mutex_lock(&a->stmu);
	if (a->ring) {
		struct tpacket_stats_v3 st;
		socklen_t l = sizeof st;
		if (getsockopt(p->fd, SOL_PACKET, PACKET_STATISTICS, &st, &l) == 0)
			a->rx_drops += st.tp_drops;
	}
	s->rx_drops = a->rx_drops;
	pthread_mutex_unlock(&a->stmu);
	return 0;
}

static void afp_close(struct sp_port *p)
{
	if (p->priv)
		afp_free(p, p->priv);
	p->priv = NULL;
}

const struct sp_port_ops sp_port_afpacket = {
	.name = "afpacket",
	.open = afp_open,
	.recv = afp_recv,
	.send = afp_send,
	.stats = afp_stats,
	.close = afp_close,
};
