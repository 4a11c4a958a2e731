/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The poll backend: a dense pollfd array plus a map from descriptor to its
 * index, so that adding, changing and removing one (swap with the last) are
 * O(1); a wait costs O(descriptors).
 */
#include "acconfig.h"

#include "ev_backend.h"

#ifdef EV_HAVE_POLL

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#define EV_POLL_MIN 64

struct ev_poll {
	struct pollfd *pfd;
	size_t n;
	size_t cap;
	size_t *pos; /* pos[fd]: index in pfd, valid only while fd is in pfd */
	size_t pos_cap;
};

static int ev_poll_init(struct ev_loop *loop)
{
	struct ev_poll *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -1;
	loop->bdata = p;
	return 0;
}

static void ev_poll_free(struct ev_loop *loop)
{
	struct ev_poll *p = loop->bdata;

	free(p->pfd);
	free(p->pos);
	free(p);
}

static int ev_poll_grow(struct ev_poll *p, int fd)
{
	if (p->n == p->cap) {
		size_t cap = p->cap > 0 ? p->cap * 2 : EV_POLL_MIN;
		struct pollfd *pfd;

		if ((pfd = realloc(p->pfd, cap * sizeof(*pfd))) == NULL)
			return -1;
		p->pfd = pfd;
		p->cap = cap;
	}
	if ((size_t)fd >= p->pos_cap) {
		size_t cap = p->pos_cap > 0 ? p->pos_cap : EV_POLL_MIN;
		size_t *pos;

		while (cap <= (size_t)fd)
			cap *= 2;
		if ((pos = realloc(p->pos, cap * sizeof(*pos))) == NULL)
			return -1;
		p->pos = pos;
		p->pos_cap = cap;
	}
	return 0;
}

static int ev_poll_update(struct ev_loop *loop, int fd, int old_mask, int new_mask)
{
	struct ev_poll *p = loop->bdata;
	short events =
	    (short)((new_mask & EV_READ ? POLLIN : 0) | (new_mask & EV_WRITE ? POLLOUT : 0));
	size_t i;

	if (old_mask == new_mask)
		return 0;
	if (old_mask == 0) {
		if (ev_poll_grow(p, fd) == -1)
			return -1;
		p->pfd[p->n].fd = fd;
		p->pfd[p->n].events = events;
		p->pfd[p->n].revents = 0;
		p->pos[fd] = p->n++;
		return 0;
	}
	i = p->pos[fd];
	if (new_mask != 0) {
		p->pfd[i].events = events;
		return 0;
	}
	if (i != --p->n) {
		p->pfd[i] = p->pfd[p->n];
		p->pos[p->pfd[i].fd] = i;
	}
	return 0;
}

static int ev_poll_wait(struct ev_loop *loop, int timeout_ms, const sigset_t *mask)
{
	struct ev_poll *p = loop->bdata;
	struct timespec ts;
	size_t i;
	int n, nfired = 0;

	n = ppoll(p->pfd, p->n, ev_timeout_ts(&ts, timeout_ms), mask);
	for (i = 0; i < p->n && nfired < n; i++) {
		short re = p->pfd[i].revents;
		int events = 0;

		if (re == 0)
			continue;
		if (re & (POLLERR | POLLHUP | POLLNVAL))
			events = EV_READ | EV_WRITE;
		if (re & POLLIN)
			events |= EV_READ;
		if (re & POLLOUT)
			events |= EV_WRITE;
		loop->fired[nfired].fd = p->pfd[i].fd;
		loop->fired[nfired].events = events;
		nfired++;
	}
	return n == -1 ? -1 : nfired;
}

const struct ev_backend ev_backend_poll = {
    .name = "poll",
    .init = ev_poll_init,
    .free = ev_poll_free,
    .update = ev_poll_update,
    .wait = ev_poll_wait,
};

#endif
