/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Socket activation through systemd-socket-activate(1), against the real
 * echod: a passed Unix socket is served for its listen entry (and its file
 * is left to whoever made it); a passed socket no entry names, and an entry
 * no passed socket serves, are errors that name them.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define ACTIVATE "/usr/bin/systemd-socket-activate"

static void need_activate(void)
{
	/* dev.sh installs it (Debian package systemd). */
	if (access(ACTIVATE, X_OK) != 0)
		fail_msg("%s is missing: install the Debian package systemd", ACTIVATE);
}

static void test_passed_socket_served(void **state)
{
	char sock[300], msg[5000], listen_arg[310];
	struct stat st;
	(void)state;

	need_activate();
	struct echod *e = h_echod_prepare("workers = 2;\n"
	                                  "listen = ( { path = \"@DIR@/echo.sock\"; } );\n");
	snprintf(sock, sizeof(sock), "%s/echo.sock", e->dir);
	snprintf(listen_arg, sizeof(listen_arg), "--listen=%s", sock);
	const char *wrap[] = {ACTIVATE, listen_arg, "--fdname=echo", NULL};
	struct h_opts opts = {.wrap = wrap, .no_wait = 1};
	h_echod_launch(e, &opts);
	/* systemd-socket-activate starts echod on the first connection. */
	int fd = -1;
	uint64_t end = h_now_ms() + 5000;
	while (fd == -1 && h_now_ms() < end)
		if ((fd = h_connect_unix(sock)) == -1) /* not listening yet */
			poll(NULL, 0, 5);
	assert_true(fd >= 0);
	h_fill_random(msg, sizeof(msg), 5);
	assert_true(h_echo_check(fd, msg, sizeof(msg), 5000));
	assert_true(h_log_wait(e, "workers serve", 1, 5000));
	assert_int_equal(h_log_count(e, "(passed socket echo)"), 1);
	close(fd);
	int status = h_echod_signal_wait(e, SIGTERM, 15000);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The socket file belongs to whoever passed the socket. */
	assert_int_equal(stat(sock, &st), 0);
	h_echod_free(e);
}

/* Run echod under systemd-socket-activate with sockets at paths[] (names
 * names) and config; connect to the first so that it starts; return its
 * exit status (it must fail) with its log in e. */
static int run_failing(struct echod *e, const char *const *paths, size_t n, const char *names)
{
	char args[4][310];
	const char *wrap[8];
	size_t k = 0;

	wrap[k++] = ACTIVATE;
	for (size_t i = 0; i < n; i++) {
		snprintf(args[i], sizeof(args[i]), "--listen=%s", paths[i]);
		wrap[k++] = args[i];
	}
	char fdname[64];
	snprintf(fdname, sizeof(fdname), "--fdname=%s", names);
	wrap[k++] = fdname;
	wrap[k] = NULL;
	struct h_opts opts = {.wrap = wrap, .no_wait = 1};
	h_echod_launch(e, &opts);
	int fd = -1;
	uint64_t end = h_now_ms() + 5000;
	while (fd == -1 && h_now_ms() < end)
		if ((fd = h_connect_unix(paths[0])) == -1)
			poll(NULL, 0, 5);
	if (fd >= 0)
		close(fd);
	return h_echod_signal_wait(e, 0, 10000);
}

static void test_socket_without_entry(void **state)
{
	char a[300], b[300];
	(void)state;

	need_activate();
	struct echod *e = h_echod_prepare("listen = ( { path = \"@DIR@/a.sock\"; } );\n");
	snprintf(a, sizeof(a), "%s/a.sock", e->dir);
	snprintf(b, sizeof(b), "%s/b.sock", e->dir);
	const char *paths[] = {a, b};
	int status = run_failing(e, paths, 2, "first:second");
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	char needle[400];
	snprintf(needle, sizeof(needle),
	         "passed socket unix %s (second, descriptor 4) has no listen", b);
	assert_int_equal(h_log_count(e, needle), 1);
	h_echod_free(e);
}

static void test_entry_without_socket(void **state)
{
	char a[300];
	(void)state;

	need_activate();
	struct echod *e = h_echod_prepare("listen = (\n  { path = \"@DIR@/a.sock\"; },\n"
	                                  "  { address = \"127.0.0.1\"; port = 0; }\n);\n");
	snprintf(a, sizeof(a), "%s/a.sock", e->dir);
	const char *paths[] = {a};
	int status = run_failing(e, paths, 1, "only");
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	assert_int_equal(h_log_count(e, "echod.conf:3: no socket was passed for tcp 127.0.0.1:0"),
	                 1);
	h_echod_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_passed_socket_served, h_teardown),
	    cmocka_unit_test_teardown(test_socket_without_entry, h_teardown),
	    cmocka_unit_test_teardown(test_entry_without_socket, h_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
