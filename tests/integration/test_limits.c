/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Limits against the real echod: max_pending backpressure on a client that
 * never reads, idle_timeout, max_connections, and running out of file
 * descriptors without spinning.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static struct echod *start(const char *extra, const struct h_opts *opts)
{
	char config[1024];

	snprintf(config, sizeof(config),
	         "workers = 1;\n%s\n"
	         "listen = ( { address = \"127.0.0.1\"; port = 0; } );\n",
	         extra);
	struct echod *e = h_echod_start(config, opts);
	assert_int_equal(e->nports, 1);
	return e;
}

static void stop(struct echod *e)
{
	int status = h_echod_signal_wait(e, SIGTERM, 15000);
	h_echod_free(e);
	assert_int_equal(status, 0);
}

static pid_t only_worker(struct echod *e)
{
	pid_t pid;
	assert_int_equal(h_children(e->pid, &pid, 1), 1);
	return pid;
}

/*
 * A client that sends 64 MiB without reading: echod stops reading it once
 * max_pending bytes wait, so the client blocks long before 64 MiB and the
 * worker's memory stays bounded; then the client drains everything it sent,
 * byte-exact.
 */
static void test_backpressure(void **state)
{
	(void)state;
	const size_t total = 64u << 20, max_pending = 65536;
	struct echod *e = start("max_pending = 65536;", NULL);
	pid_t worker = only_worker(e);
	long rss_before = h_rss_kib(worker);
	char *out = malloc(total), *in = malloc(total);
	int fd = h_connect("127.0.0.1", e->ports[0]);

	assert_non_null(out);
	assert_non_null(in);
	assert_true(fd >= 0);
	h_fill_random(out, total, 7);
	fcntl(fd, F_SETFL, O_NONBLOCK);

	/* Send until nothing moves for 300 ms. */
	size_t sent = 0;
	uint64_t last_progress = h_now_ms();
	while (sent < total && h_now_ms() - last_progress < 300) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		ssize_t n = send(fd, out + sent, total - sent, MSG_NOSIGNAL);
		if (n > 0) {
			sent += (size_t)n;
			last_progress = h_now_ms();
		} else {
			assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
		}
	}
	/* Kernel buffers on both sides hold a few MiB at most on loopback;
	 * without backpressure all 64 MiB would have gone. */
	assert_true(sent < total / 2);
	long rss_grown = h_rss_kib(worker) - rss_before;
	print_message("# sent %zu bytes before blocking; worker RSS grew %ld KiB\n", sent,
	              rss_grown);
	assert_true(rss_grown < (long)(max_pending / 1024) + 1024);

	/* Drain: everything sent comes back, in order, and the rest follows. */
	size_t got = 0;
	uint64_t end = h_now_ms() + 30000;
	while (got < total && h_now_ms() < end) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN | (sent < total ? POLLOUT : 0)};
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if (pfd.revents & POLLIN) {
			ssize_t n = recv(fd, in + got, total - got, 0);
			assert_true(n > 0);
			got += (size_t)n;
		}
		if ((pfd.revents & POLLOUT) && sent < total) {
			ssize_t n = send(fd, out + sent, total - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
		}
	}
	assert_int_equal(got, total);
	assert_memory_equal(in, out, total);
	close(fd);
	free(out);
	free(in);
	stop(e);
}

static void test_idle_timeout(void **state)
{
	(void)state;
	struct echod *e = start("idle_timeout = 1;", NULL);
	int fd = h_connect("127.0.0.1", e->ports[0]);
	assert_true(fd >= 0);
	/* Traffic keeps it open past the timeout... */
	for (int i = 0; i < 3; i++) {
		assert_true(h_echo_check(fd, "hello", 5, 2000));
		assert_int_equal(h_wait_eof(fd, 600), 0);
	}
	/* ...silence closes it, with EOF, about a second after the last byte. */
	assert_true(h_echo_check(fd, "hello", 5, 2000));
	uint64_t t0 = h_now_ms();
	assert_int_equal(h_wait_eof(fd, 3000), 1);
	uint64_t waited = h_now_ms() - t0;
	assert_true(waited >= 900);
	close(fd);
	stop(e);
}

static void test_max_connections(void **state)
{
	(void)state;
	struct echod *e = start("max_connections = 5;", NULL);
	int fds[5];

	for (int i = 0; i < 5; i++) {
		fds[i] = h_connect("127.0.0.1", e->ports[0]);
		assert_true(fds[i] >= 0);
		assert_true(h_echo_check(fds[i], "ping", 4, 2000));
	}
	/* The sixth is accepted and closed at once. */
	int extra = h_connect("127.0.0.1", e->ports[0]);
	assert_true(extra >= 0);
	assert_int_equal(h_wait_eof(extra, 2000), 1);
	close(extra);
	/* Once one leaves, a newcomer is served. */
	close(fds[0]);
	int ok = 0;
	for (uint64_t end = h_now_ms() + 3000; !ok && h_now_ms() < end;) {
		int fd = h_connect("127.0.0.1", e->ports[0]);
		assert_true(fd >= 0);
		ok = h_echo_check(fd, "pong", 4, 500);
		close(fd);
	}
	assert_true(ok);
	for (int i = 1; i < 5; i++)
		close(fds[i]);
	stop(e);
}

/*
 * RLIMIT_NOFILE = 64 and 150 clients: the worker runs out of descriptors.
 * It must not spin on its always-readable listener (under half a CPU-second
 * per second), must keep serving the clients it holds, and must serve new
 * ones once the crowd leaves.
 */
static void test_out_of_descriptors(void **state)
{
	(void)state;
	enum { N = 150 };
	struct h_opts opts = {.nofile = 64};
	struct echod *e = start("", &opts);
	pid_t worker = only_worker(e);
	int fds[N];

	h_raise_nofile(N + 64);
	for (int i = 0; i < N; i++) {
		fds[i] = h_connect("127.0.0.1", e->ports[0]);
		assert_true(fds[i] >= 0);
		h_send_all(fds[i], "x", 1);
	}
	/* The first ones are served... */
	char c;
	assert_int_equal(h_recv_exact(fds[0], &c, 1, 2000), 1);
	assert_int_equal(h_log_wait(e, "pausing new connections", 1, 2000), 1);

	long cpu0 = h_cpu_ms(worker);
	uint64_t t0 = h_now_ms();
	/* Measure over one second of wall time: a bounded wait, not a sync. */
	while (h_now_ms() - t0 < 1000)
		poll(NULL, 0, 50);
	long cpu = h_cpu_ms(worker) - cpu0;
	print_message("# worker used %ld ms of CPU in %llu ms while out of descriptors\n", cpu,
	              (unsigned long long)(h_now_ms() - t0));
	assert_true(cpu < 500);

	for (int i = 0; i < N; i++)
		close(fds[i]);
	/* Service resumes by itself. */
	int ok = 0;
	for (uint64_t end = h_now_ms() + 5000; !ok && h_now_ms() < end;) {
		int fd = h_connect("127.0.0.1", e->ports[0]);
		assert_true(fd >= 0);
		ok = h_echo_check(fd, "back", 4, 500);
		close(fd);
	}
	assert_true(ok);
	stop(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_backpressure, h_teardown),
	    cmocka_unit_test_teardown(test_idle_timeout, h_teardown),
	    cmocka_unit_test_teardown(test_max_connections, h_teardown),
	    cmocka_unit_test_teardown(test_out_of_descriptors, h_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
