/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * UDP echo: every datagram goes back to its source unchanged, as one
 * datagram, in batches (recvmmsg/sendmmsg) to save system calls under load;
 * those the worker's admission checks refuse (admit.h) are dropped.
 */
#ifndef ECHOD_UDP_H
#define ECHOD_UDP_H

#include <stdint.h>

#include "acl.h"
#include "cidr.h"
#include "ev.h"

struct admit;
struct udp_echo;

/* One UDP listener's socket as its worker serves it. */
struct udp_sock {
	struct udp_echo *u;
	/* proxy_protocol.from, or NULL: no PROXY header.  With one, each
	 * datagram from a source in the list must begin with a PROXY v2 DGRAM
	 * header, and the payload after it, alone, goes back to the sender;
	 * the others are dropped and counted (udp_echo_dropped()). */
	const struct cidr_list *from;
	const struct acl *acl; /* its access list (NULL or empty: everyone) */
};

/* The batch buffers one worker shares over all its UDP sockets, checking
 * datagrams with `admit` (NULL: none); NULL with errno ENOMEM. */
struct udp_echo *udp_echo_new(struct admit *admit);
/* Free u, after logging the drops it held back; call it before freeing the
 * event loop that ran its sockets. */
void udp_echo_free(struct udp_echo *u);

/*
 * Serve the UDP socket fd, of address family `family`, on `loop`, as `sock`
 * says (its u among them; sock must outlive the loop's watch).  Asks the
 * socket for IP_PKTINFO / IPV6_RECVPKTINFO if the checks need to know where
 * datagrams come in.  Returns 0, or -1 with errno.
 */
int udp_watch(struct ev_loop *loop, int fd, int family, struct udp_sock *sock);

struct stats_slot;
/* Count datagrams and their bytes in s (NULL: not counted). */
void udp_echo_count(struct udp_echo *u, struct stats_slot *s);

/* Datagrams dropped so far for a missing or invalid PROXY header or a
 * source outside from. */
uint64_t udp_echo_dropped(const struct udp_echo *u);

#endif
