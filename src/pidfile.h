/* SPDX-License-Identifier: BSD-2-Clause */
/* The master's pid file: written at start, read by `echod -s`, removed at exit. */
#ifndef ECHOD_PIDFILE_H
#define ECHOD_PIDFILE_H

#include <sys/types.h>

/* Write our pid to path (atomically, via a temporary file and rename).
 * Returns 0 or -1 with errno. */
int pidfile_write(const char *path);

/* The pid in path, or -1 with errno (ENOENT: no file; EINVAL: no pid in it). */
pid_t pidfile_read(const char *path);

/* Remove path if it still holds our pid. */
void pidfile_remove(const char *path);

#endif
