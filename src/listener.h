/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Listening sockets.  A TCP or UDP listener is a SO_REUSEPORT group of
 * sockets bound to one address, so the kernel spreads clients over the
 * workers; a Unix listener is one socket that every worker shares.
 */
#ifndef ECHOD_LISTENER_H
#define ECHOD_LISTENER_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "config.h"

struct listener {
	enum listen_proto proto;
	int *fds; /* the group's sockets */
	size_t nfds;
	struct sockaddr_storage addr; /* bound address (the real port after port 0) */
	socklen_t addrlen;
	char *path;                 /* Unix: the socket file, removed on close */
	mode_t mode;                /* Unix: its permissions, */
	uid_t uid;                  /* owner ((uid_t)-1: as created) */
	gid_t gid;                  /* and group ((gid_t)-1: as created) */
	char name[LISTEN_NAME_MAX]; /* listen_conf_name(), with the bound port */
	char error[160];            /* why listener_open failed, when errno cannot say */
	unsigned stats_id;          /* its counters' index (stats.h), set by the master */
	int inherited;              /* passed to us (activation.h): its file is not ours */
};

/*
 * Bind and listen on `lc` with `nsockets` sockets (Unix listeners always have
 * one).  A Unix socket gets lc's mode, owner and group before it listens, so
 * no client ever connects through looser permissions; a socket file left by a
 * dead server is replaced, anything else at the path is left alone and is an
 * error.  Returns 0, or -1 with errno and l->name set for the message, and
 * l->error too when errno alone would not say what is wrong.
 */
int listener_open(struct listener *l, const struct listen_conf *lc, size_t nsockets);

/* Add sockets to the group until it has `nsockets`.  Returns 0 or -1. */
int listener_grow(struct listener *l, size_t nsockets);

/* Close every socket (and remove a Unix socket's file). */
void listener_close(struct listener *l);

/* Free l's memory but leave its sockets and file alone (a worker's
 * inherited copy, which the master still owns). */
void listener_release(struct listener *l);

/* True if `lc` describes the address `l` is bound to (reload matching). */
int listener_matches(const struct listener *l, const struct listen_conf *lc);

/*
 * Make *setp (*np listeners) match cfg: keep the listeners cfg still has
 * (grown to cfg->workers sockets), open the new ones, close those it dropped.
 * On failure (logged, FILE:LINE: naming the entry) nothing changes and -1 is
 * returned.  The kept sockets are never closed: connections waiting in their
 * accept queues are served by the next generation of workers.
 */
int listener_set_update(struct listener **setp, size_t *np, const struct config *cfg);

/* Whether the interface a link-local address's scope names (by name or by
 * decimal index) exists: config_env.if_exists. */
int listener_if_exists(const char *scope);

/* The sockets of the group that worker `index` of `count` serves. */
static inline int listener_serves(const struct listener *l, size_t fd_index, size_t index,
                                  size_t count)
{
	return l->nfds == 1 || fd_index % count == index;
}

#endif
