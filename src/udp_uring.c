/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * UDP echo by completions.  A multishot recvmsg per socket lends datagram
 * buffers of the loop's pool; each datagram is sent back from where it is,
 * to the address the kernel wrote beside it, and the buffer goes back to the
 * pool when that send completes.  The send does not wait: a datagram the
 * socket cannot take at once is dropped, as UDP allows and as udp.c does,
 * and a notice says so at most once per LOG_RATE_MS with the count.
 * Each datagram goes through the worker's admission checks (admit.h) as in
 * udp.c: one refused is released unanswered.
 * A kernel without multishot recvmsg (before 6.0) gets the socket served by
 * readiness, through udp.c.
 */
#include "acconfig.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "admit.h"
#include "ev_uring.h"
#include "log.h"
#include "stats.h"
#include "udp.h"
#include "udp_uring.h"

struct udp_uring;

/* One UDP socket and its receive. */
struct uu_sock {
	struct ev_op op;
	struct udp_uring *u;
	struct uu_sock *next;
	const struct acl *acl;  /* its listener's access list */
	struct udp_sock *ready; /* by readiness: what udp_watch() serves */
	int fd;
	int family;
	int armed;
};

/* The send of the datagram in buffer `bid` (one per buffer of the pool). */
struct uu_send {
	struct ev_op op;
	struct udp_uring *u;
	int bid;
};

struct udp_uring {
	struct ev_loop *loop;
	struct msghdr rmsg; /* what each receive asks for: the sender, IP_PKTINFO */
	struct uu_sock *socks;
	struct uu_send send[EV_URING_DGRAM_BUFS];
	struct udp_echo *ready;   /* for readiness, where multishot recvmsg is missing */
	struct admit *admit;      /* what each datagram is checked against, or NULL */
	struct log_rate drops;    /* datagrams dropped: the send buffer was full */
	struct ev_timer timer;    /* writes what drops held back, once due */
	struct stats_slot *stats; /* udp_uring_count(), or NULL */
	unsigned sending;         /* sends in the kernel */
	int stopped;              /* udp_uring_stop(): no more receives */
};

void udp_uring_count(struct udp_uring *u, struct stats_slot *s)
{
	u->stats = s;
	if (u->ready != NULL)
		udp_echo_count(u->ready, s);
}

#define DROPS_MSG "datagram dropped: the socket's send buffer is full"

static void on_drops_timer(struct ev_loop *loop, struct ev_timer *t)
{
	struct udp_uring *u = ev_container_of(t, struct udp_uring, timer);

	log_rate_flush(&u->drops, ev_now(loop), 0, LOG_LEVEL_NOTICE, DROPS_MSG);
}

static void on_sent(struct ev_loop *loop, struct ev_op *op, const struct ev_completion *c)
{
	struct uu_send *s = ev_container_of(op, struct uu_send, op);
	struct udp_uring *u = s->u;

	u->sending--;
	ev_buf_release(loop, EV_BUF_DGRAM, s->bid);
	if (c->res >= 0)
		stats_dgrams_out(u->stats, 1, (uint64_t)c->res, 0, 0);
	if (c->res == -EAGAIN || c->res == -EWOULDBLOCK || c->res == -ENOBUFS) {
		uint64_t now = ev_now(loop), due;

		stats_dgrams_out(u->stats, 0, 0, 1, 0);
		log_rate(&u->drops, now, 1, LOG_LEVEL_NOTICE, DROPS_MSG);
		due = log_rate_due(&u->drops);
		if (due != 0 && !ev_timer_active(&u->timer))
			ev_timer_start(loop, &u->timer, due > now ? due - now : 0);
	} else if (c->res < 0 && c->res != -ECANCELED) {
		/* An unreachable peer reported by ICMP, say. */
		log_debug("udp send: %s", strerror(-c->res));
		stats_dgrams_out(u->stats, 0, 0, 0, 1);
	}
}

/* Send the datagram of completion c back to its sender. */
static void echo(struct uu_sock *k, const struct ev_completion *c)
{
	struct udp_uring *u = k->u;
	struct uu_send *s = &u->send[c->buf];
	struct msghdr got;
	void *payload;
	long len = ev_uring_dgram(u->loop, c, &u->rmsg, &payload, &got);

	if (len < 0) {
		log_debug("udp: truncated datagram dropped");
		ev_buf_release(u->loop, EV_BUF_DGRAM, c->buf);
		return;
	}
	stats_dgrams_in(u->stats, 1, (uint64_t)len);
	/* Refused: counted and logged there, and not answered. */
	if (u->admit != NULL && admit_datagram_on(u->admit, k->acl) &&
	    admit_datagram(u->admit, k->acl, &got, NULL) != REFUSE_NONE) {
		ev_buf_release(u->loop, EV_BUF_DGRAM, c->buf);
		return;
	}
	s->bid = c->buf;
	/* Its control data stays behind: the answer goes from the address
	 * routing picks, as udp.c's does. */
	if (ev_op_sendto(u->loop, &s->op, k->fd, payload, (size_t)len, MSG_DONTWAIT, got.msg_name,
	                 got.msg_namelen) == -1) {
		log_debug("udp: datagram dropped: %s", strerror(errno));
		ev_buf_release(u->loop, EV_BUF_DGRAM, c->buf);
		return;
	}
	u->sending++;
}

static int arm(struct uu_sock *k)
{
	if (ev_op_recvmsg(k->u->loop, &k->op, k->fd, &k->u->rmsg) == -1)
		return -1;
	k->armed = 1;
	return 0;
}

/* Multishot recvmsg is missing: serve fd by readiness from now on. */
static void to_readiness(struct uu_sock *k)
{
	struct udp_uring *u = k->u;

	if (u->ready == NULL) {
		if ((u->ready = udp_echo_new(u->admit)) == NULL) {
			log_warn("udp: socket %d", k->fd);
			return;
		}
		udp_echo_count(u->ready, u->stats);
	}
	if (k->ready == NULL && (k->ready = calloc(1, sizeof(*k->ready))) == NULL) {
		log_warn("udp: socket %d", k->fd);
		return;
	}
	k->ready->u = u->ready;
	k->ready->acl = k->acl;
	if (udp_watch(u->loop, k->fd, k->family, k->ready) == -1)
		log_warn("udp: cannot watch socket %d", k->fd);
}

static void on_received(struct ev_loop *loop, struct ev_op *op, const struct ev_completion *c)
{
	struct uu_sock *k = ev_container_of(op, struct uu_sock, op);
	(void)loop;

	if (!c->more)
		k->armed = 0;
	if (c->buf >= 0) {
		echo(k, c);
	} else if (c->res == -EINVAL && !c->more) {
		log_info("udp: no multishot recvmsg in this kernel; socket %d served by readiness",
		         k->fd);
		to_readiness(k);
		return;
	} else if (c->res < 0 && c->res != -ENOBUFS && c->res != -ECANCELED) {
		log_debug("udp: receive: %s", strerror(-c->res));
	}
	/* Also after -ENOBUFS: the buffers of the sends that completed in
	 * this turn are back by the time this receive starts. */
	if (!k->armed && !k->u->stopped && c->res != -ECANCELED && arm(k) == -1)
		log_warn("udp: socket %d", k->fd);
}

/* Room for the one control message asked for: IPV6_PKTINFO, the larger. */
#define UDP_CONTROL CMSG_SPACE(sizeof(struct in6_pktinfo))

struct udp_uring *udp_uring_new(struct ev_loop *loop, struct admit *admit)
{
	struct udp_uring *u = calloc(1, sizeof(*u));

	if (u == NULL)
		return NULL;
	u->loop = loop;
	u->admit = admit;
	u->rmsg.msg_namelen = sizeof(struct sockaddr_storage);
	/* The guard needs to know where each datagram came in. */
	if (admit != NULL && admit_wants_pktinfo(admit))
		u->rmsg.msg_controllen = UDP_CONTROL;
	ev_timer_init(&u->timer, on_drops_timer);
	for (int i = 0; i < EV_URING_DGRAM_BUFS; i++) {
		ev_op_init(&u->send[i].op, on_sent);
		u->send[i].u = u;
	}
	return u;
}

int udp_uring_watch(struct udp_uring *u, int fd, int family, const struct acl *acl)
{
	static const int one = 1;
	struct uu_sock *k;

	if (u->rmsg.msg_controllen > 0 &&
	    (family == AF_INET6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one))
	                        : setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one))) == -1)
		return -1;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return -1;
	ev_op_init(&k->op, on_received);
	k->u = u;
	k->fd = fd;
	k->family = family;
	k->acl = acl;
	if (arm(k) == -1) {
		int saved = errno;
		free(k);
		errno = saved;
		return -1;
	}
	k->next = u->socks;
	u->socks = k;
	return 0;
}

int udp_uring_stop(struct udp_uring *u)
{
	int busy = 0;

	if (u == NULL)
		return 0;
	for (struct uu_sock *k = u->socks; k != NULL; k = k->next) {
		if (k->armed && !u->stopped && ev_op_cancel(u->loop, &k->op) == -1)
			log_warn("udp: socket %d", k->fd);
		busy |= k->armed;
	}
	u->stopped = 1;
	return busy || u->sending > 0;
}

void udp_uring_free(struct udp_uring *u)
{
	if (u == NULL)
		return;
	log_rate_flush(&u->drops, ev_now(u->loop), 1, LOG_LEVEL_NOTICE, DROPS_MSG);
	ev_timer_stop(u->loop, &u->timer);
	while (u->socks != NULL) {
		struct uu_sock *k = u->socks;
		u->socks = k->next;
		free(k->ready);
		free(k);
	}
	udp_echo_free(u->ready);
	free(u);
}
