/* SPDX-License-Identifier: BSD-2-Clause */
/* port_tap.c: the TAP back-end: a /dev/net/tun device whose frames are read and written in batches. */
/*
 * spec is the wanted device name ("" or NULL: the kernel's choice, tap%d);
 * p->name gets the name the kernel gave.  conf->mac and conf->mtu are set
 * through SIOCSIFHWADDR/SIOCSIFMTU, SP_PORT_UP raises IFF_UP, all before
 * open returns, so a caller may add addresses right away.  The device lives
 * in the network namespace of the calling thread, and goes away with the
 * last descriptor (no IFF_PERSIST).
 *
 * SP_PORT_VNET opens the device with IFF_VNET_HDR and offers the kernel
 * TUN_F_CSUM|TSO4|TSO6|TSO_ECN, so TCP super-frames of up to 64 KiB cross
 * it with their checksum left partial.  In that mode every frame handed
 * over in struct sp_pkt, in both directions, is a struct virtio_net_hdr
 * (10 bytes, <linux/virtio_net.h>, fields in native byte order as the tun
 * driver uses for a little-endian host) immediately followed by the
 * Ethernet frame: data points at the header and caplen/wirelen count the
 * header too (SP_TAP_VNET_HLEN bytes).  Without SP_PORT_VNET frames are
 * plain Ethernet frames, as every other port carries.
 *
 * Received frames lie in the port's own buffer, one 64 KiB slot each; the
 * caller may edit them in place (finish a checksum, strip the vnet header)
 * until the next recv.
 *
 * Reads are batched: the descriptor is always non-blocking inside, and a
 * blocking recv polls for the first frame only, then reads until the batch
 * is full or the queue is empty.  A frame the kernel refuses on write
 * (malformed, too long) is counted in tx_errs and dropped, never retried.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "port.h"

#define SP_TAP_VNET_HLEN ((unsigned)sizeof(struct virtio_net_hdr))
/* Largest frame the device can hand us: 64 KiB IP plus link and vnet headers. */
#define SLOT (65536 + 64)

struct tap {
	unsigned flags;
	int nslots;
	uint8_t *buf; /* nslots * SLOT */
	struct sp_port_stats st;
};

static int fail(struct sp_port *p, const char *what, int err)
{
	snprintf(p->err, sizeof p->err, "%s '%s': %s", what, p->name[0] ? p->name : "/dev/net/tun",
		 strerror(err));
	return SP_EIO;
}

/* Link settings through a throw-away socket of the device's namespace. */
static int link_setup(struct sp_port *p, const struct sp_port_conf *c)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return fail(p, "cannot open a socket for", errno);
	struct ifreq ifr;
	int rc = 0;
	memset(&ifr, 0, sizeof ifr);
	memcpy(ifr.ifr_name, p->name, IFNAMSIZ - 1); /* p->name came from the kernel: it fits */
	if (c->mac) {
		ifr.ifr_hwaddr.sa_family = 1; /* ARPHRD_ETHER */
		memcpy(ifr.ifr_hwaddr.sa_data, c->mac, 6);
		if (ioctl(s, SIOCSIFHWADDR, &ifr) < 0) {
			rc = fail(p, "cannot set the mac address of", errno);
			goto out;
		}
	}
	if (c->mtu) {
		ifr.ifr_mtu = (int)c->mtu;
		if (ioctl(s, SIOCSIFMTU, &ifr) < 0) {
			rc = fail(p, "cannot set the mtu of", errno);
			goto out;
		}
	}
	if (c->flags & SP_PORT_UP) {
		if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
			rc = fail(p, "cannot read the flags of", errno);
			goto out;
		}
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
			rc = fail(p, "cannot bring up", errno);
			goto out;
		}
	}
out:
	close(s);
	return rc;
}

static int tap_open(struct sp_port *p, const char *spec, const struct sp_port_conf *c)
{
	struct tap *t = calloc(1, sizeof *t);
	if (!t)
		return fail(p, "cannot allocate", ENOMEM);
	t->flags = c->flags;
	t->nslots = c->batch ? (int)c->batch : 64;
	if (t->nslots > 1024)
		t->nslots = 1024;
	/* Only touched pages get memory: 64 slots of 64 KiB cost what small frames use. */
	t->buf = malloc((size_t)t->nslots * SLOT);
	if (!t->buf) {
		free(t);
		return fail(p, "cannot allocate", ENOMEM);
	}
	if (spec && strlen(spec) >= IFNAMSIZ) {
		snprintf(p->err, sizeof p->err, "bad interface name '%s': longer than %d bytes", spec,
			 IFNAMSIZ - 1);
		goto err;
	}
	p->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (p->fd < 0) {
		fail(p, "cannot open", errno);
		goto err;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (c->flags & SP_PORT_VNET)
		ifr.ifr_flags |= IFF_VNET_HDR;
	if (spec)
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", spec);
	if (ioctl(p->fd, TUNSETIFF, &ifr) < 0) {
		fail(p, "cannot create the tap device", errno);
		goto err;
	}
	snprintf(p->name, sizeof p->name, "%s", ifr.ifr_name);
	if (c->flags & SP_PORT_VNET) {
		int hl = (int)SP_TAP_VNET_HLEN;
		if (ioctl(p->fd, TUNSETVNETHDRSZ, &hl) < 0) {
			fail(p, "cannot set the vnet header size of", errno);
			goto err;
		}
		unsigned off = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
		if (ioctl(p->fd, TUNSETOFFLOAD, off) < 0) {
			fail(p, "cannot set the offloads of", errno);
			goto err;
		}
	}
	if (link_setup(p, c) < 0)
		goto err;
	p->priv = t;
	return 0;
err:
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	free(t->buf);
	free(t);
	return SP_EIO;
}

static int tap_recv(struct sp_port *p, struct sp_pkt *v, int n)
{
	struct tap *t = p->priv;
	int got = 0;
	if (n > t->nslots)
		n = t->nslots;
	while (got < n) {
		uint8_t *slot = t->buf + (size_t)got * SLOT;
		ssize_t r = read(p->fd, slot, SLOT);
		if (r > 0) {
			v[got].data = slot;
			v[got].caplen = v[got].wirelen = (uint32_t)r;
			v[got].ts = SP_TS_NONE;
			t->st.rx_pkts++;
			t->st.rx_bytes += (uint64_t)r;
			got++;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN) {
			if (got || (t->flags & SP_PORT_NONBLOCK))
				break;
			struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
			if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
				return fail(p, "cannot poll", errno);
			continue;
		}
		/* r == 0 does not happen on a tap; treat it like a device that went away. */
		return fail(p, "cannot read from", r < 0 ? errno : EIO);
	}
	return got;
}

static int tap_send(struct sp_port *p, const struct sp_pkt *v, int n)
{
	struct tap *t = p->priv;
	for (int i = 0; i < n; i++) {
		for (;;) {
			ssize_t r = write(p->fd, v[i].data, v[i].caplen);
			if (r >= 0) {
				t->st.tx_pkts++;
				t->st.tx_bytes += v[i].caplen;
				break;
			}
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				if (t->flags & SP_PORT_NONBLOCK)
					return i;
				struct pollfd pfd = { .fd = p->fd, .events = POLLOUT };
				if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
					return fail(p, "cannot poll", errno);
				continue;
			}
			if (errno == EBADFD || errno == ENODEV)
				return fail(p, "cannot write to", errno);
			/*
			 * EIO: the interface is down (someone ran `ip link set eth0 down`); a NIC
			 * that is down drops and counts, and the port lives on for when it comes up.
			 * EINVAL, EMSGSIZE, EFAULT...: this frame is bad, the device is fine.
			 */
			t->st.tx_errs++;
			break;
		}
	}
	return n;
}

static int tap_stats(struct sp_port *p, struct sp_port_stats *s)
{
	struct tap *t = p->priv;
	*s = t->st;
	return 0;
}

static void tap_close(struct sp_port *p)
{
	struct tap *t = p->priv;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	if (t) {
		free(t->buf);
		free(t);
	}
	p->priv = NULL;
}

const struct sp_port_ops sp_port_tap = {
	.name = "tap",
	.open = tap_open,
	.recv = tap_recv,
	.send = tap_send,
	.stats = tap_stats,
	.close = tap_close,
};
