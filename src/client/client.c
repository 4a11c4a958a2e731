/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Running a benchmark: set-up (target, sources, descriptor limit, loop,
 * signals), launching connections (all at once, or paced with
 * --connect-rate -r), the 100 ms housekeeping tick (deadline, timeouts,
 * progress line) and the orderly stop.
 */
#include "acconfig.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include "bconn.h"
#include "client.h"
#include "clock.h"
#include "dgram.h"
#include "pace.h"
#include "pattern.h"
#include "stream.h"

#define CLIENT_TICK_MS 100
/* Descriptors kept back for stdio, the loop and the odd library. */
#define CLIENT_SPARE_FDS 32

struct client {
	struct bconn_run run;        /* what the connections share */
	const struct bconn_ops *ops; /* their kind: stream_ops or dgram_ops */
	struct bconn *conns;
	int nconns;
	int active;             /* slots with a socket */
	uint64_t next_id;       /* next connection number */
	uint64_t launches_left; /* --connect-rate with -n: connections still to open */
	uint64_t next_launch_ns;
	struct ev_timer launch_timer;  /* a connection ended: launch the next */
	struct pace_timer launch_pace; /* the next paced connect is due */
	struct ev_timer tick_timer;

	uint64_t start_ns;
	uint64_t stop_ns; /* when sending stops (duration, signal), or 0 */
	uint64_t next_progress_ns;
	int stopping;
	int show_progress;
};

static volatile sig_atomic_t client_signalled;

static void client_on_signal(int sig)
{
	(void)sig;
	client_signalled++;
}

static void client_launch(struct client *cl, struct bconn *c, uint64_t due)
{
	struct report *rep = cl->run.rep;

	c->id = cl->next_id++;
	c->phase = pattern_phase(c->id);
	c->due_ns = due;
	c->state = BCONN_CONNECTING;
	cl->active++;
	rep->conns_active = (uint64_t)cl->active;
	cl->ops->start(c);
}

/* --connect-rate: open a connection in every idle slot whose turn has come. */
static void client_launch_due(struct client *cl)
{
	uint64_t now = clock_mono_ns();
	int i;

	for (i = 0; i < cl->nconns && cl->launches_left > 0 && !cl->stopping; i++) {
		struct bconn *c = &cl->conns[i];

		if (c->state != BCONN_IDLE)
			continue;
		if (cl->run.interval_ns != 0 && cl->next_launch_ns > now) {
			if (!pace_active(&cl->launch_pace))
				pace_at(&cl->run.pace, &cl->launch_pace, cl->next_launch_ns);
			return;
		}
		cl->launches_left--;
		c->quota = 1;
		client_launch(cl, c, cl->run.interval_ns != 0 ? cl->next_launch_ns : now);
		cl->next_launch_ns += cl->run.interval_ns;
	}
}

/* Right after a connection ended (never from inside its callbacks, where a
 * connect that fails at once would recurse). */
static void client_on_launch(struct ev_loop *loop, struct ev_timer *t)
{
	(void)loop;
	client_launch_due(ev_container_of(t, struct client, launch_timer));
}

/* When the next paced connect is due. */
static void client_on_launch_paced(struct pace_timer *t)
{
	client_launch_due(ev_container_of(t, struct client, launch_pace));
}

/* A connection has closed (bconn_close): count it and, with --connect-rate,
 * start the next. */
static void client_on_close(struct bconn_run *run, int failed)
{
	struct client *cl = ev_container_of(run, struct client, run);

	cl->active--;
	run->rep->conns_active = (uint64_t)cl->active;
	if (failed)
		run->rep->conns_failed++;
	if (run->opts->connect_rate && !cl->stopping && cl->launches_left > 0 &&
	    !ev_timer_active(&cl->launch_timer))
		(void)ev_timer_start(run->loop, &cl->launch_timer, 0);
}

/* Stop sending; connections close as their last echo comes back. */
static void client_stop(struct client *cl, uint64_t now)
{
	int i;

	if (cl->stopping)
		return;
	cl->stopping = 1;
	cl->stop_ns = now;
	ev_timer_stop(cl->run.loop, &cl->launch_timer);
	pace_stop(&cl->run.pace, &cl->launch_pace);
	for (i = 0; i < cl->nconns; i++) {
		struct bconn *c = &cl->conns[i];

		if (c->state == BCONN_IDLE)
			continue;
		cl->ops->stop(c);
	}
}

/* Close whatever is still open without counting it (a second ^C). */
static void client_abort(struct client *cl)
{
	int i;

	for (i = 0; i < cl->nconns; i++) {
		struct bconn *c = &cl->conns[i];

		if (c->state == BCONN_IDLE)
			continue;
		bconn_close(c, 0);
	}
}

/* The next tick: every CLIENT_TICK_MS, and on time for the deadline. */
static uint64_t client_tick_ms(const struct client *cl, uint64_t now)
{
	uint64_t end, ms = CLIENT_TICK_MS;

	if (cl->run.opts->duration > 0 && !cl->stopping) {
		end = cl->start_ns + (uint64_t)(cl->run.opts->duration * 1e9);
		if (end > now && (end - now + 999999u) / 1000000u < ms)
			ms = (end - now + 999999u) / 1000000u;
	}
	return ms;
}

static void client_on_tick(struct ev_loop *loop, struct ev_timer *t)
{
	struct client *cl = ev_container_of(t, struct client, tick_timer);
	uint64_t now = clock_mono_ns();
	int i;

	(void)loop;
	if (cl->run.opts->duration > 0 &&
	    now - cl->start_ns >= (uint64_t)(cl->run.opts->duration * 1e9))
		client_stop(cl, now);
	for (i = 0; i < cl->nconns; i++) {
		struct bconn *c = &cl->conns[i];

		if (c->state == BCONN_IDLE)
			continue;
		cl->ops->check(c, now);
	}
	if (cl->show_progress && now >= cl->next_progress_ns) {
		report_progress(cl->run.rep, now);
		cl->next_progress_ns += 1000000000u;
	}
	(void)ev_timer_start(cl->run.loop, &cl->tick_timer, client_tick_ms(cl, now));
}

static int client_done(const struct client *cl)
{
	if (cl->active > 0)
		return 0;
	return cl->stopping || !cl->run.opts->connect_rate || cl->launches_left == 0;
}

/* Everything that can fail before the first connection. */
static int client_setup(struct client *cl, const struct bench_opts *o, struct report *rep)
{
	size_t want, have, ring;
	int i, n = o->conns;

	if (net_target_resolve(o, &cl->run.target, rep->target, sizeof(rep->target)) == -1)
		return -1;
	if (o->sources != NULL &&
	    net_sources_parse(o->sources, cl->run.target.family, &cl->run.sources) == -1)
		return -1;
	if (o->count != 0 && !o->connect_rate && o->count < (uint64_t)n)
		n = (int)o->count;
	want = (size_t)n + CLIENT_SPARE_FDS;
	if ((have = net_nofile_raise(want)) < want) {
		int can = have > (size_t)2 * CLIENT_SPARE_FDS ? (int)(have - CLIENT_SPARE_FDS)
		                                              : CLIENT_SPARE_FDS;

		report_note(rep,
		            "RLIMIT_NOFILE allows %zu descriptors: %d connections instead of %d",
		            have, can, n);
		n = can;
	}
	if ((cl->run.loop = ev_loop_new(o->backend)) == NULL) {
		report_note(rep, "event loop '%s': %s", o->backend,
		            errno == ENOENT ? "unknown or unavailable" : strerror(errno));
		return -1;
	}
	rep->backend = ev_loop_backend(cl->run.loop);
	if (strcmp(rep->backend, "select") == 0 && n > FD_SETSIZE - CLIENT_SPARE_FDS) {
		report_note(rep,
		            "the select backend holds descriptors below %d: %d connections "
		            "instead of %d",
		            FD_SETSIZE, FD_SETSIZE - CLIENT_SPARE_FDS, n);
		n = FD_SETSIZE - CLIENT_SPARE_FDS;
	}
	rep->conns_used = n;
	ring = 1;
	while (ring < (size_t)o->depth)
		ring <<= 1;
	cl->nconns = n;
	if ((cl->conns = calloc((size_t)n, sizeof(*cl->conns))) == NULL ||
	    (cl->conns[0].ring = calloc((size_t)n * ring, sizeof(struct inflight))) == NULL)
		goto nomem;
	for (i = 0; i < n; i++) {
		struct bconn *c = &cl->conns[i];

		c->run = &cl->run;
		c->fd = -1;
		c->ring = cl->conns[0].ring + (size_t)i * ring;
		c->mask = (uint32_t)ring - 1;
	}
	if (cl->ops->init != NULL && cl->ops->init(&cl->run) == -1)
		goto nomem;
	/* Every connection's timer, and launch_pace. */
	if (pace_init(&cl->run.pace, cl->run.loop, (size_t)n + 1) == -1)
		goto nomem;
	return 0;
nomem:
	report_note(rep, "out of memory for %d connections", n);
	return -1;
}

static void client_teardown(struct client *cl)
{
	pace_fini(&cl->run.pace);
	if (cl->conns != NULL)
		free(cl->conns[0].ring);
	free(cl->conns);
	if (cl->ops->fini != NULL)
		cl->ops->fini(&cl->run);
	net_sources_free(&cl->run.sources);
	if (cl->run.loop != NULL)
		ev_loop_free(cl->run.loop);
}

/* Start every connection, each with its share of -n and its place in the
 * -r schedule (staggered so that they do not all send at once). */
static void client_start(struct client *cl)
{
	const struct bench_opts *o = cl->run.opts;
	uint64_t n = (uint64_t)cl->nconns;
	int i;

	if (o->rate > 0)
		cl->run.interval_ns =
		    (uint64_t)((o->connect_rate ? 1e9 : 1e9 * (double)n) / o->rate);
	if (cl->run.interval_ns == 0 && o->rate > 0)
		cl->run.interval_ns = 1;
	if (o->connect_rate) {
		cl->launches_left = o->count != 0 ? o->count : UINT64_MAX;
		cl->next_launch_ns = cl->start_ns;
		client_launch_due(cl);
		return;
	}
	for (i = 0; i < cl->nconns; i++) {
		struct bconn *c = &cl->conns[i];

		c->quota = UINT64_MAX;
		if (o->count != 0)
			c->quota = o->count / n + ((uint64_t)i < o->count % n ? 1 : 0);
		client_launch(cl, c, cl->start_ns + cl->run.interval_ns * (uint64_t)i / n);
	}
}

int client_run(const struct bench_opts *o, struct report *rep)
{
	struct client cl;
	struct sigaction sa;
	sigset_t block, old;
	int rc = -1;

	memset(&cl, 0, sizeof(cl));
	cl.run.opts = o;
	cl.run.rep = rep;
	cl.run.on_close = client_on_close;
	cl.ops = o->udp ? &dgram_ops : &stream_ops;
	pattern_init();
	if (client_setup(&cl, o, rep) == -1)
		goto out;

	/* INT and TERM stop the run (twice: at once); they are delivered only
	 * while the loop waits, so a handler never interrupts a callback. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = client_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	ev_loop_sigmask(cl.run.loop, &old);

	ev_timer_init(&cl.launch_timer, client_on_launch);
	pace_timer_init(&cl.launch_pace, client_on_launch_paced);
	ev_timer_init(&cl.tick_timer, client_on_tick);
	cl.show_progress = o->progress && isatty(STDERR_FILENO);
	ev_now_update(cl.run.loop);
	cl.start_ns = rep->start_ns = rep->tick_start_ns = clock_mono_ns();
	cl.next_progress_ns = cl.start_ns + 1000000000u;
	(void)ev_timer_start(cl.run.loop, &cl.tick_timer, client_tick_ms(&cl, cl.start_ns));
	client_start(&cl);

	while (!client_done(&cl)) {
		if (ev_run_once(cl.run.loop, -1) == -1 && errno != EINTR) {
			report_note(rep, "event loop: %s", strerror(errno));
			client_abort(&cl);
			break;
		}
		if (client_signalled == 1) {
			client_stop(&cl, clock_mono_ns());
		} else if (client_signalled > 1) {
			client_abort(&cl);
			break;
		}
	}
	rep->end_ns = clock_mono_ns();
	report_progress_clear(rep);
	sigprocmask(SIG_SETMASK, &old, NULL);
	rc = 0;
out:
	client_teardown(&cl);
	return rc;
}
