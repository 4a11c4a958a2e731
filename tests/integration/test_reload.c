/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Zero-loss reload and graceful stop, under load, against the real echod:
 * clients connect, send, verify and close continuously while the master is
 * reloaded with a different worker count each time, and connections with
 * data in flight see all of it echoed, then EOF, when the master stops.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

/* What the load threads saw.  They never call cmocka (its asserts are not
 * thread-safe); the test thread checks these once they have stopped. */
struct load {
	int port;
	atomic_int stop;
	atomic_long connect_failures;
	atomic_long resets;
	atomic_long wrong_bytes;
	atomic_long early_eof;     /* short-lived: EOF before the whole echo */
	atomic_long short_done;    /* short-lived exchanges verified */
	atomic_long long_done;     /* long-lived messages verified */
	atomic_long long_reopened; /* long-lived connections closed by a retiring worker */
	atomic_long long_cut;      /* ...closed just as a message was sent */
};

static void set_timeout(int fd, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Send len bytes and read the echo back; returns 0, or the failure kind:
 * 1 reset/error, 2 EOF before the end, 3 wrong bytes. */
static int exchange(int fd, const char *out, char *in, size_t len)
{
	size_t sent = 0, got = 0;

	while (sent < len) {
		ssize_t n = send(fd, out + sent, len - sent, MSG_NOSIGNAL);
		if (n <= 0)
			return errno == EPIPE ? 2 : 1;
		sent += (size_t)n;
		/* Read as we go so neither side's buffers fill up. */
		while (got < sent) {
			ssize_t r = recv(fd, in + got, sent - got, MSG_DONTWAIT);
			if (r > 0) {
				got += (size_t)r;
				continue;
			}
			if (r == 0)
				return 2;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return 1;
			break;
		}
	}
	while (got < len) {
		ssize_t r = recv(fd, in + got, len - got, 0);
		if (r == 0)
			return 2;
		if (r < 0)
			return 1;
		got += (size_t)r;
	}
	return memcmp(in, out, len) == 0 ? 0 : 3;
}

static void count_failure(struct load *l, int kind)
{
	if (kind == 1)
		atomic_fetch_add(&l->resets, 1);
	else if (kind == 2)
		atomic_fetch_add(&l->early_eof, 1);
	else if (kind == 3)
		atomic_fetch_add(&l->wrong_bytes, 1);
}

static void *short_lived(void *arg)
{
	struct load *l = arg;
	static _Thread_local char out[16384], in[16384];
	uint32_t seed = (uint32_t)(uintptr_t)&seed;

	while (!atomic_load(&l->stop)) {
		size_t len = 1 + (seed = seed * 1103515245u + 12345u) % sizeof(out);
		h_fill_random(out, len, seed);
		int fd = h_connect("127.0.0.1", l->port);
		if (fd == -1) {
			atomic_fetch_add(&l->connect_failures, 1);
			continue;
		}
		set_timeout(fd, 5000);
		int kind = exchange(fd, out, in, len);
		if (kind == 0)
			atomic_fetch_add(&l->short_done, 1);
		else
			count_failure(l, kind);
		close(fd);
	}
	return NULL;
}

/* Four connections that each send a message every 100 ms and reconnect when
 * a retiring worker half-closes them between messages. */
static void *long_lived(void *arg)
{
	struct load *l = arg;
	enum { N = 4, LEN = 200 };
	int fds[N];
	char out[LEN], in[LEN];

	for (int i = 0; i < N; i++)
		fds[i] = -1;
	for (uint32_t round = 1; !atomic_load(&l->stop); round++) {
		for (int i = 0; i < N; i++) {
			if (fds[i] != -1) {
				/* The server's FIN between two messages: reconnect. */
				struct pollfd pfd = {.fd = fds[i], .events = POLLIN};
				if (poll(&pfd, 1, 0) == 1 &&
				    recv(fds[i], in, 1, MSG_DONTWAIT) == 0) {
					close(fds[i]);
					fds[i] = -1;
					atomic_fetch_add(&l->long_reopened, 1);
				}
			}
			if (fds[i] == -1) {
				fds[i] = h_connect("127.0.0.1", l->port);
				if (fds[i] == -1) {
					atomic_fetch_add(&l->connect_failures, 1);
					continue;
				}
				set_timeout(fds[i], 5000);
			}
			h_fill_random(out, LEN, round * N + (uint32_t)i);
			int kind = exchange(fds[i], out, in, LEN);
			if (kind == 0) {
				atomic_fetch_add(&l->long_done, 1);
				continue;
			}
			/* EOF right as a message went out is the one race TCP
			 * cannot close (our send crossed the server's FIN); it
			 * is counted, not failed.  Resets and wrong bytes fail. */
			if (kind == 2)
				atomic_fetch_add(&l->long_cut, 1);
			else
				count_failure(l, kind);
			close(fds[i]);
			fds[i] = -1;
		}
		struct timespec pace = {0, 100 * 1000000L};
		nanosleep(&pace, NULL); /* the load's rhythm, not a synchronisation */
	}
	for (int i = 0; i < N; i++)
		if (fds[i] != -1)
			close(fds[i]);
	return NULL;
}

#define CONFIG_FMT                                                                                 \
	"workers = %d;\n"                                                                          \
	"shutdown_timeout = 2;\n"                                                                  \
	"listen = ( { address = \"127.0.0.1\"; port = %d; } );\n"

static void write_workers(struct echod *e, int workers, int port)
{
	char config[256];
	snprintf(config, sizeof(config), CONFIG_FMT, workers, port);
	h_echod_rewrite(e, config);
}

static void run_for(int ms)
{
	uint64_t end = h_now_ms() + (uint64_t)ms;
	while (h_now_ms() < end)
		poll(NULL, 0, 20);
}

static void test_reload_under_load(void **state)
{
	(void)state;
	char config[256];
	snprintf(config, sizeof(config), CONFIG_FMT, 2, 0);
	struct echod *e = h_echod_start(config, NULL);
	struct load l = {.port = e->ports[0]};
	pthread_t shorts[4], longs;

	/* Keep the port across reloads: the listener must be the same. */
	write_workers(e, 2, l.port);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&shorts[i], NULL, short_lived, &l), 0);
	assert_int_equal(pthread_create(&longs, NULL, long_lived, &l), 0);
	run_for(300);

	const int counts[] = {4, 1, 2};
	for (int i = 0; i < 3; i++) {
		char needle[64];
		write_workers(e, counts[i], l.port);
		assert_int_equal(kill(e->pid, SIGHUP), 0);
		snprintf(needle, sizeof(needle), "reload: generation %d serves", i + 2);
		assert_true(h_log_wait(e, needle, 1, 10000));
		assert_true(h_wait_children(e, counts[i], 10000));
		run_for(300);
	}
	atomic_store(&l.stop, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(shorts[i], NULL);
	pthread_join(longs, NULL);

	print_message("# %ld short-lived exchanges, %ld long-lived messages; "
	              "%ld long-lived reconnects, %ld cut as they sent\n",
	              atomic_load(&l.short_done), atomic_load(&l.long_done),
	              atomic_load(&l.long_reopened), atomic_load(&l.long_cut));
	assert_int_equal(atomic_load(&l.connect_failures), 0);
	assert_int_equal(atomic_load(&l.resets), 0);
	assert_int_equal(atomic_load(&l.wrong_bytes), 0);
	assert_int_equal(atomic_load(&l.early_eof), 0);
	assert_true(atomic_load(&l.short_done) > 100);
	assert_true(atomic_load(&l.long_done) > 20);

	int status = h_echod_signal_wait(e, SIGTERM, 15000);
	h_echod_free(e);
	assert_int_equal(status, 0);
}

/*
 * TERM while 20 connections have data in flight: each receives exactly what
 * it sent, then EOF, and the master exits 0 in time.
 */
static void test_graceful_stop_under_load(void **state)
{
	(void)state;
	enum { N = 20, LEN = 512 * 1024 };
	struct echod *e = h_echod_start("workers = 2;\nshutdown_timeout = 5;\n"
	                                "listen = ( { address = \"127.0.0.1\"; port = 0; } );\n",
	                                NULL);
	static char out[N][LEN], in[N][LEN];
	int fds[N];
	size_t sent[N] = {0}, got[N] = {0};
	int eof[N] = {0};
	uint64_t term_at = 0;

	for (int i = 0; i < N; i++) {
		h_fill_random(out[i], LEN, (uint32_t)i + 1);
		fds[i] = h_connect("127.0.0.1", e->ports[0]);
		assert_true(fds[i] >= 0);
		fcntl(fds[i], F_SETFL, O_NONBLOCK);
	}
	uint64_t end = h_now_ms() + 20000;
	int open_count = N;
	while (open_count > 0 && h_now_ms() < end) {
		struct pollfd pfd[N];
		for (int i = 0; i < N; i++) {
			pfd[i].fd = eof[i] ? -1 : fds[i];
			pfd[i].events = POLLIN | (sent[i] < LEN ? POLLOUT : 0);
		}
		poll(pfd, N, 100);
		int all_started = 1;
		for (int i = 0; i < N; i++) {
			if (pfd[i].revents & POLLOUT) {
				ssize_t n =
				    send(fds[i], out[i] + sent[i], LEN - sent[i], MSG_NOSIGNAL);
				if (n > 0)
					sent[i] += (size_t)n;
			}
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t n = recv(fds[i], in[i] + got[i], LEN - got[i] + 1, 0);
				if (n == 0) {
					eof[i] = 1;
					open_count--;
				} else if (n < 0 && errno != EAGAIN) {
					fail_msg("connection %d: %s after %zu bytes", i,
					         strerror(errno), got[i]);
				} else if (n > 0) {
					got[i] += (size_t)n;
				}
			}
			all_started &= sent[i] >= LEN / 4;
		}
		/* Stop while every connection is mid-transfer. */
		if (term_at == 0 && all_started) {
			term_at = h_now_ms();
			assert_int_equal(kill(e->pid, SIGTERM), 0);
		}
	}
	assert_true(term_at != 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(eof[i], 1);
		assert_int_equal(sent[i], LEN);
		assert_int_equal(got[i], LEN);
		assert_memory_equal(in[i], out[i], LEN);
		close(fds[i]);
	}
	int status = h_echod_signal_wait(e, 0, 10000);
	uint64_t took = h_now_ms() - term_at;
	print_message("# stopped %llu ms after TERM\n", (unsigned long long)took);
	assert_int_equal(status, 0);
	assert_true(took < 5000 + 3000);
	h_echod_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_reload_under_load, h_teardown),
	    cmocka_unit_test_teardown(test_graceful_stop_under_load, h_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
