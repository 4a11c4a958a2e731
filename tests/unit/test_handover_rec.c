/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the handover record (src/handover_rec.c): what is encoded
 * decodes the same, an inline queue round-trips or is refused when it cannot
 * fit, unknown fields are skipped, and every malformed record is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include <cmocka.h>

#include "channel.h"
#include "handover_rec.h"

static struct handover_rec sample(void)
{
	struct handover_rec r = {
	    .t = {.bytes_in = 123456789012ULL,
	          .bytes_out = 42,
	          .idle_ms = 7,
	          .age_ms = 9000,
	          .peer_eof = 1},
	    .queue_len = 5,
	    .queue_inline = "hello",
	    .queue_inline_len = 5,
	};
	return r;
}

static void test_roundtrip(void **state)
{
	unsigned char buf[CHAN_MAX_PAYLOAD];
	struct handover_rec in = sample(), out;
	(void)state;

	long len = handover_rec_encode(&in, buf, sizeof(buf));
	assert_true(len > 0);
	assert_true(len <= HANDOVER_REC_FIXED + 5);
	assert_int_equal(handover_rec_decode(buf, (size_t)len, &out), 0);
	assert_int_equal(out.t.bytes_in, in.t.bytes_in);
	assert_int_equal(out.t.bytes_out, 42);
	assert_int_equal(out.t.idle_ms, 7);
	assert_int_equal(out.t.age_ms, 9000);
	assert_int_equal(out.t.peer_eof, 1);
	assert_int_equal(out.queue_len, 5);
	assert_int_equal(out.queue_inline_len, 5);
	assert_memory_equal(out.queue_inline, "hello", 5);
}

/* The client a PROXY header claimed travels too (issue 13's state). */
static void test_proxy_client(void **state)
{
	unsigned char buf[CHAN_MAX_PAYLOAD];
	struct handover_rec in = sample(), out;
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)&in.t.proxy_client;
	(void)state;

	in.t.has_proxy = 1;
	a->sin6_family = AF_INET6;
	a->sin6_port = htons(4242);
	a->sin6_addr.s6_addr[15] = 1;
	long len = handover_rec_encode(&in, buf, sizeof(buf));
	assert_true(len > 0 && len <= HANDOVER_REC_FIXED + 5);
	assert_int_equal(handover_rec_decode(buf, (size_t)len, &out), 0);
	assert_int_equal(out.t.has_proxy, 1);
	assert_memory_equal(&out.t.proxy_client, &in.t.proxy_client, sizeof(*a));
	/* Without one, none arrives. */
	in.t.has_proxy = 0;
	len = handover_rec_encode(&in, buf, sizeof(buf));
	assert_int_equal(handover_rec_decode(buf, (size_t)len, &out), 0);
	assert_int_equal(out.t.has_proxy, 0);
}

/* A queue carried in a memfd: the record holds only its length. */
static void test_queue_elsewhere(void **state)
{
	unsigned char buf[CHAN_MAX_PAYLOAD];
	struct handover_rec in = sample(), out;
	(void)state;

	in.queue_len = 1 << 20;
	in.queue_inline = NULL;
	in.queue_inline_len = 0;
	long len = handover_rec_encode(&in, buf, sizeof(buf));
	assert_true(len > 0);
	assert_int_equal(handover_rec_decode(buf, (size_t)len, &out), 0);
	assert_int_equal(out.queue_len, 1 << 20);
	assert_int_equal(out.queue_inline_len, 0);
}

/* The largest inline queue the sender uses fits one message. */
static void test_inline_limit(void **state)
{
	unsigned char buf[CHAN_MAX_PAYLOAD];
	static unsigned char q[CHAN_MAX_PAYLOAD];
	struct handover_rec in = sample();
	(void)state;

	in.queue_inline = q;
	in.queue_len = in.queue_inline_len = CHAN_MAX_PAYLOAD - HANDOVER_REC_FIXED;
	assert_true(handover_rec_encode(&in, buf, sizeof(buf)) > 0);
	in.queue_len = in.queue_inline_len = CHAN_MAX_PAYLOAD;
	assert_int_equal(handover_rec_encode(&in, buf, sizeof(buf)), -1);
}

/* A later version's field is skipped, wherever it comes. */
static void test_unknown_tag_skipped(void **state)
{
	unsigned char buf[CHAN_MAX_PAYLOAD];
	struct handover_rec in = sample(), out;
	uint16_t tag = 999, n = 3;
	(void)state;

	memcpy(buf, &tag, 2);
	memcpy(buf + 2, &n, 2);
	memcpy(buf + 4, "xyz", 3);
	long len = handover_rec_encode(&in, buf + 7, sizeof(buf) - 7);
	assert_true(len > 0);
	assert_int_equal(handover_rec_decode(buf, (size_t)len + 7, &out), 0);
	assert_int_equal(out.t.bytes_in, in.t.bytes_in);
}

static void test_malformed(void **state)
{
	unsigned char buf[CHAN_MAX_PAYLOAD], bad[CHAN_MAX_PAYLOAD];
	struct handover_rec in = sample(), out;
	(void)state;

	long len = handover_rec_encode(&in, buf, sizeof(buf));
	assert_true(len > 0);
	/* Every truncation is refused (a field cut short, or a required one
	 * missing), except a cut exactly before the inline queue: that is a
	 * record whose queue travels in a memfd, which the receiver then
	 * requires. */
	int whole = 0;
	for (long cut = 0; cut < len; cut++) {
		if (handover_rec_decode(buf, (size_t)cut, &out) == 0) {
			assert_int_equal(out.queue_inline_len, 0);
			assert_int_equal(cut, len - 4 - 5);
			whole++;
		}
	}
	assert_int_equal(whole, 1);
	/* A known field of the wrong size (bytes_in, the first, as 4 bytes). */
	memcpy(bad, buf, (size_t)len);
	uint16_t four = 4;
	memcpy(bad + 2, &four, 2);
	assert_int_equal(handover_rec_decode(bad, (size_t)len, &out), -1);
	/* peer_eof must be 0 or 1. */
	struct handover_rec e = in;
	e.t.peer_eof = 0;
	len = handover_rec_encode(&e, bad, sizeof(bad));
	for (long i = 0; i + 4 < len; i++) {
		uint16_t tag, n;
		memcpy(&tag, bad + i, 2);
		memcpy(&n, bad + i + 2, 2);
		if (tag == 4 && n == 1) {
			bad[i + 4] = 2;
			break;
		}
	}
	assert_int_equal(handover_rec_decode(bad, (size_t)len, &out), -1);
	/* An inline queue that is only part of the queue. */
	e = in;
	e.queue_len = 10;
	len = handover_rec_encode(&e, bad, sizeof(bad));
	assert_int_equal(handover_rec_decode(bad, (size_t)len, &out), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip),           cmocka_unit_test(test_proxy_client),
	    cmocka_unit_test(test_queue_elsewhere),     cmocka_unit_test(test_inline_limit),
	    cmocka_unit_test(test_unknown_tag_skipped), cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
