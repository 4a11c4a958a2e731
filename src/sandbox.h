/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The worker sandbox: a seccomp filter (libseccomp) that allows only the
 * system calls a serving worker makes.  Any other one is trapped: the
 * worker sends the system call's number to the master over its channel
 * (CHAN_SANDBOX) and dies of SIGSYS, so that the master can say which call
 * it was; the kernel tells only the process that made it.
 */
#ifndef ECHOD_SANDBOX_H
#define ECHOD_SANDBOX_H

#include <stddef.h>

/* Whether this build has the sandbox (configure found libseccomp). */
int sandbox_available(void);

/*
 * Confine the calling process for good: no_new_privs, then the filter.
 * report_fd is the worker's end of its channel, where a forbidden system
 * call is reported.  Call it when everything the process will open is open.
 * Returns 0, or -1 with errno (ENOSYS: built without libseccomp).
 */
int sandbox_enter(int report_fd);

/* Report to fd from now on (-1: nowhere), for when the channel closes: its
 * number may soon belong to a client's connection. */
void sandbox_report_to(int fd);

/* The name of system call `nr` of this architecture, written into buf
 * ("socket"), or "unknown" (or its number, without libseccomp). */
const char *sandbox_syscall_name(int nr, char *buf, size_t len);

#endif
