/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * UDP echo: every datagram goes back to its source unchanged, as one
 * datagram, in batches (recvmmsg/sendmmsg) to save system calls under load;
 * those the worker's admission checks refuse (admit.h) are dropped.
 */
#ifndef ECHOD_UDP_H
#define ECHOD_UDP_H

#include "acl.h"
#include "ev.h"

struct admit;
struct udp_echo;

/* The batch buffers one worker shares over all its UDP sockets, checking
 * datagrams with `admit` (NULL: none); NULL with errno ENOMEM. */
struct udp_echo *udp_echo_new(struct admit *admit);
/* Free u, after logging the drops it held back; call it before freeing the
 * event loop that ran its sockets. */
void udp_echo_free(struct udp_echo *u);

/*
 * Serve the UDP socket fd, of address family `family`, on `loop`, its
 * datagrams checked against `acl` (NULL or empty: everyone).  Asks the
 * socket for IP_PKTINFO / IPV6_RECVPKTINFO if the checks need to know where
 * datagrams come in.  Returns 0, or -1 with errno.
 */
int udp_watch(struct udp_echo *u, struct ev_loop *loop, int fd, int family, const struct acl *acl);

#endif
