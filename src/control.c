/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The control socket's server in the master (see control.h): a handful of
 * clients, each with a bounded request line and deadline, replies queued and
 * sent without blocking.
 */
#include "acconfig.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "endpoint.h"
#include "ev.h"
#include "log.h"
#include "textbuf.h"

#define MAX_CLIENTS 16
#define MAX_LINE    256
/* For the request line; a waiting client has no deadline here (its own
 * side has one, and its EOF frees the slot). */
#define REQUEST_MS 5000
/* Queued reply beyond which a client that does not read is dropped. */
#define MAX_REPLY ((size_t)256 * 1024)
/* How long control_exit() may block to hand over the last lines. */
#define EXIT_FLUSH_MS 200

const char *const control_words[CONTROL_COUNT] = {
    [CONTROL_RELOAD] = "reload", [CONTROL_STOP] = "stop",     [CONTROL_QUIT] = "quit",
    [CONTROL_REOPEN] = "reopen", [CONTROL_STATUS] = "status", [CONTROL_UPGRADE] = "upgrade",
};

int control_from_word(const char *word)
{
	for (int i = 0; i < CONTROL_COUNT; i++)
		if (strcmp(control_words[i], word) == 0)
			return i;
	return -1;
}

int control_parse(const char *line, size_t len, enum control_cmd *cmd, int *json)
{
	char word[16];
	size_t w = 0;

	while (w < len && line[w] != ' ')
		w++;
	if (w == 0 || w >= sizeof(word))
		return -1;
	memcpy(word, line, w);
	word[w] = '\0';
	int c = control_from_word(word);
	if (c == -1)
		return -1;
	*json = 0;
	if (w < len) {
		if (c != CONTROL_STATUS || len - w != 5 || memcmp(line + w, " json", 5) != 0)
			return -1;
		*json = 1;
	}
	*cmd = (enum control_cmd)c;
	return 0;
}

struct control_client {
	struct control *ctl;
	int fd; /* -1: free */
	size_t len;
	char in[MAX_LINE];
	int answered; /* the request was read and handed on */
	int done;     /* the last line is queued: close once sent */
	int hold;     /* ...except for a stop waiter: the master's exit closes it */
	enum control_wait wait;
	struct textbuf out;
	struct ev_timer deadline;
};

struct control {
	struct ev_loop *loop;
	int fd;
	char *path;
	int keep_file; /* the file is another master's too: never unlink it */
	control_handler *fn;
	void *arg;
	struct control_client clients[MAX_CLIENTS];
};

static void client_close(struct control_client *c)
{
	struct control *ctl = c->ctl;

	ev_timer_stop(ctl->loop, &c->deadline);
	ev_del(ctl->loop, c->fd);
	close(c->fd);
	c->fd = -1;
	c->wait = CONTROL_WAIT_NONE;
	textbuf_free(&c->out);
	if (ctl->fd != -1 && ev_get(ctl->loop, ctl->fd) == 0)
		ev_set(ctl->loop, ctl->fd, EV_READ);
}

static void on_deadline(struct ev_loop *loop, struct ev_timer *t)
{
	(void)loop;
	client_close(ev_container_of(t, struct control_client, deadline));
}

/* Send what is queued; close once the last line is out. */
static void flush(struct control_client *c)
{
	if (textbuf_send(&c->out, c->fd) == -1) {
		client_close(c);
		return;
	}
	if ((c->out.len == 0 && c->done && !c->hold) || textbuf_failed(&c->out) ||
	    c->out.len > MAX_REPLY) {
		client_close(c);
		return;
	}
	/* Reading stays on even while waiting: its EOF frees the slot. */
	if (ev_set(c->ctl->loop, c->fd, EV_READ | (c->out.len > 0 ? EV_WRITE : 0)) == -1)
		client_close(c);
}

static void __attribute__((format(printf, 3, 0)))
vline(struct control_client *c, const char *prefix, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* One message, one line: a newline inside would end it early. */
	for (char *p = msg; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	textbuf_printf(&c->out, "%s%s%s\n", prefix, *msg != '\0' && *prefix != '\0' ? " " : "",
	               msg);
}

void control_line(struct control_client *c, char kind, const char *fmt, ...)
{
	char prefix[2] = {kind, '\0'};
	va_list ap;

	va_start(ap, fmt);
	vline(c, prefix, fmt, ap);
	va_end(ap);
	flush(c);
}

static void __attribute__((format(printf, 3, 0)))
vdone(struct control_client *c, int ok, const char *fmt, va_list ap)
{
	vline(c, ok ? "ok" : "error", fmt, ap);
	c->done = 1;
	c->hold = c->wait == CONTROL_WAIT_EXIT;
	c->wait = CONTROL_WAIT_NONE;
	flush(c);
}

void control_done(struct control_client *c, int ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdone(c, ok, fmt, ap);
	va_end(ap);
}

void control_wait(struct control_client *c, enum control_wait what)
{
	c->wait = what;
}

size_t control_done_all(struct control *ctl, enum control_wait what, int ok, const char *fmt, ...)
{
	size_t n = 0;
	va_list ap;

	if (ctl == NULL)
		return 0;
	for (size_t i = 0; i < MAX_CLIENTS; i++) {
		struct control_client *c = &ctl->clients[i];
		if (c->fd == -1 || c->wait != what)
			continue;
		va_start(ap, fmt);
		vdone(c, ok, fmt, ap);
		va_end(ap);
		n++;
	}
	return n;
}

/* Whether the peer may give orders: root, or the user we run as. */
static int allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return 0;
	return cred.uid == 0 || cred.uid == geteuid();
}

static void on_readable(struct control_client *c)
{
	char *nl;

	if (c->answered) {
		/* Waiting: anything more, or EOF, ends the conversation. */
		char buf[64];
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
			client_close(c);
		return;
	}
	ssize_t n = recv(c->fd, c->in + c->len, sizeof(c->in) - c->len, 0);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	c->len += (size_t)n;
	nl = memchr(c->in, '\n', c->len);
	if (nl == NULL) {
		if (c->len == sizeof(c->in))
			control_done(c, 0, "request too long");
		return;
	}
	c->answered = 1;
	ev_timer_stop(c->ctl->loop, &c->deadline);
	enum control_cmd cmd;
	int json;
	if (control_parse(c->in, (size_t)(nl - c->in), &cmd, &json) == -1) {
		control_done(c, 0, "unknown request (reload, stop, quit, reopen, status [json])");
		return;
	}
	c->ctl->fn(c->ctl->arg, c, cmd, json);
	if (c->fd != -1 && !c->done && c->wait == CONTROL_WAIT_NONE)
		control_done(c, 0, "no answer"); /* a handler that forgot: never hang */
}

static void on_client(struct ev_loop *loop, int fd, int events, void *arg)
{
	struct control_client *c = arg;
	(void)loop;
	(void)fd;

	if (events & EV_WRITE) {
		flush(c);
		if (c->fd == -1)
			return;
	}
	if (events & EV_READ)
		on_readable(c);
}

static void on_listener(struct ev_loop *loop, int lfd, int events, void *arg)
{
	struct control *ctl = arg;
	(void)events;

	for (;;) {
		struct control_client *c = NULL;
		for (size_t i = 0; i < MAX_CLIENTS && c == NULL; i++)
			if (ctl->clients[i].fd == -1)
				c = &ctl->clients[i];
		if (c == NULL) {
			ev_set(loop, lfd, 0);
			return;
		}
		int fd = endpoint_accept(lfd, "control socket");
		if (fd == -1)
			return;
		c->fd = fd;
		c->len = 0;
		c->answered = 0;
		c->done = 0;
		c->hold = 0;
		c->wait = CONTROL_WAIT_NONE;
		if (ev_add(loop, fd, EV_READ, on_client, c) == -1) {
			close(fd);
			c->fd = -1;
			continue;
		}
		if (!allowed(fd)) {
			c->answered = 1;
			control_done(c, 0, "permission denied");
			continue;
		}
		if (ev_timer_start(loop, &c->deadline, REQUEST_MS) == -1)
			client_close(c);
	}
}

struct control *control_new(struct ev_loop *loop, const char *path, control_handler *fn, void *arg)
{
	return control_adopt(loop, path, -1, fn, arg);
}

struct control *control_adopt(struct ev_loop *loop, const char *path, int fd, control_handler *fn,
                              void *arg)
{
	struct control *ctl = calloc(1, sizeof(*ctl));
	struct config_endpoint ep = {.proto = LISTEN_UNIX};
	char name[sizeof(ep.path) + 8];
	int saved;

	if (ctl == NULL || strlen(path) >= sizeof(ep.path)) {
		saved = ctl == NULL ? errno : ENAMETOOLONG;
		free(ctl);
		if (fd != -1)
			close(fd);
		errno = saved;
		return NULL;
	}
	snprintf(ep.path, sizeof(ep.path), "%s", path);
	ctl->loop = loop;
	ctl->fn = fn;
	ctl->arg = arg;
	for (size_t i = 0; i < MAX_CLIENTS; i++) {
		ctl->clients[i].ctl = ctl;
		ctl->clients[i].fd = -1;
		ev_timer_init(&ctl->clients[i].deadline, on_deadline);
	}
	/* An adopted socket stays the old master's file until control_keep_file(ctl, 0). */
	ctl->keep_file = fd != -1;
	if ((ctl->fd = fd) == -1 &&
	    (ctl->fd = endpoint_listen(&ep, 0600, name, sizeof(name))) == -1)
		goto fail;
	if ((ctl->path = strdup(path)) == NULL ||
	    ev_add(loop, ctl->fd, EV_READ, on_listener, ctl) == -1) {
		saved = errno;
		close(ctl->fd);
		if (!ctl->keep_file)
			unlink(path);
		free(ctl->path);
		errno = saved;
		goto fail;
	}
	return ctl;
fail:
	saved = errno;
	free(ctl);
	errno = saved;
	return NULL;
}

const char *control_path(const struct control *ctl)
{
	return ctl->path;
}

int control_fd(const struct control *ctl)
{
	return ctl != NULL ? ctl->fd : -1;
}

void control_keep_file(struct control *ctl, int keep)
{
	if (ctl != NULL)
		ctl->keep_file = keep;
}

void control_stop_listening(struct control *ctl)
{
	if (ctl->fd == -1)
		return;
	ev_del(ctl->loop, ctl->fd);
	close(ctl->fd);
	if (!ctl->keep_file)
		unlink(ctl->path);
	ctl->fd = -1;
}

void control_exit(struct control *ctl)
{
	if (ctl == NULL)
		return;
	control_stop_listening(ctl);
	for (size_t i = 0; i < MAX_CLIENTS; i++) {
		struct control_client *c = &ctl->clients[i];
		if (c->fd == -1)
			continue;
		/* Last words are short and the socket's buffer empty: a brief
		 * wait for room is all it can take. */
		while (c->out.len > 0) {
			struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
			if (poll(&pfd, 1, EXIT_FLUSH_MS) <= 0 || textbuf_send(&c->out, c->fd) == -1)
				break;
		}
		ev_timer_stop(ctl->loop, &c->deadline);
		ev_del(ctl->loop, c->fd);
		textbuf_free(&c->out);
		/* A stop waiter's socket is left open on purpose: the end of
		 * the process closes it, and so tells it the master has gone. */
		if (!c->hold)
			close(c->fd);
	}
	free(ctl->path);
	free(ctl);
}

void control_free(struct control *ctl)
{
	if (ctl == NULL)
		return;
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		if (ctl->clients[i].fd != -1)
			client_close(&ctl->clients[i]);
	control_stop_listening(ctl);
	free(ctl->path);
	free(ctl);
}

void control_forget(struct control *ctl)
{
	if (ctl == NULL)
		return;
	for (size_t i = 0; i < MAX_CLIENTS; i++) {
		if (ctl->clients[i].fd != -1)
			close(ctl->clients[i].fd);
		textbuf_free(&ctl->clients[i].out);
	}
	if (ctl->fd != -1)
		close(ctl->fd);
	free(ctl->path);
	free(ctl);
}
