/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Address prefixes ("10.0.0.0/8", "2001:db8::/32", a bare address for one
 * host) and matching a socket address against them.  Pure: parsing and
 * matching touch nothing but their arguments.
 */
#ifndef ECHOD_CIDR_H
#define ECHOD_CIDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct cidr {
	int family;       /* AF_INET or AF_INET6 */
	unsigned prefix;  /* 0..32 or 0..128 */
	uint8_t addr[16]; /* network order; bits past prefix are zero */
};

/* A list of prefixes, as a config key holds it. */
struct cidr_list {
	struct cidr *v;
	size_t n;
};

/*
 * Parse "ADDR/LEN" or a bare "ADDR" (a host prefix: /32 or /128).  LEN is
 * decimal without sign or leading zero.  Host bits past the prefix are
 * refused ("10.0.0.1/8" is a typo more often than a wish), so what is
 * written is what is matched.  Returns 0, or -1 and *why (if not NULL) says
 * what is wrong.
 */
int cidr_parse(const char *s, struct cidr *out, const char **why);

/* True if sa (AF_INET or AF_INET6; an IPv4-mapped IPv6 address counts as
 * IPv4) lies in c.  Any other family never matches. */
int cidr_match(const struct cidr *c, const struct sockaddr *sa);

/* True if sa lies in any prefix of the list. */
int cidr_list_match(const struct cidr_list *l, const struct sockaddr *sa);

#endif
