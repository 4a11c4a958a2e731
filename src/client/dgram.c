/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * UDP flows: one connected socket per flow, up to DEPTH datagrams in flight,
 * sent and received in batches (sendmmsg/recvmmsg where there are).  Each
 * datagram begins with its 64-bit sequence number, then pattern bytes chosen
 * by that number, so that a datagram can be verified on its own whatever
 * order datagrams come back in.  A datagram not back within --timeout is
 * lost: counted, and an error only with --fail-on-loss.
 */
#include "acconfig.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bconn.h"
#include "clock.h"
#include "dgram.h"
#include "pattern.h"

#define DGRAM_HDR   8
#define DGRAM_BATCH 64
/* Receive batches per readiness event: enough to empty a busy socket, few
 * enough that one flow does not starve the others. */
#define DGRAM_READS 4

static uint8_t *dgram_bufs; /* DGRAM_BATCH receive buffers of dgram_bufsz */
static size_t dgram_bufsz;

static void dgram_on_event(struct ev_loop *loop, int fd, int events, void *arg);
static void dgram_on_timer(struct pace_timer *t);

/* Where datagram `seq`'s payload starts in its flow's pattern. */
static inline uint64_t dgram_off(uint64_t seq)
{
	return seq * 8191u;
}

static int dgram_init(struct bconn_run *run)
{
	/* One byte more than the largest datagram: a longer echo shows up as
	 * a wrong length even where MSG_TRUNC is not reported. */
	dgram_bufsz = run->opts->size_max + 1;
	dgram_bufs = malloc(dgram_bufsz * DGRAM_BATCH);
	return dgram_bufs != NULL ? 0 : -1;
}

static void dgram_fini(struct bconn_run *run)
{
	(void)run;
	free(dgram_bufs);
	dgram_bufs = NULL;
}

#ifndef HAVE_SENDMMSG
static int sendmmsg(int fd, struct mmsghdr *mm, unsigned n, int flags)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		ssize_t r = sendmsg(fd, &mm[i].msg_hdr, flags);

		if (r == -1)
			return i > 0 ? (int)i : -1;
		mm[i].msg_len = (unsigned)r;
	}
	return (int)n;
}
#endif

#ifndef HAVE_RECVMMSG
static int recvmmsg(int fd, struct mmsghdr *mm, unsigned n, int flags, struct timespec *unused)
{
	unsigned i;

	(void)unused;
	for (i = 0; i < n; i++) {
		ssize_t r = recvmsg(fd, &mm[i].msg_hdr, flags);

		if (r == -1)
			return i > 0 ? (int)i : -1;
		mm[i].msg_len = (unsigned)r;
	}
	return (int)n;
}
#endif

static void dgram_interest(struct bconn_run *run, struct bconn *c, int events)
{
	if (c->interest != events && ev_set(run->loop, c->fd, events) == 0)
		c->interest = events;
}

/* Send what may go now.  Returns 0, or -1 if the flow was closed. */
static int dgram_send(struct bconn_run *run, struct bconn *c, uint64_t now)
{
	const struct bench_opts *o = run->opts;
	struct mmsghdr mm[DGRAM_BATCH];
	struct iovec iov[DGRAM_BATCH][2];
	uint64_t hdr[DGRAM_BATCH];
	int paced = o->rate > 0, blocked = 0;
	unsigned n, i;
	int r;

	while (!blocked && c->state == BCONN_RUNNING) {
		for (n = 0; n < DGRAM_BATCH && c->inflight + n < (uint32_t)o->depth &&
		            c->msgs_queued < c->quota;
		     n++) {
			uint64_t seq = c->queued;
			struct inflight *e = &c->ring[seq & c->mask];
			uint32_t size = bconn_msg_size(run, c->id, seq);

			if (paced && c->due_ns > now) {
				if (!pace_active(&c->timer))
					pace_at(&run->pace, &c->timer, c->due_ns);
				break;
			}
			/* An older datagram still holds this slot: the window is
			 * DEPTH sequence numbers wide, holes included. */
			if (e->flags & INFLIGHT_USED)
				break;
			e->key = seq;
			e->t0 = paced ? c->due_ns : now;
			e->tsent = now;
			e->size = size;
			e->flags = INFLIGHT_USED;
			hdr[n] = htobe64(seq);
			iov[n][0].iov_base = &hdr[n];
			iov[n][0].iov_len = DGRAM_HDR;
			iov[n][1].iov_base = (void *)pattern_at(c->phase, dgram_off(seq));
			iov[n][1].iov_len = size - DGRAM_HDR;
			memset(&mm[n], 0, sizeof(mm[n]));
			mm[n].msg_hdr.msg_iov = iov[n];
			mm[n].msg_hdr.msg_iovlen = 2;
			c->queued++;
			c->msgs_queued++;
			if (paced)
				c->due_ns += run->interval_ns;
		}
		if (n == 0)
			break;
		r = sendmmsg(c->fd, mm, n, MSG_DONTWAIT);
		if (r == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS &&
			    errno != EINTR) {
				report_error(run->rep, errno == ECONNREFUSED ? ERR_CONNECT : ERR_IO,
				             c->id, 0, "send: %s", strerror(errno));
				bconn_close(c, 1);
				return -1;
			}
			r = 0;
		}
		/* Take back what did not go, so the sequence stays gapless. */
		for (i = (unsigned)r; i < n; i++) {
			c->ring[(c->queued - n + i) & c->mask].flags = 0;
			if (paced)
				c->due_ns -= run->interval_ns;
		}
		c->queued -= n - (unsigned)r;
		c->msgs_queued -= n - (unsigned)r;
		c->inflight += (uint32_t)r;
		run->rep->dgrams_sent += (uint64_t)r;
		blocked = (unsigned)r < n;
	}
	dgram_interest(run, c, blocked ? EV_READ | EV_WRITE : EV_READ);
	return 0;
}

/* Verify one echoed datagram. */
static void dgram_verify(struct bconn_run *run, struct bconn *c, const uint8_t *buf, size_t len,
                         int trunc, uint64_t now)
{
	struct report *rep = run->rep;
	struct inflight *e;
	uint64_t seq, be;
	size_t want, bad;
	int known;

	if (len < DGRAM_HDR || trunc) {
		report_error(rep, ERR_SIZE, c->id, 0, "datagram of %zu%s bytes", len,
		             trunc ? " or more" : "");
		return;
	}
	memcpy(&be, buf, sizeof(be));
	seq = be64toh(be);
	if (seq >= c->queued) {
		report_error(rep, ERR_MISMATCH, c->id, 0,
		             "datagram with sequence number %llu, never sent",
		             (unsigned long long)seq);
		return;
	}
	e = &c->ring[seq & c->mask];
	known = (e->flags & INFLIGHT_USED) && e->key == seq;
	if (known) {
		e->flags = 0;
		c->inflight--;
		c->msgs_done++;
	} else {
		/* Answered already, or counted lost: late or duplicated. */
		rep->dgrams_late++;
	}
	want = bconn_msg_size(run, c->id, seq);
	if (len != want) {
		report_error(rep, ERR_SIZE, c->id, 0, "datagram %llu: %zu bytes, %zu sent",
		             (unsigned long long)seq, len, want);
		return;
	}
	bad = pattern_check(c->phase, dgram_off(seq), buf + DGRAM_HDR, len - DGRAM_HDR);
	if (bad != len - DGRAM_HDR) {
		report_error(rep, ERR_MISMATCH, c->id, DGRAM_HDR + bad,
		             "datagram %llu: expected 0x%02x, got 0x%02x", (unsigned long long)seq,
		             pattern_byte(c->phase, dgram_off(seq) + bad), buf[DGRAM_HDR + bad]);
		return;
	}
	report_bytes(rep, len);
	if (known)
		report_message(rep, now > e->t0 ? now - e->t0 : 0);
}

/* Close the flow if it has nothing more to do.  Returns -1 if it did. */
static int dgram_maybe_done(struct bconn *c)
{
	if (c->inflight == 0 && (c->state == BCONN_DRAINING || c->msgs_done >= c->quota)) {
		bconn_close(c, 0);
		return -1;
	}
	return 0;
}

/* Returns 0, or -1 if the flow was closed. */
static int dgram_read(struct bconn_run *run, struct bconn *c, uint64_t now)
{
	struct mmsghdr mm[DGRAM_BATCH];
	struct iovec iov[DGRAM_BATCH];
	int round, n, i;

	for (round = 0; round < DGRAM_READS; round++) {
		memset(mm, 0, sizeof(mm));
		for (i = 0; i < DGRAM_BATCH; i++) {
			iov[i].iov_base = dgram_bufs + (size_t)i * dgram_bufsz;
			iov[i].iov_len = dgram_bufsz;
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(c->fd, mm, DGRAM_BATCH, MSG_DONTWAIT, NULL);
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			/* ICMP port unreachable comes back as ECONNREFUSED. */
			report_error(run->rep, errno == ECONNREFUSED ? ERR_CONNECT : ERR_IO, c->id,
			             0, "receive: %s", strerror(errno));
			bconn_close(c, 1);
			return -1;
		}
		for (i = 0; i < n; i++)
			dgram_verify(run, c, iov[i].iov_base, mm[i].msg_len,
			             (mm[i].msg_hdr.msg_flags & MSG_TRUNC) != 0, now);
		if (n < DGRAM_BATCH)
			break;
	}
	return dgram_maybe_done(c);
}

static void dgram_start(struct bconn *c)
{
	struct bconn_run *run = c->run;
	int in_progress;

	c->state = BCONN_RUNNING;
	c->queued = c->sent = c->received = 0;
	c->msgs_queued = c->msgs_done = 0;
	c->inflight = 0;
	memset(c->ring, 0, ((size_t)c->mask + 1) * sizeof(*c->ring));
	pace_timer_init(&c->timer, dgram_on_timer);
	c->fd = net_connect(&run->target, bconn_next_source(run), &in_progress);
	if (c->fd == -1) {
		report_error(run->rep, ERR_CONNECT, c->id, 0, "socket: %s", strerror(errno));
		goto fail;
	}
	if (ev_add(run->loop, c->fd, EV_READ, dgram_on_event, c) == -1) {
		report_error(
		    run->rep, ERR_CONNECT, c->id, 0, "cannot watch descriptor %d: %s", c->fd,
		    errno == ERANGE ? "beyond what this backend can hold" : strerror(errno));
		goto fail;
	}
	c->interest = EV_READ;
	bconn_opened(c);
	(void)dgram_send(run, c, clock_mono_ns());
	return;
fail:
	bconn_close(c, 1);
}

static void dgram_on_event(struct ev_loop *loop, int fd, int events, void *arg)
{
	struct bconn *c = arg;
	uint64_t now = clock_mono_ns();

	(void)loop;
	(void)fd;
	if ((events & EV_READ) && dgram_read(c->run, c, now) == -1)
		return;
	(void)dgram_send(c->run, c, now);
}

static void dgram_on_timer(struct pace_timer *t)
{
	struct bconn *c = ev_container_of(t, struct bconn, timer);

	(void)dgram_send(c->run, c, clock_mono_ns());
}

static void dgram_stop(struct bconn *c)
{
	if (c->state != BCONN_RUNNING)
		return;
	c->state = BCONN_DRAINING;
	pace_stop(&c->run->pace, &c->timer);
	(void)dgram_maybe_done(c);
}

static void dgram_check(struct bconn *c, uint64_t now)
{
	struct bconn_run *run = c->run;
	uint64_t limit = (uint64_t)(run->opts->timeout * 1e9);
	uint32_t i, lost = 0;

	if (c->inflight == 0)
		return;
	for (i = 0; i <= c->mask; i++) {
		struct inflight *e = &c->ring[i];

		if (!(e->flags & INFLIGHT_USED) || now - e->tsent <= limit)
			continue;
		e->flags = 0;
		c->inflight--;
		c->msgs_done++;
		run->rep->dgrams_lost++;
		lost++;
		if (run->opts->fail_on_loss)
			report_error(run->rep, ERR_LOST, c->id, 0,
			             "datagram %llu lost (no echo in %.3f s)",
			             (unsigned long long)e->key, run->opts->timeout);
	}
	if (lost != 0 && dgram_maybe_done(c) == 0)
		(void)dgram_send(run, c, now);
}

const struct bconn_ops dgram_ops = {
    .init = dgram_init,
    .fini = dgram_fini,
    .start = dgram_start,
    .stop = dgram_stop,
    .check = dgram_check,
};
