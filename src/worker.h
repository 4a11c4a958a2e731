/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A worker: one event loop over the listening sockets it was handed and the
 * connections it accepts from them, until it is told to stop or retire.
 */
#ifndef ECHOD_WORKER_H
#define ECHOD_WORKER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "ev.h"

struct config;
struct conn;
struct listener;
struct udp_echo;

struct worker {
	struct ev_loop *loop;
	const struct config *cfg;
	struct conn *conns; /* every open stream connection */
	size_t nconns;
	char *rbuf; /* shared read buffer */
	size_t rbuf_size;
	struct udp_echo *udp; /* shared UDP batch buffers, or NULL */
	uint64_t idle_ms;     /* 0: never */
	uint64_t deadline;    /* when retiring: cut what is left */
	int *accept_fds;      /* stream listeners served */
	size_t naccept_fds;
	struct ev_timer accept_timer;
	uint64_t last_fd_warning;
	int accept_paused;
	int retiring;
	int cut;                       /* shutdown_timeout passed */
	volatile uint32_t *conn_count; /* published for the master, or NULL */
};

/* What the master hands a worker. */
struct worker_args {
	const struct config *cfg;
	struct listener *listeners; /* all of them; the worker serves its share */
	size_t nlisteners;
	size_t index;                  /* this worker's slot, 0..count-1 */
	size_t count;                  /* workers in its generation */
	const sigset_t *wait_mask;     /* the mask to wait with: handled signals unblocked */
	int ready_fd;                  /* gets one byte once serving; -1: none */
	volatile uint32_t *conn_count; /* shared with the master for STATUS=; or NULL */
};

/*
 * Serve, as worker `index` of `count`, its share of the listeners until
 * stopped: TERM or INT retire it gracefully, QUIT stops it at once, USR1
 * reopens the log (see signals.h; the caller installs the handlers).
 * Returns 0 after a graceful or immediate stop, -1 if the worker could not
 * be set up (logged).
 */
int worker_run(const struct worker_args *args);

/* Keep the worker's list of connections: link a new one, unlink one that
 * closes (which may let a paused accept resume). */
void worker_conn_link(struct worker *w, struct conn *c);
void worker_conn_unlink(struct worker *w, struct conn *c);

#endif
