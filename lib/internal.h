/* SPDX-License-Identifier: BSD-2-Clause */
/* internal.h: declarations shared inside libstdpkt that are not part of its public interface. */
#ifndef STDPKT_INTERNAL_H
#define STDPKT_INTERNAL_H

#include "stdpkt.h"

/* Bytes readable past a buffered line and writable past a frame buffer, for vector decoding. */
#define SP_SLACK 64

/* sp_ascii_decode; with slack != 0 the caller guarantees SP_SLACK bytes after line and frame. */
int sp_ascii_decode_x(const char *line, size_t len, uint8_t *frame, uint32_t maxframe, struct sp_pkt *p,
		      char *errbuf, int slack);

/* The reader's fast path for one canonical line; 0 = not taken (frame it the general way). */
size_t sp_ascii_line_fast(const char *s, size_t have, uint8_t *frame, uint32_t maxframe, struct sp_pkt *p);

#endif
