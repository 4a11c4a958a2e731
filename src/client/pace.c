/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A binary min-heap of connections keyed by the time they are due, and the
 * timerfd set to the earliest of them.  Arming is O(log n) and touches the
 * timerfd only when the earliest time changes; one wake-up runs every timer
 * that is due.
 */
#include "acconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/prctl.h>
#include <sys/timerfd.h>
#define PACE_HAVE_TIMERFD 1
#endif

#include "client.h"
#include "clock.h"
#include "pace.h"

static inline int pace_before(const struct bconn *a, const struct bconn *b)
{
	return a->pace_ns < b->pace_ns;
}

static void pace_place(struct client *cl, struct bconn *c, uint32_t i)
{
	cl->pheap[i] = c;
	c->pace_pos = i + 1;
}

static void pace_up(struct client *cl, uint32_t i)
{
	struct bconn *c = cl->pheap[i];

	while (i > 0 && pace_before(c, cl->pheap[(i - 1) / 2])) {
		pace_place(cl, cl->pheap[(i - 1) / 2], i);
		i = (i - 1) / 2;
	}
	pace_place(cl, c, i);
}

static void pace_down(struct client *cl, uint32_t i)
{
	struct bconn *c = cl->pheap[i];

	for (;;) {
		uint32_t k = 2 * i + 1;

		if (k >= cl->pn)
			break;
		if (k + 1 < cl->pn && pace_before(cl->pheap[k + 1], cl->pheap[k]))
			k++;
		if (!pace_before(cl->pheap[k], c))
			break;
		pace_place(cl, cl->pheap[k], i);
		i = k;
	}
	pace_place(cl, c, i);
}

static void pace_remove(struct client *cl, struct bconn *c)
{
	uint32_t i = c->pace_pos - 1;
	struct bconn *last = cl->pheap[--cl->pn];

	c->pace_pos = 0;
	if (last == c)
		return;
	pace_place(cl, last, i);
	pace_up(cl, i);
	pace_down(cl, last->pace_pos - 1);
}

#ifdef PACE_HAVE_TIMERFD
/* Point the timerfd at the earliest timer, if that changed. */
static void pace_arm(struct client *cl)
{
	struct itimerspec its = {{0, 0}, {0, 0}};
	uint64_t when = cl->pn > 0 ? cl->pheap[0]->pace_ns : 0;

	if (when == cl->parmed)
		return;
	if (when != 0) {
		its.it_value.tv_sec = (time_t)(when / 1000000000u);
		its.it_value.tv_nsec = (long)(when % 1000000000u);
	}
	if (timerfd_settime(cl->ptfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		cl->parmed = when;
}

static void pace_on_ready(struct ev_loop *loop, int fd, int events, void *arg)
{
	struct client *cl = arg;
	uint64_t expirations, now = clock_mono_ns();

	(void)events;
	(void)read(fd, &expirations, sizeof(expirations));
	cl->parmed = 0;
	while (cl->pn > 0 && cl->pheap[0]->pace_ns <= now) {
		struct bconn *c = cl->pheap[0];

		pace_remove(cl, c);
		c->timer.fn(loop, &c->timer);
	}
	pace_arm(cl);
}
#endif

int pace_init(struct client *cl)
{
	cl->ptfd = -1;
#ifdef PACE_HAVE_TIMERFD
	/* Every connection, and the launcher of --connect-rate. */
	if ((cl->pheap = calloc((size_t)cl->nconns + 1, sizeof(*cl->pheap))) == NULL)
		return -1;
	cl->ptfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (cl->ptfd != -1 && ev_add(cl->loop, cl->ptfd, EV_READ, pace_on_ready, cl) == -1) {
		close(cl->ptfd);
		cl->ptfd = -1;
	}
#ifdef PR_SET_TIMERSLACK
	/* The default 50 us of slack would show in every paced latency. */
	if (cl->ptfd != -1)
		(void)prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
#endif
#endif
	return 0;
}

void pace_fini(struct client *cl)
{
	if (cl->ptfd != -1) {
		ev_del(cl->loop, cl->ptfd);
		close(cl->ptfd);
		cl->ptfd = -1;
	}
	free(cl->pheap);
	cl->pheap = NULL;
}

void pace_at(struct client *cl, struct bconn *c, uint64_t when_ns)
{
	if (cl->ptfd == -1) {
		uint64_t when_ms = (when_ns + 999999u) / 1000000u;
		uint64_t now_ms = ev_now(cl->loop);

		(void)ev_timer_start(cl->loop, &c->timer, when_ms > now_ms ? when_ms - now_ms : 0);
		return;
	}
#ifdef PACE_HAVE_TIMERFD
	if (when_ns == 0)
		when_ns = 1; /* 0 would disarm the timerfd */
	if (c->pace_pos != 0)
		pace_remove(cl, c);
	c->pace_ns = when_ns;
	pace_place(cl, c, cl->pn++);
	pace_up(cl, cl->pn - 1);
	pace_arm(cl);
#endif
}

void pace_stop(struct client *cl, struct bconn *c)
{
	ev_timer_stop(cl->loop, &c->timer);
	if (c->pace_pos != 0)
		pace_remove(cl, c);
}

int pace_active(const struct client *cl, const struct bconn *c)
{
	(void)cl;
	return c->pace_pos != 0 || ev_timer_active(&c->timer);
}
