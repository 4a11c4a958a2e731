/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Binary upgrade (SIGUSR2, `echod -s upgrade`), the process side: the old
 * master starts the echod binary now on disk as its child, with every
 * listening socket in descriptors 3, 4, ... (LISTEN_FDS, as socket
 * activation, see activation.h) and one end of a channel (channel.h) in
 * ECHOD_UPGRADE_FD.  The new master says CHAN_READY over it once its
 * workers serve; the old one then hands its connections over through it and
 * exits.  master.c holds the protocol; this module the fork, exec and
 * environment.
 */
#ifndef ECHOD_UPGRADE_H
#define ECHOD_UPGRADE_H

#include <stddef.h>
#include <sys/types.h>

#include "listener.h"
#include "pidfile.h"

/* How long the new master has to serve before the old one gives up on it. */
#define UPGRADE_READY_MS 30000

/*
 * Start the binary at /proc/self/exe's path (the file now on disk there,
 * even if the running one was replaced) with `-c config`, passing the
 * listeners' sockets; if pidfile_fd >= 0, the locked pid file (so that its
 * lock passes to the new master); if control_fd >= 0, the control socket's
 * listener (the new master cannot bind the path the old one still serves,
 * and `echod -s` always finds a master there).  With `detach`, through an
 * intermediate process that exits at once, so that the new master is not our child but the service
 * manager's (systemd supervises a MAINPID that is its own child only).
 * Returns its pid and stores the old master's end of the channel in *chan,
 * or returns -1 with errno (nothing started).
 */
pid_t upgrade_spawn(const struct listener *ls, size_t nls, const char *config, int pidfile_fd,
                    int control_fd, int detach, int *chan);

/*
 * In a master started by upgrade_spawn(): if the old master passed its
 * locked pid file (pidfile_fd above) and it is the file at `path`, store it
 * in *pf and return 1; else close it (if any) and return 0.
 */
int upgrade_inherited_pidfile(struct pidfile *pf, const char *path);

/*
 * In a master started by upgrade_spawn(): the control socket's listener the
 * old master passed, if it listens at `path`; else -1 (any passed one is
 * closed).  Call once, before binding the control socket.
 */
int upgrade_inherited_control(const char *path);

/*
 * In a master started by upgrade_spawn(): the channel to the old master
 * (its pid in *peer), taken out of the environment; or -1 if this master
 * was not started so.
 */
int upgrade_inherited(pid_t *peer);

#endif
