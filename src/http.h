/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The little HTTP/1.x the master speaks for /metrics and /healthz: a parser
 * of a request's head (pure: bytes in, a verdict out, for unit tests and a
 * fuzzer) and the writer of a whole response.  Every response closes the
 * connection, which HTTP/1.1 allows and scrapers handle.
 */
#ifndef ECHOD_HTTP_H
#define ECHOD_HTTP_H

#include <stddef.h>

struct textbuf;

enum http_verdict {
	HTTP_INCOMPLETE, /* no end of the head yet: read more */
	HTTP_DONE,       /* a request, in *req */
	HTTP_BAD,        /* malformed: answer *status and close */
};

struct http_request {
	int head;       /* HEAD: the same headers, no body */
	char path[256]; /* the target's path, without the query */
};

/*
 * Look at the first len bytes a client sent.  HTTP_DONE once the head (the
 * request line and headers, up to the empty line) is complete and the
 * request line is well formed: *req holds the method and the path.
 * HTTP_BAD with *status 400 (malformed), 405 (a method other than GET or
 * HEAD), 414 (a path too long) or 505 (not HTTP/1.x).  Headers are not
 * interpreted.  The caller bounds len; nothing here allocates.
 */
enum http_verdict http_parse(const char *buf, size_t len, struct http_request *req, int *status);

/* The reason phrase of a status code ("OK", "Not Found", ...). */
const char *http_reason(int status);

/*
 * Append to out a whole response: the status line, Content-Type,
 * Content-Length, "Connection: close", then the body unless head_only.
 */
void http_response(struct textbuf *out, int status, const char *content_type, const char *body,
                   size_t len, int head_only);

#endif
