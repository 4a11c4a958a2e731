/* SPDX-License-Identifier: BSD-2-Clause */
/* A request head parser and a response writer for HTTP/1.x (see http.h). */
#include "acconfig.h"

#include <string.h>

#include "http.h"
#include "textbuf.h"

/* Where the head ends ("\r\n\r\n", or "\n\n" from a lax client), or NULL. */
static const char *head_end(const char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return buf + i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return buf + i + 3;
	}
	return NULL;
}

/* RFC 9110 tchar, what a method is made of. */
static int is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

enum http_verdict http_parse(const char *buf, size_t len, struct http_request *req, int *status)
{
	const char *end = head_end(buf, len);
	const char *p = buf, *eol, *target, *tend;
	size_t mlen, plen;

	memset(req, 0, sizeof(*req));
	*status = 400;
	/* A request line is judged as soon as it is whole, so that a client
	 * sending garbage is answered without waiting for the rest. */
	eol = memchr(buf, '\n', len);
	if (eol == NULL)
		return HTTP_INCOMPLETE;
	if (eol > buf && eol[-1] == '\r')
		eol--;
	for (mlen = 0; p + mlen < eol && is_tchar(p[mlen]); mlen++)
		;
	if (mlen == 0 || p + mlen >= eol || p[mlen] != ' ')
		return HTTP_BAD;
	target = p + mlen + 1;
	tend = memchr(target, ' ', (size_t)(eol - target));
	if (tend == NULL || tend == target || *target != '/')
		return HTTP_BAD;
	if ((size_t)(eol - tend - 1) != 8 || memcmp(tend + 1, "HTTP/1.", 7) != 0) {
		*status = 505;
		return HTTP_BAD;
	}
	if (tend[8] < '0' || tend[8] > '9') {
		*status = 505;
		return HTTP_BAD;
	}
	for (const char *c = target; c < tend; c++)
		if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
			return HTTP_BAD;
	if (mlen == 4 && memcmp(p, "HEAD", 4) == 0) {
		req->head = 1;
	} else if (mlen != 3 || memcmp(p, "GET", 3) != 0) {
		*status = 405;
		return HTTP_BAD;
	}
	for (plen = 0; target + plen < tend && target[plen] != '?'; plen++)
		;
	if (plen >= sizeof(req->path)) {
		*status = 414;
		return HTTP_BAD;
	}
	if (end == NULL)
		return HTTP_INCOMPLETE;
	memcpy(req->path, target, plen);
	req->path[plen] = '\0';
	*status = 200;
	return HTTP_DONE;
}

const char *http_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Unknown";
	}
}

void http_response(struct textbuf *out, int status, const char *content_type, const char *body,
                   size_t len, int head_only)
{
	textbuf_printf(out,
	               "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	               "%sConnection: close\r\n\r\n",
	               status, http_reason(status), content_type, len,
	               status == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (!head_only)
		textbuf_add(out, body, len);
}
