/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of the chunked output queue (src/buffer.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "buffer.h"
#include "sanitizer.h"

static void fill(char *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (char)((i * 31 + seed) & 0xff);
}

/* Copy out the whole queue through buffer_iov. */
static size_t drain_copy(struct buffer *b, char *out)
{
	struct iovec iov[8];
	size_t total = 0;

	while (!buffer_empty(b)) {
		int n = buffer_iov(b, iov, 8);
		assert_true(n > 0);
		size_t batch = 0;
		for (int i = 0; i < n; i++) {
			memcpy(out + total + batch, iov[i].iov_base, iov[i].iov_len);
			batch += iov[i].iov_len;
		}
		buffer_consume(b, batch);
		total += batch;
	}
	return total;
}

static void test_empty_owns_nothing(void **state)
{
	(void)state;
	struct buffer b = {0};
	struct iovec iov[4];

	assert_true(buffer_empty(&b));
	assert_int_equal(buffer_iov(&b, iov, 4), 0);
	assert_int_equal(buffer_append(&b, "abc", 3), 0);
	assert_int_equal(b.len, 3);
	buffer_consume(&b, 3);
	assert_true(buffer_empty(&b));
	assert_null(b.head);
	assert_null(b.tail);
	buffer_cache_flush();
}

static void test_roundtrip_across_chunks(void **state)
{
	(void)state;
	struct buffer b = {0};
	size_t len = BUFFER_CHUNK_SIZE * 5 + 123;
	char *in = malloc(len), *out = malloc(len);

	assert_non_null(in);
	assert_non_null(out);
	fill(in, len, 1);
	/* Appends of odd sizes straddle chunk boundaries. */
	for (size_t off = 0; off < len;) {
		size_t n = len - off < 7777 ? len - off : 7777;
		assert_int_equal(buffer_append(&b, in + off, n), 0);
		off += n;
	}
	assert_int_equal(b.len, len);
	assert_int_equal(drain_copy(&b, out), len);
	assert_memory_equal(in, out, len);
	assert_null(b.head);
	free(in);
	free(out);
	buffer_cache_flush();
}

static void test_partial_consume_keeps_order(void **state)
{
	(void)state;
	struct buffer b = {0};
	char in[40000], out[40000];
	struct iovec iov[4];

	fill(in, sizeof(in), 3);
	assert_int_equal(buffer_append(&b, in, sizeof(in)), 0);
	buffer_consume(&b, 5);
	assert_int_equal(b.len, sizeof(in) - 5);
	int n = buffer_iov(&b, iov, 4);
	assert_true(n >= 2);
	assert_memory_equal(iov[0].iov_base, in + 5, 16);
	/* Consume exactly to a chunk boundary, then a little more. */
	buffer_consume(&b, BUFFER_CHUNK_SIZE - 5);
	buffer_consume(&b, 1);
	size_t rest = drain_copy(&b, out);
	assert_int_equal(rest, sizeof(in) - BUFFER_CHUNK_SIZE - 1);
	assert_memory_equal(out, in + BUFFER_CHUNK_SIZE + 1, rest);
	buffer_cache_flush();
}

/* What the io_uring driver does when a send from held receive buffers is
 * short: the rest goes in front of what is already queued, in order, and
 * appending goes on at the end. */
static void test_splice_front(void **state)
{
	(void)state;
	struct buffer b = {0}, front = {0};
	size_t n1 = BUFFER_CHUNK_SIZE + 100, n2 = 300, n3 = 50;
	char *in = malloc(n1 + n2 + n3), *out = malloc(n1 + n2 + n3);

	assert_non_null(in);
	assert_non_null(out);
	fill(in, n1 + n2 + n3, 5);
	/* Nothing to move: b is left alone. */
	buffer_splice_front(&b, &front);
	assert_true(buffer_empty(&b));
	assert_null(b.head);

	assert_int_equal(buffer_append(&b, in + n1, n2), 0);
	assert_int_equal(buffer_append(&front, in, n1), 0);
	buffer_splice_front(&b, &front);
	assert_true(buffer_empty(&front));
	assert_null(front.head);
	assert_int_equal(b.len, n1 + n2);
	assert_int_equal(buffer_append(&b, in + n1 + n2, n3), 0);
	assert_int_equal(drain_copy(&b, out), n1 + n2 + n3);
	assert_memory_equal(in, out, n1 + n2 + n3);

	/* Into an empty queue, which then appends after it. */
	assert_int_equal(buffer_append(&front, in, n2), 0);
	buffer_splice_front(&b, &front);
	assert_int_equal(buffer_append(&b, in + n2, n3), 0);
	assert_int_equal(b.len, n2 + n3);
	assert_int_equal(drain_copy(&b, out), n2 + n3);
	assert_memory_equal(in, out, n2 + n3);
	assert_null(b.head);
	assert_null(b.tail);
	free(in);
	free(out);
	buffer_cache_flush();
}

static void test_reserve_commit(void **state)
{
	(void)state;
	struct buffer b = {0};
	size_t room = 0;
	char out[10];

	char *p = buffer_reserve(&b, &room);
	assert_non_null(p);
	assert_int_equal(room, BUFFER_CHUNK_SIZE);
	memcpy(p, "hello", 5);
	buffer_commit(&b, 5);
	p = buffer_reserve(&b, &room);
	assert_int_equal(room, BUFFER_CHUNK_SIZE - 5);
	memcpy(p, "world", 5);
	buffer_commit(&b, 5);
	assert_int_equal(drain_copy(&b, out), 10);
	assert_memory_equal(out, "helloworld", 10);
	/* A reservation that is never committed is released by clear. */
	assert_non_null(buffer_reserve(&b, &room));
	assert_int_equal(b.len, 0);
	buffer_clear(&b);
	assert_null(b.head);
	buffer_cache_flush();
}

static void test_iov_limit(void **state)
{
	(void)state;
	struct buffer b = {0};
	size_t len = BUFFER_CHUNK_SIZE * 4;
	char *in = calloc(1, len);
	struct iovec iov[2];

	assert_non_null(in);
	assert_int_equal(buffer_append(&b, in, len), 0);
	assert_int_equal(buffer_iov(&b, iov, 2), 2);
	assert_int_equal(iov[0].iov_len + iov[1].iov_len, 2 * BUFFER_CHUNK_SIZE);
	buffer_clear(&b);
	assert_true(buffer_empty(&b));
	free(in);
	buffer_cache_flush();
}

/* Resident memory of this process, in KiB. */
static long rss_kib(void)
{
	long pages = 0, resident = 0;
	FILE *in = fopen("/proc/self/statm", "r");

	if (in == NULL)
		return -1;
	if (fscanf(in, "%ld %ld", &pages, &resident) != 2)
		resident = -1;
	fclose(in);
	return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/*
 * Bug: after 500 clients had filled their queues and left, the worker kept
 * 288 MB.  Fill 300 queues of 256 KiB (75 MiB), interleaved as connections
 * fill them, then empty them all: the memory goes back to the system.
 */
static void test_memory_goes_back(void **state)
{
	enum { NQ = 300, PER = 256 * 1024 };
	static struct buffer q[NQ];
	static char block[4096];
	(void)state;

	long before = rss_kib();
	assert_true(before > 0);
	for (size_t off = 0; off < PER; off += sizeof(block))
		for (int i = 0; i < NQ; i++)
			assert_int_equal(buffer_append(&q[i], block, sizeof(block)), 0);
	long full = rss_kib();
	for (int i = 0; i < NQ; i++) {
		assert_int_equal(q[i].len, PER);
		buffer_clear(&q[i]);
		assert_true(buffer_empty(&q[i]) && q[i].head == NULL);
	}
	long after = rss_kib();
	/* What stays: the one slab kept empty and the slabs' bookkeeping; under
	 * AddressSanitizer also the shadow of the poisoned chunks, an eighth
	 * of what they took, which it keeps. */
	long shadow = 0;
#ifdef ECHOD_ASAN
	shadow = (full - before) / 8 + 1024;
#endif
	print_message("# RSS %ld KiB before, %ld KiB full, %ld KiB after (%ld KiB allowed for "
	              "ASan's shadow)\n",
	              before, full, after, shadow);
	assert_true(full - before > 60 * 1024);
	assert_true(after - before < 2 * 1024 + shadow);
	buffer_cache_flush();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_owns_nothing),
	    cmocka_unit_test(test_roundtrip_across_chunks),
	    cmocka_unit_test(test_partial_consume_keeps_order),
	    cmocka_unit_test(test_splice_front),
	    cmocka_unit_test(test_reserve_commit),
	    cmocka_unit_test(test_iov_limit),
	    cmocka_unit_test(test_memory_goes_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
