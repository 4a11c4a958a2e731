/* SPDX-License-Identifier: BSD-2-Clause */
/* Listening sockets the master serves itself (see endpoint.h). */
#include "acconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "endpoint.h"
#include "log.h"

/* A few scrapers or operators at a time. */
#define BACKLOG 16

int endpoint_clear_stale(const struct sockaddr_un *sun)
{
	struct stat st;

	if (lstat(sun->sun_path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	int live = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	if (live) {
		errno = EADDRINUSE;
		return -1;
	}
	return unlink(sun->sun_path);
}

int endpoint_listen(const struct config_endpoint *ep, mode_t mode, char *name, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int fd = -1, one = 1, bound = 0;

	memset(&ss, 0, sizeof(ss));
	if (ep->proto == LISTEN_UNIX) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
		sun->sun_family = AF_UNIX;
		snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", ep->path);
		sslen = sizeof(*sun);
		snprintf(name, len, "unix:%s", ep->path);
		if (endpoint_clear_stale(sun) == -1)
			return -1;
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		if (inet_pton(AF_INET, ep->address, &sin->sin_addr) == 1) {
			sin->sin_family = AF_INET;
			sin->sin_port = htons((uint16_t)ep->port);
			sslen = sizeof(*sin);
		} else if (inet_pton(AF_INET6, ep->address, &sin6->sin6_addr) == 1) {
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons((uint16_t)ep->port);
			sslen = sizeof(*sin6);
		} else {
			errno = EINVAL;
			return -1;
		}
		snprintf(name, len, "%s%s%s:%d", sin->sin_family == AF_INET6 ? "[" : "",
		         ep->address, sin->sin_family == AF_INET6 ? "]" : "", ep->port);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	/* SO_REUSEPORT: during a binary upgrade the new master binds the same
	 * address while the old one still serves it (bug: the packaged upgrade
	 * failed with "metrics.listen: cannot listen on 127.0.0.1:9707"). */
	if (ss.ss_family != AF_UNIX &&
	    (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	     setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1))
		goto fail;
	if (ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == -1)
		goto fail;
	/* The file is created with the mode asked for, not some moment later:
	 * a umask around bind() is the one way to say it. */
	mode_t old = umask(ss.ss_family == AF_UNIX ? (~mode & 0777) : 0);
	int rc = bind(fd, (struct sockaddr *)&ss, sslen);
	umask(old);
	if (rc == -1)
		goto fail;
	bound = 1;
	if (listen(fd, BACKLOG) == -1)
		goto fail;
	if (ss.ss_family != AF_UNIX && ep->port == 0) {
		socklen_t blen = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &blen) == -1)
			goto fail;
		int port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
		                                          : ((struct sockaddr_in *)&ss)->sin_port);
		snprintf(name, len, "%s%s%s:%d", ss.ss_family == AF_INET6 ? "[" : "", ep->address,
		         ss.ss_family == AF_INET6 ? "]" : "", port);
	}
	return fd;
fail:;
	int saved = errno;
	close(fd);
	if (bound && ss.ss_family == AF_UNIX)
		unlink(((struct sockaddr_un *)&ss)->sun_path);
	errno = saved;
	return -1;
}

int endpoint_accept(int lfd, const char *what)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	int fd = accept4(lfd, (struct sockaddr *)&ss, &sslen, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd == -1 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
	    errno != ECONNABORTED)
		log_warn("%s: accept", what);
	return fd;
}
