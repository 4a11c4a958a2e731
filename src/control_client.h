/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The client side of the control socket (control.h), for `echod -s`: send
 * one request, copy the master's output lines to out and its diagnostics to
 * err, and tell how it ended.
 */
#ifndef ECHOD_CONTROL_CLIENT_H
#define ECHOD_CONTROL_CLIENT_H

#include <stdio.h>

enum control_outcome {
	CONTROL_OK,        /* "ok": its text, if any, went to out */
	CONTROL_FAILED,    /* "error": its text went to err */
	CONTROL_NO_MASTER, /* nobody answers on the socket (errno says why) */
	CONTROL_LOST,      /* the connection ended, or the time ran out, before an answer */
};

/*
 * Connect to the master's control socket at path, send `request` (a line
 * without its newline) and read the answer for up to timeout_ms.  With
 * wait_exit, the answer is complete only once the master has closed the
 * connection by exiting.  Returns the outcome; for CONTROL_LOST a reason is
 * written to err.
 */
enum control_outcome control_request(const char *path, const char *request, int wait_exit,
                                     int timeout_ms, FILE *out, FILE *err);

#endif
