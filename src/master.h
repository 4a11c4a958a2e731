/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The master process: binds every listener, pre-forks the workers, replaces
 * those that die, reloads on HUP, stops on TERM/INT (gracefully) or QUIT.
 */
#ifndef ECHOD_MASTER_H
#define ECHOD_MASTER_H

struct config;

/*
 * Run the master with `cfg` (taken over; freed on return), loaded from
 * `path` (read again on HUP).  Returns the exit status (enum exit_code).
 */
int master_run(struct config *cfg, const char *path, int daemonize);

#endif
