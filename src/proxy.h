/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2)
 * that a load balancer puts before a client's bytes to say who the client
 * is.  A pure parser of untrusted bytes: it reads a buffer and fills a
 * struct, nothing else, so it is unit-tested and fuzzed on its own.
 */
#ifndef ECHOD_PROXY_H
#define ECHOD_PROXY_H

#include <stddef.h>
#include <sys/socket.h>

/* A v1 header is at most this long, "\r\n" included. */
#define PROXY_V1_MAX 107
/* A v2 header: 16 fixed bytes, then up to 65535 of addresses and TLVs. */
#define PROXY_V2_FIXED 16
#define PROXY_V2_MAX   (PROXY_V2_FIXED + 65535)

/* What carries the header: a stream takes v1 or v2 (STREAM or UNSPEC); a
 * datagram takes v2 only (DGRAM or UNSPEC), and must hold it whole. */
enum proxy_mode {
	PROXY_STREAM,
	PROXY_DGRAM,
};

struct proxy_hdr {
	int version; /* 1 or 2 */
	/* Use the connection's real endpoints: v2 LOCAL (a balancer's own
	 * health check), v2 UNSPEC, v1 UNKNOWN.  src and dst are then
	 * AF_UNSPEC. */
	int local;
	/* The claimed client (src) and the address it connected to (dst):
	 * AF_INET, AF_INET6 or AF_UNIX (path cut to sun_path, NUL-ended). */
	struct sockaddr_storage src, dst;
};

/*
 * Parse the header at the start of buf[0..len).  Returns:
 *   > 0  a complete, valid header of that many bytes (*out filled); what
 *        follows it is the client's;
 *   0    the bytes so far begin a valid header but it is not complete:
 *        *need (if not NULL) is how many bytes in all are needed at least
 *        (the exact total once a v2 header's length is known);
 *   -1   not a valid header (and no more bytes can make it one).
 * In PROXY_DGRAM mode a datagram is complete or nothing: an incomplete one
 * is -1.  Never reads past buf[len - 1]; keeps no state.
 */
long proxy_parse(const void *buf, size_t len, enum proxy_mode mode, struct proxy_hdr *out,
                 size_t *need);

/* Room for "[ADDR]:PORT", "unix PATH" or "?", NUL included. */
#define PROXY_ADDR_STRLEN 128

/* ss as the logs write a client: "10.1.2.3:4567", "[2001:db8::1]:4567",
 * "unix /path"; cut to len bytes.  Returns buf. */
char *proxy_addr_format(const struct sockaddr_storage *ss, char *buf, size_t len);

/* CRC32C (Castagnoli) of buf, as the v2 PP2_TYPE_CRC32C TLV carries it. */
unsigned long proxy_crc32c(const void *buf, size_t len);

#endif
