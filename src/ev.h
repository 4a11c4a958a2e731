/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The event loop: readiness of descriptors and one-shot timers, dispatched to
 * callbacks, over one of several backends (io_uring, epoll, poll, select)
 * chosen at run time.  A backend that also takes completion operations
 * (io_uring, see ev_uring.h) serves readiness too.  A loop belongs to one
 * process: create it after fork().
 */
#ifndef ECHOD_EV_H
#define ECHOD_EV_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "heap.h"

#define EV_READ  0x1
#define EV_WRITE 0x2

struct ev_loop;

/* Called when fd is ready; events is a subset of the interest (EV_READ |
 * EV_WRITE); errors and hang-ups are reported as both of the interest bits so
 * that the owner's next read or write sees them. */
typedef void ev_io_fn(struct ev_loop *loop, int fd, int events, void *arg);

struct ev_timer;
typedef void ev_timer_fn(struct ev_loop *loop, struct ev_timer *t);

/*
 * A one-shot timer, embedded in its owner (no allocation); the callback finds
 * the owner with container_of-style arithmetic.  Zero it or call
 * ev_timer_init() before first use.
 */
struct ev_timer {
	struct heap_node node; /* key: when it is due, ms on the loop's clock */
	ev_timer_fn *fn;
};

/*
 * The name of the i-th backend this build has ("io_uring", "epoll", "poll",
 * "select"), in order of preference, or NULL for i past the last.  Pure: the
 * list is fixed when echod is built.
 */
const char *ev_backend_name(size_t i);

/* Whether the i-th backend takes completion operations (ev_uring.h). */
int ev_backend_completions(size_t i);

/* For ev_loop_new_flags(): "auto" may pick a backend that takes completion
 * operations.  Only for a caller that uses them: for readiness alone they
 * cost more than they save. */
#define EV_LOOP_COMPLETIONS 0x1

/*
 * Create a loop on backend `name`: "auto" (or NULL), which takes the first
 * backend ev_backend_name() lists that starts (passing over those that take
 * completions unless `flags` has EV_LOOP_COMPLETIONS), or one it lists.
 * Returns NULL with errno set: ENOENT for an unknown or unavailable name, or
 * the backend's own error (ev_last_error() says more).
 */
struct ev_loop *ev_loop_new_flags(const char *name, int flags);
/* ev_loop_new_flags(name, 0). */
struct ev_loop *ev_loop_new(const char *name);
void ev_loop_free(struct ev_loop *loop);
const char *ev_loop_backend(const struct ev_loop *loop);

/* Why the last backend that failed to start in this process failed, in a few
 * words ("io_uring_setup: Operation not permitted (...)"), or "" if errno
 * says it all. */
const char *ev_last_error(void);

/* When "auto" passed over a backend it prefers to the one it started: which
 * one and why ("io_uring: ..."); else NULL. */
const char *ev_loop_fallback(const struct ev_loop *loop);

/* Whether the loop's backend takes completion operations (ev_uring.h). */
int ev_loop_completions(const struct ev_loop *loop);

/*
 * Call fn(loop, arg) at the start of every ev_run_once(), before the wait:
 * the place to prepare operations that the turn's callbacks asked for, so
 * that the wait submits them all at once (NULL removes it).  One per loop.
 */
void ev_loop_prepare(struct ev_loop *loop, void (*fn)(struct ev_loop *, void *), void *arg);

/* Signals unblocked only while the loop waits (epoll_pwait/ppoll/pselect);
 * NULL waits with the caller's mask.  The set is copied. */
void ev_loop_sigmask(struct ev_loop *loop, const sigset_t *wait_mask);

/*
 * Watch fd for `events` (EV_READ, EV_WRITE, both, or 0 to keep it registered
 * without interest).  Returns 0, or -1 with errno: EEXIST if fd is already
 * watched, ERANGE if the backend cannot hold fd (select and FD_SETSIZE),
 * ENOMEM, or the backend's error.
 */
int ev_add(struct ev_loop *loop, int fd, int events, ev_io_fn *fn, void *arg);

/* Change the interest of a watched fd.  Returns 0 or -1 with errno. */
int ev_set(struct ev_loop *loop, int fd, int events);

/* Current interest of fd, or -1 if it is not watched. */
int ev_get(const struct ev_loop *loop, int fd);

/*
 * Mark fd late (or not): in every batch its callback runs after those of
 * the descriptors not marked, so that work which can wait (a connection
 * whose peer sends more than it reads) does not delay work which cannot.
 * When more than EV_LATE_BATCH late descriptors are ready together, each
 * runs in one batch of every ceil(ready / EV_LATE_BATCH), so that a batch
 * stays short; the backends are level-triggered, so the others are
 * reported again.  A new or re-added descriptor is not late.
 */
#define EV_LATE_BATCH 64
void ev_set_late(struct ev_loop *loop, int fd, int late);

/* Stop watching fd (before closing it).  Events for fd already collected in
 * the current batch are not dispatched, even if fd is reused at once. */
void ev_del(struct ev_loop *loop, int fd);

/* ev_del() for a descriptor the caller closes right away and that no other
 * descriptor shares (not dup'ed, not inherited): the backend may skip the
 * system call that the close makes redundant (epoll's EPOLL_CTL_DEL). */
void ev_del_closing(struct ev_loop *loop, int fd);

/*
 * Run the prepare hook, wait for events or the earliest timer, but no longer
 * than max_ms (-1: no limit besides timers), then dispatch them (readiness
 * first, then completions) and run the expired timers.
 * Returns the number of callbacks run, or -1 with errno for a backend failure.
 * A signal delivered during the wait returns 0 (EINTR is not an error).
 */
int ev_run_once(struct ev_loop *loop, int max_ms);

/* The loop's cached monotonic time in ms, refreshed after every wait. */
uint64_t ev_now(const struct ev_loop *loop);
/* Refresh the cached time from the clock and return it. */
uint64_t ev_now_update(struct ev_loop *loop);

void ev_timer_init(struct ev_timer *t, ev_timer_fn *fn);
/* (Re)arm t to fire once, ms after ev_now().  Returns 0, or -1 (ENOMEM). */
int ev_timer_start(struct ev_loop *loop, struct ev_timer *t, uint64_t ms);
/* Disarm t; harmless if it is not armed. */
void ev_timer_stop(struct ev_loop *loop, struct ev_timer *t);
static inline int ev_timer_active(const struct ev_timer *t)
{
	return heap_queued(&t->node);
}

/* How many descriptors came ready together in the batch whose callbacks
 * run now (0 outside them): what a callback shares a loop turn with. */
size_t ev_batch(const struct ev_loop *loop);

/* Number of watched descriptors and of armed timers (for status and tests). */
size_t ev_count_fds(const struct ev_loop *loop);
size_t ev_count_timers(const struct ev_loop *loop);

#define ev_container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#endif
