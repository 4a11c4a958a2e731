/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A worker's life after fork: signals, privilege drop, one event loop over
 * its share of the listening sockets and the connections it accepts, until
 * its master tells it to retire or stop over the channel, or is gone.
 */
#ifndef ECHOD_WORKER_H
#define ECHOD_WORKER_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct listener;
struct privs;
struct stats_slot;
struct srclimit;

/* What the master hands a worker. */
struct worker_args {
	const struct config *cfg;
	struct listener *listeners; /* all of them; the worker serves its share */
	size_t nlisteners;
	size_t index;              /* this worker's slot, 0..count-1 */
	size_t count;              /* workers in its generation */
	unsigned gen;              /* its generation: 1, then one more per reload */
	unsigned replacement;      /* 0; N for the Nth worker started in gen to replace
	                            * one that died */
	const struct privs *privs; /* dropped to before serving */
	int chan;                  /* the worker's end of its channel */
	struct stats_slot *stats;  /* its counters, shared with the master (or NULL) */

	struct srclimit *limits; /* the per-source table, or NULL */
};

/*
 * Be worker `index` of `count`: install the signal handlers, drop privileges,
 * serve until stopped, then return the process's exit status (enum
 * exit_code).  The master's commands come over a->chan (channel.h); its EOF
 * means the master is gone and retires the worker.  From outside, TERM and
 * INT retire it gracefully, QUIT stops it at once, USR1 reopens the log.
 * The caller still owns everything in a (and exits with the status).
 */
int worker_main(const struct worker_args *a);

/* How long past shutdown_timeout a retiring worker may still run: its last
 * connections linger after their half-close. */
uint64_t worker_retire_margin_ms(void);

#endif
