/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One connection of echod-bench (a TCP or Unix stream, or a UDP flow), what
 * all connections share of the run, and the operations table that each kind
 * of connection fills in.  client.c drives connections only through
 * struct bconn_ops; stream.c and dgram.c see the run only through
 * struct bconn_run, and hand a connection back with bconn_close().
 */
#ifndef ECHOD_CLIENT_BCONN_H
#define ECHOD_CLIENT_BCONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

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

/* What every connection of a run shares; the run (client.c) owns it. */
struct bconn_run {
	const struct bench_opts *opts;
	struct report *rep;
	struct ev_loop *loop;
	struct pace pace; /* every connection's timer */
	struct net_target target;
	struct net_sources sources;
	size_t next_source;
	uint64_t interval_ns; /* -r: between two messages of one slot (or connects) */
	/* A connection has closed (bconn_close): the run counts it and may
	 * start the next. */
	void (*on_close)(struct bconn_run *run, int failed);
};

struct bconn {
	struct bconn_run *run;
	int fd;
	enum bconn_state state;
	int opened;   /* bconn_opened() counted it */
	int interest; /* EV_READ/EV_WRITE as registered */
	uint64_t id;  /* connection number: seeds the pattern */
	uint32_t phase;

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

/*
 * A kind of connection: stream.c (TCP, Unix) or dgram.c (UDP), chosen once
 * per run.  Whatever ends a connection, error or completion, goes through
 * bconn_close().
 */
struct bconn_ops {
	/* Optional: set up what the kind shares among its connections, once
	 * the run's options and target are known.  Returns 0 or -1 (ENOMEM). */
	int (*init)(struct bconn_run *run);
	/* Optional: undo init; also called when init failed or never ran. */
	void (*fini)(struct bconn_run *run);
	/* Open c (id, phase, quota and due_ns set) and start sending. */
	void (*start)(struct bconn *c);
	/* Send nothing more: c closes once what is in flight is back. */
	void (*stop)(struct bconn *c);
	/* The run's periodic tick at `now`: time out connects and echoes. */
	void (*check)(struct bconn *c, uint64_t now);
};

/* The size of message `msg` of connection `id`: a deterministic function so
 * that it need not be stored until it is sent. */
uint32_t bconn_msg_size(const struct bconn_run *run, uint64_t id, uint64_t msg);

/* The source address for the next connection (-S, in turn), or NULL. */
const struct sockaddr_storage *bconn_next_source(struct bconn_run *run);

/* c's connection is open (connected; for UDP, its socket is ready): count
 * it, and the most open at once.  A connect that fails never counts. */
void bconn_opened(struct bconn *c);

/* End c's connection: close its socket (if open), stop its timer, leave it
 * idle and tell the run (on_close). */
void bconn_close(struct bconn *c, int failed);

#endif
