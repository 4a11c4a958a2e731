/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Address prefixes ("10.0.0.0/8", "2001:db8::/32", a bare address for one
 * host) and matching addresses against them, for every address list of
 * echod.conf(5): access lists, proxy_protocol.from.  An IPv4-mapped IPv6
 * address (what a dual-stack socket reports for an IPv4 client) counts as
 * the IPv4 address it carries, so that a rule of one family never matches
 * the other.  Pure: parsing and matching touch nothing but their arguments.
 */
#ifndef ECHOD_CIDR_H
#define ECHOD_CIDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct cidr {
	int family;       /* AF_INET or AF_INET6 */
	unsigned prefix;  /* 0..32 or 0..128 */
	uint8_t addr[16]; /* network order; bits past prefix are zero (IPv4: 4 bytes) */
};

/* A list of prefixes, as a config key holds it. */
struct cidr_list {
	struct cidr *v;
	size_t n;
};

/* One address, as the access lists and the per-source limits see a source:
 * IPv4 in b[0..3] (the rest zero), or IPv6 in b[0..15]. */
struct cidr_addr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t b[16];
};

/* Room for any prefix cidr_format() writes, NUL included. */
#define CIDR_STRLEN 50

/*
 * Parse "ADDR/LEN" or a bare "ADDR" (a host prefix: /32 or /128).  LEN is
 * decimal without sign or leading zero.  Host bits past the prefix are
 * refused ("10.0.0.1/8" is a typo more often than a wish), so what is
 * written is what is matched; so is an IPv4-mapped IPv6 prefix, which could
 * never match (write the IPv4 one).  Returns 0, or -1 and *why (if not NULL)
 * says what is wrong.
 */
int cidr_parse(const char *s, struct cidr *out, const char **why);

/* Write c as cidr_parse() reads it ("10.0.0.0/8", "::1/128") into buf;
 * returns buf (cut short, never overrun, if len < CIDR_STRLEN). */
char *cidr_format(const struct cidr *c, char *buf, size_t len);

/* True if sa (AF_INET or AF_INET6; an IPv4-mapped IPv6 address counts as
 * IPv4) lies in c.  Any other family never matches. */
int cidr_match(const struct cidr *c, const struct sockaddr *sa);

/* True if sa lies in any prefix of the list. */
int cidr_list_match(const struct cidr_list *l, const struct sockaddr *sa);

/*
 * The address of an AF_INET or AF_INET6 socket address, an IPv4-mapped one
 * turned into IPv4; *port gets the port (host order) if port is not NULL.
 * Returns 0, 1 if the address was IPv4-mapped, or -1 for another family or
 * a short address.
 */
int cidr_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct cidr_addr *out,
                            uint16_t *port);

/* The number of bits in an address of a's family (32 or 128). */
static inline unsigned cidr_addr_bits(const struct cidr_addr *a)
{
	return a->family == AF_INET ? 32 : 128;
}

/* Clear every bit of a past the first len. */
void cidr_addr_mask(struct cidr_addr *a, unsigned len);

/* Whether two addresses are the same. */
int cidr_addr_equal(const struct cidr_addr *a, const struct cidr_addr *b);

/* Whether a lies in c (same family, same first c->prefix bits). */
int cidr_contains(const struct cidr *c, const struct cidr_addr *a);

/* Whether two prefixes are the same. */
int cidr_equal(const struct cidr *a, const struct cidr *b);

#endif
