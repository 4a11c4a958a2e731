/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A min-heap (heap.c) of timers keyed by the time they are due, and the
 * timerfd set to the earliest of them.  Arming is O(log n) and touches the
 * timerfd only when the earliest time changes; one wake-up runs every timer
 * that is due.  Whether there is a timerfd is configure's finding
 * (sys/timerfd.h), and whether one opens is the kernel's.
 */
#include "acconfig.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_SYS_PRCTL_H
#include <sys/prctl.h>
#endif
#ifdef HAVE_SYS_TIMERFD_H
#include <sys/timerfd.h>
#endif

#include "clock.h"
#include "pace.h"

#ifdef HAVE_SYS_TIMERFD_H
/* Point the timerfd at the earliest timer, if that changed. */
static void pace_arm(struct pace *p)
{
	struct itimerspec its = {{0, 0}, {0, 0}};
	const struct heap_node *first = heap_min(&p->heap);
	uint64_t when = first != NULL ? first->key : 0;

	if (when == p->armed)
		return;
	if (when != 0) {
		its.it_value.tv_sec = (time_t)(when / 1000000000u);
		its.it_value.tv_nsec = (long)(when % 1000000000u);
	}
	if (timerfd_settime(p->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		p->armed = when;
}

static void pace_on_ready(struct ev_loop *loop, int fd, int events, void *arg)
{
	struct pace *p = arg;
	uint64_t expirations, now = clock_mono_ns();
	struct heap_node *first;

	(void)loop;
	(void)events;
	(void)read(fd, &expirations, sizeof(expirations));
	p->armed = 0;
	while ((first = heap_min(&p->heap)) != NULL && first->key <= now) {
		struct pace_timer *t = heap_entry(first, struct pace_timer, node);

		heap_remove(&p->heap, first);
		t->fn(t);
	}
	pace_arm(p);
}

/* A timerfd on the clock_mono_ns() clock, watched by p's loop, or -1. */
static int pace_timerfd_open(struct pace *p)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	if (fd != -1 && ev_add(p->loop, fd, EV_READ, pace_on_ready, p) == -1) {
		close(fd);
		fd = -1;
	}
	return fd;
}
#else
static void pace_arm(struct pace *p)
{
	(void)p;
}

static int pace_timerfd_open(struct pace *p)
{
	(void)p;
	errno = ENOSYS;
	return -1;
}
#endif

/* Without a timerfd: the loop's timer ran. */
static void pace_on_loop_timer(struct ev_loop *loop, struct ev_timer *et)
{
	struct pace_timer *t = ev_container_of(et, struct pace_timer, ev);

	(void)loop;
	t->fn(t);
}

int pace_init(struct pace *p, struct ev_loop *loop, size_t max)
{
	p->loop = loop;
	p->tfd = -1;
	p->armed = 0;
	/* Room for every timer up front: pace_at cannot fail. */
	if (heap_reserve(&p->heap, max) == -1)
		return -1;
	p->tfd = pace_timerfd_open(p);
#ifdef PR_SET_TIMERSLACK
	/* The default 50 us of slack would show in every paced latency. */
	if (p->tfd != -1)
		(void)prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
#endif
	return 0;
}

void pace_fini(struct pace *p)
{
	if (p->loop == NULL)
		return;
	if (p->tfd != -1) {
		ev_del(p->loop, p->tfd);
		close(p->tfd);
		p->tfd = -1;
	}
	heap_free(&p->heap);
	p->loop = NULL;
}

void pace_timer_init(struct pace_timer *t, pace_fn *fn)
{
	t->node.key = 0;
	t->node.slot = 0;
	ev_timer_init(&t->ev, pace_on_loop_timer);
	t->fn = fn;
}

void pace_at(struct pace *p, struct pace_timer *t, uint64_t when_ns)
{
	if (p->tfd == -1) {
		uint64_t when_ms = (when_ns + 999999u) / 1000000u;
		uint64_t now_ms = ev_now(p->loop);

		(void)ev_timer_start(p->loop, &t->ev, when_ms > now_ms ? when_ms - now_ms : 0);
		return;
	}
	if (when_ns == 0)
		when_ns = 1; /* 0 would disarm the timerfd */
	if (heap_queued(&t->node))
		heap_update(&p->heap, &t->node, when_ns);
	else
		(void)heap_insert(&p->heap, &t->node, when_ns); /* room reserved */
	pace_arm(p);
}

void pace_stop(struct pace *p, struct pace_timer *t)
{
	ev_timer_stop(p->loop, &t->ev);
	heap_remove(&p->heap, &t->node);
}

int pace_active(const struct pace_timer *t)
{
	return heap_queued(&t->node) || ev_timer_active(&t->ev);
}
