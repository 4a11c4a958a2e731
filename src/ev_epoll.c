/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The epoll backend (Linux): level-triggered, so a descriptor that still has
 * data after one callback is reported again, like with poll and select.
 */
#include "acconfig.h"

#include "ev_backend.h"

#ifdef EV_HAVE_EPOLL

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define EV_EPOLL_MIN 64

struct ev_epoll {
	int epfd;
	struct epoll_event *events;
	size_t cap; /* >= the descriptors in the set, so one wait gets all */
	size_t n;
};

static int ev_epoll_init(struct ev_loop *loop)
{
	struct ev_epoll *ep;
	int saved;

	if ((ep = calloc(1, sizeof(*ep))) == NULL)
		return -1;
	if ((ep->events = calloc(EV_EPOLL_MIN, sizeof(*ep->events))) == NULL)
		goto fail;
	ep->cap = EV_EPOLL_MIN;
	if ((ep->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		goto fail;
	loop->bdata = ep;
	return 0;

fail:
	saved = errno;
	free(ep->events);
	free(ep);
	errno = saved;
	return -1;
}

static void ev_epoll_free(struct ev_loop *loop)
{
	struct ev_epoll *ep = loop->bdata;

	close(ep->epfd);
	free(ep->events);
	free(ep);
}

static int ev_epoll_update(struct ev_loop *loop, int fd, int old_mask, int new_mask)
{
	struct ev_epoll *ep = loop->bdata;
	struct epoll_event ev = {0};
	int op;

	if (old_mask == new_mask)
		return 0;
	if (new_mask == 0)
		op = EPOLL_CTL_DEL;
	else if (old_mask == 0)
		op = EPOLL_CTL_ADD;
	else
		op = EPOLL_CTL_MOD;

	/* loop->fired_cap already counts this descriptor. */
	if (op == EPOLL_CTL_ADD && ep->n + 1 > ep->cap) {
		struct epoll_event *events;
		size_t cap = loop->fired_cap > ep->n + 1 ? loop->fired_cap : ep->n + 1;

		if ((events = realloc(ep->events, cap * sizeof(*events))) == NULL)
			return -1;
		ep->events = events;
		ep->cap = cap;
	}
	ev.events = (new_mask & EV_READ ? EPOLLIN : 0) | (new_mask & EV_WRITE ? EPOLLOUT : 0);
	ev.data.fd = fd;
	if (epoll_ctl(ep->epfd, op, fd, &ev) == -1) {
		/* A descriptor closed too early has left the set all the same. */
		if (op != EPOLL_CTL_DEL || (errno != EBADF && errno != ENOENT))
			return -1;
	}
	if (op == EPOLL_CTL_ADD)
		ep->n++;
	else if (op == EPOLL_CTL_DEL)
		ep->n--;
	return 0;
}

/* close() removes a descriptor from the epoll set when no other descriptor
 * refers to its file: only the count needs to follow. */
static void ev_epoll_forget(struct ev_loop *loop, int fd, int old_mask)
{
	struct ev_epoll *ep = loop->bdata;
	(void)fd;
	(void)old_mask;

	ep->n--;
}

static int ev_epoll_wait(struct ev_loop *loop, int timeout_ms, const sigset_t *mask)
{
	struct ev_epoll *ep = loop->bdata;
	int i, n;

	n = epoll_pwait(ep->epfd, ep->events, ep->cap > INT_MAX ? INT_MAX : (int)ep->cap,
	                timeout_ms, mask);
	for (i = 0; i < n; i++) {
		uint32_t e = ep->events[i].events;
		int events = 0;

		if (e & (EPOLLERR | EPOLLHUP))
			events = EV_READ | EV_WRITE;
		if (e & EPOLLIN)
			events |= EV_READ;
		if (e & EPOLLOUT)
			events |= EV_WRITE;
		loop->fired[i].fd = ep->events[i].data.fd;
		loop->fired[i].events = events;
	}
	return n;
}

const struct ev_backend ev_backend_epoll = {
    .name = "epoll",
    .init = ev_epoll_init,
    .free = ev_epoll_free,
    .update = ev_epoll_update,
    .wait = ev_epoll_wait,
    .forget = ev_epoll_forget,
};

#endif
