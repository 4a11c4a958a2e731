/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the event loop: every case runs once per backend that this
 * build has (as ev_backend_name() lists them, so a new backend is tested with
 * no change here), the few backend-independent ones once.
 */
#include "acconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ev.h"
#include "ev_backend.h"   /* EV_HAVE_EPOLL */
#include "ev_uring_int.h" /* the ring itself, for test_uring_restricted */

struct fixture {
	const char *backend;
	struct ev_loop *loop;
};

/* What an I/O callback saw. */
struct rec {
	int calls;
	int fd;
	int events;
};

static int setup(void **state)
{
	struct fixture *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	f->backend = *state;
	/* Every backend main() put in the table must start. */
	f->loop = ev_loop_new(f->backend);
	if (f->loop == NULL) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ev_loop_free(f->loop);
	free(f);
	return 0;
}

static struct ev_loop *fixture_loop(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(ev_loop_backend(f->loop), f->backend);
	return f->loop;
}

/* Whether backend `name` starts in this process.  io_uring may not (a
 * seccomp filter, kernel.io_uring_disabled): its cases are then left out
 * with a note, not skipped, since automake's TAP driver counts a skip as a
 * failure. */
static int backend_starts(const char *name)
{
	int status;
	/* Tried in a child: a ring this process made and freed would
	 * interrupt one of its later waits (see main()), and the readiness
	 * backends' timing cases run first. */
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct ev_loop *loop = ev_loop_new(name);
		if (loop == NULL) {
			printf("# %s cannot start here (%s): its cases are left out\n", name,
			       ev_last_error()[0] != '\0' ? ev_last_error() : strerror(errno));
			fflush(stdout);
			_exit(1);
		}
		ev_loop_free(loop);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int fixture_is(void **state, const char *backend)
{
	return strcmp(((struct fixture *)*state)->backend, backend) == 0;
}

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Raise the soft descriptor limit to at least `want`; 0 if it is. */
static int nofile_at_least(rlim_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -1;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
			return -1;
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			return -1;
	}
	return 0;
}

static void rec_cb(struct ev_loop *loop, int fd, int events, void *arg)
{
	struct rec *r = arg;

	(void)loop;
	r->calls++;
	r->fd = fd;
	r->events = events;
}

static void make_pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static void put_byte(int fd)
{
	assert_int_equal(write(fd, "x", 1), 1);
}

/* ---- descriptors ---------------------------------------------------------- */

static void test_read_ready(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	struct rec r = {0};
	int p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(ev_add(loop, p[0], EV_READ, rec_cb, &r), 0);
	assert_int_equal(ev_get(loop, p[0]), EV_READ);
	assert_int_equal(ev_run_once(loop, 0), 0);
	assert_int_equal(r.calls, 0);

	put_byte(p[1]);
	assert_int_equal(ev_run_once(loop, 1000), 1);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.fd, p[0]);
	assert_int_equal(r.events, EV_READ);

	ev_del(loop, p[0]);
	assert_int_equal(ev_count_fds(loop), 0);
	close(p[0]);
	close(p[1]);
}

static void test_write_ready(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	struct rec r = {0}, s = {0};
	int p[2], sv[2];

	assert_int_equal(pipe(p), 0);
	make_pair(sv);
	assert_int_equal(ev_add(loop, p[1], EV_WRITE, rec_cb, &r), 0);
	/* Nothing to read: only the write half of the interest fires. */
	assert_int_equal(ev_add(loop, sv[0], EV_READ | EV_WRITE, rec_cb, &s), 0);
	assert_int_equal(ev_run_once(loop, 1000), 2);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.fd, p[1]);
	assert_int_equal(r.events, EV_WRITE);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.fd, sv[0]);
	assert_int_equal(s.events, EV_WRITE);

	ev_del(loop, p[1]);
	ev_del(loop, sv[0]);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

static void test_set_modify(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	struct rec r = {0};
	int sv[2];

	make_pair(sv);
	assert_int_equal(ev_add(loop, sv[0], EV_READ, rec_cb, &r), 0);
	assert_int_equal(ev_run_once(loop, 0), 0);

	assert_int_equal(ev_set(loop, sv[0], EV_READ | EV_WRITE), 0);
	assert_int_equal(ev_get(loop, sv[0]), EV_READ | EV_WRITE);
	assert_int_equal(ev_run_once(loop, 1000), 1);
	assert_int_equal(r.events, EV_WRITE);

	/* Write interest off: the socket stays writable but nothing comes. */
	assert_int_equal(ev_set(loop, sv[0], EV_READ), 0);
	assert_int_equal(ev_run_once(loop, 0), 0);
	assert_int_equal(ev_run_once(loop, 0), 0);
	assert_int_equal(r.calls, 1);

	/* No interest at all: registered, silent even when readable. */
	put_byte(sv[1]);
	assert_int_equal(ev_set(loop, sv[0], 0), 0);
	assert_int_equal(ev_get(loop, sv[0]), 0);
	assert_int_equal(ev_count_fds(loop), 1);
	assert_int_equal(ev_run_once(loop, 0), 0);
	assert_int_equal(r.calls, 1);

	assert_int_equal(ev_set(loop, sv[0], EV_READ), 0);
	assert_int_equal(ev_run_once(loop, 1000), 1);
	assert_int_equal(r.calls, 2);
	assert_int_equal(r.events, EV_READ);

	ev_del(loop, sv[0]);
	close(sv[0]);
	close(sv[1]);
}

static void test_hangup(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	struct rec r = {0}, w = {0}, h = {0};
	int sv[2], p[2], q[2];

	make_pair(sv);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(pipe(q), 0);
	close(sv[1]);
	close(p[0]);
	close(q[1]);
	/* A pipe whose writer is gone reports a bare hang-up, no POLLIN. */
	assert_int_equal(ev_add(loop, q[0], EV_READ, rec_cb, &h), 0);
	assert_int_equal(ev_run_once(loop, 1000), 1);
	assert_int_equal(h.calls, 1);
	assert_int_equal(h.events, EV_READ);
	ev_del(loop, q[0]);
	close(q[0]);

	/* Reported as the interest, so the owner's read or write sees the end. */
	assert_int_equal(ev_add(loop, sv[0], EV_READ, rec_cb, &r), 0);
	assert_int_equal(ev_add(loop, p[1], EV_WRITE, rec_cb, &w), 0);
	assert_int_equal(ev_run_once(loop, 1000), 2);
	assert_int_equal(r.events, EV_READ);
	assert_int_equal(w.events, EV_WRITE);

	assert_int_equal(ev_set(loop, sv[0], EV_WRITE), 0);
	assert_int_equal(ev_run_once(loop, 1000), 2);
	assert_int_equal(r.calls, 2);
	assert_int_equal(r.events, EV_WRITE);

	ev_del(loop, sv[0]);
	ev_del(loop, p[1]);
	close(sv[0]);
	close(p[1]);
}

static void test_add_errors(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	struct rec r = {0};
	int p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(ev_add(loop, p[0], EV_READ, rec_cb, &r), 0);
	errno = 0;
	assert_int_equal(ev_add(loop, p[0], EV_WRITE, rec_cb, &r), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(ev_get(loop, p[0]), EV_READ);
	assert_int_equal(ev_count_fds(loop), 1);

	errno = 0;
	assert_int_equal(ev_set(loop, p[1], EV_WRITE), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(ev_get(loop, p[1]), -1);
	assert_int_equal(ev_get(loop, 100000), -1);
	errno = 0;
	assert_int_equal(ev_add(loop, p[1], 0x4, rec_cb, &r), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(ev_add(loop, -1, EV_READ, rec_cb, &r), -1);
	assert_int_equal(errno, EBADF);
	ev_del(loop, p[1]); /* not watched: harmless */
	assert_int_equal(ev_count_fds(loop), 1);

	ev_del(loop, p[0]);
	assert_int_equal(ev_add(loop, p[0], EV_READ, rec_cb, &r), 0);
	ev_del(loop, p[0]);
	close(p[0]);
	close(p[1]);
}

#define NPAIRS_BATCH 3

struct batch {
	int fds[NPAIRS_BATCH];
	int calls;
	int self_only;
};

static void del_cb(struct ev_loop *loop, int fd, int events, void *arg)
{
	struct batch *b = arg;
	int i;

	(void)events;
	b->calls++;
	if (b->self_only) {
		ev_del(loop, fd);
		return;
	}
	/* Most of these are still waiting in the same batch. */
	for (i = 0; i < NPAIRS_BATCH; i++)
		ev_del(loop, b->fds[i]);
}

static void test_del_in_batch(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	struct batch b = {{0}, 0, 0};
	int sv[NPAIRS_BATCH][2];
	int i;

	for (i = 0; i < NPAIRS_BATCH; i++) {
		make_pair(sv[i]);
		put_byte(sv[i][1]);
		b.fds[i] = sv[i][0];
		assert_int_equal(ev_add(loop, sv[i][0], EV_READ, del_cb, &b), 0);
	}
	assert_int_equal(ev_run_once(loop, 1000), 1);
	assert_int_equal(b.calls, 1);
	assert_int_equal(ev_count_fds(loop), 0);

	/* Removing only itself leaves the rest of the batch alone. */
	b.self_only = 1;
	b.calls = 0;
	for (i = 0; i < NPAIRS_BATCH; i++)
		assert_int_equal(ev_add(loop, sv[i][0], EV_READ, del_cb, &b), 0);
	assert_int_equal(ev_run_once(loop, 1000), NPAIRS_BATCH);
	assert_int_equal(b.calls, NPAIRS_BATCH);
	assert_int_equal(ev_count_fds(loop), 0);

	for (i = 0; i < NPAIRS_BATCH; i++) {
		close(sv[i][0]);
		close(sv[i][1]);
	}
}

struct quiet {
	int a, b;
	int calls;
};

static void quiet_cb(struct ev_loop *loop, int fd, int events, void *arg)
{
	struct quiet *q = arg;

	(void)events;
	q->calls++;
	/* The other one is ready in this batch too, but no longer wants it. */
	assert_int_equal(ev_set(loop, fd == q->a ? q->b : q->a, EV_READ), 0);
}

static void test_set_in_batch(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	struct quiet q = {0, 0, 0};
	int sa[2], sb[2];

	make_pair(sa);
	make_pair(sb);
	q.a = sa[0];
	q.b = sb[0];
	assert_int_equal(ev_add(loop, q.a, EV_WRITE, quiet_cb, &q), 0);
	assert_int_equal(ev_add(loop, q.b, EV_WRITE, quiet_cb, &q), 0);
	assert_int_equal(ev_run_once(loop, 1000), 1);
	assert_int_equal(q.calls, 1);
	assert_int_equal(ev_get(loop, q.a) + ev_get(loop, q.b), EV_WRITE + EV_READ);

	ev_del(loop, q.a);
	ev_del(loop, q.b);
	close(sa[0]);
	close(sa[1]);
	close(sb[0]);
	close(sb[1]);
}

/* The order in which callbacks ran. */
struct order {
	int fds[1024];
	int n;
};

static void order_cb(struct ev_loop *loop, int fd, int events, void *arg)
{
	struct order *o = arg;

	(void)loop;
	(void)events;
	assert_true(o->n < (int)(sizeof(o->fds) / sizeof(o->fds[0])));
	o->fds[o->n++] = fd;
}

/*
 * Bug: one worker's 500 clients that never read made every turn copy for
 * all of them before a client that reads its echoes got its turn (7 ms a
 * turn, 100-500 ms behind).  Descriptors marked late run after the others
 * of their batch, whatever order the backend reports them in.
 */
static void test_late_after_others(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	struct order o = {{0}, 0};
	int sv[6][2], i;

	for (i = 0; i < 6; i++) {
		make_pair(sv[i]);
		put_byte(sv[i][1]);
		assert_int_equal(ev_add(loop, sv[i][0], EV_READ, order_cb, &o), 0);
		/* Every other one, from the first: late ones come first in any
		 * order by number. */
		ev_set_late(loop, sv[i][0], i % 2 == 0);
	}
	assert_int_equal(ev_run_once(loop, 1000), 6);
	assert_int_equal(o.n, 6);
	for (i = 0; i < 6; i++) {
		int late = o.fds[i] == sv[0][0] || o.fds[i] == sv[2][0] || o.fds[i] == sv[4][0];
		assert_int_equal(late, i >= 3);
	}
	/* Not late any more: dispatched with the others again. */
	o.n = 0;
	ev_set_late(loop, sv[0][0], 0);
	assert_int_equal(ev_run_once(loop, 1000), 6);
	assert_int_equal(o.fds[5] == sv[0][0], 0);
	for (i = 0; i < 6; i++) {
		ev_del(loop, sv[i][0]);
		close(sv[i][0]);
		close(sv[i][1]);
	}
}

/*
 * Past EV_LATE_BATCH ready late descriptors, a batch runs about that many of
 * them and every one of them runs within ceil(ready / EV_LATE_BATCH)
 * batches; the ones not late run in every batch.
 */
static void test_late_bounded(void **state)
{
	enum { NLATE = 3 * EV_LATE_BATCH };
	struct ev_loop *loop = fixture_loop(state);
	static int sv[NLATE + 1][2];
	struct order o = {{0}, 0};
	int seen[NLATE] = {0}, i, turn;

	if (fixture_is(state, "select") || nofile_at_least(2 * NLATE + 64) == -1) {
		print_message("# select (FD_SETSIZE) or the descriptor limit: left out\n");
		return;
	}
	for (i = 0; i <= NLATE; i++) {
		make_pair(sv[i]);
		put_byte(sv[i][1]);
		assert_int_equal(ev_add(loop, sv[i][0], EV_READ, order_cb, &o), 0);
		ev_set_late(loop, sv[i][0], i < NLATE);
	}
	for (turn = 0; turn < 3; turn++) {
		o.n = 0;
		assert_true(ev_run_once(loop, 1000) > 0);
		/* The one not late first, then at most a third of the others
		 * (descriptor numbers spread them over three batches). */
		assert_int_equal(o.fds[0], sv[NLATE][0]);
		assert_true(o.n - 1 <= NLATE / 3 + 1);
		for (int k = 1; k < o.n; k++)
			for (i = 0; i < NLATE; i++)
				if (o.fds[k] == sv[i][0])
					seen[i]++;
	}
	for (i = 0; i < NLATE; i++)
		assert_int_equal(seen[i], 1);
	for (i = 0; i <= NLATE; i++) {
		ev_del(loop, sv[i][0]);
		close(sv[i][0]);
		close(sv[i][1]);
	}
}

#define NCHURN 24

/*
 * Random adds, changes and removals against a model, checking after each
 * step that exactly the expected descriptors fire (every one is both
 * readable and writable, so what fires is its interest).  This walks the
 * backends' bookkeeping: poll's swap-with-last, select's maxfd, epoll's
 * add/mod/del.
 */
static void test_churn(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	struct rec r[NCHURN];
	int sv[NCHURN][2], model[NCHURN];
	int i, step;

	srand(4242);
	for (i = 0; i < NCHURN; i++) {
		make_pair(sv[i]);
		put_byte(sv[i][1]);
		model[i] = -1;
	}
	for (step = 0; step < 300; step++) {
		int expect = 0;

		i = rand() % NCHURN;
		if (model[i] == -1) {
			model[i] = rand() % 4;
			assert_int_equal(ev_add(loop, sv[i][0], model[i], rec_cb, &r[i]), 0);
		} else if (rand() % 3 == 0) {
			ev_del(loop, sv[i][0]);
			model[i] = -1;
		} else {
			model[i] = rand() % 4;
			assert_int_equal(ev_set(loop, sv[i][0], model[i]), 0);
		}
		memset(r, 0, sizeof(r));
		for (i = 0; i < NCHURN; i++)
			expect += model[i] > 0;
		assert_int_equal(ev_run_once(loop, 0), expect);
		for (i = 0; i < NCHURN; i++) {
			assert_int_equal(ev_get(loop, sv[i][0]), model[i]);
			assert_int_equal(r[i].calls, model[i] > 0);
			if (model[i] > 0)
				assert_int_equal(r[i].events, model[i]);
		}
	}
	for (i = 0; i < NCHURN; i++) {
		ev_del(loop, sv[i][0]);
		close(sv[i][0]);
		close(sv[i][1]);
	}
	assert_int_equal(ev_count_fds(loop), 0);
}

struct reuse {
	int a, b;   /* both ready in the same batch */
	int spare;  /* readable; becomes the victim's number */
	int victim; /* the one of a, b closed by the other's callback */
	int old_calls;
	int new_calls;
};

static void reuse_new_cb(struct ev_loop *loop, int fd, int events, void *arg)
{
	struct reuse *ru = arg;

	(void)loop;
	(void)fd;
	(void)events;
	ru->new_calls++;
}

static void reuse_old_cb(struct ev_loop *loop, int fd, int events, void *arg)
{
	struct reuse *ru = arg;

	(void)events;
	if (ru->old_calls++ > 0)
		return;
	/* Like a callback that closes a peer and accepts a new connection
	 * that gets the same descriptor number. */
	ru->victim = fd == ru->a ? ru->b : ru->a;
	ev_del(loop, ru->victim);
	close(ru->victim);
	assert_int_equal(dup2(ru->spare, ru->victim), ru->victim);
	assert_int_equal(ev_add(loop, ru->victim, EV_READ, reuse_new_cb, ru), 0);
}

static void test_fd_reuse_in_batch(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	struct reuse ru = {0};
	int sa[2], sb[2], sc[2];

	make_pair(sa);
	make_pair(sb);
	make_pair(sc);
	put_byte(sa[1]);
	put_byte(sb[1]);
	put_byte(sc[1]);
	ru.a = sa[0];
	ru.b = sb[0];
	ru.spare = sc[0];
	assert_int_equal(ev_add(loop, ru.a, EV_READ, reuse_old_cb, &ru), 0);
	assert_int_equal(ev_add(loop, ru.b, EV_READ, reuse_old_cb, &ru), 0);

	/* The stale event of the victim must not reach its new owner. */
	assert_int_equal(ev_run_once(loop, 1000), 1);
	assert_int_equal(ru.old_calls, 1);
	assert_int_equal(ru.new_calls, 0);
	assert_int_equal(ev_count_fds(loop), 2);

	/* From the next batch on, the new owner gets its (real) events. */
	assert_int_equal(ev_run_once(loop, 1000), 2);
	assert_int_equal(ru.old_calls, 2);
	assert_int_equal(ru.new_calls, 1);

	ev_del(loop, sa[0]);
	ev_del(loop, sb[0]);
	close(sa[0]);
	close(sa[1]);
	close(sb[0]);
	close(sb[1]);
	close(sc[0]);
	close(sc[1]);
}

/* ev_del_closing then close: the number is free for a new owner at once, and
 * many rounds of it leave the backend with nothing watched (epoll skips the
 * EPOLL_CTL_DEL and must still keep its count right). */
static void test_del_closing(void **state)
{
	struct ev_loop *loop = fixture_loop(state);

	for (int round = 0; round < 200; round++) {
		struct rec r = {0};
		int sv[2];

		make_pair(sv);
		put_byte(sv[1]);
		assert_int_equal(ev_add(loop, sv[0], EV_READ, rec_cb, &r), 0);
		assert_int_equal(ev_run_once(loop, 1000), 1);
		assert_int_equal(r.calls, 1);
		ev_del_closing(loop, sv[0]);
		assert_int_equal(ev_get(loop, sv[0]), -1);
		close(sv[0]);
		close(sv[1]);
		assert_int_equal(ev_count_fds(loop), 0);
	}
	/* Closed descriptors left no event behind. */
	assert_int_equal(ev_run_once(loop, 0), 0);
}

#define NPAIRS_MANY 500

struct many {
	int *calls; /* indexed by fd */
};

static void many_cb(struct ev_loop *loop, int fd, int events, void *arg)
{
	struct many *m = arg;

	(void)loop;
	assert_int_equal(events, EV_WRITE);
	m->calls[fd]++;
}

static void test_thousand_fds(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	int(*sv)[2];
	struct many m;
	int i, maxfd = 0;

	if (nofile_at_least(2 * NPAIRS_MANY + 16) == -1) {
		print_message("cannot open %d descriptors: skipped\n", 2 * NPAIRS_MANY);
		skip();
	}
	assert_non_null(sv = calloc(NPAIRS_MANY, sizeof(*sv)));
	for (i = 0; i < NPAIRS_MANY; i++) {
		make_pair(sv[i]);
		maxfd = sv[i][1] > maxfd ? sv[i][1] : maxfd;
	}
	assert_non_null(m.calls = calloc((size_t)maxfd + 1, sizeof(*m.calls)));
	for (i = 0; i < NPAIRS_MANY; i++) {
		assert_int_equal(ev_add(loop, sv[i][0], EV_WRITE, many_cb, &m), 0);
		assert_int_equal(ev_add(loop, sv[i][1], EV_WRITE, many_cb, &m), 0);
	}
	assert_int_equal(ev_count_fds(loop), 2 * NPAIRS_MANY);

	/* All in one batch, each once. */
	assert_int_equal(ev_run_once(loop, 1000), 2 * NPAIRS_MANY);
	for (i = 0; i < NPAIRS_MANY; i++) {
		assert_int_equal(m.calls[sv[i][0]], 1);
		assert_int_equal(m.calls[sv[i][1]], 1);
	}

	for (i = 0; i < NPAIRS_MANY; i++) {
		ev_del(loop, sv[i][0]);
		ev_del(loop, sv[i][1]);
		close(sv[i][0]);
		close(sv[i][1]);
	}
	assert_int_equal(ev_count_fds(loop), 0);
	free(m.calls);
	free(sv);
}

static void test_fd_setsize(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	struct rec r = {0};
	int p[2], hi = FD_SETSIZE;

	if (nofile_at_least((rlim_t)FD_SETSIZE + 1) == -1) {
		print_message("RLIMIT_NOFILE cannot be raised to %d, so no descriptor "
		              "can reach FD_SETSIZE: skipped\n",
		              FD_SETSIZE + 1);
		skip();
	}
	assert_int_equal(pipe(p), 0);
	assert_int_equal(dup2(p[0], hi), hi);
	if (fixture_is(state, "select")) {
		/* The set would be written past its end. */
		errno = 0;
		assert_int_equal(ev_add(loop, hi, EV_READ, rec_cb, &r), -1);
		assert_int_equal(errno, ERANGE);
		errno = 0;
		assert_int_equal(ev_add(loop, hi, 0, rec_cb, &r), -1);
		assert_int_equal(errno, ERANGE);
		assert_int_equal(ev_count_fds(loop), 0);
		assert_int_equal(ev_get(loop, hi), -1);
	} else {
		assert_int_equal(ev_add(loop, hi, EV_READ, rec_cb, &r), 0);
		put_byte(p[1]);
		assert_int_equal(ev_run_once(loop, 1000), 1);
		assert_int_equal(r.fd, hi);
		ev_del(loop, hi);
	}
	close(hi);
	close(p[0]);
	close(p[1]);
}

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

static void test_sigmask(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	struct sigaction sa, old_sa;
	sigset_t block, old_mask, wait_mask;
	uint64_t t0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &sa, &old_sa), 0);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	assert_int_equal(sigprocmask(SIG_BLOCK, &block, &old_mask), 0);
	wait_mask = old_mask;
	sigdelset(&wait_mask, SIGUSR1);
	ev_loop_sigmask(loop, &wait_mask);

	/* Pending before the wait: delivered as soon as the wait unblocks it. */
	got_usr1 = 0;
	assert_int_equal(kill(getpid(), SIGUSR1), 0);
	assert_int_equal(got_usr1, 0);
	t0 = mono_us();
	assert_int_equal(ev_run_once(loop, 2000), 0);
	assert_true(mono_us() - t0 < 1000000);
	assert_int_equal(got_usr1, 1);

	ev_loop_sigmask(loop, NULL);
	assert_int_equal(ev_run_once(loop, 0), 0);
	assert_int_equal(sigprocmask(SIG_SETMASK, &old_mask, NULL), 0);
	assert_int_equal(sigaction(SIGUSR1, &old_sa, NULL), 0);
}

/* ---- timers --------------------------------------------------------------- */

struct tlog {
	int order[8];
	int n;
};

struct ttimer {
	struct ev_timer t;
	int id;
	int calls;
	int rearm; /* times left to re-arm */
	uint64_t rearm_ms;
	struct ttimer *other; /* stopped by this one's callback */
	struct tlog *log;
};

static void ttimer_cb(struct ev_loop *loop, struct ev_timer *t)
{
	struct ttimer *tt = ev_container_of(t, struct ttimer, t);

	assert_false(ev_timer_active(t));
	assert_true(t->node.key <= ev_now(loop));
	tt->calls++;
	if (tt->log != NULL && tt->log->n < 8)
		tt->log->order[tt->log->n++] = tt->id;
	if (tt->other != NULL)
		ev_timer_stop(loop, &tt->other->t);
	if (tt->rearm > 0) {
		tt->rearm--;
		assert_int_equal(ev_timer_start(loop, t, tt->rearm_ms), 0);
	}
}

/* Run the loop until no timer is armed, within a bound. */
static void run_timers(struct ev_loop *loop)
{
	int i;

	for (i = 0; i < 1000 && ev_count_timers(loop) > 0; i++)
		assert_true(ev_run_once(loop, 1000) >= 0);
	assert_int_equal(ev_count_timers(loop), 0);
}

static void test_timer_order(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	struct tlog log = {{0}, 0};
	struct ttimer tt[3];
	const uint64_t ms[3] = {3, 1, 2};
	uint64_t start = ev_now_update(loop);
	int i;

	for (i = 0; i < 3; i++) {
		memset(&tt[i], 0, sizeof(tt[i]));
		ev_timer_init(&tt[i].t, ttimer_cb);
		tt[i].id = i;
		tt[i].log = &log;
		assert_int_equal(ev_timer_start(loop, &tt[i].t, ms[i]), 0);
		assert_true(ev_timer_active(&tt[i].t));
	}
	assert_int_equal(ev_count_timers(loop), 3);
	run_timers(loop);
	assert_int_equal(log.n, 3);
	assert_int_equal(log.order[0], 1);
	assert_int_equal(log.order[1], 2);
	assert_int_equal(log.order[2], 0);
	assert_true(ev_now(loop) >= start + 3);
}

static void test_timer_stop(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	struct ttimer a = {0}, b = {0};

	ev_timer_init(&a.t, ttimer_cb);
	ev_timer_init(&b.t, ttimer_cb);
	ev_timer_stop(loop, &a.t); /* not armed: harmless */
	assert_int_equal(ev_timer_start(loop, &a.t, 1), 0);
	assert_int_equal(ev_timer_start(loop, &b.t, 2), 0);
	assert_int_equal(ev_count_timers(loop), 2);
	ev_timer_stop(loop, &a.t);
	ev_timer_stop(loop, &a.t);
	assert_false(ev_timer_active(&a.t));
	assert_int_equal(ev_count_timers(loop), 1);
	run_timers(loop);
	assert_int_equal(a.calls, 0);
	assert_int_equal(b.calls, 1);
	assert_false(ev_timer_active(&b.t));
}

static void test_timer_rearm(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	struct ttimer a = {0};

	ev_timer_init(&a.t, ttimer_cb);
	a.rearm = 2;
	a.rearm_ms = 1;
	assert_int_equal(ev_timer_start(loop, &a.t, 1), 0);
	run_timers(loop);
	assert_int_equal(a.calls, 3);

	/* Re-armed for 0 ms from its callback: once per run, never a busy loop. */
	a.calls = 0;
	a.rearm = 1000;
	a.rearm_ms = 0;
	assert_int_equal(ev_timer_start(loop, &a.t, 0), 0);
	assert_int_equal(ev_run_once(loop, 0), 1);
	assert_int_equal(ev_run_once(loop, 0), 1);
	assert_int_equal(a.calls, 2);
	assert_true(ev_timer_active(&a.t));

	/* A restart moves an armed timer instead of adding it twice. */
	assert_int_equal(ev_timer_start(loop, &a.t, 100000), 0);
	assert_int_equal(ev_count_timers(loop), 1);
	assert_int_equal(ev_run_once(loop, 0), 0);
	ev_timer_stop(loop, &a.t);
	assert_int_equal(ev_count_timers(loop), 0);
}

static void test_timer_stops_other(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	struct ttimer a = {0}, b = {0};

	ev_timer_init(&a.t, ttimer_cb);
	ev_timer_init(&b.t, ttimer_cb);
	a.other = &b;
	b.other = &a;
	assert_int_equal(ev_timer_start(loop, &a.t, 0), 0);
	assert_int_equal(ev_timer_start(loop, &b.t, 0), 0);
	/* Both due in the same run; whichever goes first cancels the other. */
	assert_int_equal(ev_run_once(loop, 0), 1);
	assert_int_equal(a.calls + b.calls, 1);
	assert_int_equal(ev_count_timers(loop), 0);
	assert_false(ev_timer_active(&a.t));
	assert_false(ev_timer_active(&b.t));
}

static void test_run_once_timeout(void **state)
{
	struct ev_loop *loop = fixture_loop(state);
	struct ttimer a = {0};
	uint64_t t0, el;

	t0 = mono_us();
	assert_int_equal(ev_run_once(loop, 0), 0);
	assert_true(mono_us() - t0 < 500000);

	t0 = mono_us();
	assert_int_equal(ev_run_once(loop, 50), 0);
	el = mono_us() - t0;
	assert_true(el >= 45000);
	assert_true(el < 1000000);

	/* No limit: the timer bounds the wait. */
	ev_timer_init(&a.t, ttimer_cb);
	ev_now_update(loop);
	t0 = mono_us();
	assert_int_equal(ev_timer_start(loop, &a.t, 30), 0);
	assert_int_equal(ev_run_once(loop, -1), 1);
	el = mono_us() - t0;
	assert_int_equal(a.calls, 1);
	assert_true(el >= 28000);
	assert_true(el < 1000000);
}

static void test_counts(void **state)
{
	struct ev_loop *loop = fixture_loop(state), *other;
	struct rec r = {0};
	struct ttimer a = {0}, b = {0};
	int p[2];

	assert_int_equal(ev_count_fds(loop), 0);
	assert_int_equal(ev_count_timers(loop), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(ev_add(loop, p[0], EV_READ, rec_cb, &r), 0);
	assert_int_equal(ev_add(loop, p[1], 0, rec_cb, &r), 0);
	assert_int_equal(ev_count_fds(loop), 2);
	ev_del(loop, p[1]);
	ev_del(loop, p[1]);
	assert_int_equal(ev_count_fds(loop), 1);
	ev_del(loop, p[0]);
	assert_int_equal(ev_count_fds(loop), 0);

	ev_timer_init(&a.t, ttimer_cb);
	ev_timer_init(&b.t, ttimer_cb);
	assert_int_equal(ev_timer_start(loop, &a.t, 100000), 0);
	assert_int_equal(ev_timer_start(loop, &b.t, 100000), 0);
	assert_int_equal(ev_timer_start(loop, &a.t, 200000), 0);
	assert_int_equal(ev_count_timers(loop), 2);
	ev_timer_stop(loop, &b.t);
	assert_int_equal(ev_count_timers(loop), 1);
	ev_timer_stop(loop, &a.t);
	assert_int_equal(ev_count_timers(loop), 0);

	/* Freeing a loop disarms what it still holds. */
	assert_non_null(other = ev_loop_new(((struct fixture *)*state)->backend));
	assert_int_equal(ev_add(other, p[0], EV_READ, rec_cb, &r), 0);
	assert_int_equal(ev_timer_start(other, &a.t, 100000), 0);
	ev_loop_free(other);
	assert_false(ev_timer_active(&a.t));
	close(p[0]);
	close(p[1]);
}

/* ---- backend-independent -------------------------------------------------- */

#define NTIMERS 2000

struct heap_state {
	uint64_t last;
	int fired;
	int bad_order;
};

struct htimer {
	struct ev_timer t;
	struct heap_state *hs;
	int calls;
	int armed;
};

static void htimer_cb(struct ev_loop *loop, struct ev_timer *t)
{
	struct htimer *h = ev_container_of(t, struct htimer, t);

	if (t->node.key < h->hs->last || t->node.key > ev_now(loop))
		h->hs->bad_order++;
	h->hs->last = t->node.key;
	h->hs->fired++;
	h->calls++;
}

static void test_timer_heap_random(void **state)
{
	struct ev_loop *loop;
	struct heap_state hs = {0, 0, 0};
	struct htimer *h;
	size_t armed = 0;
	int i;

	(void)state;
	assert_non_null(loop = ev_loop_new("auto"));
	assert_non_null(h = calloc(NTIMERS, sizeof(*h)));
	srand(12345);
	for (i = 0; i < NTIMERS; i++) {
		ev_timer_init(&h[i].t, htimer_cb);
		h[i].hs = &hs;
		assert_int_equal(ev_timer_start(loop, &h[i].t, (uint64_t)(rand() % 40)), 0);
		h[i].armed = 1;
		armed++;
	}
	/* Shuffle the heap about: restarts move timers both ways. */
	for (i = 0; i < 3 * NTIMERS; i++) {
		struct htimer *x = &h[rand() % NTIMERS];

		if (rand() % 3 == 0) {
			armed -= x->armed;
			x->armed = 0;
			ev_timer_stop(loop, &x->t);
		} else {
			armed += !x->armed;
			x->armed = 1;
			assert_int_equal(ev_timer_start(loop, &x->t, (uint64_t)(rand() % 40)), 0);
		}
		assert_int_equal(ev_count_timers(loop), armed);
	}
	run_timers(loop);
	assert_int_equal(hs.fired, (int)armed);
	assert_int_equal(hs.bad_order, 0);
	for (i = 0; i < NTIMERS; i++)
		assert_int_equal(h[i].calls, h[i].armed);
	free(h);
	ev_loop_free(loop);
}

static void test_backend_names(void **state)
{
	struct ev_loop *loop;
	const char *name;
	size_t i, j;

	(void)state;
	assert_non_null(ev_backend_name(0));
	/* The first readiness backend is what "auto" gives a caller that does
	 * not use completions (the client, the master's poll aside). */
	for (i = 0; ev_backend_completions(i); i++)
		continue;
	assert_non_null(ev_backend_name(i));
#ifdef EV_HAVE_IO_URING
	/* A worker's "auto" prefers io_uring where the kernel lets it. */
	assert_string_equal(ev_backend_name(0), "io_uring");
	assert_true(ev_backend_completions(0));
#endif
#ifdef EV_HAVE_EPOLL
	/* SPEC: epoll on Linux unless asked otherwise (or io_uring). */
	assert_string_equal(ev_backend_name(i), "epoll");
#endif
	errno = 0;
	assert_null(ev_loop_new("kqueue"));
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_null(ev_loop_new(""));
	assert_int_equal(errno, ENOENT);

	assert_non_null(loop = ev_loop_new("auto"));
	assert_string_equal(ev_loop_backend(loop), ev_backend_name(i));
	assert_false(ev_loop_completions(loop));
	assert_null(ev_loop_fallback(loop));
	ev_loop_free(loop);
	/* Asked for completions, "auto" tries them first: it gets the first
	 * backend or says why not. */
	assert_non_null(loop = ev_loop_new_flags("auto", EV_LOOP_COMPLETIONS));
	if (ev_loop_fallback(loop) == NULL) {
		assert_string_equal(ev_loop_backend(loop), ev_backend_name(0));
	} else {
		print_message("# %s\n", ev_loop_fallback(loop));
		assert_true(strncmp(ev_loop_fallback(loop), ev_backend_name(0),
		                    strlen(ev_backend_name(0))) == 0);
	}
	ev_loop_free(loop);
	for (i = 0; (name = ev_backend_name(i)) != NULL; i++) {
		assert_string_not_equal(name, "auto");
		for (j = 0; j < i; j++)
			assert_string_not_equal(name, ev_backend_name(j));
		assert_non_null(loop = ev_loop_new(name));
		assert_string_equal(ev_loop_backend(loop), name);
		ev_loop_free(loop);
	}
	/* Past the end it stays NULL. */
	assert_null(ev_backend_name(i + 1));
	assert_null(ev_backend_name((size_t)-1));
}

/*
 * The io_uring backend's ring does only what the backend needs: an
 * operation of a ring runs without its system call, where the worker
 * sandbox's seccomp filter cannot see it, so a worker made to submit an
 * openat, a connect or a socket must be refused by the ring itself.
 */
static void test_uring_restricted(void **state)
{
#ifdef EV_HAVE_IO_URING
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct ev_loop *loop;
	struct evu *u;
	char buf[16];
	struct iovec iov = {buf, sizeof(buf)};
	int sv[2], seen = 0;

	(void)state;
	if ((loop = ev_loop_new("io_uring")) == NULL) {
		print_message("# io_uring cannot start here (%s): left out\n", ev_last_error());
		return;
	}
	u = evu_of(loop);
	assert_non_null(u);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	/* Refused: operations it never uses, and a flag it never sets on one
	 * it does use. */
	assert_non_null(sqe = io_uring_get_sqe(&u->ring));
	io_uring_prep_openat(sqe, AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC, 0);
	io_uring_sqe_set_data64(sqe, 1);
	assert_non_null(sqe = io_uring_get_sqe(&u->ring));
	io_uring_prep_connect(sqe, sv[0], NULL, 0);
	io_uring_sqe_set_data64(sqe, 2);
	assert_non_null(sqe = io_uring_get_sqe(&u->ring));
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data64(sqe, 3);
	/* Allowed: a send as the backend makes it. */
	assert_non_null(sqe = io_uring_get_sqe(&u->ring));
	io_uring_prep_send(sqe, sv[0], "y", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, 5);
	/* Last: what follows a link would be cancelled with it. */
	assert_non_null(sqe = io_uring_get_sqe(&u->ring));
	io_uring_prep_send(sqe, sv[0], "x", 1, MSG_DONTWAIT);
	sqe->flags |= IOSQE_IO_LINK;
	io_uring_sqe_set_data64(sqe, 4);
	assert_true(io_uring_submit(&u->ring) >= 0);
	while (seen < 5) {
		assert_int_equal(io_uring_wait_cqe(&u->ring, &cqe), 0);
		if (cqe->user_data >= 1 && cqe->user_data <= 4)
			assert_int_equal(cqe->res, -EACCES);
		else if (cqe->user_data == 5)
			assert_int_equal(cqe->res, 1);
		seen++;
		io_uring_cqe_seen(&u->ring, cqe);
	}
	assert_int_equal(read(sv[1], buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 'y');
	/* Registrations other than a buffer ring are refused too. */
	assert_int_equal(io_uring_register_buffers(&u->ring, &iov, 1), -EACCES);
	close(sv[0]);
	close(sv[1]);
	ev_loop_free(loop);
#else
	(void)state;
#endif
}

/* The cases that run once on each backend. */
#define EV_CASE(fn)                                                                                \
	{                                                                                          \
#fn, fn                                                                            \
	}
static const struct {
	const char *name;
	CMUnitTestFunction fn;
} per_backend[] = {
    EV_CASE(test_read_ready),
    EV_CASE(test_write_ready),
    EV_CASE(test_set_modify),
    EV_CASE(test_hangup),
    EV_CASE(test_add_errors),
    EV_CASE(test_del_in_batch),
    EV_CASE(test_set_in_batch),
    EV_CASE(test_late_after_others),
    EV_CASE(test_late_bounded),
    EV_CASE(test_churn),
    EV_CASE(test_fd_reuse_in_batch),
    EV_CASE(test_del_closing),
    EV_CASE(test_thousand_fds),
    EV_CASE(test_fd_setsize),
    EV_CASE(test_sigmask),
    EV_CASE(test_timer_order),
    EV_CASE(test_timer_stop),
    EV_CASE(test_timer_rearm),
    EV_CASE(test_timer_stops_other),
    EV_CASE(test_run_once_timeout),
    EV_CASE(test_counts),
};
#define NPER (sizeof(per_backend) / sizeof(per_backend[0]))

static const struct CMUnitTest once[] = {
    cmocka_unit_test(test_timer_heap_random),
    cmocka_unit_test(test_backend_names),
    cmocka_unit_test(test_uring_restricted),
};
#define NONCE (sizeof(once) / sizeof(once[0]))

struct case_name {
	char s[96]; /* "epoll: test_read_ready" */
};

/* The table is made at run time: one row per case and built backend. */
int main(void)
{
	struct CMUnitTest *tests;
	struct case_name *names;
	const char *backend;
	size_t nb = 0, n = 0, b, c;
	int rc;

	while (ev_backend_name(nb) != NULL)
		nb++;
	tests = calloc(nb * NPER + NONCE, sizeof(*tests));
	names = calloc(nb * NPER + 1, sizeof(*names));
	if (tests == NULL || names == NULL)
		return 1;
	/* Backends with completions (io_uring) last: the kernel tears a freed
	 * ring down later and interrupts its creator's next wait once (EINTR,
	 * which ev_run_once() reports as 0), and the timing cases of the other
	 * backends would take that for a wait cut short. */
	for (int pass = 0; pass < 2; pass++) {
		for (b = 0; b < nb; b++) {
			if (ev_backend_completions(b) != pass ||
			    !backend_starts(ev_backend_name(b)))
				continue;
			backend = ev_backend_name(b);
			for (c = 0; c < NPER; c++, n++) {
				snprintf(names[n].s, sizeof(names[n].s), "%s: %s", backend,
				         per_backend[c].name);
				tests[n].name = names[n].s;
				tests[n].test_func = per_backend[c].fn;
				tests[n].setup_func = setup;
				tests[n].teardown_func = teardown;
				/* setup() only reads it. */
				tests[n].initial_state = (void *)(uintptr_t)backend;
			}
		}
	}
	for (c = 0; c < NONCE; c++)
		tests[n++] = once[c];
	rc = _cmocka_run_group_tests("ev", tests, n, NULL, NULL);
	free(names);
	free(tests);
	return rc;
}
