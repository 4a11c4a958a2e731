/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * IP addresses and prefixes as access lists and per-source limits see them:
 * "10.0.0.0/8", "2001:db8::/32", or a bare address, which is a host prefix.
 * An IPv4 source is kept as IPv4 even when a socket reports it IPv4-mapped,
 * so that a rule of one family never matches the other.  Pure functions: no
 * system state, no allocation.
 */
#ifndef ECHOD_CIDR_H
#define ECHOD_CIDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* An address: IPv4 in b[0..3] (the rest zero), or IPv6 in b[0..15]. */
struct cidr_addr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t b[16];
};

/* A prefix: the address with every bit past len zero. */
struct cidr {
	struct cidr_addr addr;
	uint8_t len; /* 0..32 or 0..128 */
};

/* Room for any prefix cidr_format() writes, NUL included. */
#define CIDR_STRLEN 50

/*
 * Parse "ADDRESS/LEN" or "ADDRESS" (a /32 or /128) into *out.  Returns NULL,
 * or, leaving *out unspecified, a static string saying what is wrong: not an
 * address, a bad length, bits set past the length (10.1.0.0/8 is refused
 * rather than guessed at), or an IPv4-mapped IPv6 prefix, which could never
 * match (write the IPv4 prefix instead).
 */
const char *cidr_parse(const char *s, struct cidr *out);

/* Write c as cidr_parse() reads it ("10.0.0.0/8", "::1/128") into buf;
 * returns buf (cut short, never overrun, if len < CIDR_STRLEN). */
char *cidr_format(const struct cidr *c, char *buf, size_t len);

/*
 * The source address of an AF_INET or AF_INET6 socket address, an
 * IPv4-mapped IPv6 one turned into IPv4; *port gets the port (host order)
 * if port is not NULL.  Returns 0, 1 if the address was IPv4-mapped, or -1
 * for another family or a short address.
 */
int cidr_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct cidr_addr *out,
                            uint16_t *port);

/* Clear every bit of a past the first len. */
void cidr_addr_mask(struct cidr_addr *a, unsigned len);

/* Whether a is inside c (same family, same first c->len bits). */
int cidr_contains(const struct cidr *c, const struct cidr_addr *a);

/* Whether two addresses are the same. */
int cidr_addr_equal(const struct cidr_addr *a, const struct cidr_addr *b);

/* The number of bits in an address of a's family (32 or 128). */
static inline unsigned cidr_addr_bits(const struct cidr_addr *a)
{
	return a->family == AF_INET ? 32 : 128;
}

#endif
