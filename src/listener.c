/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Opening listening sockets.  TCP_NODELAY, TCP_NOTSENT_LOWAT and
 * SO_OOBINLINE are set on the listening socket: Linux copies them to every
 * accepted socket, which saves a setsockopt() per connection.  SO_OOBINLINE
 * keeps TCP urgent data in the stream, so a byte sent with MSG_OOB is echoed
 * in its place like any other instead of being set aside where the echo
 * never reads it.
 */
#include "acconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <pwd.h>
#include <sys/un.h>
#include <unistd.h>

#include "endpoint.h"
#include "listener.h"
#include "log.h"

/* Unsent bytes the kernel may hold per TCP connection (see below). */
#define LISTENER_NOTSENT_LOWAT (128 * 1024)

static const int one = 1;

/* Name l as the config names lc, but with the port it is bound to (the one
 * the kernel picked, for port 0). */
static void format_name(struct listener *l, const struct listen_conf *lc)
{
	struct listen_conf bound = *lc;

	if (lc->proto != LISTEN_UNIX && l->addrlen != 0)
		bound.port = ntohs(l->addr.ss_family == AF_INET6
		                       ? ((struct sockaddr_in6 *)&l->addr)->sin6_port
		                       : ((struct sockaddr_in *)&l->addr)->sin_port);
	listen_conf_name(&bound, l->name, sizeof(l->name));
}

/* The interface a link-local address names, by name or decimal index; 0 if
 * there is none. */
static unsigned if_index(const char *scope)
{
	char name[IF_NAMESIZE];
	char *end;
	unsigned long n = strtoul(scope, &end, 10);

	if (*scope >= '0' && *scope <= '9' && *end == '\0')
		return n <= UINT32_MAX && if_indextoname((unsigned)n, name) != NULL ? (unsigned)n
		                                                                    : 0;
	return if_nametoindex(scope);
}

int listener_if_exists(const char *scope)
{
	return if_index(scope) != 0;
}

/* A user or group given by name or number; -1 if there is none. */
static long lookup_id(const char *s, int group)
{
	char *end;
	unsigned long n = strtoul(s, &end, 10);

	if (*s >= '0' && *s <= '9' && *end == '\0')
		return n < 0x7fffffffUL ? (long)n : -1;
	if (group) {
		/* cppcheck-suppress getgrnamCalled ; not reentrant, but echod has no threads */
		const struct group *gr = getgrnam(s);
		return gr != NULL ? (long)gr->gr_gid : -1;
	}
	/* cppcheck-suppress getpwnamCalled ; not reentrant, but echod has no threads */
	const struct passwd *pw = getpwnam(s);
	return pw != NULL ? (long)pw->pw_uid : -1;
}

/* lc's mode, owner and group into l.  Returns 0, or -1 with l->error. */
static int unix_perms(struct listener *l, const struct listen_conf *lc)
{
	long uid = -1, gid = -1;

	l->mode = (mode_t)strtol(lc->mode != NULL ? lc->mode : "0660", NULL, 8);
	if (lc->owner != NULL && (uid = lookup_id(lc->owner, 0)) == -1) {
		snprintf(l->error, sizeof(l->error), "unknown owner '%s'", lc->owner);
		errno = EINVAL;
		return -1;
	}
	if (lc->group != NULL && (gid = lookup_id(lc->group, 1)) == -1) {
		snprintf(l->error, sizeof(l->error), "unknown group '%s'", lc->group);
		errno = EINVAL;
		return -1;
	}
	l->uid = (uid_t)uid;
	l->gid = (gid_t)gid;
	return 0;
}

/* Give the socket file l's owner, group and mode, in that order (chown may
 * clear mode bits).  Returns 0 or -1 with errno. */
static int apply_perms(struct listener *l)
{
	if ((l->uid != (uid_t)-1 || l->gid != (gid_t)-1) && lchown(l->path, l->uid, l->gid) == -1)
		return -1;
	return chmod(l->path, l->mode);
}

static int resolve(struct listener *l, const struct listen_conf *lc)
{
	memset(&l->addr, 0, sizeof(l->addr));
	if (lc->proto == LISTEN_UNIX) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&l->addr;
		if (strlen(lc->path) >= sizeof(sun->sun_path)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, lc->path, strlen(lc->path) + 1);
		l->addrlen = sizeof(*sun);
		return 0;
	}
	struct sockaddr_in *sin = (struct sockaddr_in *)&l->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&l->addr;
	char host[INET6_ADDRSTRLEN];
	const char *scope;
	if (listen_address_split(lc->address, host, &scope) == -1) {
		errno = EINVAL;
		return -1;
	}
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1 && scope == NULL) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)lc->port);
		l->addrlen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)lc->port);
		l->addrlen = sizeof(*sin6);
		if (scope != NULL && (sin6->sin6_scope_id = if_index(scope)) == 0) {
			errno = ENODEV;
			return -1;
		}
	} else {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* A Unix socket file left by a dead server is removed; a live one is not,
 * nor anything that is not a socket. */
static int clear_stale_unix(struct listener *l)
{
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&l->addr;
	int err;

	if (endpoint_clear_stale(sun) == 0)
		return 0;
	err = errno;
	if (err == EEXIST)
		snprintf(l->error, sizeof(l->error), "%s exists and is not a socket; remove it",
		         sun->sun_path);
	else if (err == EADDRINUSE)
		snprintf(l->error, sizeof(l->error), "a server already answers on %s",
		         sun->sun_path);
	errno = err;
	return -1;
}

static int open_socket(struct listener *l)
{
	int family = l->addr.ss_family;
	int type = l->proto == LISTEN_UDP ? SOCK_DGRAM : SOCK_STREAM;
	int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return -1;
	if (family != AF_UNIX) {
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
		    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1)
			goto fail;
		if (family == AF_INET6 &&
		    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == -1)
			goto fail;
		if (l->proto == LISTEN_TCP &&
		    (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1 ||
		     setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one)) == -1))
			goto fail;
#ifdef TCP_NOTSENT_LOWAT
		/* Bytes a client has not yet taken wait in echod's queue, where
		 * max_pending counts them, not in the kernel: without this a
		 * client that never reads parks up to tcp_wmem's maximum (4 MiB)
		 * in its socket, and 500 such clients push the whole machine's
		 * TCP into memory pressure, where it drops everyone's packets.
		 * In-flight bytes are not limited, so a fat pipe stays full. */
		int lowat = LISTENER_NOTSENT_LOWAT;
		if (l->proto == LISTEN_TCP &&
		    setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat)) == -1)
			goto fail;
#endif
	}
	if (bind(fd, (struct sockaddr *)&l->addr, l->addrlen) == -1)
		goto fail;
	/* Before listen(): until then a connect is refused, whatever the mode
	 * the umask gave the file. */
	if (family == AF_UNIX && apply_perms(l) == -1) {
		int saved = errno;
		unlink(l->path);
		errno = saved;
		goto fail;
	}
	if (type == SOCK_STREAM && listen(fd, SOMAXCONN) == -1)
		goto fail;
	return fd;

fail:;
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int listener_grow(struct listener *l, size_t nsockets)
{
	int reuse = 0;
	socklen_t optlen = sizeof(reuse);

	if (l->proto == LISTEN_UNIX)
		nsockets = 1;
	/* A passed socket without SO_REUSEPORT cannot have a group: every
	 * worker serves it alone. */
	if (l->inherited && l->nfds > 0 &&
	    (getsockopt(l->fds[0], SOL_SOCKET, SO_REUSEPORT, &reuse, &optlen) == -1 || !reuse))
		return 0;
	if (nsockets <= l->nfds)
		return 0;
	int *fds = realloc(l->fds, nsockets * sizeof(*fds));
	if (fds == NULL)
		return -1;
	l->fds = fds;
	while (l->nfds < nsockets) {
		int fd = open_socket(l);
		if (fd == -1)
			return -1;
		if (l->nfds == 0 && l->proto != LISTEN_UNIX) {
			/* Port 0: the rest of the group joins the port the kernel
			 * picked for the first socket. */
			socklen_t len = sizeof(l->addr);
			if (getsockname(fd, (struct sockaddr *)&l->addr, &len) == -1) {
				int saved = errno;
				close(fd);
				errno = saved;
				return -1;
			}
		}
		l->fds[l->nfds++] = fd;
	}
	return 0;
}

int listener_open(struct listener *l, const struct listen_conf *lc, size_t nsockets)
{
	memset(l, 0, sizeof(*l));
	l->proto = lc->proto;
	format_name(l, lc);
	if (resolve(l, lc) == -1)
		return -1;
	if (lc->proto == LISTEN_UNIX) {
		if (unix_perms(l, lc) == -1 || clear_stale_unix(l) == -1)
			return -1;
		if ((l->path = strdup(lc->path)) == NULL)
			return -1;
	}
	if (listener_grow(l, nsockets) == -1) {
		int saved = errno;
		listener_close(l);
		errno = saved;
		return -1;
	}
	format_name(l, lc);
	return 0;
}

void listener_release(struct listener *l)
{
	free(l->fds);
	free(l->path);
	l->fds = NULL;
	l->path = NULL;
	l->nfds = 0;
}

void listener_close(struct listener *l)
{
	for (size_t i = 0; i < l->nfds; i++)
		close(l->fds[i]);
	if (l->path != NULL && l->nfds > 0 && !l->inherited)
		unlink(l->path);
	listener_release(l);
}

int listener_matches(const struct listener *l, const struct listen_conf *lc)
{
	struct listener want = {.proto = lc->proto};

	if (l->proto != lc->proto || resolve(&want, lc) == -1)
		return 0;
	if (lc->proto == LISTEN_UNIX)
		return strcmp(l->path, lc->path) == 0;
	if (want.addr.ss_family != l->addr.ss_family)
		return 0;
	if (want.addr.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&want.addr;
		const struct sockaddr_in *b = (const struct sockaddr_in *)&l->addr;
		return a->sin_addr.s_addr == b->sin_addr.s_addr &&
		       (a->sin_port == 0 || a->sin_port == b->sin_port);
	}
	const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&want.addr;
	const struct sockaddr_in6 *b = (const struct sockaddr_in6 *)&l->addr;
	return memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)) == 0 &&
	       a->sin6_scope_id == b->sin6_scope_id &&
	       (a->sin6_port == 0 || a->sin6_port == b->sin6_port);
}

int listener_set_update(struct listener **setp, size_t *np, const struct config *cfg)
{
	struct listener *old = *setp;
	size_t nold = *np;
	struct listener *ls = calloc(cfg->nlisten, sizeof(*ls));
	long *from = calloc(cfg->nlisten, sizeof(*from)); /* old index, or -1: new */
	int *taken = calloc(nold + 1, sizeof(*taken));

	if (ls == NULL || from == NULL || taken == NULL) {
		log_warn("listeners");
		goto fail;
	}
	for (size_t i = 0; i < cfg->nlisten; i++)
		from[i] = -1;
	for (size_t i = 0; i < cfg->nlisten; i++) {
		const struct listen_conf *lc = &cfg->listen[i];
		for (size_t j = 0; j < nold && from[i] == -1; j++) {
			if (!taken[j] && listener_matches(&old[j], lc)) {
				taken[j] = 1;
				from[i] = (long)j;
			}
		}
		if (from[i] != -1) {
			/* A kept Unix socket takes the new mode, owner and
			 * group: check now that they exist, change nothing. */
			struct listener check = {.proto = lc->proto};
			if (lc->proto == LISTEN_UNIX && unix_perms(&check, lc) == -1) {
				log_errorx("%s:%d: cannot listen on %s: %s", cfg->file, lc->line,
				           old[from[i]].name, check.error);
				goto fail;
			}
			continue;
		}
		if (listener_open(&ls[i], lc, (size_t)cfg->workers) == -1) {
			log_errorx("%s:%d: cannot listen on %s: %s", cfg->file, lc->line,
			           ls[i].name, ls[i].error[0] ? ls[i].error : strerror(errno));
			goto fail;
		}
		log_notice("listening on %s", ls[i].name);
	}
	for (size_t j = 0; j < nold; j++) {
		if (!taken[j]) {
			log_notice("no longer listening on %s", old[j].name);
			listener_close(&old[j]);
		}
	}
	for (size_t i = 0; i < cfg->nlisten; i++) {
		if (from[i] == -1)
			continue;
		ls[i] = old[from[i]];
		if (listener_grow(&ls[i], (size_t)cfg->workers) == -1)
			log_warn("%s: cannot add sockets to the group", ls[i].name);
		if (ls[i].proto == LISTEN_UNIX &&
		    (unix_perms(&ls[i], &cfg->listen[i]) == -1 || apply_perms(&ls[i]) == -1))
			log_warn("%s: cannot change its mode, owner or group", ls[i].name);
	}
	free(old);
	free(from);
	free(taken);
	*setp = ls;
	*np = cfg->nlisten;
	return 0;

fail:
	if (ls != NULL && from != NULL)
		for (size_t i = 0; i < cfg->nlisten; i++)
			if (from[i] == -1)
				listener_close(&ls[i]);
	free(ls);
	free(from);
	free(taken);
	return -1;
}
