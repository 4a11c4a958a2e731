/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Choosing the event backend, against the real echod: backend = "auto"
 * takes io_uring where the worker may use it; where it may not (here a
 * seccomp filter makes io_uring_setup fail with EPERM, as a container's
 * profile or kernel.io_uring_disabled does) it falls back to epoll and logs
 * why; backend = "io_uring" then fails, with the same reason, and the master
 * backs off.  Skipped in a build without io_uring.
 */
#include "acconfig.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ev.h"
#include "harness.h"

#define CONFIG(backend)                                                                            \
	"workers = 2;\n"                                                                           \
	"backend = \"" backend "\";\n"                                                             \
	"listen = (\n"                                                                             \
	"  { address = \"127.0.0.1\"; port = 0; },\n"                                              \
	"  { address = \"127.0.0.1\"; port = 0; protocol = \"udp\"; }\n"                           \
	");\n"

/* What the worker logs when the filter stops io_uring_setup. */
#define DENIED_WHY "io_uring_setup: Operation not permitted"
#define DENIED     "io_uring: " DENIED_WHY

/* What this build and this kernel allow, decided once by main(): a skip
 * would count as a failure under automake's TAP driver, so a case that
 * cannot run here is left out with a note instead. */
static int built;    /* ev_backend_name() lists io_uring */
static int starts;   /* and it starts in this process */
static int can_deny; /* h_can_deny_io_uring() */

/* A message over TCP and one over UDP come back. */
static void echo_works(struct echod *e)
{
	char in[16];
	int fd = h_connect("127.0.0.1", e->ports[0]);

	assert_true(fd >= 0);
	assert_true(h_echo_check(fd, "stream", 6, 2000));
	close(fd);
	fd = h_udp("127.0.0.1", e->ports[1]);
	assert_true(fd >= 0);
	assert_int_equal(send(fd, "datagram", 8, 0), 8);
	assert_int_equal(h_recv_exact(fd, in, 8, 2000), 8);
	assert_memory_equal(in, "datagram", 8);
	close(fd);
}

static void stop_ok(struct echod *e)
{
	int status = h_echod_signal_wait(e, SIGTERM, 15000);

	h_echod_free(e);
	assert_int_equal(status, 0);
}

static void test_auto_takes_io_uring(void **state)
{
	(void)state;
	struct echod *e = h_echod_start(CONFIG("auto"), NULL);

	assert_true(h_log_wait(e, "serving with the io_uring backend", 2, 2000));
	assert_int_equal(h_log_count(e, "using epoll"), 0);
	echo_works(e);
	stop_ok(e);
}

/* Denied io_uring: each worker says why at notice level (not a warning: the
 * service works) and serves with epoll. */
static void test_auto_falls_back_to_epoll(void **state)
{
	(void)state;
	struct h_opts opts = {.deny_io_uring = starts};
	struct echod *e = h_echod_start(CONFIG("auto"), &opts);

	assert_true(h_log_wait(e, "serving with the epoll backend", 2, 2000));
	assert_int_equal(h_log_count(e, "[notice]") >= 2, 1);
	assert_int_equal(h_log_count(e, starts ? DENIED : "io_uring: "), 2);
	assert_int_equal(h_log_count(e, "; using epoll"), 2);
	assert_int_equal(h_log_count(e, "[warning]"), 0);
	assert_int_equal(h_log_count(e, "[error]"), 0);
	echo_works(e);
	stop_ok(e);
}

/* Denied io_uring asked for by name: the worker exits with the reason, the
 * master backs off and keeps running, and stops cleanly. */
static void test_explicit_io_uring_fails_with_reason(void **state)
{
	(void)state;
	struct h_opts opts = {.deny_io_uring = 1, .no_wait = 1};
	struct echod *e = h_echod_start(CONFIG("io_uring"), &opts);

	assert_true(h_log_wait(e, "cannot start the io_uring event backend: " DENIED_WHY, 1, 3000));
	assert_true(h_log_wait(e, "keep dying", 1, 3000));
	assert_int_equal(h_log_count(e, "workers serve"), 0);
	assert_int_equal(h_log_count(e, "serving with the"), 0);
	stop_ok(e);
}

/* A build without io_uring: no such backend, and a configuration that asks
 * for it is refused before anything starts. */
static void test_not_built(void **state)
{
	struct h_run r;
	struct echod *e = h_echod_prepare(CONFIG("io_uring"));
	(void)state;

	h_run_echod(&r, 5000, "-V", NULL);
	assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	assert_null(strstr(r.out, "io_uring"));
	h_run_free(&r);
	h_run_echod(&r, 5000, "-t", "-c", e->conf, NULL);
	assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 78);
	assert_non_null(strstr(r.err, "backend"));
	h_run_free(&r);
	h_echod_free(e);
}

int main(void)
{
	struct CMUnitTest tests[3];
	size_t n = 0;
	struct ev_loop *loop;

	built = ev_backend_name(0) != NULL && strcmp(ev_backend_name(0), "io_uring") == 0;
	if (built && (loop = ev_loop_new("io_uring")) != NULL) {
		ev_loop_free(loop);
		starts = 1;
	}
	can_deny = h_can_deny_io_uring();
	if (!built) {
		tests[n++] =
		    (struct CMUnitTest)cmocka_unit_test_teardown(test_not_built, h_teardown);
	} else if (!starts) {
		/* The kernel denies it already: what the filter would show. */
		printf("# io_uring cannot start here (%s): the fallback is tested without a "
		       "filter\n",
		       ev_last_error());
		tests[n++] = (struct CMUnitTest)cmocka_unit_test_teardown(
		    test_auto_falls_back_to_epoll, h_teardown);
	} else {
		tests[n++] = (struct CMUnitTest)cmocka_unit_test_teardown(test_auto_takes_io_uring,
		                                                          h_teardown);
		if (can_deny) {
			tests[n++] = (struct CMUnitTest)cmocka_unit_test_teardown(
			    test_auto_falls_back_to_epoll, h_teardown);
			tests[n++] = (struct CMUnitTest)cmocka_unit_test_teardown(
			    test_explicit_io_uring_fails_with_reason, h_teardown);
		} else {
			printf("# no seccomp filter for this architecture: the fallback cases are "
			       "left out\n");
		}
	}
	return _cmocka_run_group_tests("backend", tests, n, NULL, NULL);
}
