/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Per-connection timers with sub-millisecond precision, for -r pacing and
 * --slow pauses: a heap of connections ordered by when they are due, behind
 * one timerfd.  The event loop's timers count whole milliseconds, which would
 * add up to a millisecond of the client's own lateness to every paced
 * latency; where there is no timerfd they are used all the same.
 */
#ifndef ECHOD_CLIENT_PACE_H
#define ECHOD_CLIENT_PACE_H

#include <stdint.h>

struct client;
struct bconn;

/* Set up (after the loop and the connection array).  Returns 0 or -1. */
int pace_init(struct client *cl);
void pace_fini(struct client *cl);

/* (Re)arm c's timer for `when_ns` (clock_mono_ns() time): c->timer.fn runs
 * then. */
void pace_at(struct client *cl, struct bconn *c, uint64_t when_ns);
void pace_stop(struct client *cl, struct bconn *c);
int pace_active(const struct client *cl, const struct bconn *c);

#endif
