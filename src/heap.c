/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The intrusive min-heap: an array of pointers to nodes, each node told its
 * index whenever it moves, so that its owner can remove or re-key it in place.
 */
#include "acconfig.h"

#include <errno.h>
#include <stdlib.h>

#include "heap.h"

#define HEAP_MIN_CAP 16

static inline void heap_put(struct heap *h, size_t i, struct heap_node *x)
{
	h->node[i] = x;
	x->slot = (uint32_t)(i + 1);
}

/* Move the node at i towards the root past every parent with a larger key. */
static void heap_up(struct heap *h, size_t i)
{
	struct heap_node *x = h->node[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (h->node[parent]->key <= x->key)
			break;
		heap_put(h, i, h->node[parent]);
		i = parent;
	}
	heap_put(h, i, x);
}

/* Move the node at i towards the leaves past every child with a smaller key. */
static void heap_down(struct heap *h, size_t i)
{
	struct heap_node *x = h->node[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= h->n)
			break;
		if (child + 1 < h->n && h->node[child + 1]->key < h->node[child]->key)
			child++;
		if (x->key <= h->node[child]->key)
			break;
		heap_put(h, i, h->node[child]);
		i = child;
	}
	heap_put(h, i, x);
}

static int heap_resize(struct heap *h, size_t cap)
{
	struct heap_node **node;

	/* A node's slot is 32 bits wide.  node is an array of pointers, which
	 * clang-tidy 14 mistakes for a sizeof(p) meant as sizeof(*p). */
	/* NOLINTNEXTLINE(bugprone-sizeof-expression) */
	if (cap > UINT32_MAX || cap > SIZE_MAX / sizeof(*node)) {
		errno = ENOMEM;
		return -1;
	}
	/* NOLINTNEXTLINE(bugprone-sizeof-expression) */
	if ((node = realloc(h->node, cap * sizeof(*node))) == NULL)
		return -1;
	h->node = node;
	h->cap = cap;
	return 0;
}

void heap_free(struct heap *h)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		h->node[i]->slot = 0;
	free(h->node);
	h->node = NULL;
	h->n = h->cap = 0;
}

int heap_reserve(struct heap *h, size_t n)
{
	return n <= h->cap ? 0 : heap_resize(h, n);
}

int heap_insert(struct heap *h, struct heap_node *x, uint64_t key)
{
	/* Doubling keeps growth amortised O(1); the array never shrinks. */
	if (h->n == h->cap && heap_resize(h, h->cap > 0 ? h->cap * 2 : HEAP_MIN_CAP) == -1)
		return -1;
	x->key = key;
	h->node[h->n++] = x;
	heap_up(h, h->n - 1);
	return 0;
}

void heap_update(struct heap *h, struct heap_node *x, uint64_t key)
{
	x->key = key;
	heap_up(h, x->slot - 1);
	heap_down(h, x->slot - 1);
}

void heap_remove(struct heap *h, struct heap_node *x)
{
	struct heap_node *last;
	size_t i;

	if (x->slot == 0)
		return;
	i = x->slot - 1;
	x->slot = 0;
	last = h->node[--h->n];
	if (last == x)
		return;
	/* The last node fills the hole, then goes whichever way its key says. */
	heap_put(h, i, last);
	heap_up(h, i);
	heap_down(h, last->slot - 1);
}
