/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One-shot timers, embedded in their owners and kept in the loop's min-heap
 * (heap.c) by when they are due; each timer knows its heap position, so stop
 * and restart cost O(log n) and the only allocation is the heap array growing.
 */
#include "acconfig.h"

#include <limits.h>

#include "ev.h"
#include "ev_backend.h"
#include "heap.h"

void ev_timer_init(struct ev_timer *t, ev_timer_fn *fn)
{
	t->node.key = 0;
	t->node.slot = 0;
	t->fn = fn;
}

int ev_timer_start(struct ev_loop *loop, struct ev_timer *t, uint64_t ms)
{
	uint64_t when = ms > UINT64_MAX - loop->now ? UINT64_MAX : loop->now + ms;

	if (heap_queued(&t->node)) {
		heap_update(&loop->timers, &t->node, when);
		return 0;
	}
	return heap_insert(&loop->timers, &t->node, when);
}

void ev_timer_stop(struct ev_loop *loop, struct ev_timer *t)
{
	heap_remove(&loop->timers, &t->node);
}

int ev_timer_next_ms(const struct ev_loop *loop)
{
	const struct heap_node *first = heap_min(&loop->timers);

	if (first == NULL)
		return -1;
	if (first->key <= loop->now)
		return 0;
	return first->key - loop->now > INT_MAX ? INT_MAX : (int)(first->key - loop->now);
}

int ev_timer_run_due(struct ev_loop *loop)
{
	/* A callback that re-arms its timer for 0 ms would otherwise keep this
	 * loop going for ever: run at most as many as were armed on entry. */
	size_t budget = heap_count(&loop->timers);
	struct heap_node *first;
	int ran = 0;

	while (budget-- > 0 && (first = heap_min(&loop->timers)) != NULL &&
	       first->key <= loop->now) {
		struct ev_timer *t = heap_entry(first, struct ev_timer, node);

		heap_remove(&loop->timers, first);
		if (t->fn != NULL) {
			t->fn(loop, t);
			ran++;
		}
	}
	return ran;
}

void ev_timer_heap_free(struct ev_loop *loop)
{
	/* The timers outlive the loop in their owners: heap_free leaves them
	 * disarmed. */
	heap_free(&loop->timers);
}

size_t ev_count_timers(const struct ev_loop *loop)
{
	return heap_count(&loop->timers);
}
