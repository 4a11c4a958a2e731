/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of the control socket's request parser (src/control.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "control.h"
#include "signals.h"

static int parse(const char *line, enum control_cmd *cmd, int *json)
{
	return control_parse(line, strlen(line), cmd, json);
}

static void test_parse(void **state)
{
	enum control_cmd cmd;
	int json;
	(void)state;

	for (int i = 0; i < CONTROL_COUNT; i++) {
		assert_int_equal(parse(control_words[i], &cmd, &json), 0);
		assert_int_equal(cmd, i);
		assert_int_equal(json, 0);
	}
	assert_int_equal(parse("status json", &cmd, &json), 0);
	assert_int_equal(cmd, CONTROL_STATUS);
	assert_int_equal(json, 1);
	static const char *const bad[] = {
	    "",        "reload json", "status  json", "status jso", "status json ", "Reload",
	    " reload", "reloadx",     "restart",      "status\r",   "stop stop",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i], &cmd, &json) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	/* Not NUL-terminated: only len bytes count. */
	assert_int_equal(control_parse("reloadXYZ", 6, &cmd, &json), 0);
	assert_int_equal(cmd, CONTROL_RELOAD);
}

/* Every -s word that sends a signal has a control word of the same name, so
 * that the control socket does what the signal would. */
static void test_words_match_signals(void **state)
{
	static const char *const words[] = {"reload", "stop", "quit", "reopen"};
	(void)state;

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		assert_true(signals_from_word(words[i]) != -1);
		assert_true(control_from_word(words[i]) != -1);
	}
	assert_int_equal(signals_from_word("status"), -1);
	assert_int_equal(control_from_word("status"), CONTROL_STATUS);
	assert_int_equal(control_from_word("nope"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_words_match_signals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
