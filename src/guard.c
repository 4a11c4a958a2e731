/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The UDP guard (see guard.h).  The checks go from the cheapest to the
 * dearest: the source address alone, then its port, then the listeners.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"

int guard_add_self(struct guard *g, const struct sockaddr *sa, socklen_t len)
{
	struct guard_self s = {0};
	static const uint8_t zero[16];

	if (cidr_addr_from_sockaddr(sa, len, &s.addr, &s.port) == -1) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	s.wildcard = memcmp(s.addr.b, zero, sizeof(zero)) == 0;
	struct guard_self *v = realloc(g->self, (g->nself + 1) * sizeof(*v));
	if (v == NULL)
		return -1;
	g->self = v;
	g->self[g->nself++] = s;
	return 0;
}

void guard_free(struct guard *g)
{
	free(g->self);
	g->self = NULL;
	g->nself = 0;
}

/* 0.0.0.0/8, 224.0.0.0/4 (multicast), 240.0.0.0/4 (reserved, and the
 * broadcast address); ::, ff00::/8 (multicast). */
static int is_martian(const struct cidr_addr *a)
{
	static const uint8_t zero[16];

	if (a->family == AF_INET)
		return a->b[0] == 0 || a->b[0] >= 224;
	return a->b[0] == 0xff || memcmp(a->b, zero, sizeof(zero)) == 0;
}

static int is_loopback(const struct cidr_addr *a)
{
	static const uint8_t one[16] = {[15] = 1};

	if (a->family == AF_INET)
		return a->b[0] == 127;
	return memcmp(a->b, one, sizeof(one)) == 0;
}

/* A datagram from a wildcard listener's port is from echod itself if its
 * source is local: then it came in on the loopback device (every packet
 * between two local addresses does), or it names its own destination. */
static int is_self(const struct guard *g, const struct cidr_addr *src, uint16_t sport,
                   const struct guard_arrival *in)
{
	for (size_t i = 0; i < g->nself; i++) {
		const struct guard_self *s = &g->self[i];
		if (s->port != sport || s->addr.family != src->family)
			continue;
		if (!s->wildcard) {
			if (cidr_addr_equal(&s->addr, src))
				return 1;
			continue;
		}
		if (in != NULL && (in->ifindex == GUARD_LOOPBACK_IFINDEX ||
		                   (in->dst.family != 0 && cidr_addr_equal(&in->dst, src))))
			return 1;
	}
	return 0;
}

enum refuse_reason guard_check(const struct guard *g, const struct cidr_addr *src, uint16_t sport,
                               int mapped, const struct guard_arrival *in)
{
	if (mapped || is_martian(src))
		return REFUSE_UDP_MARTIAN;
	if (is_loopback(src) && in != NULL && in->ifindex > 0 &&
	    in->ifindex != GUARD_LOOPBACK_IFINDEX)
		return REFUSE_UDP_LOOPBACK;
	if (sport < 1024)
		return REFUSE_UDP_PORT;
	if (is_self(g, src, sport, in))
		return REFUSE_UDP_SELF;
	return REFUSE_NONE;
}
