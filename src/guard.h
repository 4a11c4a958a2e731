/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The UDP guard: which datagrams an echo server must not answer, because
 * the answer would start an echo loop (its own address, another service's
 * port) or go to a source no sender can have (a forged one).  The decision
 * is a pure function of the source, where the datagram came in, and the
 * list of echod's own UDP listeners.
 */
#ifndef ECHOD_GUARD_H
#define ECHOD_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "refuse.h"

/* Linux gives the loopback device this index in every network namespace. */
#define GUARD_LOOPBACK_IFINDEX 1

/* One of echod's own UDP listeners. */
struct guard_self {
	struct cidr_addr addr; /* all zero for a wildcard address */
	uint16_t port;
	uint8_t wildcard; /* 0.0.0.0 or ::: every local address */
};

/* Zero it to start. */
struct guard {
	struct guard_self *self;
	size_t nself;
};

/* Where a datagram came in, from IP_PKTINFO / IPV6_PKTINFO. */
struct guard_arrival {
	int ifindex;          /* the interface; 0: unknown */
	struct cidr_addr dst; /* the address it was sent to; family 0: unknown */
};

/* Add a listener bound to `sa`.  Returns 0, or -1 with errno (EAFNOSUPPORT
 * for a family other than IPv4 and IPv6, ENOMEM). */
int guard_add_self(struct guard *g, const struct sockaddr *sa, socklen_t len);

void guard_free(struct guard *g);

/*
 * Whether to drop a datagram from `src` port `sport`: REFUSE_NONE, or the
 * reason (REFUSE_UDP_MARTIAN, _LOOPBACK, _PORT, _SELF).  `mapped` says the
 * source came IPv4-mapped on an IPv6 socket, which no honest sender can do
 * there (echod's IPv6 sockets are IPv6-only).
 */
enum refuse_reason guard_check(const struct guard *g, const struct cidr_addr *src, uint16_t sport,
                               int mapped, const struct guard_arrival *in);

#endif
