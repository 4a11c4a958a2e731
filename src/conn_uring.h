/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The completion driver of stream connections: io_uring receives and sends
 * for them, conn.c decides as it does by readiness.
 */
#ifndef ECHOD_CONN_URING_H
#define ECHOD_CONN_URING_H

#include "conn.h"

/*
 * Make the connections of ctx (none open yet) move their bytes by
 * completions; ctx->loop must take them (ev_loop_completions()).  Returns 0,
 * or -1 with errno (ENOTSUP, ENOMEM).
 */
int conn_uring_attach(struct conn_ctx *ctx);

/*
 * Free what the driver still holds: connections closed while an operation
 * on them was still running.  Call it after the last conn_close() and after
 * ev_loop_free(), which ends those operations.
 */
void conn_uring_detach(struct conn_ctx *ctx);

#endif
