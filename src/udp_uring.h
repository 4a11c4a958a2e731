/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * UDP echo by completions (io_uring): the same echo as udp.c, with a
 * multishot recvmsg per socket instead of a readiness callback.
 */
#ifndef ECHOD_UDP_URING_H
#define ECHOD_UDP_URING_H

#include "ev.h"

struct udp_uring;

/* The state one worker shares over its UDP sockets, on a loop that takes
 * completions; NULL with errno (ENOMEM). */
struct udp_uring *udp_uring_new(struct ev_loop *loop);

struct stats_slot;

/* Count what u echoes and drops in s (as udp_echo_count() does). */
void udp_uring_count(struct udp_uring *u, struct stats_slot *s);

/* Echo on fd from now on.  Returns 0, or -1 with errno. */
int udp_uring_watch(struct udp_uring *u, int fd);

/* Free u, after logging the drops its readiness fallback held back; call it
 * before freeing the event loop, and run that loop no more (its operations
 * may still name u until the loop is freed). */
void udp_uring_free(struct udp_uring *u);

#endif
