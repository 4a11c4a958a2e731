/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Prefix parsing and matching for the address lists of echod.conf(5)
 * (proxy_protocol.from).  IPv4-mapped IPv6 peers (what a dual-stack socket
 * reports for an IPv4 client) are matched as the IPv4 address they carry, so
 * one list serves both kinds of listener.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "cidr.h"

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
		out->prefix = max;
		return 0;
	}
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
	out->prefix = prefix;
	for (unsigned bit = prefix; bit < max; bit++)
		if (out->addr[bit / 8] & (0x80u >> (bit % 8)))
			return fail(why, "address has bits set past the prefix length");
	return 0;
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
