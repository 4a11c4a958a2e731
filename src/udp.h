/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * UDP echo: every datagram goes back to its source unchanged, as one
 * datagram, in batches (recvmmsg/sendmmsg) to save system calls under load.
 */
#ifndef ECHOD_UDP_H
#define ECHOD_UDP_H

#include "ev.h"

struct udp_echo;

/* The batch buffers one worker shares over all its UDP sockets; NULL with
 * errno ENOMEM. */
struct udp_echo *udp_echo_new(void);
/* Free u, after logging the drops it held back; call it before freeing the
 * event loop that ran its sockets. */
void udp_echo_free(struct udp_echo *u);

struct stats_slot;
/* Count datagrams and their bytes in s (NULL: not counted). */
void udp_echo_count(struct udp_echo *u, struct stats_slot *s);

/* The ev callback for a UDP socket; arg is the struct udp_echo. */
void udp_on_readable(struct ev_loop *loop, int fd, int events, void *arg);

#endif
