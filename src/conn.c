/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Stream echo: a connection's state (queue, backpressure, half-close, idle,
 * retiring) and its readiness driver.  By readiness the common case costs one
 * read and one send per message: the bytes go from a buffer shared by the
 * whole worker straight back to the socket, and only what the socket does
 * not take is copied into the connection's queue.  While that queue is not
 * empty, input is appended to it and write interest is on; past max_pending,
 * reading stops.  conn_uring.c moves the bytes by completions instead, under
 * the same state.
 */
#include "acconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "proxy.h"

/* Most iovecs handed to one sendmsg: 64 chunks are 1 MiB. */
#define CONN_IOV_MAX 64
/* A PROXY header is read into this much at first: a v1 header and a v2
 * one with addresses fit; one with many TLVs grows it as its length says. */
#define CONN_HDR_START 128
/*
 * Fairness: the connections that come ready together share this many bytes
 * of reading per loop turn, each at least CONN_READ_MIN.  One read per
 * connection per turn already keeps one connection from starving another;
 * the share keeps 500 of them, each with 64 KiB to give, from making a turn
 * (and so everyone's echo) wait for 32 MB of copying.  A few bulk
 * connections still read the full shared buffer at once.
 */
#define CONN_TURN_BUDGET ((size_t)1024 * 1024)
#define CONN_READ_MIN    4096

static void conn_on_io(struct ev_loop *loop, int fd, int events, void *arg);
static void conn_on_timer(struct ev_loop *loop, struct ev_timer *t);
static int is_settled(struct conn *c);
static int linger(struct conn *c);

static size_t max_pending(const struct conn *c)
{
	return c->ctx->max_pending;
}

static const struct conn_io *conn_io(const struct conn_ctx *ctx)
{
	return ctx->io != NULL ? ctx->io : &conn_io_ready;
}

size_t conn_backlog(const struct conn *c)
{
	return c->out.len + conn_io(c->ctx)->held(c);
}

uint64_t conn_bytes_out(const struct conn *c)
{
	return c->bytes_in - conn_backlog(c);
}

int conn_wants_read(const struct conn *c)
{
	return c->state == CONN_LINGER || (!c->peer_eof && !c->paused);
}

/* What c may read in this loop turn (see CONN_TURN_BUDGET). */
static size_t read_share(const struct conn *c)
{
	size_t ready = ev_batch(c->ctx->loop);
	size_t share = ready > 0 ? CONN_TURN_BUDGET / ready : c->ctx->rbuf_size;

	if (share < CONN_READ_MIN)
		share = CONN_READ_MIN;
	return share < c->ctx->rbuf_size ? share : c->ctx->rbuf_size;
}

static void touch(struct conn *c)
{
	c->last_active = ev_now(c->ctx->loop);
}

static int arm_idle(struct conn *c)
{
	struct conn_ctx *ctx = c->ctx;

	if (ctx->idle_ms == 0)
		return 0;
	return ev_timer_start(ctx->loop, &c->timer, ctx->idle_ms);
}

static void link_conn(struct conn_ctx *ctx, struct conn *c)
{
	c->prev = NULL;
	c->next = ctx->conns;
	if (ctx->conns != NULL)
		ctx->conns->prev = c;
	ctx->conns = c;
	ctx->nconns++;
}

static void unlink_conn(struct conn_ctx *ctx, struct conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		ctx->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	ctx->nconns--;
}

void conn_ctx_set_id(struct conn_ctx *ctx, unsigned gen, size_t worker, unsigned replacement)
{
	if (replacement == 0)
		snprintf(ctx->id_prefix, sizeof(ctx->id_prefix), "%u.%zu", gen, worker);
	else
		snprintf(ctx->id_prefix, sizeof(ctx->id_prefix), "%u.%zur%u", gen, worker,
		         replacement);
}

char *conn_id(const struct conn *c, char *buf, size_t len)
{
	const char *prefix = c->ctx->id_prefix;

	snprintf(buf, len, "%s%s%llu", prefix, *prefix != '\0' ? "." : "",
	         (unsigned long long)c->id);
	return buf;
}

struct conn *conn_new(struct conn_ctx *ctx, int fd)
{
	struct conn *c = calloc(1, conn_io(ctx)->size);

	if (c == NULL)
		return NULL;
	c->fd = fd;
	c->id = ctx->last_id + 1;
	c->ctx = ctx;
	c->state = CONN_OPEN;
	ev_timer_init(&c->timer, conn_on_timer);
	touch(c);
	c->opened = c->last_active;
	if (arm_idle(c) == -1)
		goto fail;
	if (conn_io(ctx)->start(c) == -1) {
		ev_timer_stop(ctx->loop, &c->timer);
		goto fail;
	}
	link_conn(ctx, c);
	ctx->last_id = c->id;
	return c;

fail:;
	int saved = errno;
	free(c);
	errno = saved;
	return NULL;
}

void conn_close(struct conn *c, const char *reason)
{
	struct conn_ctx *ctx = c->ctx;
	uint64_t tag = c->tag;

	if (log_enabled(LOG_LEVEL_DEBUG)) {
		char id[CONN_ID_MAX];
		log_debug("connection %s closed (%s): %llu %s in, %llu out",
		          conn_id(c, id, sizeof(id)), reason, (unsigned long long)c->bytes_in,
		          log_plural(c->bytes_in, "byte", "bytes"),
		          (unsigned long long)conn_bytes_out(c));
	}
	stats_conn_closed(ctx->stats, reason, ev_now(ctx->loop) - c->opened);
	if (c->proxy != NULL) {
		free(c->proxy->hdr);
		free(c->proxy);
	}
	ev_timer_stop(ctx->loop, &c->timer);
	unlink_conn(ctx, c);
	if (conn_io(ctx)->release(c))
		conn_free(c);
	if (ctx->on_close != NULL)
		ctx->on_close(ctx, tag);
}

void conn_free(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	buffer_clear(&c->out);
	free(c);
}

void conn_received(struct conn *c, size_t n)
{
	c->bytes_in += (uint64_t)n;
	touch(c);
	if (!c->rcvbuf &&
	    (c->out.len >= (size_t)CONN_RCVBUF_FIXED || c->out.len >= max_pending(c))) {
		int v = CONN_RCVBUF_FIXED;
		c->rcvbuf = 1;
		(void)setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	}
	if (conn_backlog(c) >= max_pending(c))
		c->paused = 1;
}

void conn_sent(struct conn *c, size_t n)
{
	(void)n; /* conn_bytes_out() follows from what is left */
	touch(c);
	/* Resume reading once half the limit has drained: not at every byte,
	 * so a slow reader is served in large reads, not many small ones. */
	if (c->paused && conn_backlog(c) <= max_pending(c) / 2)
		c->paused = 0;
}

int conn_settle(struct conn *c)
{
	if (c->peer_eof && conn_backlog(c) == 0) {
		/* Everything is echoed and the client has finished: our close
		 * sends FIN, and with nothing unread it cannot turn into RST. */
		conn_close(c, "client closed");
		return -1;
	}
	if (c->state == CONN_RETIRING && c->ctx->cut && is_settled(c))
		return linger(c);
	if (conn_io(c->ctx)->update(c) == -1) {
		conn_close(c, "event loop error");
		return -1;
	}
	return 0;
}

/* ---- the readiness driver ---------------------------------------------------- */

static int ready_start(struct conn *c)
{
	return ev_add(c->ctx->loop, c->fd, EV_READ, conn_on_io, c);
}

/* The interest a connection needs in its current state. */
static int wanted_events(const struct conn *c)
{
	int ev = 0;

	if (conn_wants_read(c))
		ev |= EV_READ;
	if (!buffer_empty(&c->out))
		ev |= EV_WRITE;
	return ev;
}

static int ready_update(struct conn *c)
{
	int want = wanted_events(c);

	/* A connection that gives more than a turn's share, or whose peer
	 * does not read as fast as it sends, waits behind those that do not
	 * (see ev_set_late). */
	ev_set_late(c->ctx->loop, c->fd, c->heavy || (want & EV_WRITE));
	if (ev_get(c->ctx->loop, c->fd) == want)
		return 0;
	return ev_set(c->ctx->loop, c->fd, want);
}

static size_t ready_held(const struct conn *c)
{
	(void)c;
	return 0;
}

static int ready_release(struct conn *c)
{
	/* Accepted here, never shared; a frozen one is watched no more. */
	if (c->state != CONN_HANDOVER)
		ev_del_closing(c->ctx->loop, c->fd);
	return 1;
}

static int ready_stop(struct conn *c)
{
	ev_del(c->ctx->loop, c->fd);
	return 1;
}

static int ready_resume(struct conn *c)
{
	if (ev_get(c->ctx->loop, c->fd) == -1)
		return ev_add(c->ctx->loop, c->fd, wanted_events(c), conn_on_io, c);
	return ready_update(c);
}

const struct conn_io conn_io_ready = {
    .size = sizeof(struct conn),
    .start = ready_start,
    .update = ready_update,
    .held = ready_held,
    .release = ready_release,
    .stop = ready_stop,
    .resume = ready_resume,
};

static int would_block(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

/* Send what is queued.  Returns 0, or -1 when the connection must close. */
static int flush_queue(struct conn *c)
{
	struct iovec iov[CONN_IOV_MAX];
	struct msghdr msg = {.msg_iov = iov};

	while (!buffer_empty(&c->out)) {
		size_t want = 0;
		msg.msg_iovlen = (size_t)buffer_iov(&c->out, iov, CONN_IOV_MAX);
		for (size_t i = 0; i < msg.msg_iovlen; i++)
			want += iov[i].iov_len;
		ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		if (n == -1)
			return would_block(errno) ? 0 : -1;
		buffer_consume(&c->out, (size_t)n);
		stats_bytes_out(c->ctx->stats, (uint64_t)n);
		conn_sent(c, (size_t)n);
		/* A short write means the socket is full: asking again would
		 * only return EAGAIN. */
		if ((size_t)n < want)
			break;
	}
	return 0;
}

/* Read once into the queue's tail (something is already queued). */
static ssize_t read_queued(struct conn *c)
{
	size_t room;
	size_t limit = max_pending(c) - c->out.len;
	size_t share = read_share(c);
	char *dst = buffer_reserve(&c->out, &room);

	if (limit > share)
		limit = share;

	if (dst == NULL)
		return -1;
	if (room > limit)
		room = limit;
	ssize_t n = read(c->fd, dst, room);
	c->heavy = n > 0 && (size_t)n == room;
	if (n > 0) {
		buffer_commit(&c->out, (size_t)n);
		stats_bytes_in(c->ctx->stats, (uint64_t)n);
	}
	return n;
}

/* Send p[0..n) at once, and queue what the socket does not take.  Returns
 * 0, or -1 with errno. */
static int echo_now(struct conn *c, const char *p, size_t n)
{
	ssize_t sent = send(c->fd, p, n, MSG_NOSIGNAL);

	if (sent == -1) {
		if (!would_block(errno))
			return -1;
		sent = 0;
	}
	stats_bytes_out(c->ctx->stats, (uint64_t)sent);
	if ((size_t)sent < n && buffer_append(&c->out, p + sent, n - (size_t)sent) == -1)
		return -1;
	return 0;
}

/* Read once into the worker's buffer and echo it at once; queue the rest. */
static ssize_t read_direct(struct conn *c)
{
	struct conn_ctx *ctx = c->ctx;
	size_t share = read_share(c);
	size_t room = share < max_pending(c) ? share : max_pending(c);
	ssize_t n = read(c->fd, ctx->rbuf, room);

	c->heavy = n > 0 && (size_t)n == room;
	if (n <= 0)
		return n;
	/* Counted before the echo goes out, so that no client can see its
	 * echo before the bytes are counted as received. */
	stats_bytes_in(ctx->stats, (uint64_t)n);
	return echo_now(c, ctx->rbuf, (size_t)n) == -1 ? -1 : n;
}

/* Each handler returns 0, or -1 when it closed (and freed) the connection. */
static int on_readable(struct conn *c)
{
	ssize_t n = buffer_empty(&c->out) ? read_direct(c) : read_queued(c);

	if (n > 0) {
		conn_received(c, (size_t)n);
		return 0;
	}
	if (n == 0) {
		c->peer_eof = 1;
		return 0;
	}
	if (would_block(errno))
		return 0;
	conn_close(c, errno == ENOMEM ? "out of memory" : "read error");
	return -1;
}

static int on_writable(struct conn *c)
{
	if (flush_queue(c) == -1) {
		conn_close(c, "write error");
		return -1;
	}
	return 0;
}

/* Discard input after our FIN until the peer closes too. */
static void on_linger_readable(struct conn *c)
{
	ssize_t n;

	do {
		n = read(c->fd, c->ctx->rbuf, c->ctx->rbuf_size);
	} while (n > 0);
	if (n == 0 || !would_block(errno))
		conn_close(c, "retired");
}

int conn_expect_proxy(struct conn *c, uint64_t timeout_ms)
{
	struct conn_proxy *p = calloc(1, sizeof(*p));

	if (p == NULL || (p->hdr = malloc(CONN_HDR_START)) == NULL) {
		free(p);
		errno = ENOMEM;
		return -1;
	}
	p->cap = CONN_HDR_START;
	p->client.ss_family = AF_UNSPEC;
	if (ev_timer_start(c->ctx->loop, &c->timer, timeout_ms) == -1) {
		free(p->hdr);
		free(p);
		return -1;
	}
	c->proxy = p;
	c->state = CONN_HEADER;
	return 0;
}

const struct sockaddr *conn_source(const struct conn *c)
{
	if (c->proxy == NULL || c->proxy->client.ss_family == AF_UNSPEC)
		return NULL;
	return (const struct sockaddr *)&c->proxy->client;
}

static int retire(struct conn *c);

/* The header is complete: keep the client it names and start echoing
 * (what came after it is the driver's to take).  Returns 0, or -1 when it
 * closed c. */
static int header_done(struct conn *c, const struct proxy_hdr *h)
{
	struct conn_proxy *p = c->proxy;
	char client[PROXY_ADDR_STRLEN], id[CONN_ID_MAX];

	if (!h->local) {
		p->client = h->src;
		if (c->ctx->on_client != NULL &&
		    c->ctx->on_client(c->ctx, c, (const struct sockaddr *)&p->client) != 0) {
			conn_close(c, "refused");
			return -1;
		}
	}
	if (log_enabled(LOG_LEVEL_DEBUG))
		log_debug("connection %s: PROXY v%d header, client %s", conn_id(c, id, sizeof(id)),
		          h->version,
		          h->local ? "(local: the peer itself)"
		                   : proxy_addr_format(&h->src, client, sizeof(client)));
	c->state = CONN_OPEN;
	touch(c);
	ev_timer_stop(c->ctx->loop, &c->timer);
	if (arm_idle(c) == -1)
		goto fail;
	free(p->hdr);
	p->hdr = NULL;
	p->len = p->cap = 0;
	if (p->retire)
		return retire(c);
	return 0;
fail:
	conn_close(c, "out of memory");
	return -1;
}

long conn_header_input(struct conn *c, const char *data, size_t n)
{
	struct conn_proxy *p = c->proxy;
	struct proxy_hdr h;
	size_t used = 0, need = 0;
	const char *why;

	/* Into the header buffer no more than it holds, so that it grows
	 * only as far as a header's own length says. */
	while (used < n) {
		size_t k = n - used < p->cap - p->len ? n - used : p->cap - p->len;
		memcpy(p->hdr + p->len, data + used, k);
		p->len += (uint32_t)k;
		used += k;
		long rc = proxy_parse(p->hdr, p->len, PROXY_STREAM, &h, &need);
		if (rc > 0 && h.local && c->ctx->draining) {
			why = "draining: health check refused";
			goto close;
		}
		if (rc > 0) {
			/* What this read brought past the header is the client's. */
			used -= p->len - (size_t)rc;
			return header_done(c, &h) == -1 ? -1 : (long)used;
		}
		/* Incomplete: a full buffer that its length does not call for
		 * more of can never complete. */
		if (rc < 0 || (need <= p->cap && p->len == p->cap)) {
			why = "invalid PROXY header";
			goto close;
		}
		if (need > p->cap) {
			char *bigger = realloc(p->hdr, need);
			if (bigger == NULL) {
				why = "out of memory";
				goto close;
			}
			p->hdr = bigger;
			p->cap = (uint32_t)need;
		}
	}
	return (long)used;
close:
	conn_close(c, why);
	return -1;
}

/* Read more of the header, and echo what follows it.  Returns 0, or -1 when
 * it closed c. */
static int on_header_readable(struct conn *c)
{
	char *buf = c->ctx->rbuf;
	ssize_t n = read(c->fd, buf, read_share(c));
	long used;

	if (n == -1 && would_block(errno))
		return 0;
	if (n <= 0) {
		conn_close(c, n == 0 ? "EOF before its PROXY header" : "read error");
		return -1;
	}
	if ((used = conn_header_input(c, buf, (size_t)n)) == -1)
		return -1;
	if (c->state == CONN_HEADER || used == n)
		return 0;
	stats_bytes_in(c->ctx->stats, (uint64_t)(n - used));
	if (echo_now(c, buf + used, (size_t)(n - used)) == -1) {
		conn_close(c, errno == ENOMEM ? "out of memory" : "write error");
		return -1;
	}
	conn_received(c, (size_t)(n - used));
	return 0;
}

static void conn_on_io(struct ev_loop *loop, int fd, int events, void *arg)
{
	struct conn *c = arg;
	(void)loop;
	(void)fd;

	if (c->state == CONN_HEADER) {
		if (on_header_readable(c) == -1 || c->state == CONN_HEADER)
			return;
		/* What followed the header is echoed or queued; from here the
		 * usual checks apply. */
		events = 0;
	}
	if (c->state == CONN_LINGER) {
		on_linger_readable(c);
		return;
	}
	if ((events & EV_WRITE) && on_writable(c) == -1)
		return;
	if ((events & EV_READ) && conn_wants_read(c) && on_readable(c) == -1)
		return;
	(void)conn_settle(c);
}

/* ---- retiring ------------------------------------------------------------------ */

/* Everything received has been echoed, and nothing waits in the socket's
 * receive buffer either. */
static int is_settled(struct conn *c)
{
	int unread = 0;

	if (conn_backlog(c) > 0 || c->peer_eof)
		return 0;
	if (ioctl(c->fd, FIONREAD, &unread) == -1)
		return 1;
	return unread == 0;
}

/* Half-close, then discard input until the peer closes or the linger time
 * passes: closing with unread input would send RST, and a RST can destroy
 * echoed bytes still in flight to the client.  Returns 0, or -1 if c was
 * closed. */
static int linger(struct conn *c)
{
	struct ev_loop *loop = c->ctx->loop;

	c->state = CONN_LINGER;
	if (shutdown(c->fd, SHUT_WR) == -1 ||
	    ev_timer_start(loop, &c->timer, CONN_LINGER_MS) == -1 ||
	    conn_io(c->ctx)->update(c) == -1) {
		conn_close(c, "retired");
		return -1;
	}
	return 0;
}

static void conn_on_timer(struct ev_loop *loop, struct ev_timer *t)
{
	struct conn *c = ev_container_of(t, struct conn, timer);
	uint64_t idle_ms = c->ctx->idle_ms;
	uint64_t now = ev_now(loop);
	uint64_t next;

	switch (c->state) {
	case CONN_HEADER:
		conn_close(c, "PROXY header timeout");
		return;
	case CONN_OPEN:
		if (now - c->last_active >= idle_ms) {
			conn_close(c, "idle timeout");
			return;
		}
		next = c->last_active + idle_ms - now;
		break;
	case CONN_RETIRING:
		if (now - c->last_active >= CONN_QUIET_MS && is_settled(c)) {
			(void)linger(c);
			return;
		}
		next = CONN_QUIET_MS;
		if (now - c->last_active < CONN_QUIET_MS)
			next = c->last_active + CONN_QUIET_MS - now;
		break;
	case CONN_LINGER:
	default:
		conn_close(c, "retired, linger expired");
		return;
	}
	if (ev_timer_start(loop, t, next) == -1)
		conn_close(c, "out of memory");
}

void conn_retire(struct conn *c)
{
	if (c->state == CONN_HEADER) {
		/* Its header is on the way: retire once it is read (the
		 * header timeout bounds the wait). */
		c->proxy->retire = 1;
		return;
	}
	if (c->state == CONN_OPEN)
		(void)retire(c);
}

/* conn_retire() of an open connection.  Returns 0, or -1 when it closed c. */
static int retire(struct conn *c)
{
	/* A handover may have stopped its I/O without freezing it. */
	if (conn_io(c->ctx)->resume(c) == -1) {
		conn_close(c, "event loop error");
		return -1;
	}
	c->state = CONN_RETIRING;
	/* A connection that never sent anything gets the same grace from now. */
	if (c->bytes_in == 0)
		touch(c);
	if (ev_timer_start(c->ctx->loop, &c->timer, CONN_QUIET_MS) == -1) {
		conn_close(c, "out of memory");
		return -1;
	}
	return 0;
}

void conn_retire_all(struct conn_ctx *ctx)
{
	for (struct conn *c = ctx->conns, *next; c != NULL; c = next) {
		next = c->next;
		conn_retire(c);
	}
}

static void conn_cut(struct conn *c)
{
	/* A frozen connection waits for the answer to its offer. */
	if (c->state == CONN_LINGER || c->state == CONN_HANDOVER)
		return;
	if (c->state == CONN_HEADER) {
		conn_close(c, "retired before its PROXY header");
		return;
	}
	if (conn_io(c->ctx)->resume(c) == -1) {
		conn_close(c, "event loop error");
		return;
	}
	c->state = CONN_RETIRING;
	if (is_settled(c))
		(void)linger(c);
}

void conn_cut_all(struct conn_ctx *ctx)
{
	ctx->cut = 1;
	for (struct conn *c = ctx->conns, *next; c != NULL; c = next) {
		next = c->next;
		conn_cut(c);
	}
}

int conn_freeze(struct conn *c, struct conn_transfer *t)
{
	struct ev_loop *loop = c->ctx->loop;
	uint64_t now = ev_now(loop);

	/* Not closing: the descriptor is being passed on.  The driver may need
	 * a turn to get its operations out of the kernel. */
	if (!conn_io(c->ctx)->stop(c)) {
		errno = EBUSY;
		return -1;
	}
	ev_timer_stop(loop, &c->timer);
	c->state = CONN_HANDOVER;
	t->bytes_in = c->bytes_in;
	t->bytes_out = conn_bytes_out(c);
	t->idle_ms = now > c->last_active ? now - c->last_active : 0;
	t->age_ms = now > c->opened ? now - c->opened : 0;
	t->peer_eof = c->peer_eof;
	t->has_proxy = c->proxy != NULL;
	memset(&t->proxy_client, 0, sizeof(t->proxy_client));
	if (c->proxy != NULL)
		t->proxy_client = c->proxy->client;
	return 0;
}

int conn_thaw(struct conn *c)
{
	struct conn_ctx *ctx = c->ctx;
	uint64_t now = ev_now(ctx->loop);

	c->paused = !c->peer_eof && c->out.len >= max_pending(c);
	c->state = CONN_OPEN;
	if (conn_io(ctx)->resume(c) == -1) {
		c->state = CONN_HANDOVER;
		return -1;
	}
	if (c->peer_eof && buffer_empty(&c->out)) {
		conn_close(c, "client closed");
		return 1;
	}
	if (ctx->idle_ms > 0) {
		uint64_t idle = now - c->last_active;
		uint64_t next = idle < ctx->idle_ms ? ctx->idle_ms - idle : 0;
		if (ev_timer_start(ctx->loop, &c->timer, next) == -1) {
			conn_close(c, "out of memory");
			return 1;
		}
	}
	return 0;
}

void conn_forget(struct conn *c)
{
	struct conn_ctx *ctx = c->ctx;
	char id[CONN_ID_MAX];

	uint64_t tag = c->tag;

	log_debug("connection %s handed over: %llu bytes in, %llu out", conn_id(c, id, sizeof(id)),
	          (unsigned long long)c->bytes_in, (unsigned long long)conn_bytes_out(c));
	ev_timer_stop(ctx->loop, &c->timer);
	if (c->proxy != NULL) {
		free(c->proxy->hdr);
		free(c->proxy);
	}
	unlink_conn(ctx, c);
	/* Frozen, so nothing of it is in the kernel: the driver lets go at
	 * once, and only this process's descriptor closes. */
	(void)conn_io(ctx)->release(c);
	conn_free(c);
	if (ctx->on_close != NULL)
		ctx->on_close(ctx, tag);
}

struct conn *conn_adopt(struct conn_ctx *ctx, int fd, const struct conn_transfer *t)
{
	struct conn *c = calloc(1, conn_io(ctx)->size);
	uint64_t now = ev_now(ctx->loop);

	if (c == NULL)
		return NULL;
	/* The client a PROXY header claimed stays the connection's client. */
	if (t->has_proxy && (c->proxy = calloc(1, sizeof(*c->proxy))) == NULL) {
		free(c);
		return NULL;
	}
	if (c->proxy != NULL)
		c->proxy->client = t->proxy_client;
	c->fd = fd;
	c->ctx = ctx;
	c->id = ++ctx->last_id; /* a new id here; the old one is in the sender's log */
	c->state = CONN_HANDOVER;
	ev_timer_init(&c->timer, conn_on_timer);
	c->last_active = t->idle_ms < now ? now - t->idle_ms : 0;
	/* Its duration, for the histogram, counts from its first accept. */
	c->opened = t->age_ms < now ? now - t->age_ms : 0;
	/* bytes out follow from bytes in and the queue the caller fills */
	c->bytes_in = t->bytes_in;
	c->peer_eof = t->peer_eof != 0;
	/* Counted in by the master once our answer says we took it (relay.h). */
	link_conn(ctx, c);
	if (ctx->on_adopt != NULL)
		ctx->on_adopt(ctx, c);
	return c;
}
