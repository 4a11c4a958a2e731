/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A growable text buffer for what the master writes out whole: a metrics
 * page, a status report, an HTTP response.  Running out of memory is sticky:
 * later appends do nothing and textbuf_failed() says so, so a writer checks
 * once at the end instead of after every line.
 */
#ifndef ECHOD_TEXTBUF_H
#define ECHOD_TEXTBUF_H

#include <stddef.h>

struct textbuf {
	char *p;    /* NUL-terminated once anything was added; NULL before */
	size_t len; /* bytes, without the NUL */
	size_t cap;
	int failed; /* an append ran out of memory */
};

/* Append formatted text. */
void textbuf_printf(struct textbuf *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append len bytes. */
void textbuf_add(struct textbuf *t, const void *data, size_t len);

/* Append s as a JSON string, quotes included. */
void textbuf_json_string(struct textbuf *t, const char *s);

/* Drop the first n (<= len) bytes (what has been sent). */
void textbuf_consume(struct textbuf *t, size_t n);

/* Send what t holds on the non-blocking socket fd, dropping what went, until
 * t is empty (returns 1) or the socket takes no more for now (0).  Returns
 * -1 with errno if the socket failed. */
int textbuf_send(struct textbuf *t, int fd);

static inline int textbuf_failed(const struct textbuf *t)
{
	return t->failed;
}

/* Free the memory; t is empty again and can be reused. */
void textbuf_free(struct textbuf *t);

#endif
