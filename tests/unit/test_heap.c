/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of the intrusive min-heap (src/heap.c): random inserts, removals
 * and re-keyings checked step by step against a plain array, then drained in
 * order. */
#include "acconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "heap.h"

#define ELEMS 257
#define STEPS 20000

/* An owner of a node, as the heap's users embed them: not at offset 0, so
 * that heap_entry has something to do. */
struct elem {
	int id;
	struct heap_node node;
	int in; /* the reference: in the heap or not */
};

/* A fixed xorshift sequence: every run tests the same operations. */
static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Keys from a small range collide often (ties must not break the heap);
 * the rest cover the whole 64 bits, ends included. */
static uint64_t random_key(void)
{
	switch (rng() % 8) {
	case 0:
		return 0;
	case 1:
		return UINT64_MAX;
	case 2:
	case 3:
	case 4:
		return rng() % 16;
	default:
		return rng();
	}
}

/* The heap's shape: every node knows its slot, no child is smaller than its
 * parent, and it holds exactly the elements the reference says. */
static void check_heap(const struct heap *h, const struct elem *e, size_t nelem)
{
	size_t i, in = 0;
	uint64_t min = UINT64_MAX;

	for (i = 0; i < nelem; i++) {
		assert_int_equal(heap_queued(&e[i].node), e[i].in);
		if (!e[i].in)
			continue;
		in++;
		if (e[i].node.key < min)
			min = e[i].node.key;
		assert_true(e[i].node.slot <= h->n);
		assert_ptr_equal(h->node[e[i].node.slot - 1], &e[i].node);
	}
	assert_int_equal(heap_count(h), in);
	for (i = 1; i < h->n; i++)
		assert_true(h->node[(i - 1) / 2]->key <= h->node[i]->key);
	if (in == 0)
		assert_null(heap_min(h));
	else
		assert_true(heap_min(h)->key == min);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Take the minimum until the heap is empty: the keys must come out as the
 * reference sorts them, each element exactly once. */
static void drain_in_order(struct heap *h, struct elem *e, size_t nelem)
{
	uint64_t want[ELEMS];
	size_t i, n = 0;

	for (i = 0; i < nelem; i++)
		if (e[i].in)
			want[n++] = e[i].node.key;
	qsort(want, n, sizeof(want[0]), cmp_u64);
	for (i = 0; i < n; i++) {
		struct heap_node *first = heap_min(h);
		struct elem *x;

		assert_non_null(first);
		x = heap_entry(first, struct elem, node);
		assert_true(x->in);
		assert_true(first->key == want[i]);
		heap_remove(h, first);
		x->in = 0;
		assert_false(heap_queued(first));
	}
	assert_null(heap_min(h));
	assert_int_equal(heap_count(h), 0);
}

static void test_empty(void **state)
{
	struct heap h = {0};
	struct elem e = {.id = 1};

	(void)state;
	assert_null(heap_min(&h));
	assert_int_equal(heap_count(&h), 0);
	/* Removing a node that is in no heap is harmless. */
	heap_remove(&h, &e.node);
	assert_int_equal(heap_count(&h), 0);
	heap_free(&h);
	heap_free(&h);
}

static void test_random_against_reference(void **state)
{
	struct elem *e = calloc(ELEMS, sizeof(*e));
	struct heap h = {0};
	int step;

	(void)state;
	assert_non_null(e);
	rng_state = 0x9e3779b97f4a7c15ull;
	for (step = 0; step < ELEMS; step++)
		e[step].id = step;
	for (step = 0; step < STEPS; step++) {
		struct elem *x = &e[rng() % ELEMS];

		if (!x->in) {
			assert_int_equal(heap_insert(&h, &x->node, random_key()), 0);
			x->in = 1;
		} else if (rng() % 3 == 0) {
			heap_remove(&h, &x->node);
			x->in = 0;
		} else {
			heap_update(&h, &x->node, random_key());
		}
		check_heap(&h, e, ELEMS);
	}
	drain_in_order(&h, e, ELEMS);
	heap_free(&h);
	free(e);
}

/* A re-keyed node moves towards the root as well as towards the leaves. */
static void test_update_both_ways(void **state)
{
	struct elem e[7] = {{0}};
	struct heap h = {0};
	int i;

	(void)state;
	for (i = 0; i < 7; i++) {
		e[i].id = i;
		assert_int_equal(heap_insert(&h, &e[i].node, (uint64_t)(10 * (i + 1))), 0);
		e[i].in = 1;
	}
	heap_update(&h, &e[6].node, 1);
	assert_ptr_equal(heap_min(&h), &e[6].node);
	check_heap(&h, e, 7);
	heap_update(&h, &e[6].node, 1000);
	assert_ptr_equal(heap_min(&h), &e[0].node);
	check_heap(&h, e, 7);
	/* Removing the root, a leaf, and one in between. */
	heap_remove(&h, &e[0].node);
	e[0].in = 0;
	heap_remove(&h, &e[6].node);
	e[6].in = 0;
	heap_remove(&h, &e[2].node);
	e[2].in = 0;
	check_heap(&h, e, 7);
	drain_in_order(&h, e, 7);
	heap_free(&h);
}

/* After heap_reserve(n), n inserts need no allocation; heap_free leaves the
 * nodes still in it out of any heap, since their owners outlive it. */
static void test_reserve_and_free(void **state)
{
	struct elem e[40] = {{0}};
	struct heap h = {0};
	struct heap_node **array;
	int i;

	(void)state;
	assert_int_equal(heap_reserve(&h, 40), 0);
	assert_true(h.cap >= 40);
	array = h.node;
	for (i = 0; i < 40; i++) {
		assert_int_equal(heap_insert(&h, &e[i].node, (uint64_t)(40 - i)), 0);
		e[i].in = 1;
	}
	assert_ptr_equal(h.node, array);
	check_heap(&h, e, 40);
	assert_int_equal(heap_reserve(&h, 10), 0);
	assert_ptr_equal(h.node, array);
	heap_free(&h);
	for (i = 0; i < 40; i++)
		assert_false(heap_queued(&e[i].node));
	assert_null(h.node);
	assert_int_equal(heap_count(&h), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_random_against_reference),
	    cmocka_unit_test(test_update_both_ways),
	    cmocka_unit_test(test_reserve_and_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
