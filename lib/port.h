/* SPDX-License-Identifier: BSD-2-Clause */
/* port.h: the small ops table behind which every packet back-end (AF_PACKET, TAP, stream, socket) sits. */
#ifndef STDPKT_PORT_H
#define STDPKT_PORT_H

#include "stdpkt.h"

/*
 * A port moves frames in batches.  Each back-end is one file, lib/port_NAME.c,
 * that defines one `const struct sp_port_ops sp_port_NAME`, and is listed in
 * the table in lib/port.c.  Back-ends may keep a private struct behind priv.
 */

enum {
	SP_PORT_RX = 1 << 0,      /* open for receiving */
	SP_PORT_TX = 1 << 1,      /* open for transmitting */
	SP_PORT_PROMISC = 1 << 2, /* promiscuous mode (AF_PACKET) */
	SP_PORT_NONBLOCK = 1 << 3,
	SP_PORT_UP = 1 << 4,      /* bring the link up (TAP) */
	SP_PORT_VNET = 1 << 5,    /* TAP: IFF_VNET_HDR + offloads, frames may be 64 KiB */
};

struct sp_port_conf {
	unsigned flags;      /* SP_PORT_* */
	const char *filter;  /* pcap-filter expression, compiled to classic BPF; NULL = all */
	uint32_t snaplen;    /* 0 = SP_MAXFRAME_DEFAULT */
	const uint8_t *mac;  /* 6 bytes, or NULL to keep the kernel's */
	unsigned mtu;        /* 0 = keep */
	unsigned batch;      /* frames per batch hint; 0 = default (64) */
};

struct sp_port_stats {
	uint64_t rx_pkts, rx_bytes, rx_drops; /* rx_drops: the kernel's count (ring full) */
	uint64_t tx_pkts, tx_bytes, tx_errs;
};

struct sp_port;

struct sp_port_ops {
	const char *name;
	/* spec is the back-end's own argument (an interface name, a path...). */
	int (*open)(struct sp_port *p, const char *spec, const struct sp_port_conf *c);
	/*
	 * Receives up to n frames into v; data stays valid until the next recv.
	 * Returns the count (0 when nothing is ready on a non-blocking port),
	 * or < 0 (SP_EIO with p->err filled).  Blocks for at least one frame
	 * unless SP_PORT_NONBLOCK.
	 */
	int (*recv)(struct sp_port *p, struct sp_pkt *v, int n);
	/* Sends n frames; returns how many were taken, or < 0. */
	int (*send)(struct sp_port *p, const struct sp_pkt *v, int n);
	int (*stats)(struct sp_port *p, struct sp_port_stats *s);
	void (*close)(struct sp_port *p);
};

struct sp_port {
	const struct sp_port_ops *ops;
	int fd;          /* pollable descriptor for receive */
	void *priv;
	char name[64];   /* interface name (TAP: the name the kernel gave) */
	char err[SP_ERRBUF];
};

/* kind: "afpacket", "tap", ... ; returns NULL with errbuf filled on failure. */
struct sp_port *sp_port_open(const char *kind, const char *spec, const struct sp_port_conf *c,
			     char *errbuf);
int sp_port_recv(struct sp_port *p, struct sp_pkt *v, int n);
int sp_port_send(struct sp_port *p, const struct sp_pkt *v, int n);
int sp_port_stats(struct sp_port *p, struct sp_port_stats *s);
void sp_port_close(struct sp_port *p);

#endif
