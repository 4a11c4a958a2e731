/* SPDX-License-Identifier: BSD-2-Clause */
/* Process-wide set-up of the master. */
#ifndef ECHOD_PROCESS_H
#define ECHOD_PROCESS_H

#include <stddef.h>

/* Double fork, setsid, chdir /, standard streams to /dev/null; the caller
 * continues in the grandchild.  Returns 0, or -1 with errno. */
int process_detach(void);

/* Raise the soft RLIMIT_NOFILE toward max_connections + 64 (up to the hard
 * limit), with a notice if it stays short. */
void process_raise_nofile(int max_connections);

/* A wait status in words, into buf: "exited with status 2", "killed by
 * signal 9 (SIGKILL)", "killed by signal 11 (SIGSEGV), core dumped". */
void process_describe_status(int status, char *buf, size_t len);

#endif
