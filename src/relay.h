/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Connection handover, the master's side: it passes a retiring worker's
 * offer (handover.h) on to a worker of the serving generation, round robin,
 * and the answer back, and remembers each offer in flight so that a new
 * worker that dies before answering gets its offers refused, never lost: the
 * old worker still holds every offered connection until it hears.
 *
 * The master, not the workers, keeps the books of connections in flight,
 * because only it sees each offer and answer exactly once: it counts a
 * connection out of the old worker's count when it reads the offer, back in
 * when it tells the old worker a refusal (r->back), and into the new
 * worker's when the answer says it took it (relay_answer()'s return); in
 * between, relay_in_flight() counts it (a scrape sees it open).  A
 * worker killed between sending an offer and counting it, or between being
 * told a refusal and reading it, cannot then leave a connection in two
 * counts or in none.  A connection whose old worker is gone by the time the
 * offer is refused, or whose new worker dies too before answering, is in
 * nobody's count: the relay counts it lost (closed with its workers).
 */
#ifndef ECHOD_RELAY_H
#define ECHOD_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "channel.h"

struct relay_flight {
	uint32_t id;    /* the master's id, carried to the new worker */
	uint32_t token; /* the old worker's id of its offer */
	pid_t src;      /* the old worker; 0 once it is gone */
	pid_t dst;      /* the new worker */
};

/* A refusal of src's offer reached src: the connection is back in its count. */
typedef void relay_back_fn(void *arg, pid_t src);

struct relay {
	struct relay_flight *v;
	size_t n, cap;
	uint32_t next_id;
	size_t rr;           /* round robin over the targets */
	uint64_t lost;       /* connections in flight that both workers lost (see above) */
	relay_back_fn *back; /* or NULL */
	void *back_arg;
};

/* A worker an offer may go to. */
struct relay_target {
	pid_t pid;
	int chan;
};

/* The master's channel to a worker, or -1 if it has none (any more). */
typedef int relay_chan_fn(void *arg, pid_t pid);

/*
 * Pass on msg (a CHAN_HO_OFFER from worker src over src_chan, with its
 * descriptors, which stay the caller's to close) to one of the targets, or
 * refuse it to src at once: ESHUTDOWN if there is no target, the send's
 * errno if it failed (EAGAIN: src offers again later).
 */
void relay_offer(struct relay *r, pid_t src, int src_chan, const struct chan_msg *msg,
                 const int *fds, size_t nfds, const struct relay_target *targets, size_t n);

/* Refuse offer `token` to worker src over src_chan with errno err (EAGAIN:
 * it offers again later), and keep the books: back in src's count if it was
 * told (r->back), lost if it could not be (src_chan -1, or src is gone). */
void relay_refuse(struct relay *r, pid_t src, int src_chan, uint32_t token, int err);

/* Pass a CHAN_HO_ANSWER from worker dst back to the worker that offered.
 * Returns 1 if dst took the connection (the caller counts it in dst's), else
 * 0. */
int relay_answer(struct relay *r, pid_t dst, const struct chan_msg *msg, relay_chan_fn *chan_of,
                 void *arg);

/* Worker pid is gone: refuse (EPIPE) the offers it had not answered, and
 * remember that those it had made have nobody to go back to. */
void relay_gone(struct relay *r, pid_t pid, relay_chan_fn *chan_of, void *arg);

/*
 * Offers read and not yet answered, but those whose old worker is
 * `foreign` (an upgrade's old master, whose books hold them until one of
 * ours takes them or it is gone; 0: none).  Counted out of their old
 * worker and not yet in anyone's, they are open all the same: the master's
 * gauges add them.
 */
size_t relay_in_flight(const struct relay *r, pid_t foreign);

void relay_free(struct relay *r);

#endif
