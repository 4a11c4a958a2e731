/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The master's HTTP endpoint (see httpd.h): accept, read a request head into
 * a fixed buffer, answer it whole through the handler, close.  Each client
 * has a deadline timer; the listener is dropped from the loop while every
 * slot is taken, so a flood waits in the backlog instead of spinning us.
 */
#include "acconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "endpoint.h"
#include "ev.h"
#include "http.h"
#include "httpd.h"
#include "log.h"
#include "textbuf.h"

struct httpd_client {
	struct httpd *h;
	int fd; /* -1: free slot */
	size_t len;
	char in[HTTPD_MAX_REQUEST];
	struct textbuf out; /* the response; empty until the request is read */
	struct ev_timer deadline;
};

struct httpd {
	struct ev_loop *loop;
	int fd;
	char name[128];
	char *path; /* the Unix socket file, removed at the end; or NULL */
	httpd_handler *fn;
	void *arg;
	struct httpd_client clients[HTTPD_MAX_CLIENTS];
};

static void on_listener(struct ev_loop *loop, int fd, int events, void *arg);

static void client_close(struct httpd_client *c)
{
	struct httpd *h = c->h;

	ev_timer_stop(h->loop, &c->deadline);
	ev_del(h->loop, c->fd);
	close(c->fd);
	c->fd = -1;
	textbuf_free(&c->out);
	/* A slot came free: take the next client from the backlog. */
	if (ev_get(h->loop, h->fd) == 0)
		ev_set(h->loop, h->fd, EV_READ);
}

static void on_deadline(struct ev_loop *loop, struct ev_timer *t)
{
	struct httpd_client *c = ev_container_of(t, struct httpd_client, deadline);
	(void)loop;

	client_close(c);
}

/* Queue the whole response and switch the client to writing. */
static void respond(struct httpd_client *c, int status, const struct http_request *req)
{
	struct textbuf body = {0};
	const char *type = "text/plain; charset=utf-8";

	if (status == 200)
		status = c->h->fn(c->h->arg, req, &body, &type);
	else
		textbuf_printf(&body, "%d %s\n", status, http_reason(status));
	if (textbuf_failed(&body)) {
		textbuf_free(&body);
		status = 500;
		textbuf_printf(&body, "out of memory\n");
	}
	http_response(&c->out, status, type, body.p != NULL ? body.p : "", body.len,
	              req != NULL && req->head);
	textbuf_free(&body);
	if (textbuf_failed(&c->out) || ev_set(c->h->loop, c->fd, EV_WRITE) == -1)
		client_close(c);
}

/* Send the response; close once it is out (or the client has gone). */
static void on_writable(struct httpd_client *c)
{
	if (textbuf_send(&c->out, c->fd) != 0)
		client_close(c);
}

static void on_readable(struct httpd_client *c)
{
	struct http_request req;
	int status;

	ssize_t n = recv(c->fd, c->in + c->len, sizeof(c->in) - c->len, 0);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	c->len += (size_t)n;
	switch (http_parse(c->in, c->len, &req, &status)) {
	case HTTP_DONE:
		respond(c, 200, &req);
		break;
	case HTTP_BAD:
		respond(c, status, NULL);
		break;
	case HTTP_INCOMPLETE:
		/* The head did not fit: answer, and read no more of it. */
		if (c->len == sizeof(c->in))
			respond(c, 431, NULL);
		break;
	}
}

static void on_client(struct ev_loop *loop, int fd, int events, void *arg)
{
	struct httpd_client *c = arg;
	(void)loop;
	(void)fd;

	if (c->out.len > 0) {
		if (events & EV_WRITE)
			on_writable(c);
	} else if (events & EV_READ) {
		on_readable(c);
	}
}

static struct httpd_client *free_slot(struct httpd *h)
{
	for (size_t i = 0; i < HTTPD_MAX_CLIENTS; i++)
		if (h->clients[i].fd == -1)
			return &h->clients[i];
	return NULL;
}

static void on_listener(struct ev_loop *loop, int lfd, int events, void *arg)
{
	struct httpd *h = arg;
	(void)events;

	for (;;) {
		struct httpd_client *c = free_slot(h);
		if (c == NULL) {
			/* Full: leave the rest in the backlog until a slot frees. */
			ev_set(loop, lfd, 0);
			return;
		}
		int fd = endpoint_accept(lfd, "metrics");
		if (fd == -1)
			return;
		c->fd = fd;
		c->len = 0;
		if (ev_add(loop, fd, EV_READ, on_client, c) == -1) {
			close(fd);
			c->fd = -1;
			continue;
		}
		if (ev_timer_start(loop, &c->deadline, HTTPD_TIMEOUT_MS) == -1)
			client_close(c);
	}
}

struct httpd *httpd_new(struct ev_loop *loop, const struct config_endpoint *ep, httpd_handler *fn,
                        void *arg)
{
	struct httpd *h = calloc(1, sizeof(*h));
	int saved;

	if (h == NULL)
		return NULL;
	h->loop = loop;
	h->fn = fn;
	h->arg = arg;
	for (size_t i = 0; i < HTTPD_MAX_CLIENTS; i++) {
		h->clients[i].h = h;
		h->clients[i].fd = -1;
		ev_timer_init(&h->clients[i].deadline, on_deadline);
	}
	if ((h->fd = endpoint_listen(ep, 0660, h->name, sizeof(h->name))) == -1)
		goto fail;
	if (ep->proto == LISTEN_UNIX && (h->path = strdup(ep->path)) == NULL)
		goto fail_close;
	if (ev_add(loop, h->fd, EV_READ, on_listener, h) == -1)
		goto fail_close;
	return h;
fail_close:
	saved = errno;
	close(h->fd);
	if (ep->proto == LISTEN_UNIX)
		unlink(ep->path);
	free(h->path);
	errno = saved;
fail:
	saved = errno;
	free(h);
	errno = saved;
	return NULL;
}

const char *httpd_name(const struct httpd *h)
{
	return h->name;
}

void httpd_free(struct httpd *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < HTTPD_MAX_CLIENTS; i++)
		if (h->clients[i].fd != -1)
			client_close(&h->clients[i]);
	ev_del(h->loop, h->fd);
	close(h->fd);
	if (h->path != NULL)
		unlink(h->path);
	free(h->path);
	free(h);
}

void httpd_forget(struct httpd *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < HTTPD_MAX_CLIENTS; i++) {
		if (h->clients[i].fd != -1)
			close(h->clients[i].fd);
		textbuf_free(&h->clients[i].out);
	}
	close(h->fd);
	free(h->path);
	free(h);
}
