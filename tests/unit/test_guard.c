/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the UDP guard's decision (guard.c) and of the refusal
 * counters and their rate-limited log lines (refuse.c).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ev.h"
#include "guard.h"
#include "log.h"
#include "refuse.h"

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

static void add_self(struct guard *g, const char *host, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;

	memset(&ss, 0, sizeof(ss));
	if (strchr(host, ':') != NULL) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		assert_int_equal(inet_pton(AF_INET6, host, &sin6->sin6_addr), 1);
		len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		assert_int_equal(inet_pton(AF_INET, host, &sin->sin_addr), 1);
		len = sizeof(*sin);
	}
	assert_int_equal(guard_add_self(g, (struct sockaddr *)&ss, len), 0);
}

/* The verdict for a datagram from host:port that came in on ifindex,
 * addressed to dst (NULL: unknown). */
static enum refuse_reason check(const struct guard *g, const char *host, uint16_t port, int ifindex,
                                const char *dst)
{
	struct cidr_addr src = addr(host);
	struct guard_arrival in = {.ifindex = ifindex};

	if (dst != NULL)
		in.dst = addr(dst);
	return guard_check(g, &src, port, 0, &in);
}

#define LO  GUARD_LOOPBACK_IFINDEX
#define ETH 2

static void test_martians(void **state)
{
	struct guard g = {0};
	static const char *const martians[] = {
	    "0.0.0.0",         "0.1.2.3", "224.0.0.1", "239.255.255.255", "240.0.0.1",
	    "255.255.255.255", "::",      "ff02::1",   "ff0e::1",
	};
	static const char *const fine[] = {
	    "1.0.0.0", "192.0.2.1", "223.255.255.255", "10.0.0.1", "2001:db8::1", "fe80::1", "::2",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(martians) / sizeof(martians[0]); i++)
		if (check(&g, martians[i], 40000, ETH, NULL) != REFUSE_UDP_MARTIAN)
			fail_msg("%s is not a martian", martians[i]);
	for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++)
		if (check(&g, fine[i], 40000, ETH, NULL) != REFUSE_NONE)
			fail_msg("%s was dropped", fine[i]);
	/* IPv4-mapped on an IPv6 socket: spoofed. */
	struct cidr_addr src = addr("192.0.2.1");
	assert_int_equal(guard_check(&g, &src, 40000, 1, NULL), REFUSE_UDP_MARTIAN);
}

static void test_loopback(void **state)
{
	struct guard g = {0};
	(void)state;

	/* From the loopback interface: fine. */
	assert_int_equal(check(&g, "127.0.0.1", 40000, LO, NULL), REFUSE_NONE);
	assert_int_equal(check(&g, "127.255.0.9", 40000, LO, NULL), REFUSE_NONE);
	assert_int_equal(check(&g, "::1", 40000, LO, NULL), REFUSE_NONE);
	/* From anywhere else: forged. */
	assert_int_equal(check(&g, "127.0.0.1", 40000, ETH, NULL), REFUSE_UDP_LOOPBACK);
	assert_int_equal(check(&g, "127.1.2.3", 40000, ETH, NULL), REFUSE_UDP_LOOPBACK);
	assert_int_equal(check(&g, "::1", 40000, ETH, NULL), REFUSE_UDP_LOOPBACK);
	/* Interface unknown (no IP_PKTINFO): not judged. */
	assert_int_equal(check(&g, "127.0.0.1", 40000, 0, NULL), REFUSE_NONE);
	/* Not loopback addresses. */
	assert_int_equal(check(&g, "128.0.0.1", 40000, ETH, NULL), REFUSE_NONE);
	assert_int_equal(check(&g, "::1:0", 40000, ETH, NULL), REFUSE_NONE);
}

static void test_ports(void **state)
{
	struct guard g = {0};
	static const uint16_t services[] = {0, 7, 9, 13, 17, 19, 37, 53, 69, 123, 161, 1023};
	(void)state;

	for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++)
		assert_int_equal(check(&g, "192.0.2.1", services[i], ETH, NULL), REFUSE_UDP_PORT);
	assert_int_equal(check(&g, "192.0.2.1", 1024, ETH, NULL), REFUSE_NONE);
	assert_int_equal(check(&g, "2001:db8::1", 19, ETH, NULL), REFUSE_UDP_PORT);
}

static void test_self(void **state)
{
	struct guard g = {0};
	(void)state;

	add_self(&g, "127.0.0.1", 7007);
	add_self(&g, "0.0.0.0", 9000);
	add_self(&g, "::", 9000);
	add_self(&g, "2001:db8::5", 7007);

	/* A bound address: exactly that address and port. */
	assert_int_equal(check(&g, "127.0.0.1", 7007, LO, "127.0.0.1"), REFUSE_UDP_SELF);
	assert_int_equal(check(&g, "127.0.0.2", 7007, LO, "127.0.0.1"), REFUSE_NONE);
	assert_int_equal(check(&g, "127.0.0.1", 7008, LO, "127.0.0.1"), REFUSE_NONE);
	assert_int_equal(check(&g, "2001:db8::5", 7007, ETH, NULL), REFUSE_UDP_SELF);
	assert_int_equal(check(&g, "2001:db8::6", 7007, ETH, NULL), REFUSE_NONE);
	/* A wildcard: any local address with its port, that is anything from
	 * that port that came in on loopback, or that names its destination. */
	assert_int_equal(check(&g, "127.0.0.1", 9000, LO, "127.0.0.1"), REFUSE_UDP_SELF);
	assert_int_equal(check(&g, "10.0.0.5", 9000, LO, "127.0.0.1"), REFUSE_UDP_SELF);
	assert_int_equal(check(&g, "192.0.2.9", 9000, ETH, "192.0.2.9"), REFUSE_UDP_SELF);
	assert_int_equal(check(&g, "2001:db8::9", 9000, ETH, "2001:db8::9"), REFUSE_UDP_SELF);
	/* ... but another host's port 9000 is its own business. */
	assert_int_equal(check(&g, "192.0.2.9", 9000, ETH, "192.0.2.1"), REFUSE_NONE);
	assert_int_equal(check(&g, "192.0.2.9", 9000, ETH, NULL), REFUSE_NONE);
	assert_int_equal(check(&g, "2001:db8::9", 9000, ETH, "2001:db8::1"), REFUSE_NONE);
	/* The family counts: an IPv4 wildcard says nothing of IPv6. */
	guard_free(&g);
	add_self(&g, "0.0.0.0", 9000);
	assert_int_equal(check(&g, "::1", 9000, LO, "::1"), REFUSE_NONE);
	assert_int_equal(check(&g, "127.0.0.1", 9000, LO, "127.0.0.1"), REFUSE_UDP_SELF);
	guard_free(&g);

	/* No listener of another family. */
	struct sockaddr sa = {.sa_family = AF_UNIX};
	assert_int_equal(guard_add_self(&g, &sa, sizeof(sa)), -1);
}

/* The order of the reasons: the cheapest and surest first. */
static void test_precedence(void **state)
{
	struct guard g = {0};
	(void)state;

	add_self(&g, "0.0.0.0", 7);
	assert_int_equal(check(&g, "0.0.0.0", 7, ETH, NULL), REFUSE_UDP_MARTIAN);
	assert_int_equal(check(&g, "127.0.0.1", 7, ETH, NULL), REFUSE_UDP_LOOPBACK);
	assert_int_equal(check(&g, "127.0.0.1", 7, LO, "127.0.0.1"), REFUSE_UDP_PORT);
	guard_free(&g);
}

/* Counts by reason; the first event of a reason makes a line with its count
 * and source; a flood makes no more lines; the rest comes at the flush. */
static void test_refuse(void **state)
{
	char path[] = "/tmp/test_guard.XXXXXX";
	struct ev_loop *loop = ev_loop_new("poll");
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(19)};
	struct refuse r;
	(void)state;

	assert_non_null(loop);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(log_open(path, LOG_LEVEL_INFO), 0);
	inet_pton(AF_INET, "192.0.2.7", &sin.sin_addr);

	refuse_init(&r, loop, NULL);
	for (int i = 0; i < 1000; i++)
		refuse_note(&r, REFUSE_UDP_PORT, (struct sockaddr *)&sin, sizeof(sin));
	refuse_note(&r, REFUSE_ACCESS, NULL, 0);
	assert_int_equal(r.count[REFUSE_UDP_PORT], 1000);
	assert_int_equal(r.count[REFUSE_ACCESS], 1);
	assert_int_equal(r.count[REFUSE_RATE], 0);
	/* The tail waits for its timer. */
	assert_true(ev_timer_active(&r.timer));
	refuse_flush(&r);
	assert_false(ev_timer_active(&r.timer));
	log_close();

	FILE *f = fopen(path, "r");
	char line[512];
	int lines = 0, first = 0, tail = 0, access = 0;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		lines++;
		first += strstr(line, "udp datagram dropped (source port below 1024); last from "
		                      "192.0.2.7 port 19\n") != NULL;
		tail += strstr(line, "(source port below 1024); last from 192.0.2.7 port 19 (999 "
		                     "times") != NULL;
		access += strstr(line, "connection refused (access list)\n") != NULL;
	}
	fclose(f);
	unlink(path);
	assert_int_equal(lines, 3);
	assert_int_equal(first, 1);
	assert_int_equal(tail, 1);
	assert_int_equal(access, 1);
	assert_string_equal(refuse_name(REFUSE_UDP_PORT), "udp_privileged_port");
	assert_string_equal(refuse_name(REFUSE_ACCESS), "access");
	ev_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_martians),   cmocka_unit_test(test_loopback),
	    cmocka_unit_test(test_ports),      cmocka_unit_test(test_self),
	    cmocka_unit_test(test_precedence), cmocka_unit_test(test_refuse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
