/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The configurations the documentation shows must work as shown: every
 * configuration in a literal block of echod.conf(5) and echod(8), every file
 * in etc/, and the packaged etc/echod.conf with its commented-out listen
 * entries switched on, pass `echod -t`.  A fragment (a block without a
 * listen key) is checked with one listen entry added.  Bug: uncommenting
 * the packaged Unix socket example gave a syntax error (no comma before it).
 */
#include "acconfig.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define LISTEN_ADDED "listen = ( { address = \"127.0.0.1\"; port = 7; } );\n"

/* <srcdir>/rel, where ECHOD_TESTDATA is <srcdir>/tests/data. */
static void src_path(char *buf, size_t len, const char *rel)
{
	const char *data = getenv("ECHOD_TESTDATA");

	if (data == NULL)
		fail_msg("ECHOD_TESTDATA is not set (it should be <srcdir>/tests/data)");
	snprintf(buf, len, "%s/../../%s", data, rel);
}

/* `echod -t` on `text`; fails the test, showing where it came from, unless
 * it passes. */
static void check_passes(const char *text, const char *origin)
{
	struct echod *e = h_echod_prepare(text);
	struct h_run r;

	h_run_echod(&r, 5000, "-t", "-c", e->conf, NULL);
	if (r.status != 0)
		fail_msg("%s does not pass echod -t:\n%s---\n%s", origin, text, r.err);
	assert_non_null(strstr(r.out, ": ok\n"));
	h_run_free(&r);
	h_echod_free(e);
}

/* Whether a literal block is a configuration: it sets something
 * ("name = ...;"), and is not a shell session. */
static int is_config(const char *block)
{
	int sets = 0;

	for (const char *l = block; *l != '\0'; l = strchr(l, '\n') + 1) {
		if (strncmp(l, "$ ", 2) == 0)
			return 0;
		const char *eq = strstr(l, " = ");
		const char *eol = strchr(l, '\n');
		sets |= eq != NULL && eq < eol && strchr(eq, ';') != NULL && strchr(eq, ';') < eol;
	}
	return sets;
}

/* Append line to *buf, undoing mdoc's escapes (\e, \&). */
static void append_line(char **buf, size_t *len, const char *line, size_t n)
{
	*buf = realloc(*buf, *len + n + 2);
	assert_non_null(*buf);
	for (size_t i = 0; i < n; i++) {
		if (line[i] == '\\' && i + 1 < n && line[i + 1] == '&') {
			i++;
			continue;
		}
		if (line[i] == '\\' && i + 1 < n && line[i + 1] == 'e') {
			i++;
			(*buf)[(*len)++] = '\\';
			continue;
		}
		(*buf)[(*len)++] = line[i];
	}
	(*buf)[(*len)++] = '\n';
	(*buf)[*len] = '\0';
}

/* Check every configuration among the literal blocks of a man page;
 * returns how many there were. */
static int check_man_page(const char *rel)
{
	char path[4096], origin[256];
	int checked = 0, lineno = 0, start = 0;
	char *block = NULL;
	size_t len = 0;

	src_path(path, sizeof(path), rel);
	char *text = h_file_read(path);
	assert_true(strlen(text) > 0);
	int in = 0;
	for (char *l = text; *l != '\0';) {
		char *eol = strchr(l, '\n');
		size_t n = eol != NULL ? (size_t)(eol - l) : strlen(l);
		lineno++;
		if (!in && strncmp(l, ".Bd -literal", 12) == 0) {
			in = 1;
			start = lineno;
			len = 0;
			free(block);
			block = calloc(1, 1);
		} else if (in && strncmp(l, ".Ed", 3) == 0) {
			in = 0;
			if (is_config(block)) {
				snprintf(origin, sizeof(origin), "%s:%d", rel, start);
				if (strstr(block, "listen") == NULL)
					append_line(&block, &len, LISTEN_ADDED,
					            strlen(LISTEN_ADDED) - 1);
				print_message("# %s\n", origin);
				check_passes(block, origin);
				checked++;
			}
		} else if (in) {
			append_line(&block, &len, l, n);
		}
		l += n + (eol != NULL);
	}
	free(block);
	free(text);
	return checked;
}

static void test_man_page_examples(void **state)
{
	(void)state;
	/* echod.conf(5) shows the packaged file, a Unix socket server, a test
	 * configuration, and a fragment or two. */
	assert_true(check_man_page("man/echod.conf.5") >= 4);
	check_man_page("man/echod.8");
}

/* Every file in etc/, as shipped. */
static void test_etc_files(void **state)
{
	char dir[4096], path[4400];
	struct dirent *de;
	int checked = 0;
	(void)state;

	src_path(dir, sizeof(dir), "etc");
	DIR *d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 5, ".conf") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		char *text = h_file_read(path);
		print_message("# etc/%s\n", de->d_name);
		check_passes(text, path);
		free(text);
		checked++;
	}
	closedir(d);
	assert_true(checked >= 2);
}

/* The packaged file with every commented-out listen entry ("# {") switched
 * on, as its comment invites. */
static void test_packaged_examples_uncommented(void **state)
{
	char path[4096];
	int uncommented = 0;
	(void)state;

	src_path(path, sizeof(path), "etc/echod.conf");
	char *text = h_file_read(path);
	for (char *l = text; (l = strstr(l, "\n# {")) != NULL; l++) {
		memmove(l + 1, l + 3, strlen(l + 3) + 1);
		uncommented++;
	}
	assert_true(uncommented >= 1);
	assert_non_null(strstr(text, "\n{ path = "));
	check_passes(text, "etc/echod.conf, its examples uncommented");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_man_page_examples, h_teardown),
	    cmocka_unit_test_teardown(test_etc_files, h_teardown),
	    cmocka_unit_test_teardown(test_packaged_examples_uncommented, h_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
