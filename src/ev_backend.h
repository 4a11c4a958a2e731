/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Inside the event loop: the loop's state and the few operations a backend
 * (io_uring, epoll, poll, select) provides to ev.c, plus the timer heap's
 * entry points.  Not for use outside the ev module (tests excepted).
 */
#ifndef ECHOD_EV_BACKEND_H
#define ECHOD_EV_BACKEND_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ev.h"

#if defined(HAVE_LIBURING)
#define EV_HAVE_IO_URING 1
#endif
#if defined(HAVE_SYS_EPOLL_H) && defined(HAVE_EPOLL_PWAIT)
#define EV_HAVE_EPOLL 1
#endif
#if defined(HAVE_PPOLL)
#define EV_HAVE_POLL 1
#endif
#if defined(HAVE_PSELECT)
#define EV_HAVE_SELECT 1
#endif

/* One ready descriptor of a batch; the backend fills fd and events, ev.c gen. */
struct ev_fired {
	int fd;
	int events;   /* EV_READ | EV_WRITE; errors and hang-ups as both */
	uint32_t gen; /* the slot's generation when the batch was collected */
	int late;     /* the slot's ev_set_late() then */
};

/* A watched descriptor, at loop->fds[fd]. */
struct ev_fd {
	uint32_t gen; /* bumped by ev_del, so stale fired events are told apart */
	int16_t mask; /* interest, or -1 if fd is not watched */
	uint8_t late; /* dispatched after the others of a batch (ev_set_late);
	               * small, so that an entry stays 24 bytes */
	ev_io_fn *fn;
	void *arg;
};

/*
 * A backend only ever holds descriptors whose interest is not 0.  update() is
 * called for every change, also with old == new == 0 when a descriptor is
 * added without interest, so that a backend can refuse one it cannot hold
 * (ERANGE).  wait() fills loop->fired, which ev.c keeps at least as large as
 * the number of watched descriptors, and returns how many it filled, or -1
 * with errno (EINTR included).  timeout_ms is -1 for no limit; mask is NULL
 * to wait with the caller's signal mask.
 */
struct ev_backend {
	const char *name;
	int (*init)(struct ev_loop *loop);
	void (*free)(struct ev_loop *loop);
	int (*update)(struct ev_loop *loop, int fd, int old_mask, int new_mask);
	int (*wait)(struct ev_loop *loop, int timeout_ms, const sigset_t *mask);
	/* Optional: forget fd (interest old_mask != 0) that is about to be
	 * closed, without telling the kernel; NULL means update(.., 0). */
	void (*forget)(struct ev_loop *loop, int fd, int old_mask);
	/* Optional: run the completion callbacks that wait() collected;
	 * returns how many ran. */
	int (*complete)(struct ev_loop *loop);
	/* Takes completion operations (ev_uring.h). */
	int completions;
};

struct ev_loop {
	const struct ev_backend *backend;
	void *bdata; /* the backend's own state */

	struct ev_fd *fds; /* indexed by fd */
	size_t fds_cap;
	size_t nwatched;
	struct ev_fired *fired;
	size_t fired_cap; /* >= nwatched */
	size_t batch;     /* descriptors in the batch being dispatched */
	unsigned turn;    /* batches with late descriptors left out */

	uint64_t now; /* ms, CLOCK_MONOTONIC */
	sigset_t wait_mask;
	int has_wait_mask;

	struct heap timers; /* armed ev_timers, keyed by when they are due */

	void (*prepare)(struct ev_loop *loop, void *arg); /* ev_loop_prepare() */
	void *prepare_arg;
	char fallback[192]; /* ev_loop_fallback(), "" if none */
};

#ifdef EV_HAVE_IO_URING
extern const struct ev_backend ev_backend_io_uring;
#endif
#ifdef EV_HAVE_EPOLL
extern const struct ev_backend ev_backend_epoll;
#endif
#ifdef EV_HAVE_POLL
extern const struct ev_backend ev_backend_poll;
#endif
#ifdef EV_HAVE_SELECT
extern const struct ev_backend ev_backend_select;
#endif

/* A backend's init() says why it cannot start (for ev_last_error()). */
void ev_backend_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A wait's timeout for ppoll/pselect: NULL (no limit) for a negative ms. */
static inline const struct timespec *ev_timeout_ts(struct timespec *ts, int timeout_ms)
{
	if (timeout_ms < 0)
		return NULL;
	ts->tv_sec = timeout_ms / 1000;
	ts->tv_nsec = (long)(timeout_ms % 1000) * 1000000;
	return ts;
}

/* ms until the earliest timer is due (0 if it is), or -1 if none is armed. */
int ev_timer_next_ms(const struct ev_loop *loop);
/* Run the timers due at ev_now(); returns how many callbacks ran. */
int ev_timer_run_due(struct ev_loop *loop);
/* Disarm every timer and free the heap. */
void ev_timer_heap_free(struct ev_loop *loop);

#endif
