/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Connection handover, the worker's side.  A retiring worker offers each of
 * its open stream connections, a few at a time, to the master, which passes
 * the offer to a worker of the new generation: the socket, its state and its
 * queue (handover_rec.h).  The offered connection is frozen until the answer
 * comes back: adopted, the sender drops its descriptor; refused, it serves
 * the connection again and retires it gracefully as without handover.  So
 * exactly one worker reads and writes a connection at every moment, and the
 * client sees the same socket, every byte echoed once and in order.
 */
#ifndef ECHOD_HANDOVER_H
#define ECHOD_HANDOVER_H

#include <stddef.h>
#include <stdint.h>

#include "channel.h"
#include "conn.h"
#include "ev.h"

/* Offers a worker has waiting for an answer at once: keeps every channel
 * on the way (worker, master, new worker) far from full. */
#define HANDOVER_WINDOW 16

struct handover {
	struct conn_ctx *ctx;
	int chan;   /* to the master, or -1 */
	int active; /* offering connections */
	uint64_t deadline;
	struct conn *slot[HANDOVER_WINDOW]; /* offers waiting for their answer */
	uint32_t serial[HANDOVER_WINDOW];   /* so a stale answer matches nothing */
	size_t inflight;
	struct ev_timer retry; /* the channel or a new worker was busy */
	uint64_t handed;       /* adopted by a new worker */
	uint64_t refused;      /* kept and retired here */
	uint64_t started;
};

/* Before use: the connections and the channel to the master. */
void handover_init(struct handover *h, struct conn_ctx *ctx, int chan);

/*
 * Begin offering every open connection, until none is left or timeout_ms
 * passes; whatever was not offered by then is retired with conn_retire().
 */
void handover_start(struct handover *h, uint64_t timeout_ms);

/* Stop offering (a stop came, or the master is gone: chan < 0): connections
 * not offered are retired; offers already made still get their answer, or
 * with chan < 0, are taken back now. */
void handover_finish(struct handover *h, int chan_gone);

/* The worker exits with offers unanswered: the master counted them out of
 * ours (relay.h) and a new worker may take them, so let go of our copies
 * without counting them closed. */
void handover_abandon(struct handover *h);

/* The master passed on the answer to one of our offers. */
void handover_on_answer(struct handover *h, const struct chan_msg *msg);

/*
 * An offer from another worker, with the descriptors that came with it
 * (now ours; lost: some could not be received, at the descriptor limit).
 * Adopt the connection if `accepting` and under max_conns, and answer.
 */
void handover_on_offer(struct handover *h, const struct chan_msg *msg, int *fds, size_t nfds,
                       int lost, int accepting, size_t max_conns);

/* Offers still waiting for an answer, or connections still to offer. */
int handover_busy(const struct handover *h);

#endif
