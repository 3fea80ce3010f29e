/* SPDX-License-Identifier: BSD-2-Clause */
/* csum.h: the Internet checksum (RFC 1071), IPv4/IPv6 pseudo-header sums and incremental updates (RFC 1624). */
#ifndef STDPKT_CSUM_H
#define STDPKT_CSUM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Sums are taken over the bytes as they lie in memory and results are in
 * network byte order as a uint16_t lies in memory: store a checksum with
 * memcpy (or *(uint16_t *)p = c), never with htons.  This keeps the
 * arithmetic free of byte swaps on either endianness.
 *
 * A partial sum is an unfolded 32-bit one's complement accumulator.  Partial
 * sums of consecutive pieces may be chained (pass one as the next init) as
 * long as every piece but the last starts and ends at an even offset of the
 * checksummed area.
 */

/* Adds len bytes at buf to the partial sum; an odd last byte is padded with zero. */
uint32_t sp_csum_add(const void *buf, size_t len, uint32_t sum);
/* Folds a partial sum to 16 bits and complements it: the value to store in a header. */
uint16_t sp_csum_fold(uint32_t sum);
/* sp_csum_fold(sp_csum_add(buf, len, init)): the checksum of buf with init added. */
uint16_t sp_csum(const void *buf, size_t len, uint32_t init);

/* Partial sum of the IPv4 pseudo-header: 4-byte addresses, protocol, L4 length (host order). */
uint32_t sp_csum_pseudo4(const void *src, const void *dst, uint8_t proto, uint16_t len);
/* Partial sum of the IPv6 pseudo-header: 16-byte addresses, next header, L4 length (host order). */
uint32_t sp_csum_pseudo6(const void *src, const void *dst, uint8_t nexthdr, uint32_t len);

/*
 * The checksum after len bytes (even, at an even offset of the checksummed
 * area) changed from old to new, without touching the rest (RFC 1624 eqn. 3).
 */
uint16_t sp_csum_update(uint16_t csum, const void *old, const void *new, size_t len);

#endif
