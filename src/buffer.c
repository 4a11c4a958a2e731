/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Chunked output queue.  Freed chunks go to a small per-process cache first,
 * because a busy connection empties and refills its queue all the time and
 * malloc/free of 16 KiB blocks per write would cost more than the copy.
 * Past the cache they go back to libc, and from there to the system: clients
 * that filled their queues to max_pending and left would otherwise leave the
 * worker holding all that memory for good (free() keeps the heap's middle).
 */
#include "acconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#ifdef HAVE_MALLOC_TRIM
#include <malloc.h>
#endif

#include "buffer.h"

struct buffer_chunk {
	struct buffer_chunk *next;
	size_t start; /* first queued byte */
	size_t end;   /* one past the last */
	char data[BUFFER_CHUNK_SIZE];
};

/* Enough for a few connections' worth of bursts; the rest goes back to libc. */
#define CACHE_MAX 16
/*
 * Handing memory back (malloc_trim) walks the heap and costs system calls,
 * so it is done after this much has gone back to libc, or as soon as no
 * queue holds anything (then for as little as TRIM_IDLE_BYTES): a worker
 * whose hostile clients left returns to its idle size, and one under steady
 * churn trims at most once per TRIM_BYTES freed.
 */
#define TRIM_BYTES      (8u << 20)
#define TRIM_IDLE_BYTES (256u << 10)

static struct buffer_chunk *cache;
static size_t cache_len;
static size_t chunks_live;     /* in queues, not in the cache */
static size_t freed_untrimmed; /* bytes given to free() since the last trim */

static void maybe_trim(void)
{
	if (freed_untrimmed < TRIM_BYTES &&
	    !(chunks_live == 0 && freed_untrimmed >= TRIM_IDLE_BYTES))
		return;
	freed_untrimmed = 0;
#ifdef HAVE_MALLOC_TRIM
	malloc_trim(0);
#endif
}

static struct buffer_chunk *chunk_new(void)
{
	struct buffer_chunk *c = cache;

	if (c != NULL) {
		cache = c->next;
		cache_len--;
	} else if ((c = malloc(sizeof(*c))) == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	c->next = NULL;
	c->start = c->end = 0;
	chunks_live++;
	return c;
}

static void chunk_free(struct buffer_chunk *c)
{
	chunks_live--;
	if (cache_len < CACHE_MAX) {
		c->next = cache;
		cache = c;
		cache_len++;
	} else {
		free(c);
		freed_untrimmed += sizeof(*c);
	}
	maybe_trim();
}

void buffer_cache_flush(void)
{
	while (cache != NULL) {
		struct buffer_chunk *c = cache;
		cache = c->next;
		free(c);
	}
	cache_len = 0;
}

void *buffer_reserve(struct buffer *b, size_t *room)
{
	struct buffer_chunk *t = b->tail;

	if (t == NULL || t->end == BUFFER_CHUNK_SIZE) {
		struct buffer_chunk *c = chunk_new();
		if (c == NULL)
			return NULL;
		if (t == NULL)
			b->head = c;
		else
			t->next = c;
		b->tail = t = c;
	}
	*room = BUFFER_CHUNK_SIZE - t->end;
	return t->data + t->end;
}

void buffer_commit(struct buffer *b, size_t n)
{
	b->tail->end += n;
	b->len += n;
}

int buffer_append(struct buffer *b, const void *data, size_t len)
{
	const char *p = data;
	struct buffer_chunk *old_tail = b->tail;
	size_t old_end = old_tail != NULL ? old_tail->end : 0;
	size_t old_len = b->len;

	while (len > 0) {
		size_t room;
		char *dst = buffer_reserve(b, &room);
		if (dst == NULL)
			goto fail;
		size_t n = len < room ? len : room;
		memcpy(dst, p, n);
		buffer_commit(b, n);
		p += n;
		len -= n;
	}
	return 0;

fail:
	/* Undo the partial append so the queue holds whole input or none of it. */
	if (old_tail == NULL) {
		buffer_clear(b);
	} else {
		struct buffer_chunk *c = old_tail->next;
		while (c != NULL) {
			struct buffer_chunk *next = c->next;
			chunk_free(c);
			c = next;
		}
		old_tail->next = NULL;
		old_tail->end = old_end;
		b->tail = old_tail;
		b->len = old_len;
	}
	errno = ENOMEM;
	return -1;
}

int buffer_iov(const struct buffer *b, struct iovec *iov, int max)
{
	int n = 0;

	for (struct buffer_chunk *c = b->head; c != NULL && n < max; c = c->next) {
		if (c->end == c->start)
			continue;
		iov[n].iov_base = c->data + c->start;
		iov[n].iov_len = c->end - c->start;
		n++;
	}
	return n;
}

void buffer_consume(struct buffer *b, size_t n)
{
	b->len -= n;
	while (n > 0) {
		struct buffer_chunk *c = b->head;
		size_t avail = c->end - c->start;
		if (n < avail) {
			c->start += n;
			return;
		}
		n -= avail;
		b->head = c->next;
		chunk_free(c);
	}
	if (b->head == NULL) {
		b->tail = NULL;
	} else if (b->len == 0) {
		/* A single emptied chunk left as tail: free it so an idle
		 * connection owns nothing. */
		buffer_clear(b);
	}
}

void buffer_clear(struct buffer *b)
{
	struct buffer_chunk *c = b->head;

	while (c != NULL) {
		struct buffer_chunk *next = c->next;
		chunk_free(c);
		c = next;
	}
	b->head = b->tail = NULL;
	b->len = 0;
}
