/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the per-source table (srclimit.c): each limit, IPv6 prefix
 * aggregation, a bounded table under many sources, tickets that outlive
 * their entry, counts shared with forked processes, and a process killed
 * while it may hold a lock.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "srclimit.h"

static struct cidr_addr addr(const char *s)
{
	struct cidr c;
	const char *why = NULL;

	if (cidr_parse(s, &c, &why) == -1)
		fail_msg("%s: %s", s, why);
	struct cidr_addr a = {.family = (uint8_t)c.family};
	memcpy(a.b, c.addr, sizeof(a.b));
	return a;
}

static struct limits_conf conf(int conns, int rate, int burst, int udp)
{
	struct limits_conf l = {.per_source_connections = conns,
	                        .per_source_rate = rate,
	                        .per_source_burst = burst,
	                        .udp_per_source_rate = udp,
	                        .source_prefix_v6 = 64};
	return l;
}

static enum srclimit_verdict connect_from(struct srclimit *t, const struct limits_conf *l,
                                          const char *src, uint64_t now, uint64_t *ticket)
{
	struct cidr_addr a = addr(src);

	return srclimit_connect(t, l, &a, now, ticket);
}

static void test_size(void **state)
{
	(void)state;
	assert_int_equal(srclimit_size_for(1, 1), SRCLIMIT_MIN_ENTRIES);
	assert_int_equal(srclimit_size_for(2, 10000), 131072);
	assert_int_equal(srclimit_size_for(1024, 10000000), SRCLIMIT_MAX_ENTRIES);
	assert_null(srclimit_new(1000)); /* not a power of two */
	assert_null(srclimit_new(4));    /* less than a slot */
}

static void test_connections(void **state)
{
	struct srclimit *t = srclimit_new(4096);
	struct limits_conf l = conf(3, 0, 0, 0);
	uint64_t tk[4];
	struct cidr_addr a = addr("192.0.2.1");
	(void)state;

	assert_non_null(t);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(connect_from(t, &l, "192.0.2.1", 1000, &tk[i]), SRCLIMIT_OK);
		assert_true(tk[i] != 0);
	}
	assert_int_equal(srclimit_connections(t, &l, &a), 3);
	assert_int_equal(connect_from(t, &l, "192.0.2.1", 1000, &tk[3]), SRCLIMIT_CONNECTIONS);
	assert_int_equal(tk[3], 0);
	/* Another source is not held back. */
	assert_int_equal(connect_from(t, &l, "192.0.2.2", 1000, &tk[3]), SRCLIMIT_OK);
	srclimit_close(t, tk[3]);
	/* One closes: one more may come. */
	srclimit_close(t, tk[0]);
	assert_int_equal(srclimit_connections(t, &l, &a), 2);
	assert_int_equal(connect_from(t, &l, "192.0.2.1", 1000, &tk[0]), SRCLIMIT_OK);
	for (int i = 0; i < 3; i++)
		srclimit_close(t, tk[i]);
	assert_int_equal(srclimit_connections(t, &l, &a), 0);
	/* A ticket of 0 and a wild one are ignored. */
	srclimit_close(t, 0);
	srclimit_close(t, 0xffffffffffffffffull);
	srclimit_free(t);
}

/* A handover: the old worker counts a connection off, the new one counts
 * it on again even at the limit (it is open), and closes it later. */
static void test_adopt(void **state)
{
	struct srclimit *t = srclimit_new(4096);
	struct limits_conf l = conf(2, 1, 1, 0);
	struct limits_conf off = conf(0, 1, 1, 0);
	struct cidr_addr a = addr("192.0.2.1");
	uint64_t tk[3];
	(void)state;

	assert_non_null(t);
	assert_int_equal(connect_from(t, &l, "192.0.2.1", 1000, &tk[0]), SRCLIMIT_OK);
	assert_int_equal(srclimit_adopt(t, &l, &a, 1000, &tk[1]), SRCLIMIT_OK);
	assert_int_equal(srclimit_adopt(t, &l, &a, 1000, &tk[2]), SRCLIMIT_OK);
	assert_true(tk[1] != 0 && tk[2] != 0);
	/* Over the limit, and the rate spent: neither refuses an adoption. */
	assert_int_equal(srclimit_connections(t, &l, &a), 3);
	srclimit_close(t, tk[0]);
	srclimit_close(t, tk[1]);
	assert_int_equal(connect_from(t, &l, "192.0.2.1", 1000, &tk[0]), SRCLIMIT_RATE);
	assert_int_equal(connect_from(t, &l, "192.0.2.1", 3000, &tk[0]), SRCLIMIT_OK);
	assert_int_equal(connect_from(t, &l, "192.0.2.1", 5000, &tk[1]), SRCLIMIT_CONNECTIONS);
	srclimit_close(t, tk[0]);
	srclimit_close(t, tk[2]);
	assert_int_equal(srclimit_connections(t, &l, &a), 0);
	/* Without a connection limit nothing is counted. */
	assert_int_equal(srclimit_adopt(t, &off, &a, 1000, &tk[0]), SRCLIMIT_OK);
	assert_int_equal(tk[0], 0);
	srclimit_free(t);
}

static void test_rate(void **state)
{
	struct srclimit *t = srclimit_new(4096);
	struct limits_conf l = conf(0, 10, 5, 0);
	uint64_t tk;
	int ok = 0;
	(void)state;

	assert_non_null(t);
	/* The burst at once, then nothing... */
	for (int i = 0; i < 20; i++)
		ok += connect_from(t, &l, "192.0.2.1", 5000, &tk) == SRCLIMIT_OK;
	assert_int_equal(ok, 5);
	assert_int_equal(connect_from(t, &l, "192.0.2.1", 5000, &tk), SRCLIMIT_RATE);
	/* ... then one per 100 ms at 10 per second. */
	assert_int_equal(connect_from(t, &l, "192.0.2.1", 5099, &tk), SRCLIMIT_RATE);
	assert_int_equal(connect_from(t, &l, "192.0.2.1", 5100, &tk), SRCLIMIT_OK);
	assert_int_equal(connect_from(t, &l, "192.0.2.1", 5100, &tk), SRCLIMIT_RATE);
	/* Without connections counted, there is no ticket. */
	assert_int_equal(tk, 0);
	/* A long pause fills the bucket to the burst, no more. */
	ok = 0;
	for (int i = 0; i < 20; i++)
		ok += connect_from(t, &l, "192.0.2.1", 100000, &tk) == SRCLIMIT_OK;
	assert_int_equal(ok, 5);
	/* Burst 0: one second's worth. */
	l = conf(0, 3, 0, 0);
	ok = 0;
	for (int i = 0; i < 20; i++)
		ok += connect_from(t, &l, "198.51.100.1", 1000, &tk) == SRCLIMIT_OK;
	assert_int_equal(ok, 3);
	/* A clock a little behind (another worker's) takes nothing back. */
	assert_int_equal(connect_from(t, &l, "198.51.100.1", 900, &tk), SRCLIMIT_RATE);
	srclimit_free(t);
}

static void test_datagrams(void **state)
{
	struct srclimit *t = srclimit_new(4096);
	struct limits_conf l = conf(0, 0, 0, 100);
	struct cidr_addr a = addr("192.0.2.1"), b = addr("192.0.2.2");
	int ok = 0;
	(void)state;

	assert_non_null(t);
	for (int i = 0; i < 1000; i++)
		ok += srclimit_datagram(t, &l, &a, 1000) == SRCLIMIT_OK;
	assert_int_equal(ok, 100);
	assert_int_equal(srclimit_datagram(t, &l, &b, 1000), SRCLIMIT_OK);
	/* 100 per second: one per 10 ms. */
	assert_int_equal(srclimit_datagram(t, &l, &a, 1010), SRCLIMIT_OK);
	assert_int_equal(srclimit_datagram(t, &l, &a, 1010), SRCLIMIT_RATE);
	srclimit_free(t);
}

/* IPv6 sources count per source_prefix_v6. */
static void test_prefix_v6(void **state)
{
	struct srclimit *t = srclimit_new(4096);
	struct limits_conf l = conf(2, 0, 0, 0);
	uint64_t tk;
	(void)state;

	assert_non_null(t);
	assert_int_equal(connect_from(t, &l, "2001:db8:0:1::1", 0, &tk), SRCLIMIT_OK);
	assert_int_equal(connect_from(t, &l, "2001:db8:0:1:ffff::2", 0, &tk), SRCLIMIT_OK);
	assert_int_equal(connect_from(t, &l, "2001:db8:0:1::3", 0, &tk), SRCLIMIT_CONNECTIONS);
	assert_int_equal(connect_from(t, &l, "2001:db8:0:2::1", 0, &tk), SRCLIMIT_OK);
	l.source_prefix_v6 = 128;
	assert_int_equal(connect_from(t, &l, "2001:db8:0:1::3", 0, &tk), SRCLIMIT_OK);
	/* IPv4 sources are whole addresses, whatever the prefix. */
	assert_int_equal(connect_from(t, &l, "192.0.2.1", 0, &tk), SRCLIMIT_OK);
	assert_int_equal(connect_from(t, &l, "192.0.2.1", 0, &tk), SRCLIMIT_OK);
	assert_int_equal(connect_from(t, &l, "192.0.2.1", 0, &tk), SRCLIMIT_CONNECTIONS);
	assert_int_equal(connect_from(t, &l, "192.0.2.2", 0, &tk), SRCLIMIT_OK);
	srclimit_free(t);
}

/* One slot of eight: a new source takes a free entry, else the least
 * recently seen idle one, else it is not tracked. */
static void test_bounded(void **state)
{
	struct srclimit *t = srclimit_new(SRCLIMIT_WAYS);
	struct limits_conf l = conf(1, 0, 0, 1);
	uint64_t tk[SRCLIMIT_WAYS + 1];
	char src[32];
	(void)state;

	assert_non_null(t);
	assert_int_equal(srclimit_entries(t), SRCLIMIT_WAYS);
	for (int i = 0; i < SRCLIMIT_WAYS; i++) {
		snprintf(src, sizeof(src), "192.0.2.%d", i + 1);
		assert_int_equal(connect_from(t, &l, src, (uint64_t)i, &tk[i]), SRCLIMIT_OK);
	}
	/* Every entry holds a connection: no room, let in uncounted. */
	assert_int_equal(connect_from(t, &l, "198.51.100.1", 100, &tk[SRCLIMIT_WAYS]),
	                 SRCLIMIT_FULL);
	assert_int_equal(tk[SRCLIMIT_WAYS], 0);
	struct cidr_addr d = addr("198.51.100.2");
	assert_int_equal(srclimit_datagram(t, &l, &d, 100), SRCLIMIT_FULL);
	/* One closes: its entry is taken. */
	srclimit_close(t, tk[3]);
	assert_int_equal(connect_from(t, &l, "198.51.100.1", 200, &tk[3]), SRCLIMIT_OK);
	/* Its old owner comes back to a table without room. */
	assert_int_equal(connect_from(t, &l, "192.0.2.4", 300, &tk[SRCLIMIT_WAYS]), SRCLIMIT_FULL);
	srclimit_free(t);

	/* A flood of forged sources in a small table: the sources with
	 * connections keep their entries, and a source that keeps sending
	 * keeps its entry too (evicted, it would get a fresh burst: here, at
	 * one instant, exactly the burst gets through).  It sends once every
	 * 16 forged datagrams: an entry is evicted when 8 newer sources come
	 * to its slot (one of 64) in between.  Sending once every 64 (one a
	 * slot on average), it was evicted in 2 runs of 300 (CI: 20 != 10);
	 * eight in a quarter of the time is rarer by about 4^8. */
	t = srclimit_new(SRCLIMIT_WAYS * 64);
	assert_non_null(t);
	l = conf(2, 0, 0, 10);
	uint64_t keep[2];
	assert_int_equal(connect_from(t, &l, "203.0.113.1", 0, &keep[0]), SRCLIMIT_OK);
	assert_int_equal(connect_from(t, &l, "203.0.113.1", 0, &keep[1]), SRCLIMIT_OK);
	struct cidr_addr loud = addr("203.0.113.9");
	int loud_ok = 0;
	for (uint32_t i = 0; i < 200000; i++) {
		struct cidr_addr a = {.family = AF_INET};
		a.b[0] = 10;
		a.b[1] = (uint8_t)(i >> 16);
		a.b[2] = (uint8_t)(i >> 8);
		a.b[3] = (uint8_t)i;
		srclimit_datagram(t, &l, &a, 1000);
		if (i % 16 == 0)
			loud_ok += srclimit_datagram(t, &l, &loud, 1000) == SRCLIMIT_OK;
	}
	assert_int_equal(loud_ok, 10);
	struct cidr_addr kept = addr("203.0.113.1");
	assert_int_equal(srclimit_connections(t, &l, &kept), 2);
	assert_int_equal(connect_from(t, &l, "203.0.113.1", 0, &tk[0]), SRCLIMIT_CONNECTIONS);
	srclimit_free(t);
}

/* After a reset, the tickets of before count nothing off. */
static void test_forget(void **state)
{
	struct srclimit *t = srclimit_new(4096);
	struct limits_conf l = conf(2, 0, 0, 0);
	struct cidr_addr a = addr("192.0.2.1");
	uint64_t old[2], tk;
	(void)state;

	assert_non_null(t);
	assert_int_equal(connect_from(t, &l, "192.0.2.1", 0, &old[0]), SRCLIMIT_OK);
	assert_int_equal(connect_from(t, &l, "192.0.2.1", 0, &old[1]), SRCLIMIT_OK);
	assert_int_equal(connect_from(t, &l, "192.0.2.1", 0, &tk), SRCLIMIT_CONNECTIONS);
	srclimit_forget_connections(t);
	assert_int_equal(srclimit_connections(t, &l, &a), 0);
	assert_int_equal(connect_from(t, &l, "192.0.2.1", 0, &tk), SRCLIMIT_OK);
	srclimit_close(t, old[0]);
	srclimit_close(t, old[1]);
	assert_int_equal(srclimit_connections(t, &l, &a), 1);
	srclimit_close(t, tk);
	assert_int_equal(srclimit_connections(t, &l, &a), 0);
	srclimit_free(t);
}

/* Forked processes share the counts: the workers of one master. */
static void test_shared(void **state)
{
	struct srclimit *t = srclimit_new(4096);
	struct limits_conf l = conf(10, 0, 0, 0);
	struct cidr_addr a = addr("192.0.2.1");
	int status;
	(void)state;

	assert_non_null(t);
	for (int c = 0; c < 2; c++) {
		pid_t pid = fork();
		assert_true(pid != -1);
		if (pid == 0) {
			uint64_t tk;
			for (int i = 0; i < 4; i++)
				if (srclimit_connect(t, &l, &a, 0, &tk) != SRCLIMIT_OK)
					_exit(1);
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(srclimit_connections(t, &l, &a), 8);
	uint64_t tk;
	assert_int_equal(srclimit_connect(t, &l, &a, 0, &tk), SRCLIMIT_OK);
	assert_int_equal(srclimit_connect(t, &l, &a, 0, &tk), SRCLIMIT_OK);
	assert_int_equal(srclimit_connect(t, &l, &a, 0, &tk), SRCLIMIT_CONNECTIONS);
	srclimit_free(t);
}

/* A process killed in the middle of its work, maybe holding a slot's lock,
 * does not stall the others (the locks are robust).  The alarm turns a
 * stall into a failure. */
static void test_killed_holder(void **state)
{
	struct srclimit *t = srclimit_new(SRCLIMIT_WAYS);
	struct limits_conf l = conf(1000000, 0, 0, 1000000);
	struct cidr_addr a = addr("192.0.2.1");
	(void)state;

	assert_non_null(t);
	for (int round = 0; round < 10; round++) {
		int p[2];
		char c;
		assert_int_equal(pipe(p), 0);
		pid_t pid = fork();
		assert_true(pid != -1);
		if (pid == 0) {
			for (int n = 0;; n++) {
				uint64_t tk;
				srclimit_connect(t, &l, &a, 0, &tk);
				srclimit_close(t, tk);
				if (n == 1000 && write(p[1], "x", 1) != 1)
					_exit(1);
			}
		}
		/* Killed in full swing, at no chosen point. */
		assert_int_equal(read(p[0], &c, 1), 1);
		kill(pid, SIGKILL);
		close(p[0]);
		close(p[1]);
		assert_int_equal(waitpid(pid, NULL, 0), pid);
		alarm(10);
		for (int i = 0; i < 1000; i++)
			srclimit_datagram(t, &l, &a, 0);
		alarm(0);
	}
	srclimit_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_size),          cmocka_unit_test(test_connections),
	    cmocka_unit_test(test_rate),          cmocka_unit_test(test_datagrams),
	    cmocka_unit_test(test_prefix_v6),     cmocka_unit_test(test_bounded),
	    cmocka_unit_test(test_forget),        cmocka_unit_test(test_shared),
	    cmocka_unit_test(test_killed_holder), cmocka_unit_test(test_adopt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
