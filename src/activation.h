/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Socket activation (sd_listen_fds(3)): listening sockets passed by a service
 * manager, or by an older echod on a binary upgrade, in descriptors 3, 4, ...
 * with LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES in the environment.  Each
 * passed socket becomes the listener of the `listen` entry with its address.
 */
#ifndef ECHOD_ACTIVATION_H
#define ECHOD_ACTIVATION_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "listener.h"

/* The first passed descriptor, as sd_listen_fds(3) defines it. */
#define ACTIVATION_FD_START 3
/* At most this many passed descriptors are taken. */
#define ACTIVATION_MAX_FDS 256

/*
 * Parse the environment's three values (each may be NULL: unset) for
 * process `self`.  Pure.  Returns the number of descriptors passed to us (0
 * when LISTEN_PID or LISTEN_FDS is unset or LISTEN_PID names another
 * process), or -1 if a value is malformed (not a number, out of range).  If
 * names is not NULL, names[i] gets the i-th name of LISTEN_FDNAMES (a
 * pointer into a copy in *names_buf, which the caller frees), or "" when
 * fewer names than descriptors were given.
 */
int activation_parse(const char *pid, const char *fds, const char *fdnames, pid_t self,
                     const char **names, char **names_buf);

/*
 * Take the sockets passed in the environment: each must match one `listen`
 * entry of cfg (same protocol and address; an entry with port 0 matches any
 * port) and every entry must have one.  On success *setp and *np hold the
 * listeners made from them (for listener_set_update() to keep), the
 * LISTEN_* variables are removed from the environment, and 0 is returned;
 * without passed sockets nothing changes (0).  Every mismatch is logged,
 * naming the socket (by its name and address) or the entry (FILE:LINE), and
 * -1 is returned.
 */
int activation_take(struct listener **setp, size_t *np, const struct config *cfg);

#endif
