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

/* The signal for an -s word, or -1 if the word is unknown. */
int master_signal_number(const char *word);

/*
 * `echod -s WORD`: signal the master named in cfg's pid_file (cfg is freed).
 * Returns 0, or 1 with a message on stderr if no master runs.
 */
int master_send_signal(struct config *cfg, const char *word);

#endif
