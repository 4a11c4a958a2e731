/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of echod-bench's latency histogram: bucket arithmetic, the
 * relative-error bound, percentiles, merging, and the HdrHistogram text
 * that --hdr-out writes. */
#include "acconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* HdrHistogram's levels: 10 % steps to 50 %, then each halving of what is
 * left in five steps. */
static void test_levels(void **state)
{
	static const double want[] = {10, 20, 30,   40, 50,   55, 60,   65,
	                              70, 75, 77.5, 80, 82.5, 85, 87.5, 88.75};
	double level = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		level = hist_next_level(level, 5);
		assert_true(level > want[i] - 1e-9 && level < want[i] + 1e-9);
	}
	/* It comes closer to 100 % for ever without reaching it. */
	for (int i = 0; i < 200; i++) {
		double next = hist_next_level(level, 5);
		assert_true(next > level);
		level = next;
	}
	assert_true(level < 100.0);
}

/* HdrHistogram's header: "%12s %14s %10s %14s", then a blank line. */
#define HEADER "       Value     Percentile TotalCount 1/(1-Percentile)\n\n"

/* Write h with hist_write_percentiles into a string (free it). */
static char *percentiles(const struct hist *h)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	hist_write_percentiles(h, f, 1000.0);
	assert_int_equal(fclose(f), 0);
	return text;
}

/*
 * The layout the plotters parse: the header line and a blank line, rows of
 * value, percentile, total count and 1/(1-percentile) with values rising,
 * the last row at percentile 1 with every count, then the #[ lines.
 */
static void test_hdr_text(void **state)
{
	struct hist *h = *state;
	char *text, *line, *save = NULL;
	double last_value = 0, last_pct = -1;
	int rows = 0, footer = 0, done = 0;

	for (uint64_t v = 1; v <= 10000; v++)
		hist_record(h, v * 1000); /* 1 us to 10 ms */
	text = percentiles(h);
	assert_true(strncmp(text, HEADER, strlen(HEADER)) == 0);
	/* Before strtok_r cuts it up. */
	assert_non_null(strstr(text, "#[Mean    =     5000.500, StdDeviation   = "));
	assert_non_null(strstr(text, "#[Max     =    10000.000, Total count    =        10000]"));
	for (line = strtok_r(text + strlen(HEADER), "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		double value, pct, inv;
		unsigned long long count;
		int n = sscanf(line, "%lf %lf %llu %lf", &value, &pct, &count, &inv);

		if (line[0] == '#') {
			footer++;
			continue;
		}
		assert_false(done);
		assert_int_equal(footer, 0);
		assert_true(n == 4 || n == 3);
		assert_true(value >= last_value);
		assert_true(pct > last_pct);
		if (rows == 0) {
			assert_true(pct == 0.0);
			assert_true(value >= 1.0 && value < 1.1);
		}
		if (n == 4) {
			/* The count up to the value covers the level. */
			assert_true((double)count >= pct * 10000.0 - 1e-6);
			assert_true(inv > 1.0 / (1.0 - pct) - 0.01 &&
			            inv < 1.0 / (1.0 - pct) + 0.01);
		} else {
			assert_true(pct == 1.0);
			assert_int_equal(count, 10000);
			assert_true(value == 10000.0);
			done = 1;
		}
		last_value = value;
		last_pct = pct;
		rows++;
	}
	assert_true(done);
	assert_true(rows > 30);
	assert_int_equal(footer, 3);
	free(text);
}

/* An empty run still gives a file a plotter reads: header and footer. */
static void test_hdr_text_empty(void **state)
{
	char *text = percentiles(*state);

	assert_non_null(strstr(text, "Value     Percentile TotalCount 1/(1-Percentile)"));
	assert_non_null(strstr(text, "Total count    =            0]"));
	assert_null(strstr(text, " 1.000000000000 "));
	free(text);
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
	    cmocka_unit_test(test_levels),
	    cmocka_unit_test_setup_teardown(test_hdr_text, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hdr_text_empty, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
