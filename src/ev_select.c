/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The select backend, for systems with neither epoll nor ppoll: it holds only
 * descriptors below FD_SETSIZE and refuses the others (ERANGE) rather than
 * write past an fd_set.
 */
#include "acconfig.h"

#include "ev_backend.h"

#ifdef EV_HAVE_SELECT

#include <errno.h>
#include <stdlib.h>
#include <sys/select.h>

struct ev_select {
	fd_set rfds;
	fd_set wfds;
	int maxfd; /* highest descriptor in either set, or -1 */
};

static int ev_select_init(struct ev_loop *loop)
{
	struct ev_select *s;

	if ((s = malloc(sizeof(*s))) == NULL)
		return -1;
	FD_ZERO(&s->rfds);
	FD_ZERO(&s->wfds);
	s->maxfd = -1;
	loop->bdata = s;
	return 0;
}

static void ev_select_free(struct ev_loop *loop)
{
	free(loop->bdata);
}

static int ev_select_update(struct ev_loop *loop, int fd, int old_mask, int new_mask)
{
	struct ev_select *s = loop->bdata;

	(void)old_mask;
	if (fd < 0 || fd >= FD_SETSIZE) {
		errno = ERANGE;
		return -1;
	}
	if (new_mask & EV_READ)
		FD_SET(fd, &s->rfds);
	else
		FD_CLR(fd, &s->rfds);
	if (new_mask & EV_WRITE)
		FD_SET(fd, &s->wfds);
	else
		FD_CLR(fd, &s->wfds);

	if (new_mask != 0 && fd > s->maxfd)
		s->maxfd = fd;
	while (s->maxfd >= 0 && !FD_ISSET(s->maxfd, &s->rfds) && !FD_ISSET(s->maxfd, &s->wfds))
		s->maxfd--;
	return 0;
}

static int ev_select_wait(struct ev_loop *loop, int timeout_ms, const sigset_t *mask)
{
	struct ev_select *s = loop->bdata;
	fd_set rfds = s->rfds, wfds = s->wfds;
	struct timespec ts;
	int fd, n, nfired = 0;

	n = pselect(s->maxfd + 1, &rfds, &wfds, NULL, ev_timeout_ts(&ts, timeout_ms), mask);
	if (n == -1)
		return -1;
	/* n counts bits, so a descriptor ready both ways counts twice. */
	for (fd = 0; fd <= s->maxfd && n > 0; fd++) {
		int events = 0;

		if (FD_ISSET(fd, &rfds)) {
			events |= EV_READ;
			n--;
		}
		if (FD_ISSET(fd, &wfds)) {
			events |= EV_WRITE;
			n--;
		}
		if (events == 0)
			continue;
		loop->fired[nfired].fd = fd;
		loop->fired[nfired].events = events;
		nfired++;
	}
	return nfired;
}

const struct ev_backend ev_backend_select = {
    .name = "select",
    .init = ev_select_init,
    .free = ev_select_free,
    .update = ev_select_update,
    .wait = ev_select_wait,
};

#endif
