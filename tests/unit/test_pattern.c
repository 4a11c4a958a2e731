/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of echod-bench's verification pattern: determinism, the
 * period, finding the first wrong byte, and sending straight from the
 * table. */
#include "acconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/pattern.h"

#define BIG (3 * PATTERN_PERIOD + 17)

static int setup(void **state)
{
	pattern_init();
	*state = malloc(BIG);
	return *state == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/* The expected bytes, one at a time: the slow, obvious way. */
static void fill(uint8_t *buf, uint32_t phase, uint64_t off, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = pattern_byte(phase, off + i);
}

static void test_periodic_and_deterministic(void **state)
{
	uint32_t phase = pattern_phase(42);
	uint64_t off;

	(void)state;
	assert_int_equal(pattern_phase(42), phase);
	assert_true(phase < PATTERN_PERIOD);
	for (off = 0; off < 3 * PATTERN_PERIOD; off += 997) {
		assert_int_equal(pattern_byte(phase, off),
		                 pattern_byte(phase, off + PATTERN_PERIOD));
		assert_int_equal(*pattern_at(phase, off), pattern_byte(phase, off));
	}
	/* Offsets far beyond 4 GiB wrap the same way. */
	off = (uint64_t)PATTERN_PERIOD * 1000003u + 5;
	assert_int_equal(pattern_byte(phase, off), pattern_byte(phase, 5));
	pattern_init(); /* idempotent */
	assert_int_equal(pattern_byte(phase, 5), pattern_byte(phase, off));
}

/* No short period hides in the table: a server that shifts the stream by a
 * few bytes must be caught. */
static void test_no_short_period(void **state)
{
	uint32_t shift, same, i;

	(void)state;
	for (shift = 1; shift <= 4096; shift++) {
		for (same = 0, i = 0; i < 4096; i++)
			same += pattern_byte(0, i) == pattern_byte(0, i + shift);
		assert_true(same < 64); /* about 16 expected */
	}
}

static void test_phases_differ(void **state)
{
	uint32_t a = pattern_phase(0), b = pattern_phase(1);
	int differ = 0, i;

	(void)state;
	assert_int_not_equal(a, b);
	for (i = 0; i < 64; i++)
		differ += pattern_byte(a, (uint64_t)i) != pattern_byte(b, (uint64_t)i);
	assert_true(differ > 48);
}

static void test_check_matches(void **state)
{
	static const uint64_t offs[] = {0, 1, PATTERN_PERIOD - 1, PATTERN_PERIOD, 123456789012ull};
	uint8_t *buf = *state;
	uint32_t phase = pattern_phase(7);
	size_t i;

	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		fill(buf, phase, offs[i], BIG);
		assert_int_equal(pattern_check(phase, offs[i], buf, BIG), BIG);
		assert_int_equal(pattern_check(phase, offs[i], buf, 1), 1);
		assert_int_equal(pattern_check(phase, offs[i], buf, 0), 0);
	}
}

/* The index of the first wrong byte, wherever it is: in the first or a
 * later period, at either end. */
static void test_check_finds_first_mismatch(void **state)
{
	static const size_t where[] = {
	    0, 1, 999, PATTERN_PERIOD - 1, PATTERN_PERIOD, 2 * PATTERN_PERIOD + 3, BIG - 1};
	uint8_t *buf = *state;
	uint32_t phase = pattern_phase(3);
	uint64_t off = PATTERN_PERIOD - 10; /* crosses the table's end at once */
	size_t i;

	fill(buf, phase, off, BIG);
	for (i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		buf[where[i]] ^= 0x01;
		assert_int_equal(pattern_check(phase, off, buf, BIG), where[i]);
		buf[BIG - 1] ^= 0x80; /* a later error does not hide the first */
		assert_int_equal(pattern_check(phase, off, buf, BIG), where[i]);
		buf[BIG - 1] ^= 0x80;
		buf[where[i]] ^= 0x01;
	}
	assert_int_equal(pattern_check(phase, off, buf, BIG), BIG);
	/* Another stream's bytes, or the right bytes one place late, fail at once. */
	assert_int_equal(pattern_check(pattern_phase(4), off, buf, BIG) < 8, 1);
	assert_int_equal(pattern_check(phase, off + 1, buf, BIG) < 8, 1);
}

static void test_iov(void **state)
{
	struct iovec iov[8];
	uint8_t *buf = *state, *p;
	uint32_t phase = pattern_phase(99);
	uint64_t off = 5 * PATTERN_PERIOD + 12345;
	size_t covered, i;
	int n, k;

	n = pattern_iov(phase, off, BIG, iov, 8, &covered);
	assert_int_equal(covered, BIG);
	/* Each iovec but the last holds more than a period. */
	assert_true(n >= 2 && n <= (int)(BIG / PATTERN_PERIOD) + 1);
	for (p = buf, k = 0; k < n; k++) {
		assert_true(iov[k].iov_len > 0);
		memcpy(p, iov[k].iov_base, iov[k].iov_len);
		p += iov[k].iov_len;
	}
	assert_int_equal(p - buf, BIG);
	assert_int_equal(pattern_check(phase, off, buf, BIG), BIG);
	for (i = 0; i < BIG; i += 4099)
		assert_int_equal(buf[i], pattern_byte(phase, off + i));

	/* Too few iovecs: says how much they hold. */
	n = pattern_iov(phase, off, BIG, iov, 1, &covered);
	assert_int_equal(n, 1);
	assert_true(covered >= PATTERN_PERIOD && covered < BIG);
	assert_int_equal(iov[0].iov_len, covered);

	n = pattern_iov(phase, off, 0, iov, 8, &covered);
	assert_int_equal(n, 0);
	assert_int_equal(covered, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_periodic_and_deterministic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_short_period, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_phases_differ, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_matches, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_finds_first_mismatch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_iov, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
