/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A worker's admission checks (see admit.h), in the order of their cost: the
 * source alone (guard), then the access list (a few binary searches), then
 * the shared table (a lock and a hash).
 */
#include "acconfig.h"

#include <netinet/in.h>
#include <string.h>

#include "admit.h"
#include "listener.h"

int admit_init(struct admit *a, const struct config *cfg, const struct listener *ls, size_t n,
               struct srclimit *table, struct ev_loop *loop, struct stats_slot *stats)
{
	memset(a, 0, sizeof(*a));
	refuse_init(&a->refuse, loop, stats);
	a->guard_on = cfg->udp_guard;
	a->lim = cfg->limits;
	if (table != NULL && config_limits_on(&cfg->limits)) {
		a->table = table;
		a->stream_limits =
		    cfg->limits.per_source_connections > 0 || cfg->limits.per_source_rate > 0;
		a->udp_limits = cfg->limits.udp_per_source_rate > 0;
	}
	for (size_t i = 0; i < n; i++)
		if (ls[i].proto == LISTEN_UDP &&
		    guard_add_self(&a->guard, (const struct sockaddr *)&ls[i].addr,
		                   ls[i].addrlen) == -1)
			return -1;
	return 0;
}

void admit_free(struct admit *a)
{
	refuse_flush(&a->refuse);
	guard_free(&a->guard);
}

static enum refuse_reason refuse(struct admit *a, enum refuse_reason why,
                                 const struct sockaddr *from, socklen_t len)
{
	refuse_note(&a->refuse, why, from, len);
	return why;
}

enum refuse_reason admit_stream(struct admit *a, const struct acl *acl, const struct sockaddr *peer,
                                socklen_t len, uint64_t *ticket)
{
	struct cidr_addr src;

	*ticket = 0;
	if (cidr_addr_from_sockaddr(peer, len, &src, NULL) == -1)
		return REFUSE_NONE; /* a Unix socket: the file's permissions decide */
	if (acl_check(acl, &src) == ACL_DENY)
		return refuse(a, REFUSE_ACCESS, peer, len);
	if (!a->stream_limits)
		return REFUSE_NONE;
	switch (srclimit_connect(a->table, &a->lim, &src, ev_now(a->refuse.loop), ticket)) {
	case SRCLIMIT_CONNECTIONS:
		return refuse(a, REFUSE_CONNECTIONS, peer, len);
	case SRCLIMIT_RATE:
		return refuse(a, REFUSE_RATE, peer, len);
	case SRCLIMIT_FULL:
		refuse_note(&a->refuse, REFUSE_UNTRACKED, peer, len);
		break;
	case SRCLIMIT_OK:
		break;
	}
	return REFUSE_NONE;
}

void admit_adopted(struct admit *a, const struct sockaddr *peer, socklen_t len, uint64_t *ticket)
{
	struct cidr_addr src;

	*ticket = 0;
	if (!a->stream_limits || cidr_addr_from_sockaddr(peer, len, &src, NULL) == -1)
		return;
	if (srclimit_adopt(a->table, &a->lim, &src, ev_now(a->refuse.loop), ticket) ==
	    SRCLIMIT_FULL)
		refuse_note(&a->refuse, REFUSE_UNTRACKED, peer, len);
}

void admit_closed(struct admit *a, uint64_t ticket)
{
	if (ticket != 0 && a->table != NULL)
		srclimit_close(a->table, ticket);
}

/* Where the datagram came in, from the kernel's control data. */
static void arrival(const struct msghdr *msg, struct guard_arrival *in)
{
	memset(in, 0, sizeof(*in));
	if (msg->msg_controllen == 0)
		return;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm != NULL;
	     cm = CMSG_NXTHDR((struct msghdr *)msg, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			in->ifindex = pi.ipi_ifindex;
			in->dst.family = AF_INET;
			memcpy(in->dst.b, &pi.ipi_addr, 4);
		} else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO &&
		           cm->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			in->ifindex = (int)pi.ipi6_ifindex;
			in->dst.family = AF_INET6;
			memcpy(in->dst.b, &pi.ipi6_addr, 16);
		}
	}
}

enum refuse_reason admit_datagram(struct admit *a, const struct acl *acl, const struct msghdr *msg,
                                  const struct sockaddr *client)
{
	const struct sockaddr *from = msg->msg_name;
	socklen_t len = msg->msg_namelen;
	struct guard_arrival in;
	struct cidr_addr src;
	uint16_t port;
	enum refuse_reason why;

	int mapped = cidr_addr_from_sockaddr(from, len, &src, &port);
	if (mapped == -1)
		return refuse(a, REFUSE_UDP_MARTIAN, from, len);
	if (a->guard_on) {
		arrival(msg, &in);
		if ((why = guard_check(&a->guard, &src, port, mapped, &in)) != REFUSE_NONE)
			return refuse(a, why, from, len);
	}
	if (client != NULL) {
		from = client;
		len = sizeof(struct sockaddr_storage);
		if (cidr_addr_from_sockaddr(from, len, &src, NULL) == -1)
			return REFUSE_NONE;
	}
	if (acl_check(acl, &src) == ACL_DENY)
		return refuse(a, REFUSE_UDP_ACCESS, from, len);
	if (!a->udp_limits)
		return REFUSE_NONE;
	switch (srclimit_datagram(a->table, &a->lim, &src, ev_now(a->refuse.loop))) {
	case SRCLIMIT_RATE:
		return refuse(a, REFUSE_UDP_RATE, from, len);
	case SRCLIMIT_FULL:
		refuse_note(&a->refuse, REFUSE_UNTRACKED, from, len);
		break;
	case SRCLIMIT_OK:
	case SRCLIMIT_CONNECTIONS:
		break;
	}
	return REFUSE_NONE;
}
