/* SPDX-License-Identifier: BSD-2-Clause */
/* netns.h: network namespaces for stages: creation (rootless too), naming, and netlink configuration. */
#ifndef STDPKT_NETNS_H
#define STDPKT_NETNS_H

#include <stdint.h>

/*
 * Everything here acts on the network namespace of the calling thread and
 * returns 0 or a negative SP_E* code with a message in errbuf (SP_ERRBUF
 * bytes).  Configuration goes through rtnetlink (libmnl), one request and
 * one acknowledgement each, so a stage boots without starting `ip`.
 */

/*
 * Moves the calling process into a fresh network namespace.  As root only
 * CLONE_NEWNET; otherwise CLONE_NEWUSER first, mapping the caller's uid and
 * gid to root inside (as `unshare --map-root-user --net`).  Must run while
 * the process has a single thread.  *rootless tells which was done.
 */
int sp_ns_create(int *rootless, char *errbuf);

/*
 * Makes the current network namespace visible to `ip netns` as NAME by
 * bind-mounting /proc/self/ns/net at /run/netns/NAME (as iproute2 does).
 * sp_ns_unname undoes it; it is safe to call when nothing is mounted.
 */
int sp_ns_name(const char *name, char *errbuf);
int sp_ns_unname(const char *name, char *errbuf);
/* Whether NAME is usable as a file name under /run/netns. */
int sp_ns_name_ok(const char *name);

/* Writes VALUE to /proc/sys/KEY, KEY in dotted (net.ipv4.ip_forward) or slashed form. */
int sp_sysctl_set(const char *key, const char *value, char *errbuf);

struct sp_nl;

struct sp_nl *sp_nl_open(char *errbuf);
void sp_nl_close(struct sp_nl *nl);

/* An IPv4 or IPv6 address with its prefix length, parsed from "ADDR/LEN" or "ADDR". */
struct sp_ipaddr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	int plen;   /* -1 when no /LEN was given */
};
/* 0 or SP_EINVAL with a reason in errbuf. */
int sp_ipaddr_parse(const char *s, struct sp_ipaddr *a, char *errbuf);

/* Link settings on ifindex: mac (6 bytes) and mtu when non-NULL/non-zero, then up or down (-1 = keep). */
int sp_nl_link_set(struct sp_nl *nl, int ifindex, const uint8_t *mac, unsigned mtu, int up, char *errbuf);
/* Creates a veth pair name <-> peer in the current namespace (both down). */
int sp_nl_veth_add(struct sp_nl *nl, const char *name, const char *peer, char *errbuf);
/*
 * Turns off scatter-gather, TSO/GSO/GRO and transmit checksumming on name,
 * so that what it sends is ordinary frames with finished checksums.
 */
int sp_link_no_offload(const char *name, char *errbuf);
/* Adds an address; IPv6 ones get IFA_F_NODAD so they are usable at once (a stage has no duplicates). */
int sp_nl_addr_add(struct sp_nl *nl, int ifindex, const struct sp_ipaddr *a, char *errbuf);
/* Adds a default route via gw (oif 0 = let the kernel find the link). */
int sp_nl_route_default(struct sp_nl *nl, const struct sp_ipaddr *gw, int oif, char *errbuf);

/*
 * TCP connections of the current namespace that still have data or a FIN
 * in flight (SYN_SENT, FIN_WAIT1, CLOSING, LAST_ACK, or ESTABLISHED and
 * CLOSE_WAIT with unacknowledged bytes), counted through sock_diag.  A stage
 * whose command has exited keeps bridging while this is above zero, or the
 * namespace would die with the last segments of a transfer still unsent.
 */
int sp_ns_tcp_busy(char *errbuf);

#endif
