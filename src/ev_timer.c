/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One-shot timers in a binary min-heap of pointers to timers embedded in
 * their owners; each timer knows its heap position, so stop and restart cost
 * O(log n) and the only allocation is the heap array growing.
 */
#include "acconfig.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "ev.h"
#include "ev_backend.h"

#define EV_HEAP_MIN 16

static void ev_heap_put(struct ev_loop *loop, size_t i, struct ev_timer *t)
{
	loop->heap[i] = t;
	t->slot = (uint32_t)(i + 1);
}

static void ev_heap_up(struct ev_loop *loop, size_t i)
{
	struct ev_timer *t = loop->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (loop->heap[parent]->when <= t->when)
			break;
		ev_heap_put(loop, i, loop->heap[parent]);
		i = parent;
	}
	ev_heap_put(loop, i, t);
}

static void ev_heap_down(struct ev_loop *loop, size_t i)
{
	struct ev_timer *t = loop->heap[i];
	size_t n = loop->nheap;

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= n)
			break;
		if (child + 1 < n && loop->heap[child + 1]->when < loop->heap[child]->when)
			child++;
		if (t->when <= loop->heap[child]->when)
			break;
		ev_heap_put(loop, i, loop->heap[child]);
		i = child;
	}
	ev_heap_put(loop, i, t);
}

void ev_timer_init(struct ev_timer *t, ev_timer_fn *fn)
{
	t->when = 0;
	t->fn = fn;
	t->slot = 0;
}

int ev_timer_start(struct ev_loop *loop, struct ev_timer *t, uint64_t ms)
{
	uint64_t when = ms > UINT64_MAX - loop->now ? UINT64_MAX : loop->now + ms;

	if (t->slot != 0) {
		t->when = when;
		ev_heap_up(loop, t->slot - 1);
		ev_heap_down(loop, t->slot - 1);
		return 0;
	}
	if (loop->nheap == loop->heap_cap) {
		size_t cap = loop->heap_cap > 0 ? loop->heap_cap * 2 : EV_HEAP_MIN;
		struct ev_timer **heap;

		/* slot is 32 bits wide. */
		if (cap > UINT32_MAX) {
			errno = ENOMEM;
			return -1;
		}
		/* An array of pointers, which clang-tidy 14 mistakes for a sizeof(p)
		 * meant as sizeof(*p): NOLINTNEXTLINE(bugprone-sizeof-expression) */
		if ((heap = realloc(loop->heap, cap * sizeof(*heap))) == NULL)
			return -1;
		loop->heap = heap;
		loop->heap_cap = cap;
	}
	t->when = when;
	loop->heap[loop->nheap++] = t;
	ev_heap_up(loop, loop->nheap - 1);
	return 0;
}

void ev_timer_stop(struct ev_loop *loop, struct ev_timer *t)
{
	size_t i;
	struct ev_timer *last;

	if (t->slot == 0)
		return;
	i = t->slot - 1;
	t->slot = 0;
	last = loop->heap[--loop->nheap];
	if (last == t)
		return;
	ev_heap_put(loop, i, last);
	ev_heap_up(loop, i);
	ev_heap_down(loop, last->slot - 1);
}

int ev_timer_next_ms(const struct ev_loop *loop)
{
	uint64_t when;

	if (loop->nheap == 0)
		return -1;
	when = loop->heap[0]->when;
	if (when <= loop->now)
		return 0;
	return when - loop->now > INT_MAX ? INT_MAX : (int)(when - loop->now);
}

int ev_timer_run_due(struct ev_loop *loop)
{
	/* A callback that re-arms its timer for 0 ms would otherwise keep this
	 * loop going for ever: run at most as many as were armed on entry. */
	size_t budget = loop->nheap;
	int ran = 0;

	while (budget-- > 0 && loop->nheap > 0 && loop->heap[0]->when <= loop->now) {
		struct ev_timer *t = loop->heap[0];

		ev_timer_stop(loop, t);
		if (t->fn != NULL) {
			t->fn(loop, t);
			ran++;
		}
	}
	return ran;
}

void ev_timer_heap_free(struct ev_loop *loop)
{
	size_t i;

	/* The timers outlive the loop in their owners: leave them disarmed. */
	for (i = 0; i < loop->nheap; i++)
		loop->heap[i]->slot = 0;
	free(loop->heap);
	loop->heap = NULL;
	loop->nheap = loop->heap_cap = 0;
}

size_t ev_count_timers(const struct ev_loop *loop)
{
	return loop->nheap;
}
