/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Stream connections (TCP and Unix): connect, keep up to DEPTH messages in
 * flight, verify the echo as it arrives.  The bytes sent are the pattern
 * itself (sendmsg straight from its table) and the bytes received are
 * compared with it in place, so a message costs no allocation and no copy,
 * and a batch of messages costs one read and one write.
 */
#include "acconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bconn.h"
#include "clock.h"
#include "pattern.h"
#include "stream.h"

/* One receive buffer for every connection: the loop runs one callback at a
 * time and the bytes are verified before it returns. */
static uint8_t stream_buf[256 * 1024];

/* How long a Unix socket connect waits before it tries again after EAGAIN
 * (the server's backlog is full). */
#define STREAM_RETRY_MS 5
/* iovecs per sendmsg: 16 * 64 KiB of pattern in one system call. */
#define STREAM_IOV 16
/* With --slow, a message goes out in this many parts. */
#define STREAM_SLOW_PARTS 3

static void stream_on_event(struct ev_loop *loop, int fd, int events, void *arg);
static void stream_on_timer(struct pace_timer *t);

static void stream_interest(struct bconn_run *run, struct bconn *c, int events)
{
	if (c->interest == events)
		return;
	if (ev_set(run->loop, c->fd, events) == 0)
		c->interest = events;
}

/* Queue the messages that may go now: room in the window, quota left, due. */
static void stream_fill(struct bconn_run *run, struct bconn *c, uint64_t now)
{
	const struct bench_opts *o = run->opts;
	int paced = o->rate > 0 && !o->connect_rate;
	uint32_t depth = (uint32_t)o->depth;

	if (c->state != BCONN_RUNNING)
		return;
	while (c->tail - c->head < depth && c->msgs_queued < c->quota) {
		struct inflight *e = &c->ring[c->tail & c->mask];
		uint32_t size = bconn_msg_size(run, c->id, c->msgs_queued);

		if ((paced || c->part > 0) && c->due_ns > now) {
			if (!pace_active(&c->timer))
				pace_at(&run->pace, &c->timer, c->due_ns);
			break;
		}
		e->tsent = now;
		/* Coordinated omission: a paced message's latency runs from when
		 * it was due, not from when a full window let it go. */
		e->t0 = paced || o->connect_rate ? c->due_ns : now;
		e->flags = INFLIGHT_LAST;
		if (o->slow_ms >= 0) {
			uint32_t parts = size < STREAM_SLOW_PARTS ? size : STREAM_SLOW_PARTS;
			uint32_t psize = size / parts;

			if (c->part == parts - 1)
				psize = size - psize * (parts - 1);
			else
				e->flags = 0;
			e->t0 = now;
			if (++c->part == parts)
				c->part = 0;
			size = psize;
		}
		e->size = size;
		c->queued += size;
		e->key = c->queued;
		c->tail++;
		if (e->flags & INFLIGHT_LAST)
			c->msgs_queued++;
		if (paced)
			c->due_ns += run->interval_ns;
	}
}

/* Write what is queued.  Returns 0, or -1 if the connection was closed. */
static int stream_flush(struct bconn_run *run, struct bconn *c)
{
	struct iovec iov[STREAM_IOV];
	struct msghdr msg;
	size_t covered;
	ssize_t n;

	while (c->sent < c->queued) {
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = iov;
		msg.msg_iovlen = (size_t)pattern_iov(c->phase, c->sent, c->queued - c->sent, iov,
		                                     STREAM_IOV, &covered);
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			/* The offset is, as everywhere, that of the first byte
			 * not echoed. */
			if (errno == ECONNRESET || errno == EPIPE)
				report_error(
				    run->rep, ERR_RESET, c->id, c->received,
				    "connection reset while sending (%llu bytes not echoed)",
				    (unsigned long long)(c->sent - c->received));
			else
				report_error(run->rep, ERR_IO, c->id, c->received, "send: %s",
				             strerror(errno));
			bconn_close(c, 1);
			return -1;
		}
		c->sent += (uint64_t)n;
		if ((size_t)n < covered)
			break; /* the socket buffer is full */
	}
	stream_interest(run, c, c->sent < c->queued ? EV_READ | EV_WRITE : EV_READ);
	return 0;
}

/* Messages whose last byte has come back. */
static void stream_complete(struct bconn_run *run, struct bconn *c, uint64_t now)
{
	while (c->head != c->tail) {
		struct inflight *e = &c->ring[c->head & c->mask];
		uint64_t lat = now > e->t0 ? now - e->t0 : 0;

		if (e->key > c->received)
			break;
		c->head++;
		if (e->flags & INFLIGHT_LAST) {
			c->msgs_done++;
			report_message(run->rep, lat);
		} else {
			report_latency(run->rep, lat);
			c->due_ns = now + (uint64_t)run->opts->slow_ms * 1000000u;
		}
	}
}

/* Read and verify.  Returns 0, or -1 if the connection was closed. */
static int stream_read(struct bconn_run *run, struct bconn *c, uint64_t now)
{
	ssize_t n = read(c->fd, stream_buf, sizeof(stream_buf));
	uint64_t expect = c->sent - c->received;
	size_t m, bad;

	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		if (errno == ECONNRESET)
			report_error(run->rep, ERR_RESET, c->id, c->received,
			             "connection reset by peer (%llu bytes not echoed)",
			             (unsigned long long)expect);
		else
			report_error(run->rep, ERR_IO, c->id, c->received, "read: %s",
			             strerror(errno));
		goto fail;
	}
	if (n == 0) {
		report_error(run->rep, ERR_EOF, c->id, c->received,
		             "unexpected EOF (%llu bytes sent but not echoed)",
		             (unsigned long long)expect);
		goto fail;
	}
	m = (uint64_t)n < expect ? (size_t)n : (size_t)expect;
	if ((bad = pattern_check(c->phase, c->received, stream_buf, m)) != m) {
		report_error(run->rep, ERR_MISMATCH, c->id, c->received + bad,
		             "expected 0x%02x, got 0x%02x",
		             pattern_byte(c->phase, c->received + bad), stream_buf[bad]);
		goto fail;
	}
	c->received += m;
	c->progress_ns = now;
	report_bytes(run->rep, m);
	if (m < (size_t)n) {
		report_error(run->rep, ERR_EXTRA, c->id, c->received,
		             "%zu bytes came back that were never sent", (size_t)n - m);
		goto fail;
	}
	stream_complete(run, c, now);
	if (c->head == c->tail && (c->state == BCONN_DRAINING || c->msgs_done >= c->quota)) {
		bconn_close(c, 0);
		return -1;
	}
	return 0;
fail:
	bconn_close(c, 1);
	return -1;
}

/*
 * --proxy: the header a balancer would send for this connection, naming our
 * own address as the client's, as HAProxy's send-proxy(-v2) does.  Returns
 * its length, or 0 if the addresses cannot be had.
 */
static size_t proxy_header(int fd, int version, unsigned char *buf, size_t len)
{
	static const unsigned char sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
	                                      0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
	struct sockaddr_storage src, dst;
	socklen_t sl = sizeof(src), dl = sizeof(dst);
	char sh[INET6_ADDRSTRLEN], dh[INET6_ADDRSTRLEN];

	memset(&src, 0, sizeof(src));
	memset(&dst, 0, sizeof(dst));
	if (getsockname(fd, (struct sockaddr *)&src, &sl) == -1 ||
	    getpeername(fd, (struct sockaddr *)&dst, &dl) == -1 || src.ss_family != dst.ss_family)
		return 0;
	int v6 = src.ss_family == AF_INET6;
	const struct sockaddr_in *s4 = (const void *)&src, *d4 = (const void *)&dst;
	const struct sockaddr_in6 *s6 = (const void *)&src, *d6 = (const void *)&dst;
	if (version == 1) {
		inet_ntop(src.ss_family, v6 ? (const void *)&s6->sin6_addr : &s4->sin_addr, sh,
		          sizeof(sh));
		inet_ntop(dst.ss_family, v6 ? (const void *)&d6->sin6_addr : &d4->sin_addr, dh,
		          sizeof(dh));
		int n = snprintf((char *)buf, len, "PROXY TCP%c %s %s %u %u\r\n", v6 ? '6' : '4',
		                 sh, dh, ntohs(v6 ? s6->sin6_port : s4->sin_port),
		                 ntohs(v6 ? d6->sin6_port : d4->sin_port));
		return n > 0 && (size_t)n < len ? (size_t)n : 0;
	}
	size_t alen = v6 ? 36 : 12;
	if (len < 16 + alen)
		return 0;
	memcpy(buf, sig, 12);
	buf[12] = 0x21;
	buf[13] = v6 ? 0x21 : 0x11;
	buf[14] = 0;
	buf[15] = (unsigned char)alen;
	unsigned char *a = buf + 16;
	if (v6) {
		memcpy(a, &s6->sin6_addr, 16);
		memcpy(a + 16, &d6->sin6_addr, 16);
		memcpy(a + 32, &s6->sin6_port, 2);
		memcpy(a + 34, &d6->sin6_port, 2);
	} else {
		memcpy(a, &s4->sin_addr, 4);
		memcpy(a + 4, &d4->sin_addr, 4);
		memcpy(a + 8, &s4->sin_port, 2);
		memcpy(a + 10, &d4->sin_port, 2);
	}
	return 16 + alen;
}

/* Send the --proxy header: a fresh socket takes its few bytes at once. */
static int stream_send_proxy(struct bconn_run *run, struct bconn *c)
{
	unsigned char hdr[128];
	size_t n = proxy_header(c->fd, run->opts->proxy, hdr, sizeof(hdr));

	if (n == 0 || send(c->fd, hdr, n, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)n) {
		report_error(run->rep, ERR_IO, c->id, 0, "cannot send the PROXY header");
		bconn_close(c, 1);
		return -1;
	}
	return 0;
}

static void stream_connected(struct bconn_run *run, struct bconn *c, uint64_t now)
{
	if (run->opts->proxy != 0 && stream_send_proxy(run, c) == -1)
		return;
	c->state = BCONN_RUNNING;
	c->progress_ns = now;
	bconn_opened(c);
	stream_fill(run, c, now);
	(void)stream_flush(run, c);
}

static void stream_connect(struct bconn_run *run, struct bconn *c)
{
	uint64_t now = clock_mono_ns();
	int in_progress, events;

	c->fd = net_connect(&run->target, bconn_next_source(run), &in_progress);
	if (c->fd == -1) {
		if (errno == EAGAIN && run->target.family == AF_UNIX) {
			pace_at(&run->pace, &c->timer,
			        clock_mono_ns() + STREAM_RETRY_MS * UINT64_C(1000000));
			return;
		}
		report_error(run->rep, ERR_CONNECT, c->id, 0, "connect: %s%s", strerror(errno),
		             errno == EMFILE || errno == ENFILE ? " (descriptor limit; see -c)"
		             : errno == EADDRNOTAVAIL ? " (out of local ports; spread with -S)"
		                                      : "");
		bconn_close(c, 1);
		return;
	}
	events = in_progress ? EV_WRITE : EV_READ;
	if (ev_add(run->loop, c->fd, events, stream_on_event, c) == -1) {
		report_error(
		    run->rep, ERR_CONNECT, c->id, 0, "cannot watch descriptor %d: %s", c->fd,
		    errno == ERANGE ? "beyond what this backend can hold" : strerror(errno));
		bconn_close(c, 1);
		return;
	}
	c->interest = events;
	if (!in_progress)
		stream_connected(run, c, now);
}

static void stream_start(struct bconn *c)
{
	c->fd = -1;
	c->state = BCONN_CONNECTING;
	c->queued = c->sent = c->received = 0;
	c->msgs_queued = c->msgs_done = 0;
	c->head = c->tail = 0;
	c->part = 0;
	c->progress_ns = clock_mono_ns();
	pace_timer_init(&c->timer, stream_on_timer);
	stream_connect(c->run, c);
}

static void stream_on_event(struct ev_loop *loop, int fd, int events, void *arg)
{
	struct bconn *c = arg;
	struct bconn_run *run = c->run;
	uint64_t now = clock_mono_ns();

	(void)loop;
	(void)fd;
	if (c->state == BCONN_CONNECTING) {
		if (net_connect_result(c->fd) == -1) {
			report_error(run->rep, ERR_CONNECT, c->id, 0, "connect: %s",
			             strerror(errno));
			bconn_close(c, 1);
			return;
		}
		stream_interest(run, c, EV_READ);
		stream_connected(run, c, now);
		return;
	}
	if ((events & EV_READ) && stream_read(run, c, now) == -1)
		return;
	stream_fill(run, c, now);
	(void)stream_flush(run, c);
}

static void stream_on_timer(struct pace_timer *t)
{
	struct bconn *c = ev_container_of(t, struct bconn, timer);
	struct bconn_run *run = c->run;
	uint64_t now = clock_mono_ns();

	if (c->state == BCONN_CONNECTING) {
		if (c->fd == -1)
			stream_connect(run, c);
		return;
	}
	stream_fill(run, c, now);
	(void)stream_flush(run, c);
}

static void stream_stop(struct bconn *c)
{
	if (c->state == BCONN_CONNECTING) {
		bconn_close(c, 0);
		return;
	}
	if (c->state != BCONN_RUNNING)
		return;
	c->state = BCONN_DRAINING;
	pace_stop(&c->run->pace, &c->timer);
	if (c->head == c->tail)
		bconn_close(c, 0);
}

static void stream_check(struct bconn *c, uint64_t now)
{
	struct bconn_run *run = c->run;
	uint64_t limit = (uint64_t)(run->opts->timeout * 1e9);
	uint64_t since;

	if (c->state == BCONN_CONNECTING) {
		if (now - c->progress_ns > limit) {
			report_error(run->rep, ERR_TIMEOUT, c->id, 0,
			             "connect timed out after %.3f s",
			             (double)(now - c->progress_ns) / 1e9);
			bconn_close(c, 1);
		}
		return;
	}
	if (c->head == c->tail)
		return;
	since = c->progress_ns;
	if (c->ring[c->head & c->mask].tsent > since)
		since = c->ring[c->head & c->mask].tsent;
	if (now > since && now - since > limit) {
		report_error(run->rep, ERR_TIMEOUT, c->id, c->received,
		             "no echo for %.3f s (%llu bytes outstanding)",
		             (double)(now - since) / 1e9,
		             (unsigned long long)(c->queued - c->received));
		bconn_close(c, 1);
	}
}

const struct bconn_ops stream_ops = {
    .start = stream_start,
    .stop = stream_stop,
    .check = stream_check,
};
