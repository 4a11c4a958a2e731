/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the hot counters (src/stats.c): what a connection counts as
 * it echoes and closes (a conn_ctx over a socketpair, as in test_conn.c), how
 * conn_close()'s reasons map to the metric's, the pool of shared slots, and
 * folding a dead worker's slot so that no total goes down.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "conn.h"
#include "ev.h"
#include "stats.h"

#define RBUF_SIZE 4096

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Every reason conn.c and worker.c close a connection with, and the label
 * it must count under.  A new reason text that maps to "error" by accident
 * fails here. */
static void test_close_reasons(void **state)
{
	static const struct {
		const char *text;
		enum stats_close want;
	} cases[] = {
	    {"client closed", STATS_CLOSE_CLIENT}, {"idle timeout", STATS_CLOSE_IDLE},
	    {"retired", STATS_CLOSE_RETIRED},      {"retired, linger expired", STATS_CLOSE_RETIRED},
	    {"shutdown", STATS_CLOSE_SHUTDOWN},    {"read error", STATS_CLOSE_ERROR},
	    {"write error", STATS_CLOSE_ERROR},    {"event loop error", STATS_CLOSE_ERROR},
	    {"out of memory", STATS_CLOSE_ERROR},  {"", STATS_CLOSE_ERROR},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(stats_close_reason(cases[i].text), cases[i].want);
	for (size_t i = 0; i < STATS_CLOSE_COUNT; i++)
		assert_non_null(stats_close_names[i]);
}

/* Run the loop until cond(arg) or timeout_ms. */
static int run_until(struct ev_loop *loop, int (*cond)(void *), void *arg, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	while (!cond(arg) && now_ms() < end)
		ev_run_once(loop, 10);
	return cond(arg);
}

struct echo {
	struct conn_ctx ctx;
	struct stats_slot slot;
	int client;
	size_t got;
	char in[65536];
};

static int echoed_all(void *arg)
{
	struct echo *e = arg;
	ssize_t n;

	while ((n = recv(e->client, e->in + e->got, sizeof(e->in) - e->got, MSG_DONTWAIT)) > 0)
		e->got += (size_t)n;
	return e->got == sizeof(e->in);
}

static int closed(void *arg)
{
	return ((struct echo *)arg)->ctx.nconns == 0;
}

static struct echo *echo_new(uint64_t idle_ms)
{
	struct echo *e = calloc(1, sizeof(*e));
	int sv[2];

	assert_non_null(e);
	e->ctx.loop = ev_loop_new("poll");
	assert_non_null(e->ctx.loop);
	e->ctx.rbuf_size = RBUF_SIZE;
	e->ctx.rbuf = malloc(RBUF_SIZE);
	assert_non_null(e->ctx.rbuf);
	e->ctx.max_pending = 1 << 20;
	e->ctx.idle_ms = idle_ms;
	e->ctx.stats = &e->slot;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	e->client = sv[0];
	assert_non_null(conn_new(&e->ctx, sv[1]));
	return e;
}

static void echo_free(struct echo *e)
{
	while (e->ctx.conns != NULL)
		conn_close(e->ctx.conns, "test over");
	ev_loop_free(e->ctx.loop);
	free(e->ctx.rbuf);
	close(e->client);
	free(e);
}

/* The bytes are counted as they move, before the connection closes; the
 * close counts once, under its reason, with its duration. */
static void test_conn_counts_bytes_and_close(void **state)
{
	struct echo *e = echo_new(0);
	char out[65536];
	size_t sent = 0;
	(void)state;

	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (char)(i * 7);
	while (sent < sizeof(out)) {
		ssize_t n = send(e->client, out + sent, sizeof(out) - sent, MSG_DONTWAIT);
		if (n > 0)
			sent += (size_t)n;
		ev_run_once(e->ctx.loop, 10);
		echoed_all(e);
	}
	assert_true(run_until(e->ctx.loop, echoed_all, e, 5000));
	assert_memory_equal(e->in, out, sizeof(out));
	assert_int_equal(e->slot.c.bytes_in, sizeof(out));
	assert_int_equal(e->slot.c.bytes_out, sizeof(out));
	assert_int_equal(e->slot.c.closed[STATS_CLOSE_CLIENT], 0);

	shutdown(e->client, SHUT_WR);
	assert_true(run_until(e->ctx.loop, closed, e, 5000));
	assert_int_equal(e->slot.c.closed[STATS_CLOSE_CLIENT], 1);
	uint64_t n = 0;
	for (size_t b = 0; b < STATS_DURATION_BUCKETS; b++)
		n += e->slot.c.duration[b];
	assert_int_equal(n, 1);
	assert_int_equal(e->slot.c.duration[0], 1); /* well under 10 ms... */
	echo_free(e);
}

static void test_conn_idle_close(void **state)
{
	struct echo *e = echo_new(50);
	(void)state;

	assert_true(run_until(e->ctx.loop, closed, e, 5000));
	assert_int_equal(e->slot.c.closed[STATS_CLOSE_IDLE], 1);
	assert_int_equal(e->slot.c.duration[0] + e->slot.c.duration[1], 1);
	assert_true(e->slot.c.duration_sum_ms >= 50);
	echo_free(e);
}

static void test_duration_buckets(void **state)
{
	static const struct {
		uint64_t ms;
		size_t bucket;
	} cases[] = {
	    {0, 0},    {10, 0},      {11, 1},      {100, 1},        {1000, 2},
	    {1001, 3}, {3600000, 6}, {3600001, 7}, {UINT64_MAX, 7},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct stats_slot s;
		memset(&s, 0, sizeof(s));
		stats_conn_closed(&s, "client closed", cases[i].ms);
		assert_int_equal(s.c.duration[cases[i].bucket], 1);
		assert_int_equal(s.c.duration_sum_ms, cases[i].ms);
	}
}

static void test_dgrams(void **state)
{
	struct stats_slot s;
	(void)state;

	memset(&s, 0, sizeof(s));
	stats_dgrams_in(&s, 10, 1000);
	stats_dgrams_out(&s, 7, 700, 2, 1);
	assert_int_equal(s.c.dgrams_in, 10);
	assert_int_equal(s.c.bytes_in, 1000);
	assert_int_equal(s.c.dgrams_out, 7);
	assert_int_equal(s.c.bytes_out, 700);
	assert_int_equal(s.c.dropped[STATS_DROP_BUFFER], 2);
	assert_int_equal(s.c.dropped[STATS_DROP_ERROR], 1);
	/* NULL: a conn_ctx or udp_echo without counters. */
	stats_dgrams_in(NULL, 1, 1);
	stats_dgrams_out(NULL, 1, 1, 0, 0);
	stats_dropped(NULL, STATS_DROP_PROXY, 1);
	stats_dropped(&s, STATS_DROP_PROXY, 3);
	assert_int_equal(s.c.dropped[STATS_DROP_PROXY], 3);
	stats_bytes_in(NULL, 1);
	stats_conn_closed(NULL, "client closed", 1);
}

/* Slots come from memory shared across fork(): what a child counts, the
 * parent reads; folding a dead one's slot keeps every figure and counts its
 * open connections as closed by its exit; the slot is then reused, zeroed. */
static void test_pool_shared_and_folded(void **state)
{
	struct stats_pool *p = stats_pool_new();
	struct stats_counters retired, now;
	struct stats_slot *slots[70];
	(void)state;

	assert_non_null(p);
	memset(&retired, 0, sizeof(retired));
	/* More than a chunk: a second mapping is made. */
	for (size_t i = 0; i < 70; i++) {
		slots[i] = stats_slot_get(p);
		assert_non_null(slots[i]);
		for (size_t j = 0; j < i; j++)
			assert_ptr_not_equal(slots[i], slots[j]);
	}
	struct stats_slot *s = slots[69];
	pid_t pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		stats_accepted(s, 3);
		stats_accepted(s, 3);
		stats_accepted(s, STATS_MAX_LISTENERS + 5); /* "other" */
		stats_rejected(s, STATS_REJECT_MAX_CONNECTIONS);
		stats_bytes_in(s, 12345);
		stats_bytes_out(s, 12000);
		stats_conn_closed(s, "idle timeout", 20);
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
	stats_read(s, &now);
	assert_int_equal(now.accepted[3], 2);
	assert_int_equal(now.accepted[STATS_MAX_LISTENERS - 1], 1);
	assert_int_equal(now.bytes_in, 12345);
	/* 3 accepted, 1 rejected, 1 closed: one is still open. */
	assert_int_equal(stats_open(&now), 1);

	stats_slot_retire(p, s, 0, 0, &retired);
	assert_int_equal(retired.bytes_in, 12345);
	assert_int_equal(retired.bytes_out, 12000);
	assert_int_equal(retired.closed[STATS_CLOSE_IDLE], 1);
	assert_int_equal(retired.closed[STATS_CLOSE_WORKER_EXIT], 1);
	assert_int_equal(stats_open(&retired), 0);
	/* Folded twice over the same totals: they add up. */
	struct stats_slot *again = stats_slot_get(p);
	assert_ptr_equal(again, s);
	stats_read(again, &now);
	assert_int_equal(now.bytes_in, 0);
	stats_bytes_in(again, 5);
	stats_slot_retire(p, again, 0, 0, &retired);
	assert_int_equal(retired.bytes_in, 12350);
	stats_pool_free(p);
}

/* A connection handed over on a reload is open in exactly one worker and
 * closed once, where it ends (bug: counted closed{worker_exit} when its old
 * worker exited, and closed again by the worker that took it). */
static void test_handover_counts_once(void **state)
{
	struct stats_slot old = {0}, new = {0};
	struct stats_counters a, b, sum = {0};
	(void)state;

	/* The handover itself the master counts (relay.h). */
	stats_accepted(&old, 0);
	stats_read(&old, &a);
	a.handed_out++;
	stats_read(&new, &b);
	b.handed_in++;
	assert_int_equal(stats_open(&a), 0);
	assert_int_equal(stats_open(&b), 1);
	stats_conn_closed(&new, "client closed", 5);
	stats_read(&new, &b);
	b.handed_in++;
	assert_int_equal(stats_open(&b), 0);
	stats_sum(&sum, &a);
	stats_sum(&sum, &b);
	assert_int_equal(stats_open(&sum), 0);
	assert_int_equal(sum.closed[STATS_CLOSE_CLIENT], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_handover_counts_once),
	    cmocka_unit_test(test_close_reasons),
	    cmocka_unit_test(test_conn_counts_bytes_and_close),
	    cmocka_unit_test(test_conn_idle_close),
	    cmocka_unit_test(test_duration_buckets),
	    cmocka_unit_test(test_dgrams),
	    cmocka_unit_test(test_pool_shared_and_folded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
