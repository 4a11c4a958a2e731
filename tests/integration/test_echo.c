/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The echo path against the real echod, on every event backend this build
 * has (as ev_backend_name() lists them): byte-exact streams over TCP/IPv4,
 * TCP/IPv6 and a Unix socket, UDP datagrams, half-close, a thousand
 * concurrent connections, and a soak of pipelined writes of random sizes
 * with slow readers behind small receive buffers.
 */
#include <errno.h>
#include <netinet/in.h>
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

#include "ev.h"
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

static struct echod *fixture(void **state)
{
	return *state;
}

static int teardown(void **state)
{
	struct echod *e = *state;
	if (e == NULL)
		return 0;
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
	struct echod *e = fixture(state);
	echo_mib(h_connect("127.0.0.1", e->ports[PORT_TCP4]));
}

static void test_tcp6_mib(void **state)
{
	struct echod *e = fixture(state);
	echo_mib(h_connect("::1", e->ports[PORT_TCP6]));
}

static void test_unix_mib(void **state)
{
	struct echod *e = fixture(state);
	char path[512];

	snprintf(path, sizeof(path), "%s/echod.sock", e->dir);
	echo_mib(h_connect_unix(path));
}

static void test_udp_datagrams(void **state)
{
	struct echod *e = fixture(state);
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
	struct echod *e = fixture(state);
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
	struct echod *e = fixture(state);
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

/* One client stream of the soak. */
struct soak {
	int fd;
	int slow;   /* reads a little at a time, behind a small SO_RCVBUF */
	char *data; /* what it sends, and so what must come back */
	size_t sent;
	size_t got;
	size_t write_left; /* of the current write size */
	uint32_t rng;
};

static uint32_t soak_rand(struct soak *k)
{
	k->rng = k->rng * 1103515245u + 12345u;
	return k->rng >> 8;
}

/* A TCP connection to 127.0.0.1:port with SO_RCVBUF set before connect,
 * so that the window stays small. */
static int connect_small_rcvbuf(int port, int rcvbuf)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

/*
 * Six connections at once, each writing 2 MiB in writes of random sizes from
 * 1 B to 64 KiB without waiting for the echo (pipelined), and reading
 * concurrently; two of them read at most 1000 bytes at a time behind a
 * 4 KiB SO_RCVBUF, so echod's sends to them come up short and its queue and
 * backpressure work.  Every byte comes back, in order.
 */
static void test_soak_random_sizes(void **state)
{
	struct echod *e = fixture(state);
	enum { N = 6 };
	const size_t total = 2u << 20;
	struct soak k[N];
	struct pollfd pfd[N];
	char *in = malloc(65536);
	uint64_t deadline = h_now_ms() + 30000;
	size_t done = 0;

	assert_non_null(in);
	for (int i = 0; i < N; i++) {
		memset(&k[i], 0, sizeof(k[i]));
		k[i].slow = i % 3 == 2;
		k[i].fd = k[i].slow ? connect_small_rcvbuf(e->ports[PORT_TCP4], 4096)
		                    : h_connect("127.0.0.1", e->ports[PORT_TCP4]);
		assert_true(k[i].fd >= 0);
		assert_non_null(k[i].data = malloc(total));
		h_fill_random(k[i].data, total, 1000u + (uint32_t)i);
		k[i].rng = 77u + (uint32_t)i;
	}
	while (done < N && h_now_ms() < deadline) {
		for (int i = 0; i < N; i++) {
			pfd[i].fd = k[i].got < total ? k[i].fd : -1;
			pfd[i].events = (short)(POLLIN | (k[i].sent < total ? POLLOUT : 0));
			pfd[i].revents = 0;
		}
		assert_true(poll(pfd, N, 1000) >= 0);
		for (int i = 0; i < N; i++) {
			struct soak *s = &k[i];
			if (pfd[i].revents & POLLOUT) {
				if (s->write_left == 0)
					s->write_left = 1 + soak_rand(s) % 65536;
				size_t n = total - s->sent < s->write_left ? total - s->sent
				                                           : s->write_left;
				ssize_t w =
				    send(s->fd, s->data + s->sent, n, MSG_DONTWAIT | MSG_NOSIGNAL);
				if (w > 0) {
					s->sent += (size_t)w;
					s->write_left -= (size_t)w;
				} else {
					assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
				}
			}
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				size_t want = s->slow ? 1000 : 65536;
				ssize_t r = recv(s->fd, in, want, MSG_DONTWAIT);
				if (r > 0) {
					assert_true(s->got + (size_t)r <= s->sent);
					assert_memory_equal(in, s->data + s->got, (size_t)r);
					s->got += (size_t)r;
					if (s->got == total)
						done++;
				} else {
					/* EOF or an error before the whole echo is one. */
					assert_int_equal(r, -1);
					assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
				}
			}
		}
	}
	for (int i = 0; i < N; i++) {
		if (k[i].got != total)
			print_message("# connection %d: sent %zu, got %zu of %zu\n", i, k[i].sent,
			              k[i].got, total);
		assert_int_equal(k[i].got, total);
		close(k[i].fd);
		free(k[i].data);
	}
	free(in);
}

/*
 * Clients that sent large messages and went quiet must not keep another
 * from being served.  On io_uring a connection that received a lot receives
 * in turn afterwards, while the buffer pool has room (conn_uring.c), and
 * one whose client went quiet keeps its receive armed without holding any
 * buffer: a version that counted those against the room, and slept while
 * connections waited for their turn, never read the later messages of
 * most of these clients.  Each first sends more than max_pending (1 MiB),
 * which ends its first receive and makes its next one such a turn.
 */
static void test_quiet_bulk_clients(void **state)
{
	enum { N = 48, FIRST = MIB + 65536, LATER = 65536 };
	struct echod *e = fixture(state);
	char *buf = malloc(FIRST);
	int fds[N];

	assert_non_null(buf);
	for (int i = 0; i < N; i++) {
		fds[i] = h_connect("127.0.0.1", e->ports[PORT_TCP4]);
		assert_true(fds[i] >= 0);
		h_fill_random(buf, FIRST, (uint32_t)i + 1);
		assert_true(h_echo_check(fds[i], buf, FIRST, 10000));
	}
	/* All quiet; now every one speaks again, the last first. */
	for (int i = N - 1; i >= 0; i--) {
		h_fill_random(buf, LATER, (uint32_t)i + 1000);
		assert_true(h_echo_check(fds[i], buf, LATER, 5000));
	}
	for (int i = 0; i < N; i++)
		close(fds[i]);
	free(buf);
}

/* The cases, each run once per backend. */
static const struct {
	const char *name;
	CMUnitTestFunction fn;
} cases[] = {
    {"test_tcp4_mib", test_tcp4_mib},
    {"test_tcp6_mib", test_tcp6_mib},
    {"test_unix_mib", test_unix_mib},
    {"test_udp_datagrams", test_udp_datagrams},
    {"test_half_close", test_half_close},
    {"test_thousand_connections", test_thousand_connections},
    {"test_soak_random_sizes", test_soak_random_sizes},
    {"test_quiet_bulk_clients", test_quiet_bulk_clients},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* One row per case and backend that this build has: a backend added to
 * ev.c is tested here with no change. */
int main(void)
{
	struct CMUnitTest *tests;
	char(*names)[96];
	size_t nb = 0, n = 0;
	int rc;

	while (ev_backend_name(nb) != NULL)
		nb++;
	tests = calloc(nb * NCASES, sizeof(*tests));
	names = calloc(nb * NCASES, sizeof(*names));
	if (tests == NULL || names == NULL)
		return 1;
	for (size_t b = 0; b < nb; b++) {
		/* A backend that cannot start in this process (io_uring under a
		 * seccomp filter) would not in echod's workers either: its
		 * cases are left out with a note (a skip counts as a failure
		 * under automake's TAP driver). */
		struct ev_loop *probe = ev_loop_new(ev_backend_name(b));
		if (probe == NULL) {
			printf("# %s cannot start here (%s): its cases are left out\n",
			       ev_backend_name(b), ev_last_error());
			continue;
		}
		ev_loop_free(probe);
		for (size_t c = 0; c < NCASES; c++, n++) {
			snprintf(names[n], sizeof(names[n]), "%s: %s", ev_backend_name(b),
			         cases[c].name);
			tests[n].name = names[n];
			tests[n].test_func = cases[c].fn;
			tests[n].setup_func = setup;
			tests[n].teardown_func = teardown;
			/* setup() only reads it. */
			tests[n].initial_state = (void *)(uintptr_t)ev_backend_name(b);
		}
	}
	rc = _cmocka_run_group_tests("echo", tests, n, NULL, NULL);
	free(names);
	free(tests);
	return rc;
}
