/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * An intrusive binary min-heap: each element embeds a struct heap_node that
 * holds its key and its position, so that removing or re-keying any element
 * costs O(log n) and nothing is allocated but the array, when it grows.
 * Used by the event loop's timers and echod-bench's pacing.
 */
#ifndef ECHOD_HEAP_H
#define ECHOD_HEAP_H

#include <stddef.h>
#include <stdint.h>

struct heap_node {
	uint64_t key;
	uint32_t slot; /* position in the heap + 1; 0 = in no heap */
};

/* Zeroed, a heap is empty and owns nothing. */
struct heap {
	struct heap_node **node; /* node[0] has the smallest key */
	size_t n;
	size_t cap;
};

/* The struct that embeds `node` as its `member`. */
#define heap_entry(node, type, member) ((type *)(void *)((char *)(node)-offsetof(type, member)))

/* Free the array.  Nodes still in the heap live in their owners, which may
 * outlive it: each is left in no heap (slot 0). */
void heap_free(struct heap *h);

/* Make room for `n` nodes in all, so that inserting up to that many cannot
 * fail.  Returns 0, or -1 with errno ENOMEM. */
int heap_reserve(struct heap *h, size_t n);

/* Insert x, which is in no heap, with `key`.  Among equal keys the order is
 * unspecified.  Returns 0, or -1 with errno ENOMEM if the array cannot grow
 * (x is then left out). */
int heap_insert(struct heap *h, struct heap_node *x, uint64_t key);

/* Give x, which is in h, a new key. */
void heap_update(struct heap *h, struct heap_node *x, uint64_t key);

/* Take x out of h; harmless if x is in no heap. */
void heap_remove(struct heap *h, struct heap_node *x);

/* The node with the smallest key, or NULL if h is empty. */
static inline struct heap_node *heap_min(const struct heap *h)
{
	return h->n > 0 ? h->node[0] : NULL;
}

static inline size_t heap_count(const struct heap *h)
{
	return h->n;
}

/* True while x is in a heap. */
static inline int heap_queued(const struct heap_node *x)
{
	return x->slot != 0;
}

#endif
