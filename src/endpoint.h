/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The master's own listening sockets, those it serves itself and never hands
 * to a worker: the metrics endpoint (TCP or Unix) and the control socket
 * (Unix).  Non-blocking and close-on-exec; a Unix socket file gets the mode
 * asked for from the start, and one left behind by a dead master is
 * replaced while a live one is not.
 */
#ifndef ECHOD_ENDPOINT_H
#define ECHOD_ENDPOINT_H

#include <stddef.h>
#include <sys/types.h>

struct config_endpoint;
struct sockaddr_un;

/*
 * Bind and listen on ep (a Unix socket file is made with `mode`).  Writes
 * the address as bound ("127.0.0.1:9707", "[::1]:9707", "unix:/path": the
 * real port after port 0) into name.  Returns the socket, or -1 with errno
 * (EADDRINUSE also when a live server answers on the Unix path, EEXIST when
 * the path is not a socket).
 */
int endpoint_listen(const struct config_endpoint *ep, mode_t mode, char *name, size_t len);

/* Remove the socket file at sun's path if nobody answers on it.  Returns 0
 * (also when there is no file), or -1 with errno: EADDRINUSE when a server
 * answers there, EEXIST when the path is not a socket. */
int endpoint_clear_stale(const struct sockaddr_un *sun);

/* Accept one client of listening socket lfd, non-blocking and close-on-exec.
 * Returns its descriptor, or -1 when none is waiting or accept4() failed;
 * a failure other than an empty backlog is logged, naming `what`. */
int endpoint_accept(int lfd, const char *what);

#endif
