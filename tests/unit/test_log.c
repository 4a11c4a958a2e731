/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the log (src/log.c): log_rate, which writes a recurring event
 * at most once per LOG_RATE_MS with its count, driven here by a clock the
 * test sets; and log_plural.  The log goes to a file in a temporary
 * directory, read back after each step.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

struct fixture {
	char dir[64];
	char path[96];
	size_t seen; /* bytes of the file already looked at */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_log.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/echod.log", f->dir);
	if (log_open(f->path, LOG_LEVEL_INFO) == -1)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	log_close();
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* What the log got since the last call, as a new string. */
static char *news(struct fixture *f)
{
	FILE *in = fopen(f->path, "r");
	char *buf = calloc(1, 8192);

	assert_non_null(in);
	assert_non_null(buf);
	assert_int_equal(fseek(in, (long)f->seen, SEEK_SET), 0);
	size_t n = fread(buf, 1, 8191, in);
	fclose(in);
	f->seen += n;
	return buf;
}

static int count(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* The first event is written at once; the next ones within LOG_RATE_MS only
 * counted; the first after it writes them all, with the count. */
static void test_rate_limits_and_counts(void **state)
{
	struct fixture *f = *state;
	struct log_rate r = {0};
	uint64_t t = 1000000;
	char *text;

	assert_int_equal(log_rate(&r, t, 1, LOG_LEVEL_NOTICE, "refused: limit %d", 5), 1);
	text = news(f);
	assert_int_equal(count(text, "[notice]"), 1);
	assert_int_equal(count(text, "refused: limit 5\n"), 1);
	free(text);
	assert_int_equal(log_rate_due(&r), 0);

	for (int i = 0; i < 56; i++)
		assert_int_equal(log_rate(&r, t + 100 + (uint64_t)i, 1, LOG_LEVEL_NOTICE,
		                          "refused: limit %d", 5),
		                 0);
	assert_int_equal(log_rate(&r, t + LOG_RATE_MS - 1, 1, LOG_LEVEL_NOTICE, "refused"), 0);
	text = news(f);
	assert_string_equal(text, "");
	free(text);
	assert_int_equal(log_rate_due(&r), t + LOG_RATE_MS);

	assert_int_equal(log_rate(&r, t + LOG_RATE_MS, 1, LOG_LEVEL_NOTICE, "refused: limit %d", 5),
	                 1);
	text = news(f);
	/* 56 + 1 held back and this one; the first was 9.9 s before. */
	assert_int_equal(count(text, "refused: limit 5 (58 times in 10 s)\n"), 1);
	free(text);
	assert_int_equal(log_rate_due(&r), 0);
}

/* What was held back is written by a flush once due, or at once when
 * forced; with nothing held back a flush writes nothing. */
static void test_rate_flush(void **state)
{
	struct fixture *f = *state;
	struct log_rate r = {0};
	uint64_t t = 5000;
	char *text;

	assert_int_equal(log_rate_flush(&r, t, 1, LOG_LEVEL_NOTICE, "dropped"), 0);
	assert_int_equal(log_rate(&r, t, 3, LOG_LEVEL_NOTICE, "dropped"), 1);
	text = news(f);
	assert_int_equal(count(text, "dropped (3 times)\n"), 1);
	free(text);
	assert_int_equal(log_rate(&r, t + 2000, 4, LOG_LEVEL_NOTICE, "dropped"), 0);
	assert_int_equal(log_rate_flush(&r, t + LOG_RATE_MS - 1, 0, LOG_LEVEL_NOTICE, "dropped"),
	                 0);
	assert_int_equal(log_rate_flush(&r, t + LOG_RATE_MS, 0, LOG_LEVEL_NOTICE, "dropped"), 1);
	text = news(f);
	assert_int_equal(count(text, "dropped (4 times in 8 s)\n"), 1);
	free(text);
	assert_int_equal(log_rate_flush(&r, t + 3 * LOG_RATE_MS, 0, LOG_LEVEL_NOTICE, "dropped"),
	                 0);

	/* Forced: a worker that exits writes what it holds at once. */
	assert_int_equal(log_rate(&r, t + 3 * LOG_RATE_MS, 1, LOG_LEVEL_NOTICE, "dropped"), 1);
	assert_int_equal(log_rate(&r, t + 3 * LOG_RATE_MS + 10, 1, LOG_LEVEL_NOTICE, "dropped"), 0);
	assert_int_equal(
	    log_rate_flush(&r, t + 3 * LOG_RATE_MS + 20, 1, LOG_LEVEL_NOTICE, "dropped"), 1);
	text = news(f);
	assert_int_equal(count(text, "dropped"), 2);
	free(text);
}

/* At a level the log drops, nothing is counted or written (and no timer
 * would be needed). */
static void test_rate_below_level(void **state)
{
	struct fixture *f = *state;
	struct log_rate r = {0};
	char *text;

	assert_int_equal(log_rate(&r, 1000, 1, LOG_LEVEL_DEBUG, "quiet"), 0);
	assert_int_equal(log_rate(&r, 2000, 1, LOG_LEVEL_DEBUG, "quiet"), 0);
	assert_int_equal(log_rate_due(&r), 0);
	text = news(f);
	assert_string_equal(text, "");
	free(text);
}

/* Two reasons, two structs: one does not hold the other back. */
static void test_rate_per_reason(void **state)
{
	struct fixture *f = *state;
	struct log_rate a = {0}, b = {0};
	char *text;

	assert_int_equal(log_rate(&a, 1000, 1, LOG_LEVEL_WARNING, "reason a"), 1);
	assert_int_equal(log_rate(&b, 1001, 1, LOG_LEVEL_NOTICE, "reason b"), 1);
	text = news(f);
	assert_int_equal(count(text, "[warning]"), 1);
	assert_int_equal(count(text, "reason a\n"), 1);
	assert_int_equal(count(text, "reason b\n"), 1);
	free(text);
}

static void test_plural(void **state)
{
	(void)state;
	assert_string_equal(log_plural(0, "worker", "workers"), "workers");
	assert_string_equal(log_plural(1, "worker", "workers"), "worker");
	assert_string_equal(log_plural(2, "worker", "workers"), "workers");
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_rate_limits_and_counts), TEST(test_rate_flush), TEST(test_rate_below_level),
	    TEST(test_rate_per_reason),        TEST(test_plural),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
