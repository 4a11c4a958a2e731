/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Chunked output queue.  The chunks come from slabs of SLAB_CHUNKS chunks
 * that are mapped and unmapped whole (mmap), not from malloc: a busy
 * connection empties and refills its queue all the time, and clients that
 * filled their queues to max_pending and left must not leave the worker
 * holding that memory.  malloc kept the heap's middle after free(), and
 * handing it back with malloc_trim() walked the whole heap and advised every
 * free chunk away again at each call: with 500 such clients leaving, the
 * worker spent half a second in madvise() instead of echoing.  A slab goes
 * back to the system in one munmap() when its last chunk is freed, except
 * for one kept empty for the next burst (the per-worker cache).
 */
#include "acconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "buffer.h"
#include "sanitizer.h"

/* Under AddressSanitizer the chunks not handed out are poisoned, so that a
 * use after free or an overrun into a neighbour is caught as with malloc. */
#ifdef ECHOD_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

struct slab;

struct buffer_chunk {
	struct buffer_chunk *next;
	struct slab *slab;
	size_t start; /* first queued byte */
	size_t end;   /* one past the last */
	char data[BUFFER_CHUNK_SIZE];
};

/* 64 chunks of 16 KiB: one munmap() per MiB given back. */
#define SLAB_CHUNKS 64
#define SLAB_BYTES  (SLAB_CHUNKS * sizeof(struct buffer_chunk))

struct slab {
	struct slab *prev, *next;  /* on `partial` while it has free chunks */
	struct buffer_chunk *free; /* its free chunks */
	struct buffer_chunk *base; /* the mapping */
	unsigned used;             /* chunks in queues */
	unsigned fresh;            /* chunks never handed out yet */
};

static struct slab *partial; /* slabs with a free chunk, some in use */
static struct slab *spare;   /* one empty slab kept for the next burst */

static void partial_unlink(struct slab *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		partial = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
}

static void partial_push(struct slab *s)
{
	s->prev = NULL;
	s->next = partial;
	if (partial != NULL)
		partial->prev = s;
	partial = s;
}

static void slab_unmap(struct slab *s)
{
	UNPOISON(s->base, SLAB_BYTES); /* the next mapping there starts clean */
	(void)munmap(s->base, SLAB_BYTES);
	free(s);
}

static struct slab *slab_new(void)
{
	struct slab *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->base =
	    mmap(NULL, SLAB_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->base == MAP_FAILED) {
		free(s);
		return NULL;
	}
	s->fresh = SLAB_CHUNKS;
	POISON(s->base, SLAB_BYTES);
	return s;
}

static struct buffer_chunk *chunk_new(void)
{
	struct slab *s = partial;
	struct buffer_chunk *c;

	if (s == NULL) {
		if (spare != NULL) {
			s = spare;
			spare = NULL;
		} else if ((s = slab_new()) == NULL) {
			errno = ENOMEM;
			return NULL;
		}
		partial_push(s);
	}
	if (s->free != NULL) {
		c = s->free;
		UNPOISON(c, sizeof(*c));
		s->free = c->next;
	} else {
		/* Handed out in order, so pages are touched only as needed. */
		c = &s->base[SLAB_CHUNKS - s->fresh--];
		UNPOISON(c, sizeof(*c));
		c->slab = s;
	}
	if (++s->used == SLAB_CHUNKS)
		partial_unlink(s);
	c->next = NULL;
	c->start = c->end = 0;
	return c;
}

static void chunk_free(struct buffer_chunk *c)
{
	struct slab *s = c->slab;

	if (s->used-- == SLAB_CHUNKS)
		partial_push(s);
	c->next = s->free;
	s->free = c;
	POISON(c->data, sizeof(c->data));
	if (s->used > 0)
		return;
	partial_unlink(s);
	if (spare == NULL) {
		spare = s;
		return;
	}
	slab_unmap(s);
}

void buffer_cache_flush(void)
{
	if (spare != NULL)
		slab_unmap(spare);
	spare = NULL;
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

void buffer_splice_front(struct buffer *b, struct buffer *front)
{
	if (front->head == NULL)
		return;
	front->tail->next = b->head;
	if (b->tail == NULL)
		b->tail = front->tail;
	b->head = front->head;
	b->len += front->len;
	front->head = front->tail = NULL;
	front->len = 0;
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
