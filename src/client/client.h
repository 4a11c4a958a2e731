/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The load generator's state: one event loop, a fixed array of connection
 * slots (TCP or Unix streams, or UDP flows), and the schedule that says when
 * each slot may send.  Shared by client.c (set-up, timing, launching),
 * stream.c and dgram.c (the two kinds of connection) and pace.c (timers).
 */
#ifndef ECHOD_CLIENT_CLIENT_H
#define ECHOD_CLIENT_CLIENT_H

#include <stdint.h>

#include "ev.h"
#include "net.h"
#include "opts.h"
#include "pace.h"
#include "report.h"

enum bconn_state {
	BCONN_IDLE,       /* no socket */
	BCONN_CONNECTING, /* connect in progress (or to be retried) */
	BCONN_RUNNING,
	BCONN_DRAINING, /* sends nothing more; waits for what is in flight */
};

/*
 * One message (or, with --slow, one part of one) in flight.  For a stream
 * `key` is the stream offset just past its last byte; for a datagram flow it
 * is the sequence number.
 */
struct inflight {
	uint64_t key;
	uint64_t t0;    /* when it was due: latency counts from here (ns) */
	uint64_t tsent; /* when it was actually sent (ns), for the loss timeout */
	uint32_t size;
	uint32_t flags;
};

#define INFLIGHT_USED 0x1 /* datagram slot holds an unanswered datagram */
#define INFLIGHT_LAST 0x2 /* last part of a message (--slow) */

struct client;

struct bconn {
	struct client *cl;
	int fd;
	enum bconn_state state;
	int interest; /* EV_READ/EV_WRITE as registered */
	uint64_t id;  /* connection number: seeds the pattern */
	uint32_t phase;
	uint32_t slot; /* index in client.conns */

	uint64_t queued;      /* stream: bytes queued to send; dgram: next seq */
	uint64_t sent;        /* stream: bytes written */
	uint64_t received;    /* stream: bytes received and verified */
	uint64_t msgs_queued; /* messages started (for sizes and the quota) */
	uint64_t msgs_done;   /* messages finished: echoed or lost */
	uint64_t quota;       /* messages to send, UINT64_MAX = until stopped */
	uint32_t part;        /* --slow: next part of the current message */
	uint32_t inflight;    /* dgram: datagrams sent and not yet answered or lost */

	struct inflight *ring; /* in-flight messages, oldest at head */
	uint32_t mask;         /* ring size - 1 */
	uint32_t head;
	uint32_t tail; /* tail - head = messages in flight */

	uint64_t due_ns;         /* -r: when the next message is due */
	uint64_t progress_ns;    /* last time bytes came back (or the connect began) */
	struct pace_timer timer; /* -r pacing, --slow pauses, connect retries */
};

struct client {
	const struct bench_opts *opts;
	struct report *rep;
	struct ev_loop *loop;
	struct net_target target;
	struct net_sources sources;
	size_t next_source;

	struct bconn *conns;
	int nconns;
	int active;             /* slots with a socket */
	uint64_t next_id;       /* next connection number */
	uint64_t launches_left; /* --connect-rate with -n: connections still to open */
	uint64_t interval_ns;   /* -r: between two messages of one slot (or connects) */
	uint64_t next_launch_ns;
	struct ev_timer launch_timer;  /* a connection ended: launch the next */
	struct pace_timer launch_pace; /* the next paced connect is due */
	struct ev_timer tick_timer;
	struct pace pace; /* every connection's timer and launch_pace */

	uint64_t start_ns;
	uint64_t stop_ns; /* when sending stops (duration, signal), or 0 */
	uint64_t next_progress_ns;
	int stopping;
	int show_progress;
};

/*
 * Run the benchmark described by `o`, filling `rep`.  Returns 0 when the run
 * happened (its errors are in `rep`), or -1 when it could not start (already
 * reported on stderr).
 */
int client_run(const struct bench_opts *o, struct report *rep);

/* The size of message `msg` of connection `id`: a deterministic function so
 * that it need not be stored until it is sent. */
uint32_t client_msg_size(const struct client *cl, uint64_t id, uint64_t msg);

/* End a slot's connection: close its socket (if open), stop its pacing,
 * count it and, with --connect-rate, start the next one. */
void client_conn_close(struct client *cl, struct bconn *c, int failed);

/* The source address for the next connection, or NULL. */
const struct sockaddr_storage *client_next_source(struct client *cl);

/* The two kinds of connection behind the same few calls. */
int stream_start(struct client *cl, struct bconn *c);
void stream_stop(struct client *cl, struct bconn *c);
void stream_check(struct client *cl, struct bconn *c, uint64_t now);
void stream_abort(struct client *cl, struct bconn *c);

int dgram_init(struct client *cl);
void dgram_fini(void);
int dgram_start(struct client *cl, struct bconn *c);
void dgram_stop(struct client *cl, struct bconn *c);
void dgram_check(struct client *cl, struct bconn *c, uint64_t now);
void dgram_abort(struct client *cl, struct bconn *c);

#endif
