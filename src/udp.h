/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * UDP echo: every datagram goes back to its source unchanged, as one
 * datagram, in batches (recvmmsg/sendmmsg) to save system calls under load.
 */
#ifndef ECHOD_UDP_H
#define ECHOD_UDP_H

#include <stdint.h>

#include "cidr.h"
#include "ev.h"

struct udp_echo;

/* A UDP listener with proxy_protocol: the worker's batch buffers, and who
 * may send the datagrams (each must carry a PROXY v2 header). */
struct udp_proxy {
	struct udp_echo *u;
	const struct cidr_list *from;
};

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

/* The same for a socket with proxy_protocol; arg is a struct udp_proxy.
 * Each datagram from a source in from must begin with a PROXY v2 DGRAM
 * header: the payload after it, alone, goes back to the sender.  The
 * others are dropped and counted (udp_echo_dropped()). */
void udp_proxy_on_readable(struct ev_loop *loop, int fd, int events, void *arg);

/* Datagrams dropped so far for a missing or invalid PROXY header or a
 * source outside from. */
uint64_t udp_echo_dropped(const struct udp_echo *u);

#endif
