/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * IP prefixes (see cidr.h): strict parsing, so that a typo in an access list
 * is an error rather than a rule that quietly means something else.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "cidr.h"

/* ::ffff:0:0/96, where IPv6 sockets put IPv4 sources. */
static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void cidr_addr_mask(struct cidr_addr *a, unsigned len)
{
	unsigned bits = cidr_addr_bits(a);

	if (len >= bits)
		return;
	/* 0xff00 >> 0..7, cut to 8 bits, keeps the first len % 8 bits. */
	a->b[len / 8] &= (uint8_t)(0xff00u >> (len % 8));
	for (unsigned i = len / 8 + 1; i < sizeof(a->b); i++)
		a->b[i] = 0;
}

/* The prefix length after the '/': decimal, no sign, no leading zero. */
static int parse_len(const char *s, unsigned max)
{
	unsigned n = 0;
	size_t i;

	if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 3)
			return -1;
		n = n * 10 + (unsigned)(s[i] - '0');
	}
	return n <= max ? (int)n : -1;
}

const char *cidr_parse(const char *s, struct cidr *out)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t hlen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	struct cidr_addr masked;

	memset(out, 0, sizeof(*out));
	if (hlen == 0 || hlen >= sizeof(host))
		return "not an IPv4 or IPv6 address";
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, out->addr.b) == 1)
		out->addr.family = AF_INET;
	else if (inet_pton(AF_INET6, host, out->addr.b) == 1)
		out->addr.family = AF_INET6;
	else
		return "not an IPv4 or IPv6 address";
	unsigned bits = cidr_addr_bits(&out->addr);
	out->len = (uint8_t)bits;
	if (slash != NULL) {
		int len = parse_len(slash + 1, bits);
		if (len < 0)
			return bits == 32 ? "the prefix length is not a number from 0 to 32"
			                  : "the prefix length is not a number from 0 to 128";
		out->len = (uint8_t)len;
	}
	masked = out->addr;
	cidr_addr_mask(&masked, out->len);
	if (!cidr_addr_equal(&masked, &out->addr))
		return "the address has bits set past the prefix length";
	if (out->addr.family == AF_INET6 && out->len >= 96 &&
	    memcmp(out->addr.b, v4mapped, sizeof(v4mapped)) == 0)
		return "an IPv4-mapped IPv6 prefix never matches: sources are IPv4; write the "
		       "IPv4 prefix";
	return NULL;
}

char *cidr_format(const struct cidr *c, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (inet_ntop(c->addr.family, c->addr.b, host, sizeof(host)) == NULL)
		snprintf(host, sizeof(host), "?");
	snprintf(buf, len, "%s/%u", host, (unsigned)c->len);
	return buf;
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
		int mapped = memcmp(sin6->sin6_addr.s6_addr, v4mapped, sizeof(v4mapped)) == 0;
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

int cidr_addr_equal(const struct cidr_addr *a, const struct cidr_addr *b)
{
	return a->family == b->family && memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

int cidr_contains(const struct cidr *c, const struct cidr_addr *a)
{
	struct cidr_addr m;

	if (c->addr.family != a->family)
		return 0;
	m = *a;
	cidr_addr_mask(&m, c->len);
	return memcmp(m.b, c->addr.b, sizeof(m.b)) == 0;
}
