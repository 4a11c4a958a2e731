/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The echo path against the real echod, on every event backend: byte-exact
 * streams over TCP/IPv4, TCP/IPv6 and a Unix socket, UDP datagrams,
 * half-close, and a thousand concurrent connections.
 */
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

#define MIB (1024 * 1024)

#define CONFIG_FMT                                                                                 \
	"workers = 1;\n"                                                                           \
	"backend = \"%s\";\n"                                                                      \
	"listen = (\n"                                                                             \
	"  { address = \"127.0.0.1\"; port = 0; },\n"                                              \
	"  { address = \"::1\"; port = 0; },\n"                                                    \
	"  { address = \"127.0.0.1\"; port = 0; protocol = \"udp\"; },\n"                          \
	"  { path = \"@DIR@/echod.sock\"; }\n"                                                     \
	");\n"

enum { PORT_TCP4, PORT_TCP6, PORT_UDP };

static int setup(void **state)
{
	char config[1024];
	const char *backend = *state;

	snprintf(config, sizeof(config), CONFIG_FMT, backend);
	struct echod *e = h_echod_start(config, NULL);
	assert_int_equal(e->nports, 3);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct echod *e = *state;
	/* A clean stop is part of every test. */
	int status = h_echod_signal_wait(e, SIGTERM, 15000);
	h_echod_free(e);
	assert_int_equal(status, 0);
	return 0;
}

static void echo_mib(int fd)
{
	char *buf = malloc(MIB);

	assert_non_null(buf);
	h_fill_random(buf, MIB, (uint32_t)fd * 7919u);
	assert_true(fd >= 0);
	assert_true(h_echo_check(fd, buf, MIB, 10000));
	free(buf);
	close(fd);
}

static void test_tcp4_mib(void **state)
{
	struct echod *e = *state;
	echo_mib(h_connect("127.0.0.1", e->ports[PORT_TCP4]));
}

static void test_tcp6_mib(void **state)
{
	struct echod *e = *state;
	echo_mib(h_connect("::1", e->ports[PORT_TCP6]));
}

static void test_unix_mib(void **state)
{
	struct echod *e = *state;
	char path[512];

	snprintf(path, sizeof(path), "%s/echod.sock", e->dir);
	echo_mib(h_connect_unix(path));
}

static void test_udp_datagrams(void **state)
{
	struct echod *e = *state;
	int fd = h_udp("127.0.0.1", e->ports[PORT_UDP]);
	char out[1400], in[1500];

	for (size_t size = 1; size <= sizeof(out); size += size < 64 ? 1 : 61) {
		h_fill_random(out, size, (uint32_t)size);
		assert_int_equal(send(fd, out, size, 0), (ssize_t)size);
		/* Loopback UDP is not lossy at this rate; a lost echo would show
		 * here as a short read. */
		ssize_t n = (ssize_t)h_recv_exact(fd, in, size, 2000);
		assert_int_equal(n, (ssize_t)size);
		assert_memory_equal(in, out, size);
	}
	/* The largest size of the issue, exactly. */
	h_fill_random(out, sizeof(out), 1400);
	assert_int_equal(send(fd, out, sizeof(out), 0), (ssize_t)sizeof(out));
	assert_int_equal(recv(fd, in, sizeof(in), 0), (ssize_t)sizeof(out));
	assert_memory_equal(in, out, sizeof(out));
	close(fd);
}

/* After the client's FIN, the rest of the echo arrives, then EOF. */
static void test_half_close(void **state)
{
	struct echod *e = *state;
	size_t len = 256 * 1024;
	char *out = malloc(len), *in = malloc(len);
	int fd = h_connect("127.0.0.1", e->ports[PORT_TCP4]);

	assert_true(fd >= 0);
	assert_non_null(out);
	assert_non_null(in);
	h_fill_random(out, len, 42);
	/* 256 KiB fit in the socket buffers on both sides, so the whole
	 * message is sent before a byte is read back. */
	int big = 1 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	h_send_all(fd, out, len);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	assert_int_equal(h_recv_exact(fd, in, len, 10000), len);
	assert_memory_equal(in, out, len);
	assert_int_equal(h_wait_eof(fd, 5000), 1);
	close(fd);
	free(out);
	free(in);
}

static void test_thousand_connections(void **state)
{
	struct echod *e = *state;
	enum { N = 1000 };
	static int fds[N];
	char msg[32], in[32];

	h_raise_nofile(N + 64);
	for (int i = 0; i < N; i++) {
		fds[i] = h_connect("127.0.0.1", e->ports[PORT_TCP4]);
		assert_true(fds[i] >= 0);
	}
	/* Every connection is open at once; each gets its own echo. */
	for (int i = 0; i < N; i++) {
		int n = snprintf(msg, sizeof(msg), "connection %d", i);
		h_send_all(fds[i], msg, (size_t)n);
	}
	for (int i = 0; i < N; i++) {
		int n = snprintf(msg, sizeof(msg), "connection %d", i);
		assert_int_equal(h_recv_exact(fds[i], in, (size_t)n, 5000), (size_t)n);
		assert_memory_equal(in, msg, (size_t)n);
	}
	for (int i = 0; i < N; i++)
		close(fds[i]);
}

#define PER_BACKEND(fn)                                                                            \
	cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, "epoll"),                    \
	    cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, "poll"),                 \
	    cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, "select")

int main(void)
{
	const struct CMUnitTest tests[] = {
	    PER_BACKEND(test_tcp4_mib),   PER_BACKEND(test_tcp6_mib),
	    PER_BACKEND(test_unix_mib),   PER_BACKEND(test_udp_datagrams),
	    PER_BACKEND(test_half_close), PER_BACKEND(test_thousand_connections),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
