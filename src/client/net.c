/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Addresses, descriptor limits and connecting.  Spreading connections over
 * several source addresses matters because one (source address, target)
 * pair has only the ephemeral port range to offer, and a client that closes
 * first keeps each port in TIME_WAIT for a minute.
 */
#include "acconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <unistd.h>

#include "net.h"

/* More addresses than any sensible -S; keeps a typo from allocating GBs. */
#define NET_SOURCES_MAX 65536

int net_target_resolve(const struct bench_opts *o, struct net_target *t, char *desc, size_t desclen)
{
	struct addrinfo hints, *res = NULL;
	char host[INET6_ADDRSTRLEN], serv[16];
	int rc;

	memset(t, 0, sizeof(*t));
	if (o->unix_path != NULL) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&t->addr;

		if (strlen(o->unix_path) >= sizeof(sun->sun_path)) {
			fprintf(stderr, "echod-bench: socket path too long: %s\n", o->unix_path);
			return -1;
		}
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, o->unix_path, strlen(o->unix_path) + 1);
		t->family = AF_UNIX;
		t->socktype = SOCK_STREAM;
		t->len = sizeof(*sun);
		snprintf(desc, desclen, "%s", o->unix_path);
		return 0;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = o->udp ? SOCK_DGRAM : SOCK_STREAM;
	if ((rc = getaddrinfo(o->host, o->port, &hints, &res)) != 0) {
		fprintf(stderr, "echod-bench: %s port %s: %s\n", o->host, o->port,
		        gai_strerror(rc));
		return -1;
	}
	/* The first answer, as any client would; -H ::1 or -H 127.0.0.1 pins it. */
	memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
	t->len = res->ai_addrlen;
	t->family = res->ai_family;
	t->socktype = hints.ai_socktype;
	freeaddrinfo(res);
	if (getnameinfo((struct sockaddr *)&t->addr, t->len, host, sizeof(host), serv, sizeof(serv),
	                NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(desc, desclen, "%s:%s", o->host, o->port);
		return 0;
	}
	snprintf(desc, desclen, t->family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, serv);
	return 0;
}

static int net_sources_add(struct net_sources *s, const struct sockaddr_storage *ss)
{
	struct sockaddr_storage *a;

	if (s->n == NET_SOURCES_MAX) {
		errno = E2BIG;
		return -1;
	}
	if ((s->n & (s->n - 1)) == 0) {
		size_t cap = s->n ? s->n * 2 : 4;

		if ((a = realloc(s->addr, cap * sizeof(*a))) == NULL)
			return -1;
		s->addr = a;
	}
	s->addr[s->n++] = *ss;
	return 0;
}

/* One item of -S: ADDR, or for IPv4 ADDR-ADDR or ADDR-LASTOCTET. */
static int net_sources_item(const char *item, int family, struct net_sources *s)
{
	struct sockaddr_storage ss;
	char first[INET6_ADDRSTRLEN], *dash;
	uint32_t lo, hi, v;

	if (strlen(item) >= sizeof(first) * 2)
		goto bad;
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET6) {
		if (inet_pton(AF_INET6, item, &((struct sockaddr_in6 *)&ss)->sin6_addr) != 1)
			goto bad;
		return net_sources_add(s, &ss);
	}
	snprintf(first, sizeof(first), "%s", item);
	if ((dash = strchr(first, '-')) != NULL)
		*dash = '\0';
	if (inet_pton(AF_INET, first, &((struct sockaddr_in *)&ss)->sin_addr) != 1)
		goto bad;
	lo = hi = ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr);
	if (dash != NULL) {
		const char *rest = item + (dash - first) + 1;
		struct in_addr last;
		char *end;
		unsigned long octet;

		if (inet_pton(AF_INET, rest, &last) == 1) {
			hi = ntohl(last.s_addr);
		} else {
			errno = 0;
			octet = strtoul(rest, &end, 10);
			if (errno != 0 || end == rest || *end != '\0' || octet > 255)
				goto bad;
			hi = (lo & 0xffffff00u) | (uint32_t)octet;
		}
		if (hi < lo || hi - lo >= NET_SOURCES_MAX)
			goto bad;
	}
	for (v = lo;; v++) {
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(v);
		if (net_sources_add(s, &ss) == -1)
			return -1;
		if (v == hi)
			break;
	}
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

int net_sources_parse(const char *spec, int family, struct net_sources *s)
{
	char *copy, *item, *save = NULL;

	s->addr = NULL;
	s->n = 0;
	if (family != AF_INET && family != AF_INET6) {
		fprintf(stderr, "echod-bench: -S needs an IPv4 or IPv6 target\n");
		return -1;
	}
	if ((copy = strdup(spec)) == NULL)
		goto fail;
	for (item = strtok_r(copy, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save))
		if (net_sources_item(item, family, s) == -1) {
			fprintf(stderr, "echod-bench: bad source address '%s': %s\n", item,
			        errno == EINVAL
			            ? (family == AF_INET ? "not an IPv4 address or range"
			                                 : "not an IPv6 address")
			            : strerror(errno));
			goto fail;
		}
	free(copy);
	if (s->n == 0) {
		fprintf(stderr, "echod-bench: no source address in '%s'\n", spec);
		net_sources_free(s);
		return -1;
	}
	return 0;
fail:
	if (copy == NULL)
		fprintf(stderr, "echod-bench: %s\n", strerror(errno));
	free(copy);
	net_sources_free(s);
	return -1;
}

void net_sources_free(struct net_sources *s)
{
	free(s->addr);
	s->addr = NULL;
	s->n = 0;
}

size_t net_nofile_raise(size_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 0;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		struct rlimit up = rl;

		/* Past the hard limit only root may go; ask, then settle for the
		 * hard limit. */
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
			up.rlim_cur = up.rlim_max = want;
			if (setrlimit(RLIMIT_NOFILE, &up) == 0)
				return want;
			up = rl;
			up.rlim_cur = rl.rlim_max;
		} else {
			up.rlim_cur = want;
		}
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl = up;
	}
	return rl.rlim_cur == RLIM_INFINITY ? (size_t)-1 : (size_t)rl.rlim_cur;
}

int net_connect(const struct net_target *t, const struct sockaddr_storage *src, int *in_progress)
{
	int fd, on = 1, saved;

	*in_progress = 0;
	if ((fd = socket(t->family, t->socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (t->family != AF_UNIX && t->socktype == SOCK_STREAM &&
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == -1)
		goto fail;
	if (src != NULL) {
		socklen_t len = src->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
		                                           : sizeof(struct sockaddr_in);
#ifdef IP_BIND_ADDRESS_NO_PORT
		/* Let connect() pick the port knowing the destination, so a port
		 * is reused across targets instead of reserved at bind time. */
		if (t->socktype == SOCK_STREAM)
			(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof(on));
#endif
		if (bind(fd, (const struct sockaddr *)src, len) == -1)
			goto fail;
	}
	if (connect(fd, (const struct sockaddr *)&t->addr, t->len) == -1) {
		if (errno != EINPROGRESS)
			goto fail;
		*in_progress = 1;
	}
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int net_connect_result(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}
