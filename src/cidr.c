/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Prefix parsing and matching (see cidr.h): strict parsing, so that a typo
 * in an address list is an error rather than a rule that quietly means
 * something else.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "cidr.h"

/* ::ffff:0:0/96, where IPv6 sockets put IPv4 peers. */
static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static int fail(const char **why, const char *msg)
{
	if (why != NULL)
		*why = msg;
	return -1;
}

int cidr_parse(const char *s, struct cidr *out, const char **why)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	unsigned max, prefix = 0;

	memset(out, 0, sizeof(*out));
	if (alen == 0 || alen >= sizeof(addr))
		return fail(why, "not an address or prefix");
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else {
		return fail(why, "not a numeric IPv4 or IPv6 address");
	}
	if (slash == NULL) {
		prefix = max;
	} else {
		const char *p = slash + 1;
		if (*p == '\0' || (p[0] == '0' && p[1] != '\0'))
			return fail(why, "bad prefix length");
		for (; *p != '\0'; p++) {
			if (*p < '0' || *p > '9' || prefix > max)
				return fail(why, "bad prefix length");
			prefix = prefix * 10 + (unsigned)(*p - '0');
		}
		if (prefix > max)
			return fail(why, "prefix length too long for the address");
	}
	out->prefix = prefix;
	for (unsigned bit = prefix; bit < max; bit++)
		if (out->addr[bit / 8] & (0x80u >> (bit % 8)))
			return fail(why, "address has bits set past the prefix length");
	if (out->family == AF_INET6 && prefix >= 96 &&
	    memcmp(out->addr, v4_mapped, sizeof(v4_mapped)) == 0)
		return fail(why, "an IPv4-mapped prefix never matches: IPv4 clients are matched as "
		                 "IPv4; write the IPv4 prefix");
	return 0;
}

char *cidr_format(const struct cidr *c, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (inet_ntop(c->family, c->addr, host, sizeof(host)) == NULL)
		snprintf(host, sizeof(host), "?");
	snprintf(buf, len, "%s/%u", host, c->prefix);
	return buf;
}

static int prefix_equal(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned whole = prefix / 8, rest = prefix % 8;

	if (memcmp(a, b, whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	uint8_t mask = (uint8_t)(0xFFu << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

int cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
	const uint8_t *a;
	int family;

	if (sa->sa_family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
		family = AF_INET;
	} else if (sa->sa_family == AF_INET6) {
		a = (const uint8_t *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		family = AF_INET6;
		if (memcmp(a, v4_mapped, sizeof(v4_mapped)) == 0) {
			a += sizeof(v4_mapped);
			family = AF_INET;
		}
	} else {
		return 0;
	}
	return family == c->family && prefix_equal(a, c->addr, c->prefix);
}

int cidr_list_match(const struct cidr_list *l, const struct sockaddr *sa)
{
	for (size_t i = 0; i < l->n; i++)
		if (cidr_match(&l->v[i], sa))
			return 1;
	return 0;
}

int cidr_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct cidr_addr *out,
                            uint16_t *port)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;
		out->family = AF_INET;
		memcpy(out->b, &sin->sin_addr, 4);
		if (port != NULL)
			*port = ntohs(sin->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		int mapped = memcmp(sin6->sin6_addr.s6_addr, v4_mapped, sizeof(v4_mapped)) == 0;
		if (mapped) {
			out->family = AF_INET;
			memcpy(out->b, sin6->sin6_addr.s6_addr + 12, 4);
		} else {
			out->family = AF_INET6;
			memcpy(out->b, sin6->sin6_addr.s6_addr, 16);
		}
		if (port != NULL)
			*port = ntohs(sin6->sin6_port);
		return mapped;
	}
	return -1;
}

void cidr_addr_mask(struct cidr_addr *a, unsigned len)
{
	if (len >= cidr_addr_bits(a))
		return;
	/* 0xff00 >> 0..7, cut to 8 bits, keeps the first len % 8 bits. */
	a->b[len / 8] &= (uint8_t)(0xff00u >> (len % 8));
	for (unsigned i = len / 8 + 1; i < sizeof(a->b); i++)
		a->b[i] = 0;
}

int cidr_addr_equal(const struct cidr_addr *a, const struct cidr_addr *b)
{
	return a->family == b->family && memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

int cidr_contains(const struct cidr *c, const struct cidr_addr *a)
{
	return a->family == c->family && prefix_equal(a->b, c->addr, c->prefix);
}

int cidr_equal(const struct cidr *a, const struct cidr *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}
