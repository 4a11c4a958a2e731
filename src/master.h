/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The master process: binds every listener, pre-forks the workers, replaces
 * those that die, reloads on HUP, stops on TERM/INT (gracefully) or QUIT.
 */
#ifndef ECHOD_MASTER_H
#define ECHOD_MASTER_H

struct config;
struct config_errors;

/*
 * Run the master with `cfg` (taken over; freed on return), loaded from
 * `path` (read again on HUP), detached from the terminal first if `detach`
 * (-d).  Returns the exit status (enum exit_code).
 */
int master_run(struct config *cfg, const char *path, int detach);

/*
 * Load the config at path for this process: the CPUs it may use and whether
 * it runs as root are looked up here, the file is read in a child process
 * with a deadline (config_child.h).  Start-up, -t, -s and reload share it.
 * Returns the config, or NULL with the problems in errs (the caller frees
 * both).
 */
struct config *master_load_config(const char *path, struct config_errors *errs);

#endif
