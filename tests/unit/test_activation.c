/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the LISTEN_* parsing of socket activation
 * (src/activation.c): for us or for another process, names matched to
 * descriptors, and malformed values refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "activation.h"

static void test_unset_or_not_ours(void **state)
{
	const char *names[4];
	char *buf;
	(void)state;

	assert_int_equal(activation_parse(NULL, NULL, NULL, 42, names, &buf), 0);
	assert_int_equal(activation_parse("42", NULL, NULL, 42, names, &buf), 0);
	assert_int_equal(activation_parse(NULL, "2", NULL, 42, names, &buf), 0);
	/* LISTEN_PID names our parent: the sockets are not for us. */
	assert_int_equal(activation_parse("41", "2", "a:b", 42, names, &buf), 0);
	assert_null(buf);
}

static void test_names(void **state)
{
	const char *names[4];
	char *buf;
	(void)state;

	assert_int_equal(activation_parse("42", "3", "echo:echo-udp:unix", 42, names, &buf), 3);
	assert_string_equal(names[0], "echo");
	assert_string_equal(names[1], "echo-udp");
	assert_string_equal(names[2], "unix");
	free(buf);
	/* Fewer names than descriptors: the rest are unnamed. */
	assert_int_equal(activation_parse("42", "3", "one", 42, names, &buf), 3);
	assert_string_equal(names[0], "one");
	assert_string_equal(names[1], "");
	assert_string_equal(names[2], "");
	free(buf);
	/* No LISTEN_FDNAMES at all. */
	assert_int_equal(activation_parse("42", "1", NULL, 42, names, &buf), 1);
	assert_string_equal(names[0], "");
	assert_null(buf);
}

static void test_malformed(void **state)
{
	const char *names[4];
	char *buf;
	(void)state;

	assert_int_equal(activation_parse("x", "1", NULL, 42, names, &buf), -1);
	assert_int_equal(activation_parse("42", "", NULL, 42, names, &buf), -1);
	assert_int_equal(activation_parse("42", "-1", NULL, 42, names, &buf), -1);
	assert_int_equal(activation_parse("42", "1x", NULL, 42, names, &buf), -1);
	assert_int_equal(activation_parse("42", "100000", NULL, 42, names, &buf), -1);
	assert_int_equal(activation_parse("0", "1", NULL, 42, names, &buf), -1);
	assert_int_equal(activation_parse("99999999999", "1", NULL, 42, names, &buf), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unset_or_not_ours),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
