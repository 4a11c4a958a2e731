/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Stream echo by completions.  A multishot receive lends the connection
 * buffers of the loop's pool; they are held, not copied, and sent back from
 * where they are, with at most one send in flight per connection.  Such a
 * send does not wait: what the socket does not take is copied into the
 * connection's queue and the buffers go back to the pool at once, so a
 * client that does not read never pins the pool.  Sends from the queue wait
 * for room in the kernel, and a short one is continued.  Receiving stops (the
 * receive is cancelled) where conn.c says, and when the pool runs dry
 * (-ENOBUFS) the connection waits until buffers come back.  Sends and
 * receives a turn asks for are prepared just before the loop waits, so a
 * connection that received several times in one turn sends once.
 */
#include "acconfig.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conn_uring.h"
#include "ev_uring.h"

/* Receive buffers a connection holds at most before it copies. */
#define CONN_URING_HELD 8
/*
 * A connection with a backlog (its client sends faster than it reads)
 * receives into the bulk pool (EV_BUF_BULK), at most this much per arming,
 * and is armed only while that pool has a buffer for it (cu_prepare()), in
 * turn with the others like it.  Without that, 500 such clients took every
 * buffer as soon as it came back, and a client that reads its echoes found
 * the pool empty (-ENOBUFS) turn after turn: its echo waited 0.3-0.5 s.
 */
#define CU_BULK_ARM ((size_t)64 * 1024)
/* ... and so does one that sends this much at once. */
#define CU_BIG ((size_t)16 * 1024)

enum recv_state {
	RECV_IDLE,       /* no receive in the kernel */
	RECV_ARMED,      /* a multishot receive runs */
	RECV_CANCELLING, /* asked to end; its last completion is to come */
};

/* Which of the driver's lists a connection is on. */
enum cu_list {
	CU_NONE,
	CU_DIRTY,   /* to look at before the next wait */
	CU_STARVED, /* waits for free buffers of the stream pool */
	CU_BULK,    /* a backlogged connection waiting for its turn to receive */
	CU_ZOMBIE,  /* closed; waits for its last completion */
	CU_LISTS
};

/* What a send needs while one is pending, lent from the driver's pool so
 * that an idle connection does not carry it. */
struct cu_slot {
	struct cu_slot *next; /* the pool's free list */
	struct msghdr msg;
	struct iovec iov[CONN_URING_HELD]; /* held buffers, oldest first, or the queue's chunks */
	uint16_t bid[CONN_URING_HELD];
	uint8_t nheld; /* iov[0..nheld) are held receive buffers */
	uint8_t nsend; /* of them, how many the send in flight covers */
};

struct conn_u {
	struct conn c; /* first: conn.c allocates conn_io_uring.size */
	struct ev_op recv_op;
	struct ev_op send_op;
	struct conn_u *next, *prev; /* on list `list` */
	struct cu_slot *slot;       /* while something is held or being sent */
	size_t held;                /* bytes in held buffers */
	uint8_t list;               /* enum cu_list */
	uint8_t recv;               /* enum recv_state */
	uint8_t sending;            /* a send is in flight */
	uint8_t queue_send;         /* ... and it is from c.out */
	uint8_t starved;            /* the last receive ended with -ENOBUFS */
	uint8_t bulk;               /* the receive in the kernel is a bulk one */
	uint8_t big;                /* the last receive brought CU_BIG bytes or more */
	uint8_t bulk_wait;          /* waits on CU_BULK (or did, before a turn's flush) */
	uint8_t stopping;           /* a handover asked for no more I/O (stop) */
	uint8_t closed;             /* conn_close() ran */
};

struct cu_driver {
	struct conn_u *head[CU_LISTS]; /* by enum cu_list (CU_NONE unused) */
	struct conn_u *tail[CU_LISTS];
	struct cu_slot *free_slots;
	size_t bulk_armed;    /* bulk receives in the kernel */
	struct ev_timer kick; /* no sleeping while CU_BULK waits */
};

static const struct conn_io conn_io_uring;

static struct conn_u *cu_of(struct conn *c)
{
	return ev_container_of(c, struct conn_u, c);
}

static struct cu_driver *driver(const struct conn_u *cu)
{
	return cu->c.ctx->io_data;
}

static struct ev_loop *loop_of(const struct conn_u *cu)
{
	return cu->c.ctx->loop;
}

/* ---- lists and slots -------------------------------------------------------- */

static void cu_unlink(struct conn_u *cu)
{
	struct cu_driver *d = driver(cu);

	if (cu->list == CU_NONE)
		return;
	if (cu->prev != NULL)
		cu->prev->next = cu->next;
	else
		d->head[cu->list] = cu->next;
	if (cu->next != NULL)
		cu->next->prev = cu->prev;
	else
		d->tail[cu->list] = cu->prev;
	cu->next = cu->prev = NULL;
	cu->list = CU_NONE;
}

/* Lists are served in order: whoever waited longest first. */
static void cu_link(struct conn_u *cu, enum cu_list list)
{
	struct cu_driver *d = driver(cu);

	if (cu->list == list)
		return;
	cu_unlink(cu);
	cu->next = NULL;
	cu->prev = d->tail[list];
	if (cu->prev != NULL)
		cu->prev->next = cu;
	else
		d->head[list] = cu;
	d->tail[list] = cu;
	cu->list = (uint8_t)list;
}

/* Back to the front of a list, where it was before a flush took it off. */
static void cu_link_head(struct conn_u *cu, enum cu_list list)
{
	struct cu_driver *d = driver(cu);

	cu_unlink(cu);
	cu->prev = NULL;
	cu->next = d->head[list];
	if (cu->next != NULL)
		cu->next->prev = cu;
	else
		d->tail[list] = cu;
	d->head[list] = cu;
	cu->list = (uint8_t)list;
}

static struct cu_slot *slot_get(struct conn_u *cu)
{
	struct cu_driver *d = driver(cu);
	struct cu_slot *s = d->free_slots;

	if (cu->slot != NULL)
		return cu->slot;
	if (s != NULL)
		d->free_slots = s->next;
	else if ((s = malloc(sizeof(*s))) == NULL)
		return NULL;
	s->nheld = 0;
	s->nsend = 0;
	cu->slot = s;
	return s;
}

static void slot_put(struct conn_u *cu)
{
	struct cu_driver *d = driver(cu);
	struct cu_slot *s = cu->slot;

	if (s == NULL)
		return;
	s->next = d->free_slots;
	d->free_slots = s;
	cu->slot = NULL;
}

/* Give held buffers [from, nheld) back to the pool. */
static void release_held(struct conn_u *cu, unsigned from)
{
	struct cu_slot *s = cu->slot;

	if (s == NULL)
		return;
	for (unsigned i = from; i < s->nheld; i++) {
		ev_buf_release(loop_of(cu), EV_BUF_STREAM, s->bid[i]);
		cu->held -= s->iov[i].iov_len;
	}
	s->nheld = (uint8_t)from;
}

/* ---- receiving ----------------------------------------------------------------- */

/* The n bytes at data, lent with buffer bid, are c's: held, or copied into
 * the queue when it is not empty (they go after it) or the slot is full.
 * Returns 0, or -1 (ENOMEM). */
static int take(struct conn_u *cu, int bid, char *data, size_t n)
{
	struct ev_loop *loop = loop_of(cu);
	struct cu_slot *s = cu->slot;
	int rc;

	/* Stopping for a handover: everything goes into the queue, which
	 * travels with the connection. */
	if (!cu->stopping && buffer_empty(&cu->c.out) &&
	    (s == NULL || s->nheld < CONN_URING_HELD) && (s = slot_get(cu)) != NULL) {
		s->iov[s->nheld].iov_base = data;
		s->iov[s->nheld].iov_len = n;
		s->bid[s->nheld] = (uint16_t)bid;
		s->nheld++;
		cu->held += n;
		return 0;
	}
	rc = buffer_append(&cu->c.out, data, n);
	ev_buf_release(loop, EV_BUF_STREAM, bid);
	return rc;
}

/* The descriptor of a closed connection with nothing in the kernel goes
 * with the next submission: one system call less per connection. */
static void close_fd(struct conn_u *cu)
{
	if (ev_uring_close(loop_of(cu), cu->c.fd) == 0)
		cu->c.fd = -1;
}

/* Free a closed connection once nothing of it is in the kernel. */
static void reap(struct conn_u *cu)
{
	if (cu->recv != RECV_IDLE || cu->sending)
		return;
	release_held(cu, 0);
	slot_put(cu);
	cu_unlink(cu);
	close_fd(cu);
	conn_free(&cu->c);
}

static void on_recv(struct ev_loop *loop, struct ev_op *op, const struct ev_completion *cq)
{
	struct conn_u *cu = ev_container_of(op, struct conn_u, recv_op);
	struct conn *c = &cu->c;

	if (!cq->more) {
		cu->recv = RECV_IDLE;
		if (cu->bulk)
			driver(cu)->bulk_armed--;
		cu->bulk = 0;
	}
	if (cu->closed || (cq->res > 0 && c->state == CONN_LINGER)) {
		/* Nobody wants these bytes any more. */
		if (cq->buf >= 0)
			ev_buf_release(loop, EV_BUF_STREAM, cq->buf);
		if (cu->closed) {
			reap(cu);
			return;
		}
	} else if (cq->res > 0) {
		size_t n = (size_t)cq->res;
		long used = 0;

		cu->big = n >= CU_BIG;
		/* A PROXY header first: conn.c takes it; what follows is the
		 * client's. */
		if (c->state == CONN_HEADER && (used = conn_header_input(c, cq->data, n)) == -1) {
			ev_buf_release(loop, EV_BUF_STREAM, cq->buf);
			return;
		}
		if (c->state == CONN_HEADER || (size_t)used == n) {
			ev_buf_release(loop, EV_BUF_STREAM, cq->buf);
		} else if (take(cu, cq->buf, cq->data + used, n - (size_t)used) == -1) {
			conn_close(c, "out of memory");
			return;
		} else {
			/* Counted before its echo can go out (next turn). */
			stats_bytes_in(c->ctx->stats, n - (size_t)used);
			conn_received(c, n - (size_t)used);
		}
	} else if (cq->res == 0) {
		if (c->state == CONN_LINGER || c->state == CONN_HEADER) {
			conn_close(c, c->state == CONN_LINGER ? "retired"
			                                      : "EOF before its PROXY header");
			return;
		}
		c->peer_eof = 1;
	} else if (cq->res == -ENOBUFS) {
		/* Backpressure from the pool: the bytes wait in the socket. */
		cu->starved = 1;
	} else if (cq->res != -ECANCELED) {
		conn_close(c, c->state == CONN_LINGER ? "retired" : "read error");
		return;
	}
	(void)conn_settle(c);
}

/* A connection with a backlog or large receives, not lingering (that one
 * discards). */
static int is_bulk(const struct conn_u *cu)
{
	return cu->c.state != CONN_LINGER && (cu->big || conn_backlog(&cu->c) > 0);
}

static int arm_recv(struct conn_u *cu)
{
	const struct conn *c = &cu->c;
	size_t limit = 0;
	int bulk = is_bulk(cu);
	enum ev_buf_group pool = bulk ? EV_BUF_BULK : EV_BUF_STREAM;

	/* No more than max_pending in all, as by readiness; a lingering
	 * connection discards, so it has no limit. */
	if (c->state != CONN_LINGER) {
		size_t backlog = conn_backlog(c), max = c->ctx->max_pending;
		limit = backlog < max ? max - backlog : 1;
	}
	if (bulk && limit > CU_BULK_ARM)
		limit = CU_BULK_ARM;
	if (ev_op_recv(loop_of(cu), &cu->recv_op, c->fd, pool, limit) == -1)
		return -1;
	cu->recv = RECV_ARMED;
	cu->starved = 0;
	cu->bulk = (uint8_t)bulk;
	cu->bulk_wait = 0;
	driver(cu)->bulk_armed += (size_t)bulk;
	return 0;
}

/* ---- sending ------------------------------------------------------------------ */

static int send_iov(struct conn_u *cu, struct cu_slot *s, int n, int flags)
{
	struct ev_loop *loop = loop_of(cu);

	if (n == 1)
		return ev_op_send(loop, &cu->send_op, cu->c.fd, s->iov[0].iov_base,
		                  s->iov[0].iov_len, flags);
	memset(&s->msg, 0, sizeof(s->msg));
	s->msg.msg_iov = s->iov;
	s->msg.msg_iovlen = (size_t)n;
	return ev_op_sendmsg(loop, &cu->send_op, cu->c.fd, &s->msg, flags);
}

/* Start the next send if there is something to send: the held buffers
 * without waiting, else the queue.  Returns 0, or -1 with errno. */
static int send_next(struct conn_u *cu)
{
	struct conn *c = &cu->c;
	struct cu_slot *s = cu->slot;

	if (s != NULL && s->nheld > 0) {
		if (send_iov(cu, s, s->nheld, MSG_DONTWAIT) == -1)
			return -1;
		s->nsend = s->nheld;
		cu->queue_send = 0;
	} else if (!buffer_empty(&c->out)) {
		if ((s = slot_get(cu)) == NULL)
			return -1;
		if (send_iov(cu, s, buffer_iov(&c->out, s->iov, CONN_URING_HELD), 0) == -1)
			return -1;
		cu->queue_send = 1;
	} else {
		return 0;
	}
	cu->sending = 1;
	return 0;
}

/* The held send took `sent` bytes: give back what went, and copy what did
 * not into the front of the queue (the socket is full: it may stay so). */
static int held_sent(struct conn_u *cu, size_t sent)
{
	struct cu_slot *s = cu->slot;
	struct buffer rest = {0};
	unsigned done = 0;

	while (done < s->nsend && sent >= s->iov[done].iov_len) {
		sent -= s->iov[done].iov_len;
		cu->held -= s->iov[done].iov_len;
		ev_buf_release(loop_of(cu), EV_BUF_STREAM, s->bid[done]);
		done++;
	}
	memmove(s->iov, s->iov + done, (s->nheld - done) * sizeof(s->iov[0]));
	memmove(s->bid, s->bid + done, (s->nheld - done) * sizeof(s->bid[0]));
	s->nheld = (uint8_t)(s->nheld - done);
	s->nsend = (uint8_t)(s->nsend - done);
	if (s->nsend == 0)
		return 0;
	s->iov[0].iov_base = (char *)s->iov[0].iov_base + sent;
	s->iov[0].iov_len -= sent;
	cu->held -= sent;
	for (unsigned i = 0; i < s->nheld; i++) {
		if (buffer_append(&rest, s->iov[i].iov_base, s->iov[i].iov_len) == -1) {
			buffer_clear(&rest);
			return -1;
		}
	}
	release_held(cu, 0);
	s->nsend = 0;
	buffer_splice_front(&cu->c.out, &rest);
	return 0;
}

static void on_send(struct ev_loop *loop, struct ev_op *op, const struct ev_completion *cq)
{
	struct conn_u *cu = ev_container_of(op, struct conn_u, send_op);
	struct conn *c = &cu->c;
	size_t sent = cq->res > 0 ? (size_t)cq->res : 0;
	int rc = 0;
	(void)loop;

	cu->sending = 0;
	if (cu->closed) {
		cu->slot->nsend = 0;
		reap(cu);
		return;
	}
	if (cu->queue_send)
		buffer_consume(&c->out, sent);
	else
		rc = held_sent(cu, sent);
	if (sent > 0) {
		stats_bytes_out(c->ctx->stats, sent);
		conn_sent(c, sent);
	}
	if (rc == -1) {
		conn_close(c, "out of memory");
		return;
	}
	/* Not an error: the socket was full (a send that does not wait), or
	 * a handover stopped a send that had sent nothing. */
	if (cq->res < 0 && cq->res != -EAGAIN && cq->res != -EINTR && cq->res != -ECANCELED) {
		conn_close(c, "write error");
		return;
	}
	if (cu->slot->nheld == 0)
		slot_put(cu);
	(void)conn_settle(c);
}

/* ---- the driver ------------------------------------------------------------- */

/* A bulk receive waits for its turn and a buffer of the bulk pool on
 * CU_BULK (cu_prepare()); one that was waiting before this turn's flush took
 * it off keeps its place at the front. */
static void wait_bulk(struct conn_u *cu)
{
	if (cu->bulk_wait) {
		cu_link_head(cu, CU_BULK);
		return;
	}
	cu->bulk_wait = 1;
	cu_link(cu, CU_BULK);
}

/* Do what the turn asked of cu: receive or stop, send. */
static void flush(struct conn_u *cu)
{
	struct conn *c = &cu->c;
	struct ev_loop *loop = loop_of(cu);

	if (cu->stopping || c->state == CONN_HANDOVER) {
		/* A handover: what is in the kernel leaves it, nothing new goes. */
		if (cu->recv == RECV_ARMED && ev_op_cancel(loop, &cu->recv_op) == 0)
			cu->recv = RECV_CANCELLING;
		return;
	}
	if (!cu->sending && send_next(cu) == -1)
		goto fail;
	if (conn_wants_read(c)) {
		if (cu->recv == RECV_IDLE) {
			if (is_bulk(cu))
				wait_bulk(cu);
			else if (cu->starved && ev_buf_free(loop, EV_BUF_STREAM) == 0)
				cu_link(cu, CU_STARVED);
			else if (arm_recv(cu) == -1)
				goto fail;
		}
	} else if (cu->recv == RECV_ARMED) {
		if (ev_op_cancel(loop, &cu->recv_op) == -1)
			goto fail;
		cu->recv = RECV_CANCELLING;
	}
	return;

fail:
	conn_close(c, errno == ENOMEM ? "out of memory" : "event loop error");
}

/* Before the loop waits: what this turn's completions asked for, and the
 * connections that waited for buffers, as many as there are free ones. */
static void cu_prepare(struct ev_loop *loop, void *arg)
{
	struct cu_driver *d = arg;
	size_t avail = ev_buf_free(loop, EV_BUF_STREAM);
	struct conn_u *cu;

	while (avail > 0 && (cu = d->head[CU_STARVED]) != NULL) {
		cu_link(cu, CU_DIRTY);
		avail--;
	}
	while ((cu = d->head[CU_DIRTY]) != NULL) {
		cu_unlink(cu);
		flush(cu);
	}
	/* Then the bulk receives the bulk pool has buffers for, oldest first;
	 * and one at least, whatever the pool (it opens with the first): bulk
	 * receives armed earlier whose clients went quiet hold no buffer, and
	 * must not keep the others waiting for ever.  Nothing would wake the
	 * loop for a connection that has no receive armed: while one waits,
	 * the loop does not sleep. */
	avail = ev_buf_free(loop, EV_BUF_BULK);
	size_t room = avail > d->bulk_armed ? avail - d->bulk_armed : 1;
	while (room > 0 && (cu = d->head[CU_BULK]) != NULL) {
		cu_unlink(cu);
		if (cu->recv == RECV_IDLE && conn_wants_read(&cu->c) && arm_recv(cu) == -1) {
			conn_close(&cu->c, errno == ENOMEM ? "out of memory" : "event loop error");
			continue;
		}
		cu->bulk_wait = 0;
		room--;
	}
	if (d->head[CU_BULK] != NULL)
		(void)ev_timer_start(loop, &d->kick, 0);
}

static void cu_kick(struct ev_loop *loop, struct ev_timer *t)
{
	(void)loop;
	(void)t; /* the next turn's cu_prepare() does the work */
}

static int cu_start(struct conn *c)
{
	struct conn_u *cu = cu_of(c);

	ev_op_init(&cu->recv_op, on_recv);
	ev_op_init(&cu->send_op, on_send);
	cu_link(cu, CU_DIRTY);
	return 0;
}

static int cu_update(struct conn *c)
{
	cu_link(cu_of(c), CU_DIRTY);
	return 0;
}

/* Fold the held buffers that no send is reading into the queue, in front
 * of it (they are older), and give them back. */
static int fold_held(struct conn_u *cu)
{
	struct cu_slot *s = cu->slot;
	struct buffer front = {0};
	unsigned from;

	if (s == NULL)
		return 0;
	from = cu->sending && !cu->queue_send ? s->nsend : 0;
	if (s->nheld == from)
		return 0;
	for (unsigned i = from; i < s->nheld; i++) {
		if (buffer_append(&front, s->iov[i].iov_base, s->iov[i].iov_len) == -1) {
			buffer_clear(&front);
			return -1;
		}
	}
	release_held(cu, from);
	buffer_splice_front(&cu->c.out, &front);
	return 0;
}

static int cu_stop(struct conn *c)
{
	struct conn_u *cu = cu_of(c);
	struct ev_loop *loop = loop_of(cu);

	cu->stopping = 1;
	if (cu->recv == RECV_ARMED && ev_op_cancel(loop, &cu->recv_op) == 0)
		cu->recv = RECV_CANCELLING;
	/* A send from the queue may wait for room for ever: cancelled, having
	 * sent nothing (a short send completes); one from held buffers does
	 * not wait. */
	if (cu->sending && cu->queue_send)
		(void)ev_op_cancel(loop, &cu->send_op);
	/* Until then a send may still read held buffers: they fold once it has
	 * completed. */
	if (cu->sending || fold_held(cu) == -1)
		return 0;
	if (cu->recv != RECV_IDLE)
		return 0;
	cu_unlink(cu);
	slot_put(cu);
	return 1;
}

static int cu_resume(struct conn *c)
{
	struct conn_u *cu = cu_of(c);

	if (cu->recv_op.fn == NULL) { /* adopted: never started here */
		ev_op_init(&cu->recv_op, on_recv);
		ev_op_init(&cu->send_op, on_send);
	}
	cu->stopping = 0;
	cu_link(cu, CU_DIRTY);
	return 0;
}

static size_t cu_held(const struct conn *c)
{
	return ev_container_of(c, const struct conn_u, c)->held;
}

static int cu_release(struct conn *c)
{
	struct conn_u *cu = cu_of(c);
	struct ev_loop *loop = loop_of(cu);

	cu->closed = 1;
	cu_unlink(cu);
	if (cu->recv == RECV_ARMED) {
		if (ev_op_cancel(loop, &cu->recv_op) == 0)
			cu->recv = RECV_CANCELLING;
		else
			(void)shutdown(c->fd, SHUT_RDWR); /* ends the receive too */
	}
	/* A send from the queue may wait for room for ever; one from held
	 * buffers does not wait. */
	if (cu->sending && cu->queue_send && ev_op_cancel(loop, &cu->send_op) == -1)
		(void)shutdown(c->fd, SHUT_RDWR);
	release_held(cu, cu->sending && !cu->queue_send ? cu->slot->nsend : 0);
	if (cu->recv == RECV_IDLE && !cu->sending) {
		slot_put(cu);
		close_fd(cu);
		return 1;
	}
	/* Its descriptor stays open until then, so that the number cannot go
	 * to a new connection while an operation still names it. */
	cu_link(cu, CU_ZOMBIE);
	return 0;
}

static const struct conn_io conn_io_uring = {
    .size = sizeof(struct conn_u),
    .start = cu_start,
    .update = cu_update,
    .held = cu_held,
    .release = cu_release,
    .stop = cu_stop,
    .resume = cu_resume,
};

int conn_uring_attach(struct conn_ctx *ctx)
{
	struct cu_driver *d;

	if (!ev_loop_completions(ctx->loop)) {
		errno = ENOTSUP;
		return -1;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return -1;
	ev_timer_init(&d->kick, cu_kick);
	ctx->io = &conn_io_uring;
	ctx->io_data = d;
	ev_loop_prepare(ctx->loop, cu_prepare, d);
	return 0;
}

void conn_uring_detach(struct conn_ctx *ctx)
{
	struct cu_driver *d = ctx->io_data;
	struct conn_u *cu;

	if (d == NULL || ctx->io != &conn_io_uring)
		return;
	/* The loop is gone, and with it every operation: nothing is lent. */
	while ((cu = d->head[CU_ZOMBIE]) != NULL) {
		cu_unlink(cu);
		free(cu->slot);
		cu->slot = NULL;
		conn_free(&cu->c);
	}
	while (d->free_slots != NULL) {
		struct cu_slot *s = d->free_slots;
		d->free_slots = s->next;
		free(s);
	}
	free(d);
	ctx->io_data = NULL;
	ctx->io = NULL;
}
