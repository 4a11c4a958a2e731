/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the HTTP request parser and response writer (src/http.c)
 * that the master's /metrics endpoint uses: complete and partial heads,
 * every kind of malformed request line, and byte-by-byte arrival.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http.h"
#include "textbuf.h"

static enum http_verdict parse(const char *text, struct http_request *req, int *status)
{
	return http_parse(text, strlen(text), req, status);
}

static void test_good_requests(void **state)
{
	static const struct {
		const char *text;
		const char *path;
		int head;
	} cases[] = {
	    {"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", "/metrics", 0},
	    {"GET /metrics HTTP/1.0\r\n\r\n", "/metrics", 0},
	    {"HEAD /healthz HTTP/1.1\r\n\r\n", "/healthz", 1},
	    {"GET /metrics?name[]=x HTTP/1.1\r\n\r\n", "/metrics", 0},
	    {"GET / HTTP/1.1\n\n", "/", 0},
	    {"GET /metrics HTTP/1.1\r\nUser-Agent: Prometheus/2.42.0\r\n\r\nextra", "/metrics", 0},
	};
	struct http_request req;
	int status;
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(cases[i].text, &req, &status), HTTP_DONE);
		assert_int_equal(status, 200);
		assert_string_equal(req.path, cases[i].path);
		assert_int_equal(req.head, cases[i].head);
	}
}

static void test_bad_requests(void **state)
{
	static const struct {
		const char *text;
		int status;
	} cases[] = {
	    {"POST /metrics HTTP/1.1\r\n\r\n", 405},
	    {"DELETE / HTTP/1.1\r\n", 405},
	    {"GET /metrics HTTP/2.0\r\n\r\n", 505},
	    {"GET /metrics HTTP/1.x\r\n\r\n", 505},
	    {"GET /metrics\r\n\r\n", 400},
	    {"GET metrics HTTP/1.1\r\n\r\n", 400},
	    {"GET  /metrics HTTP/1.1\r\n\r\n", 400},
	    {" GET /metrics HTTP/1.1\r\n\r\n", 400},
	    {"\r\n\r\n", 400},
	    {"GET /met\x01rics HTTP/1.1\r\n\r\n", 400},
	    {"G(T / HTTP/1.1\r\n\r\n", 400},
	};
	struct http_request req;
	int status;
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(cases[i].text, &req, &status), HTTP_BAD);
		assert_int_equal(status, cases[i].status);
	}
}

static void test_long_path(void **state)
{
	char text[600];
	struct http_request req;
	int status;
	(void)state;

	memset(text, 'a', sizeof(text));
	memcpy(text, "GET /", 5);
	memcpy(text + 400, " HTTP/1.1\r\n\r\n", 14);
	assert_int_equal(http_parse(text, 414, &req, &status), HTTP_BAD);
	assert_int_equal(status, 414);
}

/* A head that arrives a byte at a time is incomplete until its last byte,
 * never wrong; a bad request line is refused as soon as the line is whole. */
static void test_byte_by_byte(void **state)
{
	const char *text = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	const char *bad = "PUT /x HTTP/1.1\r\nHost: y\r\n";
	struct http_request req;
	int status;
	size_t len = strlen(text);
	(void)state;

	for (size_t n = 0; n < len; n++)
		assert_int_equal(http_parse(text, n, &req, &status), HTTP_INCOMPLETE);
	assert_int_equal(http_parse(text, len, &req, &status), HTTP_DONE);
	assert_int_equal(http_parse(bad, strlen("PUT /x HTTP/1.1"), &req, &status),
	                 HTTP_INCOMPLETE);
	assert_int_equal(http_parse(bad, strlen("PUT /x HTTP/1.1\r\n"), &req, &status), HTTP_BAD);
	assert_int_equal(status, 405);
}

static void test_response(void **state)
{
	struct textbuf t = {0};
	(void)state;

	http_response(&t, 200, "text/plain", "ok\n", 3, 0);
	assert_string_equal(t.p, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	                         "Content-Length: 3\r\nConnection: close\r\n\r\nok\n");
	textbuf_free(&t);
	http_response(&t, 405, "text/plain", "no\n", 3, 1);
	assert_non_null(strstr(t.p, "HTTP/1.1 405 Method Not Allowed\r\n"));
	assert_non_null(strstr(t.p, "Allow: GET, HEAD\r\n"));
	assert_non_null(strstr(t.p, "Content-Length: 3\r\n"));
	assert_null(strstr(t.p, "no\n"));
	textbuf_free(&t);
	assert_string_equal(http_reason(431), "Request Header Fields Too Large");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_requests), cmocka_unit_test(test_bad_requests),
	    cmocka_unit_test(test_long_path),     cmocka_unit_test(test_byte_by_byte),
	    cmocka_unit_test(test_response),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
