/* SPDX-License-Identifier: BSD-2-Clause */
/* A growable text buffer (see textbuf.h). */
#include "acconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "textbuf.h"

/* Room for `more` bytes and a NUL; 0 or -1 (failed is then set). */
static int reserve(struct textbuf *t, size_t more)
{
	if (t->failed)
		return -1;
	if (t->len + more + 1 <= t->cap)
		return 0;
	size_t cap = t->cap ? t->cap : 256;
	while (cap < t->len + more + 1)
		cap *= 2;
	char *p = realloc(t->p, cap);
	if (p == NULL) {
		t->failed = 1;
		return -1;
	}
	t->p = p;
	t->cap = cap;
	return 0;
}

void textbuf_add(struct textbuf *t, const void *data, size_t len)
{
	if (reserve(t, len) == -1)
		return;
	memcpy(t->p + t->len, data, len);
	t->len += len;
	t->p[t->len] = '\0';
}

void textbuf_printf(struct textbuf *t, const char *fmt, ...)
{
	va_list ap;
	char small[256];

	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		t->failed = 1;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		textbuf_add(t, small, (size_t)n);
		return;
	}
	if (reserve(t, (size_t)n) == -1)
		return;
	va_start(ap, fmt);
	vsnprintf(t->p + t->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

void textbuf_json_string(struct textbuf *t, const char *s)
{
	textbuf_add(t, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			textbuf_printf(t, "\\%c", c);
		else if (c < 0x20)
			textbuf_printf(t, "\\u%04x", c);
		else
			textbuf_add(t, s, 1);
	}
	textbuf_add(t, "\"", 1);
}

void textbuf_consume(struct textbuf *t, size_t n)
{
	if (n >= t->len) {
		t->len = 0;
	} else {
		memmove(t->p, t->p + n, t->len - n);
		t->len -= n;
	}
	if (t->p != NULL)
		t->p[t->len] = '\0';
}

void textbuf_free(struct textbuf *t)
{
	free(t->p);
	memset(t, 0, sizeof(*t));
}

int textbuf_send(struct textbuf *t, int fd)
{
	while (t->len > 0) {
		ssize_t n = send(fd, t->p, t->len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			if (n == 0)
				errno = EPIPE;
			return -1;
		}
		textbuf_consume(t, (size_t)n);
	}
	return 1;
}
