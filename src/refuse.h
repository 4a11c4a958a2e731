/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What a worker refuses and drops, by reason: one struct of plain counters,
 * the same counted into the worker's stats slot (stats.h: what the metrics
 * endpoint exposes), and a log line per reason at most every
 * LOG_RATE_MS (log_rate, log.h), with the count since the previous one, so
 * that a flood costs a counter increment per packet and a line per 10
 * seconds.
 */
#ifndef ECHOD_REFUSE_H
#define ECHOD_REFUSE_H

#include <stdint.h>
#include <sys/socket.h>

#include "ev.h"
#include "log.h"
#include "stats.h"

enum refuse_reason {
	REFUSE_NONE,
	REFUSE_ACCESS,       /* stream connection: the access list */
	REFUSE_CONNECTIONS,  /* stream connection: limits.per_source_connections */
	REFUSE_RATE,         /* stream connection: limits.per_source_rate */
	REFUSE_UNTRACKED,    /* let in, but the per-source table had no room for it */
	REFUSE_UDP_ACCESS,   /* datagram: the access list */
	REFUSE_UDP_MARTIAN,  /* datagram: a source no unicast sender can have */
	REFUSE_UDP_LOOPBACK, /* datagram: a loopback source from another interface */
	REFUSE_UDP_PORT,     /* datagram: source port below 1024 */
	REFUSE_UDP_SELF,     /* datagram: from one of echod's own UDP listeners */
	REFUSE_UDP_RATE,     /* datagram: limits.udp_per_source_rate */
	REFUSE_COUNT,
};

struct refuse {
	uint64_t count[REFUSE_COUNT]; /* since the worker started */
	struct log_rate log[REFUSE_COUNT];
	struct sockaddr_storage latest[REFUSE_COUNT]; /* the last source, for the line */
	struct ev_loop *loop;
	struct ev_timer timer;    /* reports what came after a line */
	struct stats_slot *stats; /* datagrams dropped are counted there too, or NULL */
};

/* Start counting; the loop gives the clock and runs the timer. */
void refuse_init(struct refuse *r, struct ev_loop *loop, struct stats_slot *stats);

/* Count one event of `why` from `from` (NULL or a short len: unknown) and
 * log it if its line is due. */
void refuse_note(struct refuse *r, enum refuse_reason why, const struct sockaddr *from,
                 socklen_t len);

/* Log every count not reported yet and stop the timer (before the loop
 * goes away). */
void refuse_flush(struct refuse *r);

/* A short name for the reason ("access", "udp_privileged_port"...). */
const char *refuse_name(enum refuse_reason why);

/* The stats reason of a refused stream connection, which its accepting
 * worker counts (one refused after its PROXY header counts as closed). */
enum stats_reject refuse_stats_reject(enum refuse_reason why);

#endif
