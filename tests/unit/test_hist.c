/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of echod-bench's latency histogram: bucket arithmetic, the
 * relative-error bound, percentiles and merging. */
#include "acconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "client/hist.h"

static int setup(void **state)
{
	struct hist *h = malloc(sizeof(*h));

	if (h == NULL)
		return -1;
	hist_reset(h);
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/* Every value lies in its bucket, and the bucket is narrow enough. */
static void check_value(uint64_t v)
{
	size_t i = hist_index(v);
	uint64_t lo = hist_bucket_low(i), hi = hist_bucket_high(i);

	assert_true(i < HIST_BUCKETS);
	assert_true(lo <= v);
	assert_true(v <= hi);
	/* width / low <= 2^-HIST_SUB_BITS */
	assert_true((hi - lo) <= (lo >> HIST_SUB_BITS));
}

static void test_small_values_exact(void **state)
{
	uint64_t v;

	(void)state;
	for (v = 0; v < 2 * HIST_SUB; v++) {
		assert_int_equal(hist_index(v), v);
		assert_int_equal(hist_bucket_low(v), v);
		assert_int_equal(hist_bucket_high(v), v);
	}
}

static void test_bucket_bounds(void **state)
{
	uint64_t v, x = 88172645463325252ull;
	unsigned b;
	int k;

	(void)state;
	for (v = 0; v < (1u << 18); v++)
		check_value(v);
	for (b = 0; b < 64; b++) {
		v = (uint64_t)1 << b;
		check_value(v);
		check_value(v - 1);
		check_value(v + 1);
	}
	check_value(UINT64_MAX);
	for (k = 0; k < 100000; k++) { /* xorshift64 */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		check_value(x >> (x & 63));
	}
}

/* Buckets tile the whole uint64 range with neither gap nor overlap. */
static void test_buckets_contiguous(void **state)
{
	size_t i;

	(void)state;
	assert_int_equal(hist_bucket_low(0), 0);
	for (i = 0; i + 1 < HIST_BUCKETS; i++)
		assert_true(hist_bucket_high(i) + 1 == hist_bucket_low(i + 1));
	assert_true(hist_bucket_high(HIST_BUCKETS - 1) == UINT64_MAX);
	assert_int_equal(hist_index(UINT64_MAX), HIST_BUCKETS - 1);
}

static void test_empty(void **state)
{
	struct hist *h = *state;

	assert_int_equal(h->n, 0);
	assert_int_equal(hist_percentile(h, 50), 0);
	assert_int_equal(hist_percentile(h, 100), 0);
	assert_true(hist_mean(h) == 0.0);
}

static void test_single_value(void **state)
{
	struct hist *h = *state;

	hist_record(h, 123456789);
	assert_int_equal(hist_percentile(h, 0), 123456789);
	assert_int_equal(hist_percentile(h, 50), 123456789);
	assert_int_equal(hist_percentile(h, 99.9), 123456789);
	assert_int_equal(hist_percentile(h, 100), 123456789);
	assert_true(hist_mean(h) == 123456789.0);
}

/* Within the documented bound of the exact answer. */
static void assert_near(uint64_t got, uint64_t want)
{
	uint64_t diff = got > want ? got - want : want - got;

	assert_true(diff <= want / (2 * HIST_SUB) + 1);
}

static void test_percentiles_uniform(void **state)
{
	struct hist *h = *state;
	uint64_t v;

	for (v = 1; v <= 100000; v++)
		hist_record(h, v * 1000);
	assert_int_equal(h->n, 100000);
	assert_int_equal(h->min, 1000);
	assert_int_equal(h->max, 100000000);
	assert_near(hist_percentile(h, 50), 50000000);
	assert_near(hist_percentile(h, 90), 90000000);
	assert_near(hist_percentile(h, 99), 99000000);
	assert_near(hist_percentile(h, 99.9), 99900000);
	assert_int_equal(hist_percentile(h, 100), 100000000);
	assert_int_equal(hist_percentile(h, 0), 1000);
	assert_true(hist_mean(h) == 50000500.0);
}

/* A rare outlier shows at p99.9 and max, not at p50: the case coordinated
 * omission is about. */
static void test_percentiles_outlier(void **state)
{
	struct hist *h = *state;
	int i;

	for (i = 0; i < 9990; i++)
		hist_record(h, 20000);
	for (i = 0; i < 10; i++)
		hist_record(h, 50000000);
	assert_near(hist_percentile(h, 50), 20000);
	assert_near(hist_percentile(h, 99), 20000);
	assert_near(hist_percentile(h, 99.9), 20000);
	assert_near(hist_percentile(h, 99.95), 50000000);
	assert_int_equal(h->max, 50000000);
}

static void test_merge(void **state)
{
	struct hist *h = *state;
	struct hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	uint64_t v;

	assert_non_null(a);
	assert_non_null(b);
	hist_reset(a);
	hist_reset(b);
	for (v = 1; v <= 5000; v++) {
		hist_record(v % 2 ? a : b, v * 37);
		hist_record(h, v * 37);
	}
	hist_merge(a, b);
	assert_int_equal(a->n, h->n);
	assert_int_equal(a->min, h->min);
	assert_int_equal(a->max, h->max);
	assert_int_equal(a->sum, h->sum);
	assert_memory_equal(a->count, h->count, sizeof(h->count));
	hist_reset(b);
	hist_merge(a, b); /* an empty one changes nothing */
	assert_int_equal(a->n, h->n);
	assert_int_equal(a->min, h->min);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_small_values_exact),
	    cmocka_unit_test(test_bucket_bounds),
	    cmocka_unit_test(test_buckets_contiguous),
	    cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_single_value, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_percentiles_uniform, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_percentiles_outlier, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_merge, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
