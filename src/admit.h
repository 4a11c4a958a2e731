/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What a worker lets in.  Each accepted connection goes through the access
 * list of its listener and the per-source limits; each datagram through the
 * UDP guard, the access list and the per-source datagram rate.  What is
 * refused is counted by reason and logged (refuse.h).  Nothing configured
 * costs one test per connection and per batch of datagrams.
 */
#ifndef ECHOD_ADMIT_H
#define ECHOD_ADMIT_H

#include <stdint.h>
#include <sys/socket.h>

#include "acl.h"
#include "config.h"
#include "ev.h"
#include "guard.h"
#include "refuse.h"
#include "srclimit.h"

struct listener;

struct admit {
	struct refuse refuse;   /* the counters, by reason */
	struct guard guard;     /* echod's own UDP listeners */
	int guard_on;           /* udp_guard */
	struct srclimit *table; /* NULL: no per-source limits */
	struct limits_conf lim;
	int stream_limits; /* per_source_connections or per_source_rate is on */
	int udp_limits;    /* udp_per_source_rate is on */
};

/*
 * Set up from cfg for a worker that serves the listeners ls[0..n) (all of
 * them: a datagram from any of echod's UDP listeners is from echod) with
 * the shared table (NULL if no limit is on), its event loop and its stats
 * slot (NULL: none).  Returns 0, or -1 with errno (ENOMEM).
 */
int admit_init(struct admit *a, const struct config *cfg, const struct listener *ls, size_t n,
               struct srclimit *table, struct ev_loop *loop, struct stats_slot *stats);

/* Report what is still unreported and free what admit_init() made. */
void admit_free(struct admit *a);

/* Whether connections on a listener with access list `acl` are checked at
 * all (then accept must ask for the peer's address). */
static inline int admit_stream_on(const struct admit *a, const struct acl *acl)
{
	return !acl_empty(acl) || a->stream_limits;
}

/*
 * A connection accepted from `peer` on a listener with access list `acl`:
 * REFUSE_NONE, with *ticket to hand to admit_closed() when it ends (0: none
 * needed), or why it is refused (counted and logged; close it at once).
 */
enum refuse_reason admit_stream(struct admit *a, const struct acl *acl, const struct sockaddr *peer,
                                socklen_t len, uint64_t *ticket);

/* A connection that admit_stream() let in has closed. */
void admit_closed(struct admit *a, uint64_t ticket);

/* A connection from `peer` that another worker handed over: counted for
 * its source again (never refused: it is open); *ticket as above. */
void admit_adopted(struct admit *a, const struct sockaddr *peer, socklen_t len, uint64_t *ticket);

/* Whether datagrams on a socket with access list `acl` are checked at all. */
static inline int admit_datagram_on(const struct admit *a, const struct acl *acl)
{
	return a->guard_on || !acl_empty(acl) || a->udp_limits;
}

/* Whether the UDP sockets must report where each datagram came in
 * (IP_PKTINFO, IPV6_RECVPKTINFO). */
static inline int admit_wants_pktinfo(const struct admit *a)
{
	return a->guard_on;
}

/*
 * A datagram received with `msg` (its msg_name the sender, its control
 * data the IP_PKTINFO or IPV6_PKTINFO the kernel added, if any) on a socket
 * with access list `acl`: REFUSE_NONE to echo it, or why it is dropped
 * (counted and logged).  The guard judges the sender, where the answer
 * would go; the access list and the limits judge `client`, the client a
 * PROXY header claims, if not NULL (one that is no IP address passes them,
 * as a Unix socket does), else the sender.
 */
enum refuse_reason admit_datagram(struct admit *a, const struct acl *acl, const struct msghdr *msg,
                                  const struct sockaddr *client);

#endif
