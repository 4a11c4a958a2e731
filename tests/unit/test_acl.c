/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the prefix parser (cidr.c) and the access-list matcher
 * (acl.c): what is accepted and refused, and the three rules of a list:
 * the longest prefix decides, deny wins a tie, a non-empty allow means
 * "only these".
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acl.h"
#include "cidr.h"

static struct cidr parse_ok(const char *s)
{
	struct cidr c;
	const char *why = NULL;

	if (cidr_parse(s, &c, &why) == -1)
		fail_msg("\"%s\" refused: %s", s, why);
	return c;
}

static struct cidr_addr addr(const char *s)
{
	struct cidr c = parse_ok(s);
	struct cidr_addr a = {.family = (uint8_t)c.family};

	memcpy(a.b, c.addr, sizeof(a.b));
	assert_int_equal(c.prefix, cidr_addr_bits(&a));
	return a;
}

static void test_parse_accepts(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"10.0.0.0/8", "10.0.0.0/8"},
	    {"192.0.2.7", "192.0.2.7/32"},
	    {"0.0.0.0/0", "0.0.0.0/0"},
	    {"255.255.255.255/32", "255.255.255.255/32"},
	    {"::1", "::1/128"},
	    {"::/0", "::/0"},
	    {"2001:db8::/32", "2001:db8::/32"},
	    {"2001:DB8:0:0::/64", "2001:db8::/64"},
	    {"fe80::/10", "fe80::/10"},
	    {"10.128.0.0/9", "10.128.0.0/9"},
	};
	char buf[CIDR_STRLEN];
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cidr c = parse_ok(cases[i].in);
		assert_string_equal(cidr_format(&c, buf, sizeof(buf)), cases[i].out);
		/* What is written reads back the same. */
		struct cidr again = parse_ok(buf);
		assert_true(cidr_equal(&again, &c));
	}
	assert_int_equal(parse_ok("10.0.0.0/8").family, AF_INET);
	assert_int_equal(parse_ok("::/0").family, AF_INET6);
}

/* What test_cidr.c does not cover: the refusal of IPv4-mapped prefixes,
 * which could never match (IPv4 clients are matched as IPv4), and the
 * reason each refusal gives. */
static void test_parse_refuses(void **state)
{
	static const struct {
		const char *in, *why;
	} cases[] = {
	    {"", "not an address or prefix"},
	    {"10.0.0.256", "not a numeric IPv4 or IPv6 address"},
	    {"010.0.0.1", "not a numeric IPv4 or IPv6 address"},
	    {"fe80::1%eth0", "not a numeric IPv4 or IPv6 address"},
	    {"10.0.0.0/", "bad prefix length"},
	    {"10.0.0.0/08", "bad prefix length"},
	    {"10.0.0.0/33", "prefix length too long"},
	    {"::/129", "prefix length too long"},
	    {"10.1.0.0/8", "bits set past the prefix length"},
	    {"2001:db8::1/64", "bits set past the prefix length"},
	    {"::ffff:10.0.0.1", "IPv4-mapped"},
	    {"::ffff:0:0/96", "IPv4-mapped"},
	    /* Long enough to overflow a naive copy of the address part. */
	    {"1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb/64",
	     "not an address or prefix"},
	};
	struct cidr c;
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = NULL;
		if (cidr_parse(cases[i].in, &c, &why) != -1 || why == NULL ||
		    strstr(why, cases[i].why) == NULL)
			fail_msg("\"%s\": wanted \"%s\", got \"%s\"", cases[i].in, cases[i].why,
			         why ? why : "(accepted)");
	}
	/* Shorter prefixes cover more than the mapped range: fine. */
	parse_ok("::/80");
}

static void test_contains_and_mask(void **state)
{
	struct cidr net = parse_ok("10.128.0.0/9");
	struct cidr_addr a = addr("10.200.1.2");
	(void)state;

	assert_true(cidr_contains(&net, &a));
	a = addr("10.127.255.255");
	assert_false(cidr_contains(&net, &a));
	/* Families never mix. */
	net = parse_ok("::/0");
	assert_false(cidr_contains(&net, &a));
	net = parse_ok("0.0.0.0/0");
	assert_true(cidr_contains(&net, &a));
	a = addr("::1");
	assert_false(cidr_contains(&net, &a));

	a = addr("2001:db8:1:2:3:4:5:6");
	cidr_addr_mask(&a, 64);
	struct cidr_addr want = addr("2001:db8:1:2::");
	assert_true(cidr_addr_equal(&a, &want));
	a = addr("255.255.255.255");
	cidr_addr_mask(&a, 0);
	want = addr("0.0.0.0");
	assert_true(cidr_addr_equal(&a, &want));
	a = addr("255.255.255.255");
	cidr_addr_mask(&a, 20);
	want = addr("255.255.240.0");
	assert_true(cidr_addr_equal(&a, &want));
}

static void test_from_sockaddr(void **state)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(7)};
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(19)};
	struct sockaddr sa = {.sa_family = AF_UNIX};
	struct cidr_addr a, want;
	uint16_t port = 0;
	(void)state;

	inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr);
	assert_int_equal(cidr_addr_from_sockaddr((struct sockaddr *)&sin, sizeof(sin), &a, &port),
	                 0);
	want = addr("192.0.2.1");
	assert_true(cidr_addr_equal(&a, &want));
	assert_int_equal(port, 7);
	/* IPv4-mapped: an IPv4 source. */
	inet_pton(AF_INET6, "::ffff:192.0.2.1", &sin6.sin6_addr);
	assert_int_equal(cidr_addr_from_sockaddr((struct sockaddr *)&sin6, sizeof(sin6), &a, &port),
	                 1);
	assert_true(cidr_addr_equal(&a, &want));
	assert_int_equal(port, 19);
	inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr);
	assert_int_equal(cidr_addr_from_sockaddr((struct sockaddr *)&sin6, sizeof(sin6), &a, NULL),
	                 0);
	want = addr("2001:db8::1");
	assert_true(cidr_addr_equal(&a, &want));
	/* Other families and short addresses are not sources. */
	assert_int_equal(cidr_addr_from_sockaddr(&sa, sizeof(sa), &a, NULL), -1);
	assert_int_equal(cidr_addr_from_sockaddr((struct sockaddr *)&sin, 4, &a, NULL), -1);
}

/* A finished list from "+PREFIX" (allow) and "-PREFIX" (deny) words. */
static void make_acl(struct acl *a, const char *const *rules)
{
	memset(a, 0, sizeof(*a));
	for (size_t i = 0; rules[i] != NULL; i++) {
		struct cidr c = parse_ok(rules[i] + 1);
		assert_int_equal(acl_add(a, &c, rules[i][0] == '-' ? ACL_DENY : ACL_ALLOW), 0);
	}
	assert_int_equal(acl_finish(a), 0);
}

static int allowed(const struct acl *a, const char *src)
{
	struct cidr_addr s = addr(src);

	return acl_check(a, &s) == ACL_ALLOW;
}

static void test_acl_rules(void **state)
{
	struct acl a;
	(void)state;

	/* Empty: everyone. */
	make_acl(&a, (const char *const[]){NULL});
	assert_true(acl_empty(&a));
	assert_true(allowed(&a, "192.0.2.1"));
	assert_true(allowed(&a, "::1"));
	assert_true(allowed(NULL, "::1"));
	acl_free(&a);

	/* Deny only: everyone else gets in. */
	make_acl(&a, (const char *const[]){"-127.0.0.3", NULL});
	assert_false(allowed(&a, "127.0.0.3"));
	assert_true(allowed(&a, "127.0.0.2"));
	assert_true(allowed(&a, "::1"));
	acl_free(&a);

	/* A non-empty allow means only these, of either family. */
	make_acl(&a, (const char *const[]){"+127.0.0.2", NULL});
	assert_true(allowed(&a, "127.0.0.2"));
	assert_false(allowed(&a, "127.0.0.3"));
	assert_false(allowed(&a, "::1"));
	acl_free(&a);

	/* The longest prefix decides, whichever way round. */
	make_acl(&a, (const char *const[]){"-10.0.0.0/8", "+10.1.0.0/16", "-10.1.2.0/24",
	                                   "+10.1.2.3", NULL});
	assert_false(allowed(&a, "10.9.9.9"));
	assert_true(allowed(&a, "10.1.9.9"));
	assert_false(allowed(&a, "10.1.2.9"));
	assert_true(allowed(&a, "10.1.2.3"));
	/* Outside every prefix, with allows present: out. */
	assert_false(allowed(&a, "192.0.2.1"));
	acl_free(&a);

	/* A tie goes to deny, in whatever order the rules came. */
	make_acl(&a, (const char *const[]){"+192.0.2.0/24", "-192.0.2.0/24", "+0.0.0.0/0", NULL});
	assert_false(allowed(&a, "192.0.2.200"));
	assert_true(allowed(&a, "198.51.100.1"));
	acl_free(&a);
	make_acl(&a, (const char *const[]){"-192.0.2.0/24", "+192.0.2.0/24", NULL});
	assert_false(allowed(&a, "192.0.2.200"));
	acl_free(&a);

	/* /0 covers its family only. */
	make_acl(&a, (const char *const[]){"-0.0.0.0/0", "+::/0", NULL});
	assert_false(allowed(&a, "127.0.0.1"));
	assert_true(allowed(&a, "::1"));
	acl_free(&a);

	/* IPv6, with a prefix that ends inside a byte. */
	make_acl(&a, (const char *const[]){"+2001:db8::/33", "-2001:db8:7fff::/48", NULL});
	assert_true(allowed(&a, "2001:db8:1::1"));
	assert_false(allowed(&a, "2001:db8:7fff::1"));
	assert_false(allowed(&a, "2001:db8:8000::1"));
	acl_free(&a);
}

/* Many rules of many lengths: the binary searches agree with a plain scan
 * for the longest match. */
static void test_acl_against_scan(void **state)
{
	struct acl a = {0};
	struct cidr nets[300];
	int deny[300];
	uint32_t x = 12345;
	(void)state;

	for (size_t i = 0; i < 300; i++) {
		x = x * 1103515245u + 12345u;
		struct cidr_addr net = {.family = AF_INET};
		/* Few distinct high bits, so that prefixes nest often. */
		net.b[0] = (uint8_t)(10 + (x >> 28) % 3);
		net.b[1] = (uint8_t)(x >> 20);
		net.b[2] = (uint8_t)(x >> 12);
		net.b[3] = (uint8_t)(x >> 4);
		nets[i].family = AF_INET;
		nets[i].prefix = 8 + (x >> 8) % 25;
		cidr_addr_mask(&net, nets[i].prefix);
		memcpy(nets[i].addr, net.b, sizeof(nets[i].addr));
		deny[i] = (x >> 3) & 1;
		assert_int_equal(acl_add(&a, &nets[i], deny[i] ? ACL_DENY : ACL_ALLOW), 0);
	}
	assert_int_equal(acl_finish(&a), 0);
	for (uint32_t probe = 0; probe < 20000; probe++) {
		x = x * 1103515245u + 12345u;
		struct cidr_addr src = {.family = AF_INET};
		src.b[0] = (uint8_t)(10 + (x >> 28) % 3);
		src.b[1] = (uint8_t)(x >> 20);
		src.b[2] = (uint8_t)(x >> 12);
		src.b[3] = (uint8_t)(x >> 4);
		int best = -1, verdict = a.nallow > 0 ? ACL_DENY : ACL_ALLOW;
		for (size_t i = 0; i < 300; i++) {
			if (!cidr_contains(&nets[i], &src))
				continue;
			if ((int)nets[i].prefix > best) {
				best = (int)nets[i].prefix;
				verdict = deny[i] ? ACL_DENY : ACL_ALLOW;
			} else if ((int)nets[i].prefix == best && deny[i]) {
				verdict = ACL_DENY;
			}
		}
		assert_int_equal(acl_check(&a, &src), verdict);
	}
	acl_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_accepts),     cmocka_unit_test(test_parse_refuses),
	    cmocka_unit_test(test_contains_and_mask), cmocka_unit_test(test_from_sockaddr),
	    cmocka_unit_test(test_acl_rules),         cmocka_unit_test(test_acl_against_scan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
