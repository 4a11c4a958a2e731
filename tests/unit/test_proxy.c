/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the PROXY header parser (src/proxy.c), one or more per rule
 * of proxy-protocol.txt that echod enforces: v1 syntax and length, v2
 * signature, version, command, family and transport, address blocks, TLVs
 * (CRC32C verified, others skipped), the length skipped in full, and the
 * incremental "need more" answer for every prefix of a valid header.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include <cmocka.h>

#include "proxy.h"

static const unsigned char sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                      0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* A v2 header in buf: ver_cmd, fam, then body (addresses and TLVs). */
static size_t v2(unsigned char *buf, unsigned ver_cmd, unsigned fam, const void *body, size_t blen)
{
	memcpy(buf, sig, 12);
	buf[12] = (unsigned char)ver_cmd;
	buf[13] = (unsigned char)fam;
	buf[14] = (unsigned char)(blen >> 8);
	buf[15] = (unsigned char)blen;
	if (blen > 0) /* memcpy from NULL is undefined, even of 0 bytes */
		memcpy(buf + 16, body, blen);
	return 16 + blen;
}

/* The 12-byte IPv4 block: 10.1.2.3:4567 -> 192.0.2.1:7. */
static const unsigned char inet_block[12] = {10, 1, 2, 3, 192, 0, 2, 1, 0x11, 0xD7, 0, 7};

static long parse(const void *buf, size_t len, struct proxy_hdr *h)
{
	return proxy_parse(buf, len, PROXY_STREAM, h, NULL);
}

static long parse_str(const char *s, struct proxy_hdr *h)
{
	return parse(s, strlen(s), h);
}

static void assert_in4(const struct sockaddr_storage *ss, const char *addr, unsigned port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	char buf[INET_ADDRSTRLEN];

	assert_int_equal(ss->ss_family, AF_INET);
	assert_non_null(inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf)));
	assert_string_equal(buf, addr);
	assert_int_equal(ntohs(sin->sin_port), port);
}

static void assert_in6(const struct sockaddr_storage *ss, const char *addr, unsigned port)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	char buf[INET6_ADDRSTRLEN];

	assert_int_equal(ss->ss_family, AF_INET6);
	assert_non_null(inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf)));
	assert_string_equal(buf, addr);
	assert_int_equal(ntohs(sin6->sin6_port), port);
}

/* Every proper prefix of a valid header is "need more", never an answer. */
static void assert_incremental(const void *buf, size_t len, enum proxy_mode mode)
{
	struct proxy_hdr h;
	size_t need;

	for (size_t i = 0; i < len; i++) {
		need = 0;
		long rc = proxy_parse(buf, i, mode, &h, &need);
		if (rc != 0)
			fail_msg("prefix of %zu bytes (of %zu): %ld", i, len, rc);
		assert_true(need > i && need <= len);
	}
	assert_int_equal(proxy_parse(buf, len, mode, &h, &need), (long)len);
}

static void test_crc32c(void **state)
{
	(void)state;
	/* The check value of CRC-32C (RFC 3720, B.4). */
	assert_int_equal(proxy_crc32c("123456789", 9), 0xE3069283UL);
	assert_int_equal(proxy_crc32c("", 0), 0);
}

static void test_v1_tcp4(void **state)
{
	const char *s = "PROXY TCP4 10.1.2.3 192.0.2.1 4567 7\r\nhello";
	struct proxy_hdr h;
	(void)state;

	assert_int_equal(parse_str(s, &h), (long)(strlen(s) - 5));
	assert_int_equal(h.version, 1);
	assert_false(h.local);
	assert_in4(&h.src, "10.1.2.3", 4567);
	assert_in4(&h.dst, "192.0.2.1", 7);
	assert_incremental(s, strlen(s) - 5, PROXY_STREAM);
}

static void test_v1_tcp6(void **state)
{
	const char *s = "PROXY TCP6 2001:db8::1 ::1 65535 0\r\n";
	struct proxy_hdr h;
	(void)state;

	assert_int_equal(parse_str(s, &h), (long)strlen(s));
	assert_in6(&h.src, "2001:db8::1", 65535);
	assert_in6(&h.dst, "::1", 0);
	assert_incremental(s, strlen(s), PROXY_STREAM);
}

static void test_v1_unknown(void **state)
{
	struct proxy_hdr h;
	(void)state;

	assert_int_equal(parse_str("PROXY UNKNOWN\r\n", &h), 15);
	assert_true(h.local);
	assert_int_equal(h.src.ss_family, AF_UNSPEC);
	/* The rest of an UNKNOWN line is the receiver's to ignore. */
	assert_int_equal(parse_str("PROXY UNKNOWN ffff:: ffff:: 1 2\r\nxy", &h), 33);
	assert_true(h.local);
}

static void test_v1_length(void **state)
{
	char line[200];
	struct proxy_hdr h;
	size_t need;
	(void)state;

	/* The longest TCP6 line a sender can write fits. */
	const char *longest = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	                      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	assert_int_equal(parse_str(longest, &h), (long)strlen(longest));
	/* 107 bytes with CRLF: accepted; 108: refused, also before the CRLF. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	memcpy(line + 105, "\r\n", 2);
	assert_int_equal(parse(line, 107, &h), 107);
	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	memcpy(line + 106, "\r\n", 2);
	assert_int_equal(parse(line, 108, &h), -1);
	assert_int_equal(parse(line, 107, &h), -1);
	assert_int_equal(proxy_parse(line, 106, PROXY_STREAM, &h, &need), 0);
	assert_int_equal(need, 107);
	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	assert_int_equal(parse(line, sizeof(line), &h), -1);
}

static void test_v1_strict(void **state)
{
	static const char *const bad[] = {
	    "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",     /* case */
	    "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n",    /* two spaces */
	    "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",    /* two spaces */
	    "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",    /* trailing space */
	    "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",   /* extra field */
	    "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",       /* missing field */
	    "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",    /* leading zero */
	    "PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", /* port range */
	    "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",    /* sign */
	    "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",       /* short address */
	    "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",    /* octal-looking */
	    "PROXY TCP4 ::1 ::1 1 2\r\n",             /* family mismatch */
	    "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",     /* family mismatch */
	    "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",     /* protocol */
	    "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",     /* protocol */
	    "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",       /* LF alone */
	    "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rx\n",    /* CR alone */
	    "PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n",    /* tab */
	    "PROXY \r\n",                             /* nothing */
	    "PROXY\r\n",                              /* no space */
	    "PROXY UNKNOWNX\r\n",                     /* not UNKNOWN */
	    "GET / HTTP/1.0\r\n",                     /* not PROXY at all */
	    "hello\n",
	};
	struct proxy_hdr h;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse_str(bad[i], &h) != -1)
			fail_msg("accepted: %s", bad[i]);
	/* Refused as soon as a byte makes it impossible, not at the CRLF. */
	assert_int_equal(parse_str("PROXX", &h), -1);
	assert_int_equal(parse_str("PROXY TCP4 1.2.3.4\x01", &h), -1);
	assert_int_equal(parse_str("X", &h), -1);
}

static void test_v2_tcp4(void **state)
{
	unsigned char buf[64];
	struct proxy_hdr h;
	(void)state;

	size_t n = v2(buf, 0x21, 0x11, inet_block, sizeof(inet_block));
	memcpy(buf + n, "abc", 3);
	assert_int_equal(parse(buf, n + 3, &h), (long)n);
	assert_int_equal(h.version, 2);
	assert_false(h.local);
	assert_in4(&h.src, "10.1.2.3", 4567);
	assert_in4(&h.dst, "192.0.2.1", 7);
	assert_incremental(buf, n, PROXY_STREAM);
}

static void test_v2_tcp6(void **state)
{
	unsigned char body[36] = {0}, buf[64];
	struct proxy_hdr h;
	(void)state;

	assert_int_equal(inet_pton(AF_INET6, "2001:db8::5", body), 1);
	assert_int_equal(inet_pton(AF_INET6, "::1", body + 16), 1);
	body[32] = 0x30, body[33] = 0x39; /* 12345 */
	body[35] = 7;
	size_t n = v2(buf, 0x21, 0x21, body, sizeof(body));
	assert_int_equal(parse(buf, n, &h), (long)n);
	assert_in6(&h.src, "2001:db8::5", 12345);
	assert_in6(&h.dst, "::1", 7);
	assert_incremental(buf, n, PROXY_STREAM);
}

static void test_v2_unix(void **state)
{
	unsigned char body[216] = {0}, buf[256];
	struct proxy_hdr h;
	(void)state;

	memcpy(body, "/run/client.sock", 16);
	memcpy(body + 108, "/run/echod.sock", 15);
	size_t n = v2(buf, 0x21, 0x31, body, sizeof(body));
	assert_int_equal(parse(buf, n, &h), (long)n);
	assert_int_equal(h.src.ss_family, AF_UNIX);
	assert_string_equal(((struct sockaddr_un *)&h.src)->sun_path, "/run/client.sock");
	assert_string_equal(((struct sockaddr_un *)&h.dst)->sun_path, "/run/echod.sock");
	/* A path that fills all 108 bytes still ends in NUL here. */
	memset(body, 'a', 108);
	n = v2(buf, 0x21, 0x31, body, sizeof(body));
	assert_int_equal(parse(buf, n, &h), (long)n);
	assert_int_equal(strlen(((struct sockaddr_un *)&h.src)->sun_path), 107);
}

static void test_v2_local_unspec(void **state)
{
	unsigned char buf[64];
	struct proxy_hdr h;
	(void)state;

	/* HAProxy's health check: LOCAL, UNSPEC, no body. */
	size_t n = v2(buf, 0x20, 0x00, NULL, 0);
	assert_int_equal(parse(buf, n, &h), 16);
	assert_true(h.local);
	assert_int_equal(h.src.ss_family, AF_UNSPEC);
	/* LOCAL with an address block: the block is skipped, not used. */
	n = v2(buf, 0x20, 0x11, inet_block, sizeof(inet_block));
	assert_int_equal(parse(buf, n, &h), (long)n);
	assert_true(h.local);
	assert_int_equal(h.src.ss_family, AF_UNSPEC);
	/* PROXY with UNSPEC: use the real endpoints too. */
	n = v2(buf, 0x21, 0x00, "xyz", 3);
	assert_int_equal(parse(buf, n, &h), (long)n);
	assert_true(h.local);
}

static void test_v2_tlvs(void **state)
{
	unsigned char body[64], buf[128];
	struct proxy_hdr h;
	size_t blen;
	(void)state;

	memcpy(body, inet_block, 12);
	blen = 12;
	/* PP2_TYPE_NOOP with 5 bytes, PP2_TYPE_AUTHORITY "example", an
	 * unknown type 0xE0 with none. */
	memcpy(body + blen, "\x04\x00\x05zzzzz", 8);
	blen += 8;
	memcpy(body + blen,
	       "\x02\x00\x07"
	       "example",
	       10);
	blen += 10;
	memcpy(body + blen, "\xE0\x00\x00", 3);
	blen += 3;
	size_t n = v2(buf, 0x21, 0x11, body, blen);
	memcpy(buf + n, "tail", 4);
	assert_int_equal(parse(buf, n + 4, &h), (long)n);
	assert_in4(&h.src, "10.1.2.3", 4567);
	assert_incremental(buf, n, PROXY_STREAM);

	/* A TLV running past the header is refused. */
	memcpy(body + 12, "\x04\x00\x09zzzzz", 8);
	n = v2(buf, 0x21, 0x11, body, 20);
	assert_int_equal(parse(buf, n, &h), -1);
	/* So is a TLV cut inside its type and length. */
	memcpy(body + 12, "\x04\x00", 2);
	n = v2(buf, 0x21, 0x11, body, 14);
	assert_int_equal(parse(buf, n, &h), -1);
}

/* A header with a CRC32C TLV, right when good. */
static size_t crc_header(unsigned char *buf, int good)
{
	unsigned char body[12 + 7];

	memcpy(body, inet_block, 12);
	memcpy(body + 12, "\x03\x00\x04\0\0\0\0", 7);
	size_t n = v2(buf, 0x21, 0x11, body, sizeof(body));
	unsigned long crc = proxy_crc32c(buf, n) ^ (good ? 0 : 1);
	buf[n - 4] = (unsigned char)(crc >> 24);
	buf[n - 3] = (unsigned char)(crc >> 16);
	buf[n - 2] = (unsigned char)(crc >> 8);
	buf[n - 1] = (unsigned char)crc;
	return n;
}

static void test_v2_crc(void **state)
{
	unsigned char buf[64];
	struct proxy_hdr h;
	(void)state;

	size_t n = crc_header(buf, 1);
	assert_int_equal(parse(buf, n, &h), (long)n);
	assert_in4(&h.src, "10.1.2.3", 4567);
	n = crc_header(buf, 0);
	assert_int_equal(parse(buf, n, &h), -1);
	/* Any flipped bit elsewhere breaks it too. */
	n = crc_header(buf, 1);
	buf[17] ^= 0x40;
	assert_int_equal(parse(buf, n, &h), -1);
	/* A CRC32C TLV of the wrong size. */
	unsigned char body[12 + 6];
	memcpy(body, inet_block, 12);
	memcpy(body + 12, "\x03\x00\x03\0\0\0", 6);
	n = v2(buf, 0x21, 0x11, body, sizeof(body));
	assert_int_equal(parse(buf, n, &h), -1);
}

static void test_v2_bad(void **state)
{
	unsigned char buf[64];
	struct proxy_hdr h;
	(void)state;

	/* version 1 and 3 in the high nibble; command 2 */
	size_t n = v2(buf, 0x11, 0x11, inet_block, 12);
	assert_int_equal(parse(buf, 13, &h), -1);
	n = v2(buf, 0x31, 0x11, inet_block, 12);
	assert_int_equal(parse(buf, n, &h), -1);
	n = v2(buf, 0x22, 0x11, inet_block, 12);
	assert_int_equal(parse(buf, n, &h), -1);
	/* families and transports that are not in the table */
	static const unsigned fams[] = {0x01, 0x02, 0x10, 0x13, 0x20, 0x41, 0xFF};
	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		n = v2(buf, 0x21, fams[i], inet_block, 12);
		assert_int_equal(parse(buf, 14, &h), -1);
	}
	/* datagram transport on a stream */
	n = v2(buf, 0x21, 0x12, inet_block, 12);
	assert_int_equal(parse(buf, n, &h), -1);
	/* an address block longer than the header says */
	n = v2(buf, 0x21, 0x11, inet_block, 11);
	assert_int_equal(parse(buf, n, &h), -1);
	n = v2(buf, 0x21, 0x21, inet_block, 12);
	assert_int_equal(parse(buf, n, &h), -1);
	/* a signature wrong in its last byte */
	n = v2(buf, 0x21, 0x11, inet_block, 12);
	buf[11] = 0x0B;
	assert_int_equal(parse(buf, 12, &h), -1);
	assert_int_equal(parse(buf, n, &h), -1);
}

static void test_v2_length_skipped(void **state)
{
	static unsigned char buf[PROXY_V2_MAX + 8];
	struct proxy_hdr h;
	size_t need = 0;
	(void)state;

	/* The largest header: 65535 bytes of body, a big NOOP TLV. */
	memcpy(buf, sig, 12);
	buf[12] = 0x21;
	buf[13] = 0x11;
	buf[14] = 0xFF;
	buf[15] = 0xFF;
	memcpy(buf + 16, inet_block, 12);
	size_t tlv = 65535 - 12 - 3;
	buf[28] = 0x04;
	buf[29] = (unsigned char)(tlv >> 8);
	buf[30] = (unsigned char)tlv;
	memset(buf + 31, 'N', tlv);
	assert_int_equal(proxy_parse(buf, 16, PROXY_STREAM, &h, &need), 0);
	assert_int_equal(need, PROXY_V2_MAX);
	assert_int_equal(proxy_parse(buf, PROXY_V2_MAX - 1, PROXY_STREAM, &h, &need), 0);
	memcpy(buf + PROXY_V2_MAX, "12345678", 8);
	assert_int_equal(parse(buf, sizeof(buf), &h), PROXY_V2_MAX);
	assert_in4(&h.src, "10.1.2.3", 4567);
}

static void test_dgram(void **state)
{
	unsigned char buf[64];
	struct proxy_hdr h;
	(void)state;

	size_t n = v2(buf, 0x21, 0x12, inet_block, 12);
	memcpy(buf + n, "ping", 4);
	assert_int_equal(proxy_parse(buf, n + 4, PROXY_DGRAM, &h, NULL), (long)n);
	assert_in4(&h.src, "10.1.2.3", 4567);
	/* A datagram cut short is not "need more" but bad. */
	assert_int_equal(proxy_parse(buf, n - 1, PROXY_DGRAM, &h, NULL), -1);
	assert_int_equal(proxy_parse(buf, 0, PROXY_DGRAM, &h, NULL), -1);
	/* Stream transport, and v1, are refused on a datagram. */
	n = v2(buf, 0x21, 0x11, inet_block, 12);
	assert_int_equal(proxy_parse(buf, n, PROXY_DGRAM, &h, NULL), -1);
	const char *v1 = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n";
	assert_int_equal(proxy_parse(v1, strlen(v1), PROXY_DGRAM, &h, NULL), -1);
	/* LOCAL on a datagram: the sender speaks for itself. */
	n = v2(buf, 0x20, 0x00, NULL, 0);
	assert_int_equal(proxy_parse(buf, n, PROXY_DGRAM, &h, NULL), 16);
	assert_true(h.local);
	/* A headerless datagram. */
	assert_int_equal(proxy_parse("hello", 5, PROXY_DGRAM, &h, NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crc32c),    cmocka_unit_test(test_v1_tcp4),
	    cmocka_unit_test(test_v1_tcp6),   cmocka_unit_test(test_v1_unknown),
	    cmocka_unit_test(test_v1_length), cmocka_unit_test(test_v1_strict),
	    cmocka_unit_test(test_v2_tcp4),   cmocka_unit_test(test_v2_tcp6),
	    cmocka_unit_test(test_v2_unix),   cmocka_unit_test(test_v2_local_unspec),
	    cmocka_unit_test(test_v2_tlvs),   cmocka_unit_test(test_v2_crc),
	    cmocka_unit_test(test_v2_bad),    cmocka_unit_test(test_v2_length_skipped),
	    cmocka_unit_test(test_dgram),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
