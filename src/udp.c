/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Batched UDP echo.  Each slot holds a whole datagram (64 KiB, more than the
 * largest UDP payload), so nothing is ever truncated; the pages of a slot are
 * touched only as far as the datagrams reach, so small datagrams cost little
 * resident memory.  A datagram the socket cannot send at once is dropped, as
 * UDP allows; a notice says so, at most once per LOG_RATE_MS with the count.
 * Datagrams that admit_datagram() refuses are taken out of the batch before
 * it is sent back.
 */
#include "acconfig.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "admit.h"
#include "log.h"
#include "proxy.h"
#include "stats.h"
#include "udp.h"

#define UDP_BATCH 32
#define UDP_SLOT  65536
/* Room for the one control message asked for: IPV6_PKTINFO, the larger. */
#define UDP_CONTROL CMSG_SPACE(sizeof(struct in6_pktinfo))

struct udp_echo {
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	struct sockaddr_storage peers[UDP_BATCH];
	union {
		struct cmsghdr align;
		char buf[UDP_CONTROL];
	} control[UDP_BATCH];
	char *data;            /* UDP_BATCH slots of UDP_SLOT bytes */
	struct log_rate drops; /* datagrams dropped: the send buffer was full */
	struct ev_timer timer; /* writes what drops held back, once due */
	struct ev_loop *loop;  /* where timer runs, once armed */
	uint64_t dropped;      /* proxy_protocol: datagrams refused */
	struct admit *admit;   /* what each datagram is checked against, or NULL */
	struct stats_slot *stats;
};

void udp_echo_count(struct udp_echo *u, struct stats_slot *s)
{
	u->stats = s;
}

uint64_t udp_echo_dropped(const struct udp_echo *u)
{
	return u->dropped;
}

#define DROPS_MSG "datagram dropped: the socket's send buffer is full"

static void on_drops_timer(struct ev_loop *loop, struct ev_timer *t)
{
	struct udp_echo *u = ev_container_of(t, struct udp_echo, timer);

	log_rate_flush(&u->drops, ev_now(loop), 0, LOG_LEVEL_NOTICE, DROPS_MSG);
}

struct udp_echo *udp_echo_new(struct admit *admit)
{
	struct udp_echo *u = calloc(1, sizeof(*u));

	if (u == NULL)
		return NULL;
	if ((u->data = malloc((size_t)UDP_BATCH * UDP_SLOT)) == NULL) {
		free(u);
		errno = ENOMEM;
		return NULL;
	}
	ev_timer_init(&u->timer, on_drops_timer);
	u->admit = admit;
	return u;
}

void udp_echo_free(struct udp_echo *u)
{
	if (u == NULL)
		return;
	if (u->loop != NULL) {
		log_rate_flush(&u->drops, ev_now(u->loop), 1, LOG_LEVEL_NOTICE, DROPS_MSG);
		ev_timer_stop(u->loop, &u->timer);
	}
	free(u->data);
	free(u);
}

static void prepare(struct udp_echo *u, int control)
{
	for (int i = 0; i < UDP_BATCH; i++) {
		u->iov[i].iov_base = u->data + (size_t)i * UDP_SLOT;
		u->iov[i].iov_len = UDP_SLOT;
		u->msgs[i].msg_hdr = (struct msghdr){
		    .msg_name = &u->peers[i],
		    .msg_namelen = sizeof(u->peers[i]),
		    .msg_iov = &u->iov[i],
		    .msg_iovlen = 1,
		    .msg_control = control ? u->control[i].buf : NULL,
		    .msg_controllen = control ? sizeof(u->control[i].buf) : 0,
		};
	}
}

/* Whether datagrams on sock are checked at all. */
static int checked(const struct udp_sock *sock)
{
	return sock->u->admit != NULL && admit_datagram_on(sock->u->admit, sock->acl);
}

/* Receive a batch; returns how many datagrams, 0 if none. */
static int receive(struct udp_echo *u, int fd, int control)
{
	prepare(u, control);
	int n = recvmmsg(fd, u->msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0) {
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			log_debug("udp recvmmsg: %s", strerror(errno));
		return 0;
	}
	uint64_t bytes = 0;
	for (int i = 0; i < n; i++) {
		u->iov[i].iov_len = u->msgs[i].msg_len;
		bytes += u->msgs[i].msg_len;
	}
	stats_dgrams_in(u->stats, (unsigned)n, bytes);
	return n;
}

/* Keep datagram i as the kept-th of the batch to send back.  Its control
 * data goes: a reply is sent as before, from the address routing picks. */
static void keep(struct udp_echo *u, int i, int kept)
{
	u->msgs[i].msg_hdr.msg_control = NULL;
	u->msgs[i].msg_hdr.msg_controllen = 0;
	if (kept != i)
		u->msgs[kept] = u->msgs[i];
}

/* Send the first n prepared datagrams back. */
static void send_back(struct ev_loop *loop, struct udp_echo *u, int fd, int n)
{
	int done = 0, failed = 0;
	uint64_t unsent = 0;
	while (done < n) {
		int r = sendmmsg(fd, u->msgs + done, (unsigned)(n - done), MSG_DONTWAIT);
		if (r > 0) {
			done += r;
		} else if (r == -1 && errno == EINTR) {
			continue;
		} else if (r == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
			/* An error for one datagram (an unreachable peer reported
			 * by ICMP, say) must not drop the rest of the batch. */
			log_debug("udp sendmmsg: %s", strerror(errno));
			unsent += u->msgs[done].msg_hdr.msg_iov->iov_len;
			failed++;
			done++;
		} else {
			break;
		}
	}
	if (u->stats != NULL) {
		uint64_t bytes = 0;
		/* The batch may have been packed: each message's own iovec. */
		for (int i = 0; i < done; i++)
			bytes += u->msgs[i].msg_hdr.msg_iov->iov_len;
		stats_dgrams_out(u->stats, (unsigned)(done - failed), bytes - unsent,
		                 (unsigned)(n - done), (unsigned)failed);
	}
	if (done == n)
		return;
	u->loop = loop;
	log_rate(&u->drops, ev_now(loop), (unsigned long long)(n - done), LOG_LEVEL_NOTICE,
	         DROPS_MSG);
	uint64_t due = log_rate_due(&u->drops), now = ev_now(loop);
	if (due != 0 && !ev_timer_active(&u->timer))
		ev_timer_start(loop, &u->timer, due > now ? due - now : 0);
}

static void udp_on_readable(struct ev_loop *loop, int fd, int events, void *arg)
{
	struct udp_sock *sock = arg;
	struct udp_echo *u = sock->u;
	int check = checked(sock), kept = 0;
	(void)events;

	int n = receive(u, fd, check && admit_wants_pktinfo(u->admit));
	if (!check) {
		if (n > 0)
			send_back(loop, u, fd, n);
		return;
	}
	for (int i = 0; i < n; i++)
		if (admit_datagram(u->admit, sock->acl, &u->msgs[i].msg_hdr, NULL) == REFUSE_NONE)
			keep(u, i, kept++);
	if (kept > 0)
		send_back(loop, u, fd, kept);
}

/*
 * Strip each datagram's header in place (the iovec starts past it) and pack
 * the ones to answer at the front of the batch; each message keeps its own
 * iovec and peer, so moving the headers moves nothing else.  The client a
 * header claims is the source the access list and the limits judge; the
 * guard judges the sender, where the answer goes.
 */
static void udp_proxy_on_readable(struct ev_loop *loop, int fd, int events, void *arg)
{
	struct udp_sock *sock = arg;
	struct udp_echo *u = sock->u;
	struct proxy_hdr h;
	int kept = 0, bad = 0, debug = log_enabled(LOG_LEVEL_DEBUG), check = checked(sock);
	(void)events;

	int n = receive(u, fd, check && admit_wants_pktinfo(u->admit));
	for (int i = 0; i < n; i++) {
		struct msghdr *m = &u->msgs[i].msg_hdr;
		struct iovec *iov = m->msg_iov;
		long rc = -1;
		if (cidr_list_match(sock->from, (const struct sockaddr *)m->msg_name))
			rc = proxy_parse(iov->iov_base, iov->iov_len, PROXY_DGRAM, &h, NULL);
		if (rc < 0) {
			u->dropped++;
			bad++;
			continue;
		}
		if (check &&
		    admit_datagram(u->admit, sock->acl, m,
		                   h.local ? NULL : (const struct sockaddr *)&h.src) != REFUSE_NONE)
			continue;
		if (debug && !h.local) {
			char client[PROXY_ADDR_STRLEN];
			log_debug("udp: datagram of %zu bytes, PROXY v2 header, client %s",
			          iov->iov_len - (size_t)rc,
			          proxy_addr_format(&h.src, client, sizeof(client)));
		}
		iov->iov_base = (char *)iov->iov_base + rc;
		iov->iov_len -= (size_t)rc;
		keep(u, i, kept++);
	}
	/* Those admission refused are counted by their reason already. */
	stats_dropped(u->stats, STATS_DROP_PROXY, (unsigned)bad);
	if (kept < n)
		log_debug("udp: %d datagrams dropped: no valid PROXY header, source not in "
		          "proxy_protocol.from, or refused (%llu without a header in all)",
		          n - kept, (unsigned long long)u->dropped);
	if (kept > 0)
		send_back(loop, u, fd, kept);
}

int udp_watch(struct ev_loop *loop, int fd, int family, struct udp_sock *sock)
{
	static const int one = 1;
	struct admit *a = sock->u->admit;

	if (a != NULL && admit_wants_pktinfo(a)) {
		int rc = family == AF_INET6
		             ? setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one))
		             : setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
		if (rc == -1)
			return -1;
	}
	return ev_add(loop, fd, EV_READ,
	              sock->from != NULL ? udp_proxy_on_readable : udp_on_readable, sock);
}
