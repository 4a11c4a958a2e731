/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The sockets side of echod-bench: resolving the target, the list of local
 * source addresses, the descriptor limit, and opening one non-blocking
 * connection.
 */
#ifndef ECHOD_CLIENT_NET_H
#define ECHOD_CLIENT_NET_H

#include <stddef.h>
#include <sys/socket.h>

#include "opts.h"

struct net_target {
	int family;
	int socktype; /* SOCK_STREAM or SOCK_DGRAM */
	struct sockaddr_storage addr;
	socklen_t len;
};

struct net_sources {
	struct sockaddr_storage *addr;
	size_t n;
};

/*
 * Resolve -H/-p or -U into `t` and describe it in `desc` ("127.0.0.1:7",
 * "[::1]:7", the socket path).  Returns 0, or -1 after saying why on
 * stderr.
 */
int net_target_resolve(const struct bench_opts *o, struct net_target *t, char *desc,
                       size_t desclen);

/*
 * Parse -S: a comma-separated list of numeric addresses of `family`, where
 * an IPv4 item may be a range, "127.0.0.1-127.0.0.8" or "127.0.0.1-8".
 * Returns 0, or -1 after saying why on stderr.  net_sources_free() frees.
 */
int net_sources_parse(const char *spec, int family, struct net_sources *s);
void net_sources_free(struct net_sources *s);

/*
 * Raise RLIMIT_NOFILE's soft limit (and the hard one when privileged) to at
 * least `want` if allowed.  Returns the soft limit now in force.
 */
size_t net_nofile_raise(size_t want);

/*
 * Open a non-blocking socket to `t`, from `src` (NULL: the kernel's choice)
 * and start connecting.  Returns the descriptor with *in_progress set when
 * the connect has yet to finish, or -1 with errno (EAGAIN: a Unix socket's
 * backlog is full, try again).
 */
int net_connect(const struct net_target *t, const struct sockaddr_storage *src, int *in_progress);

/* Finish a connect that was in progress.  Returns 0 or -1 with errno. */
int net_connect_result(int fd);

#endif
