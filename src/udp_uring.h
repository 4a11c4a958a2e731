/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * UDP echo by completions (io_uring): the same echo as udp.c, with a
 * multishot recvmsg per socket instead of a readiness callback.
 */
#ifndef ECHOD_UDP_URING_H
#define ECHOD_UDP_URING_H

#include "acl.h"
#include "ev.h"

struct admit;
struct udp_uring;

/* The state one worker shares over its UDP sockets, on a loop that takes
 * completions, checking datagrams with `admit` (NULL: none); NULL with
 * errno (ENOMEM). */
struct udp_uring *udp_uring_new(struct ev_loop *loop, struct admit *admit);

struct stats_slot;

/* Count what u echoes and drops in s (as udp_echo_count() does). */
void udp_uring_count(struct udp_uring *u, struct stats_slot *s);

/* Echo on fd, of address family `family`, from now on, checking its
 * datagrams against the access list acl (NULL or empty: everyone) as well.
 * Returns 0, or -1 with errno. */
int udp_uring_watch(struct udp_uring *u, int fd, int family, const struct acl *acl);

/* Stop receiving (what the sockets hold is left to the other workers that
 * serve them) and finish what was received.  Returns 1 while operations
 * are still in the kernel (run the loop and call it again), 0 once none
 * is: every datagram u took is answered, or dropped, and counted. */
int udp_uring_stop(struct udp_uring *u);

/* Free u, after logging the drops its readiness fallback held back; call it
 * before freeing the event loop, and run that loop no more (its operations
 * may still name u until the loop is freed). */
void udp_uring_free(struct udp_uring *u);

#endif
