/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Connection handover between workers (see handover.h).  Offers go out a
 * window at a time: each answer makes room for the next, so 10,000
 * connections move in a few hundred round trips without any channel on the
 * way filling up.  A queue that fits the message travels in it; a larger
 * one (up to max_pending) is written to a memfd passed beside the socket.
 */
#include "acconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "buffer.h"
#include "handover.h"
#include "handover_rec.h"
#include "log.h"

/* How soon offers are tried again after the channel or the new worker was
 * busy. */
#define RETRY_MS 10

static void on_retry(struct ev_loop *loop, struct ev_timer *t);
static void pump(struct handover *h);
static int thaw(struct conn *c);

void handover_init(struct handover *h, struct conn_ctx *ctx, int chan)
{
	memset(h, 0, sizeof(*h));
	h->ctx = ctx;
	h->chan = chan;
	ev_timer_init(&h->retry, on_retry);
}

int handover_busy(const struct handover *h)
{
	return h->active || h->inflight > 0;
}

static void answer(struct handover *h, uint32_t id, int err)
{
	struct chan_ho_answer a = {.err = err};

	if (h->chan >= 0 && chan_send(h->chan, CHAN_HO_ANSWER, id, &a, sizeof(a), -1) == -1)
		log_warn("handover: cannot answer offer %u", (unsigned)id);
}

/* Write the queue into a memfd, for a queue too large for the message.
 * Returns the descriptor, or -1 with errno. */
static int queue_to_memfd(const struct buffer *q)
{
	int max = (int)(q->len / BUFFER_CHUNK_SIZE) + 2;
	struct iovec *iov = calloc((size_t)max, sizeof(*iov));
	int fd = -1;

	if (iov == NULL)
		return -1;
	int n = buffer_iov(q, iov, max);
	if ((fd = memfd_create("echod-handover", MFD_CLOEXEC)) == -1)
		goto out;
	/* A memfd write is all or nothing short of ENOSPC/ENOMEM, but an
	 * iovec count past IOV_MAX is refused: write in slices. */
	for (int i = 0; i < n; i += 64) {
		int cnt = n - i < 64 ? n - i : 64;
		size_t want = 0;
		for (int j = 0; j < cnt; j++)
			want += iov[i + j].iov_len;
		if (writev(fd, iov + i, cnt) != (ssize_t)want) {
			int saved = errno ? errno : EIO;
			close(fd);
			fd = -1;
			errno = saved;
			goto out;
		}
	}
out:
	free(iov);
	return fd;
}

/* Freeze c and offer it in slot i.  Returns 0, or -1 with errno: EBUSY if
 * c cannot be frozen yet (its I/O driver is stopping: offer it again a turn
 * later); else c is served here again, or closed and freed if *gone. */
static int offer(struct handover *h, struct conn *c, size_t i, int *gone)
{
	unsigned char payload[CHAN_MAX_PAYLOAD];
	unsigned char inl[CHAN_MAX_PAYLOAD];
	struct handover_rec r = {.queue_len = c->out.len};
	int fds[2] = {c->fd, -1};
	size_t nfds = 1;
	long len;

	if (conn_freeze(c, &r.t) == -1)
		return -1;
	if (c->out.len <= CHAN_MAX_PAYLOAD - HANDOVER_REC_FIXED) {
		struct iovec iov[8];
		int n = buffer_iov(&c->out, iov, 8);
		size_t off = 0;
		for (int j = 0; j < n && off + iov[j].iov_len <= sizeof(inl); j++) {
			memcpy(inl + off, iov[j].iov_base, iov[j].iov_len);
			off += iov[j].iov_len;
		}
		r.queue_inline = inl;
		r.queue_inline_len = off;
	}
	if (r.queue_inline_len != r.queue_len) {
		r.queue_inline_len = 0;
		if ((fds[1] = queue_to_memfd(&c->out)) == -1)
			goto fail;
		nfds = 2;
	}
	if ((len = handover_rec_encode(&r, payload, sizeof(payload))) < 0) {
		errno = EMSGSIZE;
		goto fail;
	}
	h->serial[i] = (h->serial[i] + 1) & 0xffffff;
	uint32_t id = (h->serial[i] << 8) | (uint32_t)i;
	if (chan_send_fds(h->chan, CHAN_HO_OFFER, id, payload, (size_t)len, fds, nfds) == -1)
		goto fail;
	if (fds[1] != -1)
		close(fds[1]);
	/* Out of this worker's count: the master counts that, as it reads the
	 * offer, and back in if it tells us a refusal (relay.h). */
	h->slot[i] = c;
	h->inflight++;
	return 0;

fail:;
	int saved = errno;
	if (fds[1] != -1)
		close(fds[1]);
	*gone = thaw(c) != 0;
	errno = saved;
	return -1;
}

/* Serve a frozen connection here again.  Returns 0, or 1 if it closed (c is
 * freed). */
static int thaw(struct conn *c)
{
	int rc = conn_thaw(c);

	if (rc == -1)
		conn_close(c, "event loop error");
	return rc != 0;
}

static size_t free_slot(const struct handover *h)
{
	for (size_t i = 0; i < HANDOVER_WINDOW; i++)
		if (h->slot[i] == NULL)
			return i;
	return HANDOVER_WINDOW;
}

static void log_summary(const struct handover *h)
{
	log_info("handover: %llu connections handed to the new generation, %llu kept "
	         "(%llu ms)",
	         (unsigned long long)h->handed, (unsigned long long)h->refused,
	         (unsigned long long)(ev_now(h->ctx->loop) - h->started));
}

void handover_finish(struct handover *h, int chan_gone)
{
	if (chan_gone) {
		/* No answer can come: serve what was offered here again.  (The
		 * master relays every adoption's answer, so a worker that took
		 * one over while the master died is the one case this cannot
		 * tell; a dying master is not a reload.) */
		h->chan = -1;
		for (size_t i = 0; i < HANDOVER_WINDOW; i++) {
			struct conn *c = h->slot[i];
			if (c == NULL)
				continue;
			h->slot[i] = NULL;
			h->inflight--;
			h->refused++;
			if (thaw(c) == 0 && !h->active)
				conn_retire(c);
		}
	}
	ev_timer_stop(h->ctx->loop, &h->retry);
	if (!h->active)
		return;
	h->active = 0;
	conn_retire_all(h->ctx);
	log_summary(h);
}

void handover_abandon(struct handover *h)
{
	for (size_t i = 0; i < HANDOVER_WINDOW; i++) {
		if (h->slot[i] == NULL)
			continue;
		conn_forget(h->slot[i]);
		h->slot[i] = NULL;
		h->inflight--;
	}
}

/* Offer open connections while the window has room. */
static void pump(struct handover *h)
{
	struct conn_ctx *ctx = h->ctx;
	int open = 0;

	if (!h->active)
		return;
	if (h->chan < 0 || ev_now(ctx->loop) >= h->deadline) {
		handover_finish(h, 0);
		return;
	}
	for (struct conn *c = ctx->conns, *next; c != NULL; c = next) {
		next = c->next;
		if (c->state != CONN_OPEN)
			continue;
		open = 1;
		size_t i = free_slot(h);
		if (i == HANDOVER_WINDOW)
			return; /* the next answer pumps again */
		int gone = 0;
		if (offer(h, c, i, &gone) == -1) {
			if (errno == EBUSY) {
				/* io_uring: its operations leave the kernel in
				 * the next turn; the others go on meanwhile. */
				if (!ev_timer_active(&h->retry))
					ev_timer_start(ctx->loop, &h->retry, 1);
				continue;
			}
			if (errno == EAGAIN || errno == ENOBUFS) {
				ev_timer_start(ctx->loop, &h->retry, RETRY_MS);
				return;
			}
			log_warn("handover: cannot offer a connection; it retires here");
			h->refused++;
			if (!gone)
				conn_retire(c);
		}
	}
	if (!open && h->inflight == 0)
		handover_finish(h, 0);
}

static void on_retry(struct ev_loop *loop, struct ev_timer *t)
{
	(void)loop;
	pump(ev_container_of(t, struct handover, retry));
}

void handover_start(struct handover *h, uint64_t timeout_ms)
{
	if (h->active || h->chan < 0) {
		if (!h->active)
			conn_retire_all(h->ctx);
		return;
	}
	h->active = 1;
	h->started = ev_now(h->ctx->loop);
	h->deadline = h->started + timeout_ms;
	log_info("handover: offering %zu connections to the new generation", h->ctx->nconns);
	pump(h);
}

void handover_on_answer(struct handover *h, const struct chan_msg *msg)
{
	struct chan_ho_answer a;
	size_t i = msg->hdr.id & 0xff;
	struct conn *c;

	if (msg->hdr.len != sizeof(a) || i >= HANDOVER_WINDOW || h->slot[i] == NULL ||
	    h->serial[i] != msg->hdr.id >> 8) {
		log_warnx("handover: an answer to no offer (%u)", (unsigned)msg->hdr.id);
		return;
	}
	memcpy(&a, msg->payload, sizeof(a));
	c = h->slot[i];
	h->slot[i] = NULL;
	h->inflight--;
	if (a.err == 0) {
		h->handed++;
		conn_forget(c);
		goto next;
	}
	if (thaw(c) != 0) {
		h->refused++;
	} else if (a.err == EAGAIN && h->active) {
		/* The new worker was busy: c is offered again, a moment later. */
		ev_timer_start(h->ctx->loop, &h->retry, RETRY_MS);
		return;
	} else {
		h->refused++;
		log_debug("handover refused (%s); the connection retires here", strerror(a.err));
		conn_retire(c);
	}
next:
	if (h->active && !ev_timer_active(&h->retry))
		pump(h);
	else if (!h->active && h->inflight == 0 && (h->handed || h->refused))
		log_debug("handover: every offer answered");
}

/* Fill c's queue from the record or the memfd.  Returns 0 or -1 (errno). */
static int fill_queue(struct conn *c, const struct handover_rec *r, int memfd)
{
	if (r->queue_inline_len > 0)
		return buffer_append(&c->out, r->queue_inline, r->queue_inline_len);
	uint64_t off = 0;
	while (off < r->queue_len) {
		size_t room;
		char *dst = buffer_reserve(&c->out, &room);
		if (dst == NULL)
			return -1;
		if (room > r->queue_len - off)
			room = (size_t)(r->queue_len - off);
		ssize_t n = pread(memfd, dst, room, (off_t)off);
		if (n <= 0) {
			errno = n == 0 ? EBADMSG : errno;
			return -1;
		}
		buffer_commit(&c->out, (size_t)n);
		off += (uint64_t)n;
	}
	return 0;
}

void handover_on_offer(struct handover *h, const struct chan_msg *msg, int *fds, size_t nfds,
                       int lost, int accepting, size_t max_conns)
{
	struct handover_rec r;
	struct conn *c;
	int err = 0;

	if (lost) {
		err = EMFILE;
		log_warnx("handover: no descriptor left for an offered connection; "
		          "it stays with the old worker");
		goto refuse;
	}
	if (nfds < 1 || handover_rec_decode(msg->payload, msg->hdr.len, &r) == -1 ||
	    (r.queue_len > r.queue_inline_len && nfds < 2)) {
		err = EBADMSG;
		log_warnx("handover: malformed offer");
		goto refuse;
	}
	if (!accepting) {
		err = EAGAIN; /* retiring too: the master finds a newer worker */
		goto refuse;
	}
	if (h->ctx->nconns >= max_conns) {
		err = ENFILE;
		log_warnx("handover: max_connections (%zu) reached; the connection stays "
		          "with the old worker",
		          max_conns);
		goto refuse;
	}
	if ((c = conn_adopt(h->ctx, fds[0], &r.t)) == NULL) {
		err = errno;
		goto refuse;
	}
	/* conn_thaw() may close c at once (its client had finished): it was
	 * still adopted. */
	if (fill_queue(c, &r, nfds > 1 ? fds[1] : -1) == -1 || conn_thaw(c) == -1) {
		err = errno ? errno : ENOMEM;
		conn_forget(c); /* closes only our copy of fds[0] */
		fds[0] = -1;
		goto refuse;
	}
	if (nfds > 1)
		close(fds[1]);
	answer(h, msg->hdr.id, 0);
	return;

refuse:
	for (size_t i = 0; i < nfds; i++)
		if (fds[i] != -1)
			close(fds[i]);
	answer(h, msg->hdr.id, err);
}
