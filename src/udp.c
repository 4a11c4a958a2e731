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
#include "udp.h"

#define UDP_BATCH 32
#define UDP_SLOT  65536
/* Room for the one control message asked for: IPV6_PKTINFO, the larger. */
#define UDP_CONTROL CMSG_SPACE(sizeof(struct in6_pktinfo))

/* One socket served, with what its datagrams are checked against. */
struct udp_sock {
	struct udp_echo *u;
	const struct acl *acl;
};

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

	struct admit *admit;     /* what each datagram is checked against, or NULL */
	struct udp_sock **socks; /* what udp_watch() registered, to free */
	size_t nsocks;
};

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
	for (size_t i = 0; i < u->nsocks; i++)
		free(u->socks[i]);
	free(u->socks);
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

/* Drop what admission refuses from the n datagrams received; returns how
 * many are left, moved to the front.  Their control data goes: a reply is
 * sent as before, from the address routing picks. */
static int admit_batch(struct udp_echo *u, const struct acl *acl, int n)
{
	int kept = 0;

	for (int i = 0; i < n; i++) {
		if (admit_datagram(u->admit, acl, &u->msgs[i].msg_hdr) != REFUSE_NONE)
			continue;
		u->msgs[i].msg_hdr.msg_control = NULL;
		u->msgs[i].msg_hdr.msg_controllen = 0;
		if (kept != i)
			u->msgs[kept] = u->msgs[i];
		kept++;
	}
	return kept;
}

static void udp_on_readable(struct ev_loop *loop, int fd, int events, void *arg)
{
	struct udp_sock *sock = arg;
	struct udp_echo *u = sock->u;
	int check = u->admit != NULL && admit_datagram_on(u->admit, sock->acl);
	(void)events;

	prepare(u, check && admit_wants_pktinfo(u->admit));
	int n = recvmmsg(fd, u->msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0) {
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			log_debug("udp recvmmsg: %s", strerror(errno));
		return;
	}
	for (int i = 0; i < n; i++)
		u->iov[i].iov_len = u->msgs[i].msg_len;
	if (check && (n = admit_batch(u, sock->acl, n)) == 0)
		return;

	int done = 0;
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
			done++;
		} else {
			break;
		}
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

int udp_watch(struct udp_echo *u, struct ev_loop *loop, int fd, int family, const struct acl *acl)
{
	static const int one = 1;
	struct udp_sock *sock, **socks;

	if (u->admit != NULL && admit_wants_pktinfo(u->admit)) {
		int rc = family == AF_INET6
		             ? setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one))
		             : setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
		if (rc == -1)
			return -1;
	}
	if ((socks = realloc(u->socks, (u->nsocks + 1) * sizeof(*socks))) == NULL)
		return -1;
	u->socks = socks;
	if ((sock = calloc(1, sizeof(*sock))) == NULL)
		return -1;
	sock->u = u;
	sock->acl = acl;
	if (ev_add(loop, fd, EV_READ, udp_on_readable, sock) == -1) {
		int saved = errno;
		free(sock);
		errno = saved;
		return -1;
	}
	u->socks[u->nsocks++] = sock;
	return 0;
}
