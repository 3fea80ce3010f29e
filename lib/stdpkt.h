/* SPDX-License-Identifier: BSD-2-Clause */
/* stdpkt.h: the public interface of libstdpkt, the packet stream formats and their batched I/O. */
#ifndef STDPKT_H
#define STDPKT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Conventions.  The library never prints and never exits.  Every function
 * that can fail returns a negative SP_E* code and, where it has one, fills
 * the object's error buffer (sp_reader_error(), sp_writer_error()) or the
 * caller's errbuf of SP_ERRBUF bytes with a lowercase message that names
 * the line or byte offset at fault.  Reads are tri-state: 1 = a packet,
 * 0 = clean end of stream, < 0 = error.
 */

#define SP_ERRBUF 256
#define SP_MAXFRAME_DEFAULT 262144 /* tcpdump's largest snapshot length */
#define SP_MAXFRAME_LIMIT (16u << 20)
#define SP_ETH_HLEN 14
#define SP_TS_NONE INT64_MIN /* a packet that carries no timestamp */

enum {
	SP_EIO = -1,      /* a system call failed; errno-based message */
	SP_EBAD = -2,     /* one bad record was skipped; the stream goes on */
	SP_EFORMAT = -3,  /* the stream is not in a format we accept (fatal) */
	SP_ETRUNC = -4,   /* the stream ended inside a record (fatal) */
	SP_ENOMEM = -5,
	SP_EAGAIN = -6,   /* non-blocking read: no whole packet yet */
	SP_EINVAL = -7,   /* bad argument from the caller */
};

enum sp_format {
	SP_FMT_AUTO = 0, /* readers only: detect pcap, pcapng or ASCII */
	SP_FMT_ASCII,    /* EtherPIPE lines: [TS] DST SRC TYPE PP PP ... */
	SP_FMT_PCAP,     /* libpcap savefile, LINKTYPE_ETHERNET */
	SP_FMT_PCAPNG,   /* readers only (through libpcap) */
	SP_FMT_VDE,      /* 2-byte big-endian length + frame, as vde_plug */
};

struct sp_pkt {
	const uint8_t *data; /* caplen bytes; valid until the next call on its source */
	uint32_t caplen;     /* bytes present */
	uint32_t wirelen;    /* bytes on the wire (>= caplen) */
	int64_t ts;          /* nanoseconds since the epoch, or SP_TS_NONE */
};

struct sp_stats {
	uint64_t pkts;  /* packets delivered (reader) or written (writer) */
	uint64_t bytes; /* their caplen bytes */
	uint64_t bad;   /* records skipped as bad (reader) or refused (writer) */
};

/* Names <-> formats: "ascii", "pcap", "pcapng", "vde", "auto". -1 if unknown. */
int sp_format_parse(const char *name);
const char *sp_format_name(int fmt);
const char *sp_strerror(int code);

/* ---- reader ---- */

struct sp_reader;

struct sp_reader_conf {
	int format;        /* enum sp_format; 0 = auto */
	uint32_t maxframe; /* 0 = SP_MAXFRAME_DEFAULT; frames above are bad */
	size_t bufsize;    /* 0 = default (1 MiB, more if maxframe needs it) */
};

/* Reads fd (not closed by sp_reader_free).  conf may be NULL. */
struct sp_reader *sp_reader_new(int fd, const struct sp_reader_conf *conf, char *errbuf);
void sp_reader_free(struct sp_reader *r);

/*
 * Next packet: blocks until one is whole.  Returns 1 and fills *p,
 * 0 at clean end, SP_EBAD after skipping one bad record (call again),
 * or another negative code, after which the stream is over.
 */
int sp_read(struct sp_reader *r, struct sp_pkt *p);
/* The same, but performs at most one read(2); SP_EAGAIN if no whole packet. */
int sp_read_nb(struct sp_reader *r, struct sp_pkt *p);
/*
 * Push mode, for framing bytes that arrive by other means (a FUSE write, a
 * datagram): a reader made with fd -1 reads nothing itself.  sp_reader_push
 * copies up to len bytes into its buffer and returns how many it took (0 when
 * full: take packets with sp_read_nb first, then push the rest);
 * sp_reader_push_end marks the end of the stream.  sp_read_nb returns
 * SP_EAGAIN when the pushed bytes hold no whole record yet.  Not for pcapng.
 */
size_t sp_reader_push(struct sp_reader *r, const void *data, size_t len);
void sp_reader_push_end(struct sp_reader *r);
/* Whether a whole record may already be buffered (no syscall needed). */
int sp_reader_buffered(const struct sp_reader *r);

int sp_reader_format(const struct sp_reader *r); /* detected format, 0 until known */
/* Wall clock (ns) when the last read(2) returned data: an arrival time for unstamped frames. */
int64_t sp_reader_time(const struct sp_reader *r);
const char *sp_reader_error(const struct sp_reader *r);
const struct sp_stats *sp_reader_stats(const struct sp_reader *r);

/* ---- writer ---- */

struct sp_writer;

enum {
	SP_W_TS = 1 << 0,      /* ASCII: write the 16-hex-digit timestamp column */
	SP_W_UNBUF = 1 << 1,   /* flush after every packet (interactive streams) */
	SP_W_BIGWRITE = 1 << 2 /* on a FIFO, batch past PIPE_BUF (one writer only) */
};

struct sp_writer_conf {
	int format;        /* SP_FMT_ASCII, SP_FMT_PCAP or SP_FMT_VDE */
	unsigned flags;    /* SP_W_* */
	uint32_t snaplen;  /* pcap header snaplen; 0 = SP_MAXFRAME_DEFAULT */
	size_t bufsize;    /* 0 = default */
};

/*
 * Writes whole records only.  On a pipe or FIFO every write(2) carries
 * whole records and at most PIPE_BUF bytes unless SP_W_BIGWRITE, so several
 * writers can share one FIFO without tearing a packet.  Short writes, EINTR
 * and EAGAIN are retried (EAGAIN by polling for POLLOUT).
 */
struct sp_writer *sp_writer_new(int fd, const struct sp_writer_conf *conf, char *errbuf);
/* Flushes, then frees; returns the flush result.  fd is not closed. */
int sp_writer_free(struct sp_writer *w);
/* 0 on success; SP_EBAD if this packet cannot be written in the format (counted, skipped). */
int sp_write(struct sp_writer *w, const struct sp_pkt *p);
int sp_writer_flush(struct sp_writer *w);
const char *sp_writer_error(const struct sp_writer *w);
const struct sp_stats *sp_writer_stats(const struct sp_writer *w);

/* ---- codecs, for tools and tests that work on memory ---- */

/* Bytes sp_ascii_encode needs at most for a frame of len bytes. */
size_t sp_ascii_maxlen(uint32_t caplen);
/* Encodes one line with '\n'; returns its length.  Frames under 14 bytes: SP_EBAD. */
int sp_ascii_encode(char *out, const struct sp_pkt *p, int with_ts);
/*
 * Decodes one line (without its '\n'; a trailing '\r' is allowed) into
 * frame[maxframe].  Returns 1 and fills *p, 0 for a blank or comment line,
 * SP_EBAD with a reason in errbuf (no line number: the caller knows it).
 */
int sp_ascii_decode(const char *line, size_t len, uint8_t *frame, uint32_t maxframe,
		    struct sp_pkt *p, char *errbuf);

/* Wall clock in nanoseconds since the epoch. */
int64_t sp_now_ns(void);
/* Monotonic clock in nanoseconds, for intervals and deadlines. */
int64_t sp_mono_ns(void);
/* Parses a decimal number in [min, max] (k/m/g multiply by 1000 if allow_suffix). -1 on error. */
int sp_parse_num(const char *s, uint64_t min, uint64_t max, int allow_suffix, uint64_t *out);

#endif
