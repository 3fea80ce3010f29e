/* SPDX-License-Identifier: BSD-2-Clause */
/* flowkey.h: classifies an Ethernet frame into the flow, source or destination key a per-flow dispatcher (pktinetd) hands it by. */
#ifndef STDPKT_FLOWKEY_H
#define STDPKT_FLOWKEY_H

#include <stdint.h>

#include "stdpkt.h"

/* What the key is made of. */
enum { SP_FK_FLOW, SP_FK_SRC, SP_FK_DST };

/* Kinds of key: a 5-tuple, one address, or an address pair (ARP/ND in flow mode). */
enum { SP_FK_NONE, SP_FK_KFLOW, SP_FK_KSRC, SP_FK_KDST, SP_FK_KPAIR };

/* sp_flowkey's results besides the negative SP_E* codes. */
enum {
	SP_FK_FLOOD = 0, /* goes to every consumer and starts none: broadcast, multicast, probes, non-IP */
	SP_FK_KEY = 1,   /* key is set */
};

/*
 * A key: zero-filled, so that memcmp compares it whole.  Addresses of a
 * flow or pair are ordered (a <= b) so that both directions give one key.
 */
struct sp_fkey {
	uint8_t kind, fam, proto, pad;
	uint16_t pa, pb;
	uint8_t a[16], b[16];
};

/*
 * The classification of one frame.  fam/src/dst/proto/sport/dport are the
 * endpoints as the frame states them (for a launcher's %s %d %S %D %P):
 * proto -1 stands for ARP and neighbour discovery, whose dst is the address
 * asked about.  The *_off fields say where in the frame each was read (a
 * port offset of 0: no port was read), so that callers and the fuzzer can
 * check that nothing came from beyond the frame.
 */
struct sp_flowkey {
	struct sp_fkey key;
	int may_start; /* a request (may start a consumer), not an answer or announcement */
	int fam;       /* 4 or 6; 0 if no addresses were read */
	int proto;
	uint8_t src[16], dst[16];
	unsigned sport, dport;
	uint32_t src_off, dst_off, sport_off, dport_off;
	char why[64]; /* SP_EBAD: what is wrong with the frame */
};

/*
 * Classifies frame (len bytes, Ethernet with any 802.1Q/802.1ad tags) for
 * mode SP_FK_FLOW, SP_FK_SRC or SP_FK_DST.  Returns SP_FK_KEY, SP_FK_FLOOD,
 * SP_EBAD (unparsable: out->why says why) or SP_EINVAL (bad mode).  Reads no
 * byte at or past frame + len; out is always fully written.
 */
int sp_flowkey(const uint8_t *frame, uint32_t len, int mode, struct sp_flowkey *out);

/* The TCP header of a frame that is TCP (IPv4 first fragment, or IPv6 without extension headers). */
struct sp_tcpinfo {
	int fam;
	uint32_t src_off, dst_off; /* of the addresses, 4 or 16 bytes */
	unsigned sport, dport;
	uint8_t flags;
};

/* 1 and t filled if the frame is TCP with its flags byte inside len, else 0. */
int sp_tcpinfo(const uint8_t *frame, uint32_t len, struct sp_tcpinfo *t);

#endif
