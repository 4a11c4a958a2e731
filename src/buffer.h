/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The output queue of a connection: bytes received but not yet echoed, as a
 * chain of fixed-size chunks.  An empty queue owns no memory, so an idle
 * connection costs only the struct.
 */
#ifndef ECHOD_BUFFER_H
#define ECHOD_BUFFER_H

#include <stddef.h>
#include <sys/uio.h>

struct buffer_chunk;

struct buffer {
	struct buffer_chunk *head;
	struct buffer_chunk *tail;
	size_t len; /* bytes queued */
};

/* Payload bytes per chunk. */
#define BUFFER_CHUNK_SIZE (16384 - 32)

static inline int buffer_empty(const struct buffer *b)
{
	return b->len == 0;
}

/* Copy len bytes to the end.  Returns 0, or -1 with errno ENOMEM (the queue
 * is then unchanged). */
int buffer_append(struct buffer *b, const void *data, size_t len);

/*
 * Make room at the end for a direct read: returns a pointer to at least one
 * free byte and stores how many are free in *room; buffer_commit() then adds
 * the bytes actually written there.  Returns NULL with errno ENOMEM.
 */
void *buffer_reserve(struct buffer *b, size_t *room);
void buffer_commit(struct buffer *b, size_t n);

/* Describe the queued bytes, oldest first, in at most max iovecs; returns
 * how many were filled. */
int buffer_iov(const struct buffer *b, struct iovec *iov, int max);

/* Drop the first n (<= len) bytes, freeing the chunks that empties. */
void buffer_consume(struct buffer *b, size_t n);

/* Drop everything. */
void buffer_clear(struct buffer *b);

/* Put everything queued in `front` before what b holds, and leave front
 * empty.  Moves chunks, copies nothing. */
void buffer_splice_front(struct buffer *b, struct buffer *front);

/* Unmap the empty slab kept for reuse (at exit, and for tests). */
void buffer_cache_flush(void);

#endif
