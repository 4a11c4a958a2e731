/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Hot counters.  Each worker counts into a slot of its own in memory the
 * master shared with it before the fork; it is the slot's only writer, so a
 * count is a plain load and store (relaxed atomics: no locked instruction, no
 * system call), and the master reads every slot whenever it is asked, so the
 * figures are exact at any moment, not only when a connection closes.  When a
 * worker exits, however it died, the master folds its slot into the retired
 * totals before the slot is used again: a total never goes down.
 */
#ifndef ECHOD_STATS_H
#define ECHOD_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Listeners with a counter of their own over the master's life; a listener
 * opened after that many counts under the last id ("other"). */
#define STATS_MAX_LISTENERS 64

/* Why a connection that was accepted ended: exactly one of these counts it,
 * or one of enum stats_reject if it was refused at once. */
enum stats_close {
	STATS_CLOSE_CLIENT,      /* the client finished and got its echo */
	STATS_CLOSE_IDLE,        /* idle_timeout */
	STATS_CLOSE_RETIRED,     /* closed at a quiet moment by a retiring worker */
	STATS_CLOSE_ERROR,       /* read, write or event loop error, out of memory */
	STATS_CLOSE_SHUTDOWN,    /* still open when its worker stopped */
	STATS_CLOSE_WORKER_EXIT, /* open when its worker died (the master counts it) */
	STATS_CLOSE_COUNT,
};

/* Why a connection was closed as soon as it was accepted. */
enum stats_reject {
	STATS_REJECT_MAX_CONNECTIONS, /* the worker holds max_connections */
	STATS_REJECT_ERROR,           /* no memory, or a descriptor the backend cannot watch */
	STATS_REJECT_PROXY,           /* proxy_protocol: the peer is not in proxy_protocol.from */
	STATS_REJECT_ACCESS,          /* the listener's access list */
	STATS_REJECT_SOURCE_CONNECTIONS, /* limits.per_source_connections */
	STATS_REJECT_SOURCE_RATE,        /* limits.per_source_rate */
	STATS_REJECT_COUNT,
};

/* Why a datagram was not echoed. */
enum stats_drop {
	STATS_DROP_BUFFER, /* the socket's send buffer was full */
	STATS_DROP_ERROR,  /* sendmmsg refused it (an ICMP error, say) */
	STATS_DROP_PROXY,  /* proxy_protocol: no valid header, or a source not allowed */
	STATS_DROP_ACCESS, /* the listener's access list */
	/* udp_guard: */
	STATS_DROP_MARTIAN,     /* a source no unicast sender can have */
	STATS_DROP_LOOPBACK,    /* a loopback source from another interface */
	STATS_DROP_PORT,        /* a source port below 1024 */
	STATS_DROP_SELF,        /* one of echod's own UDP listeners */
	STATS_DROP_SOURCE_RATE, /* limits.udp_per_source_rate */
	STATS_DROP_COUNT,
};

/* Upper bounds, in ms, of the connection duration histogram's buckets; a
 * last bucket, +Inf, takes the rest. */
#define STATS_DURATION_BUCKETS 8
extern const uint64_t stats_duration_le_ms[STATS_DURATION_BUCKETS - 1];

/* The label values, indexed by the enums above. */
extern const char *const stats_close_names[STATS_CLOSE_COUNT];
extern const char *const stats_reject_names[STATS_REJECT_COUNT];
extern const char *const stats_drop_names[STATS_DROP_COUNT];

/*
 * What one worker counts (or, added up, what many have).  Every field only
 * grows.  Connections open = accepted + handed_in - handed_out - rejected -
 * closed: a connection handed over on a reload leaves its old worker's count
 * and joins its new worker's, and is counted closed once, where it ends.
 */
struct stats_counters {
	uint64_t accepted[STATS_MAX_LISTENERS]; /* by listener id */
	uint64_t rejected[STATS_REJECT_COUNT];
	uint64_t closed[STATS_CLOSE_COUNT];
	uint64_t handed_out; /* given to a worker of a newer generation */
	uint64_t handed_in;  /* taken from a worker of an older generation, or back
	                      * after a refusal (both counted by the master,
	                      * relay.h: workers leave them 0) */
	uint64_t bytes_in;   /* received, stream and datagram payload */
	uint64_t bytes_out;  /* echoed */
	uint64_t dgrams_in;
	uint64_t dgrams_out;
	uint64_t dropped[STATS_DROP_COUNT];
	uint64_t duration[STATS_DURATION_BUCKETS]; /* per bucket, not cumulative */
	uint64_t duration_sum_ms;
};

/* A worker's slot: its counters, alone on their cache lines so that two
 * workers never write the same line. */
struct stats_slot {
	struct stats_counters c;
} __attribute__((aligned(64)));

/* One writer: a load and a store, each atomic so that a reader never sees a
 * torn value, with nothing locked between them. */
static inline void stats_add(uint64_t *counter, uint64_t n)
{
	__atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* The calls below do nothing when s is NULL (a unit test's conn_ctx). */

static inline void stats_bytes_in(struct stats_slot *s, uint64_t n)
{
	if (s != NULL)
		stats_add(&s->c.bytes_in, n);
}

static inline void stats_bytes_out(struct stats_slot *s, uint64_t n)
{
	if (s != NULL)
		stats_add(&s->c.bytes_out, n);
}

static inline void stats_accepted(struct stats_slot *s, unsigned listener)
{
	if (s != NULL)
		stats_add(&s->c.accepted[listener < STATS_MAX_LISTENERS ? listener
		                                                        : STATS_MAX_LISTENERS - 1],
		          1);
}

static inline void stats_rejected(struct stats_slot *s, enum stats_reject why)
{
	if (s != NULL)
		stats_add(&s->c.rejected[why], 1);
}

/* A batch of n datagrams received, `bytes` in all. */
static inline void stats_dgrams_in(struct stats_slot *s, unsigned n, uint64_t bytes)
{
	if (s != NULL) {
		stats_add(&s->c.dgrams_in, n);
		stats_add(&s->c.bytes_in, bytes);
	}
}

/* Datagrams not echoed for `why`. */
static inline void stats_dropped(struct stats_slot *s, enum stats_drop why, unsigned n)
{
	if (s != NULL && n > 0)
		stats_add(&s->c.dropped[why], n);
}

/* A batch sent back: `sent` datagrams echoed with `bytes`, `full` dropped
 * for a full send buffer and `failed` refused by sendmmsg. */
void stats_dgrams_out(struct stats_slot *s, unsigned sent, uint64_t bytes, unsigned full,
                      unsigned failed);

/* A connection closed after `ms`; `reason` is what conn_close() was given. */
void stats_conn_closed(struct stats_slot *s, const char *reason, uint64_t ms);

/* The close reason of conn_close()'s `reason` text ("idle timeout" is
 * STATS_CLOSE_IDLE, ...); anything it does not know is an error.  Pure. */
enum stats_close stats_close_reason(const char *reason);

/* Read a slot another process writes: every field loaded atomically. */
void stats_read(const struct stats_slot *s, struct stats_counters *out);

/* *sum += *add, field by field. */
void stats_sum(struct stats_counters *sum, const struct stats_counters *add);

/* Connections open in `c`: accepted + handed_in - handed_out - rejected -
 * closed (0 if the figures
 * were read while they moved and would make it negative). */
uint64_t stats_open(const struct stats_counters *c);

/*
 * The slots, in the master.  They live in shared anonymous mappings made in
 * chunks as workers need them; a chunk made after a worker's fork is unknown
 * to that worker, which never needs it (it writes only its own slot).
 */
struct stats_pool;

/* A new, empty pool, or NULL with errno. */
struct stats_pool *stats_pool_new(void);

/* Unmap every chunk.  In a worker, this drops its view of other workers'
 * slots too (its own must not be used after it). */
void stats_pool_free(struct stats_pool *p);

/* In a worker: free the pool's bookkeeping but keep every mapping (its
 * own slot is in one). */
void stats_pool_forget(struct stats_pool *p);

/* A zeroed slot for a worker about to be forked, or NULL with errno. */
struct stats_slot *stats_slot_get(struct stats_pool *p);

/* The worker of slot s has exited: add what it counted to `retired`, with
 * the handed_in and handed_out connections the master counted for it
 * (relay.h) and the connections it left open as STATS_CLOSE_WORKER_EXIT, and
 * free the slot. */
void stats_slot_retire(struct stats_pool *p, struct stats_slot *s, uint64_t handed_in,
                       uint64_t handed_out, struct stats_counters *retired);

#endif
