/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Timers with sub-millisecond precision, for -r pacing and --slow pauses: a
 * heap of timers ordered by when they are due, behind one timerfd.  The event
 * loop's timers count whole milliseconds, which would add up to a millisecond
 * of the client's own lateness to every paced latency; where there is no
 * timerfd they are used all the same.
 */
#ifndef ECHOD_CLIENT_PACE_H
#define ECHOD_CLIENT_PACE_H

#include <stddef.h>
#include <stdint.h>

#include "ev.h"
#include "heap.h"

struct pace_timer;
typedef void pace_fn(struct pace_timer *t);

/* A timer embedded in its owner, which its callback finds with
 * ev_container_of.  pace_timer_init() it before first use. */
struct pace_timer {
	struct heap_node node; /* key: when it is due, clock_mono_ns() time */
	struct ev_timer ev;    /* the same timer on the loop, without a timerfd */
	pace_fn *fn;
};

struct pace {
	struct ev_loop *loop; /* NULL until pace_init() */
	struct heap heap;
	int tfd;        /* the timerfd, or -1: the loop's timers instead */
	uint64_t armed; /* when tfd is set to go off, 0 = disarmed */
};

/* Set up `p` on `loop` for at most `max` timers armed at once.  Returns 0, or
 * -1 (ENOMEM). */
int pace_init(struct pace *p, struct ev_loop *loop, size_t max);
/* Release p (before its loop); harmless on a zeroed, never set up pace. */
void pace_fini(struct pace *p);

void pace_timer_init(struct pace_timer *t, pace_fn *fn);
/* (Re)arm t for `when_ns` (clock_mono_ns() time): t->fn runs then. */
void pace_at(struct pace *p, struct pace_timer *t, uint64_t when_ns);
void pace_stop(struct pace *p, struct pace_timer *t);
int pace_active(const struct pace_timer *t);

#endif
