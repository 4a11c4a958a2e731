/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The event loop's core: the table of watched descriptors, the choice of a
 * backend at run time, and the dispatch of a batch of ready descriptors.
 */
#include "acconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "ev.h"
#include "ev_backend.h"

#define EV_MIN_SLOTS 64

/*
 * The backends this build has, in order of preference: the one list of them.
 * "auto" tries them in this order; ev_backend_name() shows it to the config
 * and to -V, so nothing else names a backend.
 */
static const struct ev_backend *const ev_backends[] = {
#ifdef EV_HAVE_IO_URING
    &ev_backend_io_uring,
#endif
#ifdef EV_HAVE_EPOLL
    &ev_backend_epoll,
#endif
#ifdef EV_HAVE_POLL
    &ev_backend_poll,
#endif
#ifdef EV_HAVE_SELECT
    &ev_backend_select,
#endif
    NULL,
};

#define EV_NBACKENDS (sizeof(ev_backends) / sizeof(ev_backends[0]) - 1)

const char *ev_backend_name(size_t i)
{
	return i < EV_NBACKENDS ? ev_backends[i]->name : NULL;
}

int ev_backend_completions(size_t i)
{
	return i < EV_NBACKENDS && ev_backends[i]->completions;
}

/* The reason the last backend that could not start gave.  A process runs one
 * loop at a time, so one buffer will do. */
static char ev_error[160];

void ev_backend_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(ev_error, sizeof(ev_error), fmt, ap);
	va_end(ap);
}

const char *ev_last_error(void)
{
	return ev_error;
}

static int ev_try_backend(struct ev_loop *loop, const struct ev_backend *be)
{
	loop->backend = be;
	loop->bdata = NULL;
	ev_error[0] = '\0';
	if (be->init(loop) == -1) {
		loop->backend = NULL;
		return -1;
	}
	return 0;
}

struct ev_loop *ev_loop_new(const char *name)
{
	return ev_loop_new_flags(name, 0);
}

struct ev_loop *ev_loop_new_flags(const char *name, int flags)
{
	struct ev_loop *loop;
	size_t i;
	int auto_pick = name == NULL || strcmp(name, "auto") == 0;

	if ((loop = calloc(1, sizeof(*loop))) == NULL)
		return NULL;
	sigemptyset(&loop->wait_mask);
	ev_now_update(loop);

	errno = ENOENT;
	for (i = 0; ev_backends[i] != NULL; i++) {
		const struct ev_backend *be = ev_backends[i];

		if (!auto_pick && strcmp(name, be->name) != 0)
			continue;
		if (auto_pick && be->completions && !(flags & EV_LOOP_COMPLETIONS))
			continue;
		/* An explicit choice must start; "auto" moves on to the next
		 * and remembers why the first it passed over did not start. */
		if (ev_try_backend(loop, be) == 0 || !auto_pick)
			break;
		if (loop->fallback[0] == '\0')
			(void)snprintf(loop->fallback, sizeof(loop->fallback), "%s: %s", be->name,
			               ev_error[0] != '\0' ? ev_error : strerror(errno));
	}
	if (loop->backend == NULL) {
		int saved = errno;

		free(loop);
		errno = saved;
		return NULL;
	}
	return loop;
}

void ev_loop_free(struct ev_loop *loop)
{
	if (loop == NULL)
		return;
	loop->backend->free(loop);
	ev_timer_heap_free(loop);
	free(loop->fds);
	free(loop->fired);
	free(loop);
}

const char *ev_loop_backend(const struct ev_loop *loop)
{
	return loop->backend->name;
}

const char *ev_loop_fallback(const struct ev_loop *loop)
{
	return loop->fallback[0] != '\0' ? loop->fallback : NULL;
}

int ev_loop_completions(const struct ev_loop *loop)
{
	return loop->backend->completions;
}

void ev_loop_prepare(struct ev_loop *loop, void (*fn)(struct ev_loop *, void *), void *arg)
{
	loop->prepare = fn;
	loop->prepare_arg = arg;
}

void ev_loop_sigmask(struct ev_loop *loop, const sigset_t *wait_mask)
{
	loop->has_wait_mask = wait_mask != NULL;
	if (wait_mask != NULL)
		loop->wait_mask = *wait_mask;
}

/* Make loop->fds cover fd. */
static int ev_fds_reserve(struct ev_loop *loop, int fd)
{
	struct ev_fd *fds;
	size_t cap = loop->fds_cap > 0 ? loop->fds_cap : EV_MIN_SLOTS;
	size_t i;

	if ((size_t)fd < loop->fds_cap)
		return 0;
	while (cap <= (size_t)fd)
		cap *= 2;
	if ((fds = realloc(loop->fds, cap * sizeof(*fds))) == NULL)
		return -1;
	for (i = loop->fds_cap; i < cap; i++) {
		fds[i].mask = -1;
		fds[i].gen = 0;
		fds[i].late = 0;
		fds[i].fn = NULL;
		fds[i].arg = NULL;
	}
	loop->fds = fds;
	loop->fds_cap = cap;
	return 0;
}

/* Keep room in loop->fired for every watched descriptor plus one. */
static int ev_fired_reserve(struct ev_loop *loop)
{
	struct ev_fired *fired;
	size_t cap;

	if (loop->nwatched < loop->fired_cap)
		return 0;
	cap = loop->fired_cap > 0 ? loop->fired_cap * 2 : EV_MIN_SLOTS;
	if ((fired = realloc(loop->fired, cap * sizeof(*fired))) == NULL)
		return -1;
	loop->fired = fired;
	loop->fired_cap = cap;
	return 0;
}

static int ev_watched(const struct ev_loop *loop, int fd)
{
	return fd >= 0 && (size_t)fd < loop->fds_cap && loop->fds[fd].mask != -1;
}

int ev_add(struct ev_loop *loop, int fd, int events, ev_io_fn *fn, void *arg)
{
	struct ev_fd *e;

	if (fd < 0) {
		errno = EBADF;
		return -1;
	}
	if ((events & ~(EV_READ | EV_WRITE)) != 0 || fn == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (ev_watched(loop, fd)) {
		errno = EEXIST;
		return -1;
	}
	if (ev_fds_reserve(loop, fd) == -1 || ev_fired_reserve(loop) == -1)
		return -1;
	if (loop->backend->update(loop, fd, 0, events) == -1)
		return -1;
	e = &loop->fds[fd];
	e->mask = (int16_t)events;
	e->fn = fn;
	e->arg = arg;
	loop->nwatched++;
	return 0;
}

int ev_set(struct ev_loop *loop, int fd, int events)
{
	if (!ev_watched(loop, fd)) {
		errno = ENOENT;
		return -1;
	}
	if ((events & ~(EV_READ | EV_WRITE)) != 0) {
		errno = EINVAL;
		return -1;
	}
	if (events == loop->fds[fd].mask)
		return 0;
	if (loop->backend->update(loop, fd, loop->fds[fd].mask, events) == -1)
		return -1;
	loop->fds[fd].mask = (int16_t)events;
	return 0;
}

int ev_get(const struct ev_loop *loop, int fd)
{
	return ev_watched(loop, fd) ? loop->fds[fd].mask : -1;
}

static void ev_forget(struct ev_loop *loop, int fd, int closing)
{
	struct ev_fd *e;
	int saved = errno;

	if (!ev_watched(loop, fd))
		return;
	e = &loop->fds[fd];
	/* Nothing useful to do if the backend fails: fd is forgotten anyway. */
	if (e->mask != 0 && closing && loop->backend->forget != NULL)
		loop->backend->forget(loop, fd, e->mask);
	else if (e->mask != 0)
		(void)loop->backend->update(loop, fd, e->mask, 0);
	e->mask = -1;
	e->gen++;
	e->late = 0;
	e->fn = NULL;
	e->arg = NULL;
	loop->nwatched--;
	errno = saved;
}

void ev_del(struct ev_loop *loop, int fd)
{
	ev_forget(loop, fd, 0);
}

void ev_del_closing(struct ev_loop *loop, int fd)
{
	ev_forget(loop, fd, 1);
}

/* Run the callback of fired event i, if it still stands: each callback may
 * add, change or remove any descriptor (the table and loop->fired may be
 * reallocated), so the entry is looked up afresh and checked against the
 * state it was collected in.  Returns 1 if a callback ran. */
static int ev_fire(struct ev_loop *loop, int i)
{
	int fd = loop->fired[i].fd;
	int events = loop->fired[i].events;
	struct ev_fd *e;

	if (!ev_watched(loop, fd))
		return 0;
	e = &loop->fds[fd];
	/* A different generation: removed, maybe re-added by a new owner. */
	if (e->gen != loop->fired[i].gen)
		return 0;
	if ((events &= e->mask) == 0)
		return 0;
	e->fn(loop, fd, events, e->arg);
	return 1;
}

/* Run the callbacks of a batch: the descriptors marked late after all the
 * others (see ev_set_late), each pass in the backend's order.  Whether a
 * descriptor is late is taken as the batch was collected. */
static int ev_dispatch(struct ev_loop *loop, int n)
{
	int i, ran = 0, nlate = 0;
	unsigned m = 1;

	for (i = 0; i < n; i++) {
		struct ev_fired *f = &loop->fired[i];

		f->late = 0;
		if (f->fd >= 0 && (size_t)f->fd < loop->fds_cap) {
			f->gen = loop->fds[f->fd].gen;
			f->late = loop->fds[f->fd].late;
			nlate += f->late;
		}
	}
	/* More late ones than a batch should hold: each runs in one batch of
	 * every m such batches, chosen by descriptor number, so that none
	 * waits more than m of them whatever order the backend reports in. */
	if (nlate > EV_LATE_BATCH) {
		m = ((unsigned)nlate + EV_LATE_BATCH - 1) / EV_LATE_BATCH;
		loop->turn++;
	}
	loop->batch = (size_t)n;
	for (i = 0; i < n; i++)
		if (!loop->fired[i].late)
			ran += ev_fire(loop, i);
	for (i = 0; nlate > 0 && i < n; i++)
		if (loop->fired[i].late && ((unsigned)loop->fired[i].fd + loop->turn) % m == 0)
			ran += ev_fire(loop, i);
	loop->batch = 0;
	return ran;
}

int ev_run_once(struct ev_loop *loop, int max_ms)
{
	int timeout, n, ran;

	if (loop->prepare != NULL)
		loop->prepare(loop, loop->prepare_arg);
	ev_now_update(loop);
	timeout = ev_timer_next_ms(loop);
	if (max_ms >= 0 && (timeout < 0 || max_ms < timeout))
		timeout = max_ms;

	n = loop->backend->wait(loop, timeout, loop->has_wait_mask ? &loop->wait_mask : NULL);
	ev_now_update(loop);
	if (n == -1) {
		if (errno != EINTR)
			return -1;
		(void)ev_timer_run_due(loop);
		return 0;
	}
	ran = ev_dispatch(loop, n);
	if (loop->backend->complete != NULL)
		ran += loop->backend->complete(loop);
	return ran + ev_timer_run_due(loop);
}

uint64_t ev_now(const struct ev_loop *loop)
{
	return loop->now;
}

uint64_t ev_now_update(struct ev_loop *loop)
{
	loop->now = clock_mono_ms();
	return loop->now;
}

void ev_set_late(struct ev_loop *loop, int fd, int late)
{
	if (ev_watched(loop, fd))
		loop->fds[fd].late = late != 0;
}

size_t ev_batch(const struct ev_loop *loop)
{
	return loop->batch;
}

size_t ev_count_fds(const struct ev_loop *loop)
{
	return loop->nwatched;
}
