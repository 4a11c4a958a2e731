/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The master's HTTP endpoint for GET /metrics and GET /healthz, in the
 * master's own event loop.  Nothing in it can block supervision: every
 * socket is non-blocking, a request may be at most HTTPD_MAX_REQUEST bytes
 * and must be complete within HTTPD_TIMEOUT_MS, and at most
 * HTTPD_MAX_CLIENTS are served at once (the next ones wait in the listen
 * backlog).  A silent client, or one that sends a megabyte of header, costs
 * a slot for a few seconds and nothing else.
 */
#ifndef ECHOD_HTTPD_H
#define ECHOD_HTTPD_H

#include <stddef.h>

#define HTTPD_MAX_CLIENTS 8
#define HTTPD_MAX_REQUEST 8192
#define HTTPD_TIMEOUT_MS  5000

struct ev_loop;
struct http_request;
struct textbuf;
struct config_endpoint;

/*
 * Answer one request: write the body into `body`, point *content_type at its
 * type, and return the status code.
 */
typedef int httpd_handler(void *arg, const struct http_request *req, struct textbuf *body,
                          const char **content_type);

struct httpd;

/*
 * Listen on ep and serve from loop.  Returns the server, or NULL with errno
 * (see endpoint_listen()).
 */
struct httpd *httpd_new(struct ev_loop *loop, const struct config_endpoint *ep, httpd_handler *fn,
                        void *arg);

/* Where it listens, as bound ("127.0.0.1:9707", "unix:/path"). */
const char *httpd_name(const struct httpd *h);

/* Stop serving: close every client and the listener (removing a Unix
 * socket's file), free h.  NULL is fine. */
void httpd_free(struct httpd *h);

/* In a child after fork(): close the descriptors without touching the
 * loop (the child's copy, soon freed) or the socket file, free h. */
void httpd_forget(struct httpd *h);

#endif
