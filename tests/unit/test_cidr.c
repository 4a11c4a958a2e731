/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of src/cidr.c: what cidr_parse() accepts and refuses, and
 * matching IPv4, IPv6 and IPv4-mapped IPv6 addresses at prefix edges.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/un.h>

#include <cmocka.h>

#include "cidr.h"

static struct sockaddr_storage sa(const char *addr)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(addr, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, addr, &s4->sin_addr), 1);
	}
	return ss;
}

static int match(const char *prefix, const char *addr)
{
	struct cidr c;
	struct sockaddr_storage ss = sa(addr);

	assert_int_equal(cidr_parse(prefix, &c, NULL), 0);
	return cidr_match(&c, (struct sockaddr *)&ss);
}

static void test_parse_good(void **state)
{
	struct cidr c;
	(void)state;

	assert_int_equal(cidr_parse("10.0.0.0/8", &c, NULL), 0);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.prefix, 8);
	assert_int_equal(cidr_parse("127.0.0.1", &c, NULL), 0);
	assert_int_equal(c.prefix, 32);
	assert_int_equal(cidr_parse("::1", &c, NULL), 0);
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(c.prefix, 128);
	assert_int_equal(cidr_parse("2001:db8::/32", &c, NULL), 0);
	assert_int_equal(c.prefix, 32);
	assert_int_equal(cidr_parse("0.0.0.0/0", &c, NULL), 0);
	assert_int_equal(cidr_parse("::/0", &c, NULL), 0);
	assert_int_equal(c.prefix, 0);
}

static void test_parse_bad(void **state)
{
	static const char *const bad[] = {
	    "",
	    "/8",
	    "10.0.0.0/",
	    "10.0.0.0/33",
	    "10.0.0.0/08",
	    "10.0.0.0/-1",
	    "10.0.0.0/+8",
	    "10.0.0.0/8x",
	    "10.0.0.1/8",
	    "::/129",
	    "::1/64",
	    "10.0.0",
	    "host",
	    "10.0.0.0/8/8",
	    "1.2.3.4 ",
	    "10.0.0.0/4294967304",
	};
	struct cidr c;
	const char *why;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (cidr_parse(bad[i], &c, &why) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_non_null(why);
	}
}

static void test_match(void **state)
{
	(void)state;

	assert_true(match("127.0.0.1/32", "127.0.0.1"));
	assert_false(match("127.0.0.1/32", "127.0.0.2"));
	assert_true(match("10.0.0.0/8", "10.255.255.255"));
	assert_false(match("10.0.0.0/8", "11.0.0.0"));
	assert_true(match("10.213.0.0/20", "10.213.15.1"));
	assert_false(match("10.213.0.0/20", "10.213.16.1"));
	assert_true(match("0.0.0.0/0", "192.0.2.1"));
	assert_false(match("0.0.0.0/0", "::1"));
	assert_true(match("::1", "::1"));
	assert_false(match("::1", "::2"));
	assert_true(match("2001:db8::/33", "2001:db8:7fff::1"));
	assert_false(match("2001:db8::/33", "2001:db8:8000::1"));
	/* A dual-stack socket reports IPv4 clients as mapped addresses. */
	assert_true(match("127.0.0.1", "::ffff:127.0.0.1"));
	assert_false(match("127.0.0.1", "::ffff:127.0.0.2"));
}

static void test_other_family(void **state)
{
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	struct cidr c;
	struct cidr_list l = {.v = &c, .n = 1};
	(void)state;

	assert_int_equal(cidr_parse("0.0.0.0/0", &c, NULL), 0);
	assert_false(cidr_match(&c, (struct sockaddr *)&un));
	assert_false(cidr_list_match(&l, (struct sockaddr *)&un));
	l.n = 0;
	struct sockaddr_storage ss = sa("1.2.3.4");
	assert_false(cidr_list_match(&l, (struct sockaddr *)&ss));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_good),
	    cmocka_unit_test(test_parse_bad),
	    cmocka_unit_test(test_match),
	    cmocka_unit_test(test_other_family),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
