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

#include "client.h"
#include "clock.h"
#include "pace.h"
#include "pattern.h"

#define CLIENT_TICK_MS 100
/* Descriptors kept back for stdio, the loop and the odd library. */
#define CLIENT_SPARE_FDS 32

static volatile sig_atomic_t client_signalled;

static void client_on_signal(int sig)
{
	(void)sig;
	client_signalled++;
}

uint32_t client_msg_size(const struct client *cl, uint64_t id, uint64_t msg)
{
	const struct bench_opts *o = cl->opts;
	uint64_t x, span;

	if (o->size_min == o->size_max)
		return (uint32_t)o->size_min;
	/* A cheap hash of (id, msg): sizes spread evenly over the range and the
	 * same on every run. */
	x = (id * 0x9e3779b97f4a7c15ull) ^ (msg + 0x632be59bd9b4e019ull);
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 32;
	span = o->size_max - o->size_min + 1;
	return (uint32_t)(o->size_min + x % span);
}

const struct sockaddr_storage *client_next_source(struct client *cl)
{
	const struct sockaddr_storage *ss;

	if (cl->sources.n == 0)
		return NULL;
	ss = &cl->sources.addr[cl->next_source];
	cl->next_source = (cl->next_source + 1) % cl->sources.n;
	return ss;
}

static void client_launch(struct client *cl, struct bconn *c, uint64_t due)
{
	c->id = cl->next_id++;
	c->phase = pattern_phase(c->id);
	c->due_ns = due;
	c->state = BCONN_CONNECTING;
	cl->active++;
	cl->rep->conns_active = (uint64_t)cl->active;
	if (cl->rep->conns_active > cl->rep->conns_peak)
		cl->rep->conns_peak = cl->rep->conns_active;
	if (cl->opts->udp)
		(void)dgram_start(cl, c);
	else
		(void)stream_start(cl, c);
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
		if (cl->interval_ns != 0 && cl->next_launch_ns > now) {
			if (!pace_active(&cl->launch_pace))
				pace_at(&cl->pace, &cl->launch_pace, cl->next_launch_ns);
			return;
		}
		cl->launches_left--;
		c->quota = 1;
		client_launch(cl, c, cl->interval_ns != 0 ? cl->next_launch_ns : now);
		cl->next_launch_ns += cl->interval_ns;
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

void client_conn_close(struct client *cl, struct bconn *c, int failed)
{
	if (c->fd != -1) {
		ev_del_closing(cl->loop, c->fd);
		close(c->fd);
		c->fd = -1;
	}
	pace_stop(&cl->pace, &c->timer);
	c->state = BCONN_IDLE;
	cl->active--;
	cl->rep->conns_active = (uint64_t)cl->active;
	if (failed)
		cl->rep->conns_failed++;
	if (cl->opts->connect_rate && !cl->stopping && cl->launches_left > 0 &&
	    !ev_timer_active(&cl->launch_timer))
		(void)ev_timer_start(cl->loop, &cl->launch_timer, 0);
}

/* Stop sending; connections close as their last echo comes back. */
static void client_stop(struct client *cl, uint64_t now)
{
	int i;

	if (cl->stopping)
		return;
	cl->stopping = 1;
	cl->stop_ns = now;
	ev_timer_stop(cl->loop, &cl->launch_timer);
	pace_stop(&cl->pace, &cl->launch_pace);
	for (i = 0; i < cl->nconns; i++) {
		struct bconn *c = &cl->conns[i];

		if (c->state == BCONN_IDLE)
			continue;
		if (cl->opts->udp)
			dgram_stop(cl, c);
		else
			stream_stop(cl, c);
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
		if (cl->opts->udp)
			dgram_abort(cl, c);
		else
			stream_abort(cl, c);
	}
}

/* The next tick: every CLIENT_TICK_MS, and on time for the deadline. */
static uint64_t client_tick_ms(const struct client *cl, uint64_t now)
{
	uint64_t end, ms = CLIENT_TICK_MS;

	if (cl->opts->duration > 0 && !cl->stopping) {
		end = cl->start_ns + (uint64_t)(cl->opts->duration * 1e9);
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
	if (cl->opts->duration > 0 && now - cl->start_ns >= (uint64_t)(cl->opts->duration * 1e9))
		client_stop(cl, now);
	for (i = 0; i < cl->nconns; i++) {
		struct bconn *c = &cl->conns[i];

		if (c->state == BCONN_IDLE)
			continue;
		if (cl->opts->udp)
			dgram_check(cl, c, now);
		else
			stream_check(cl, c, now);
	}
	if (cl->show_progress && now >= cl->next_progress_ns) {
		report_progress(cl->rep, now);
		cl->next_progress_ns += 1000000000u;
	}
	(void)ev_timer_start(cl->loop, &cl->tick_timer, client_tick_ms(cl, now));
}

static int client_done(const struct client *cl)
{
	if (cl->active > 0)
		return 0;
	return cl->stopping || !cl->opts->connect_rate || cl->launches_left == 0;
}

/* Everything that can fail before the first connection. */
static int client_setup(struct client *cl, const struct bench_opts *o, struct report *rep)
{
	size_t want, have, ring;
	int i, n = o->conns;

	if (net_target_resolve(o, &cl->target, rep->target, sizeof(rep->target)) == -1)
		return -1;
	if (o->sources != NULL &&
	    net_sources_parse(o->sources, cl->target.family, &cl->sources) == -1)
		return -1;
	if (o->count != 0 && !o->connect_rate && o->count < (uint64_t)n)
		n = (int)o->count;
	want = (size_t)n + CLIENT_SPARE_FDS;
	if ((have = net_nofile_raise(want)) < want) {
		int can =
		    have > 2 * CLIENT_SPARE_FDS ? (int)(have - CLIENT_SPARE_FDS) : CLIENT_SPARE_FDS;

		report_note(rep,
		            "RLIMIT_NOFILE allows %zu descriptors: %d connections instead of %d",
		            have, can, n);
		n = can;
	}
	if ((cl->loop = ev_loop_new(o->backend)) == NULL) {
		report_note(rep, "event loop '%s': %s", o->backend,
		            errno == ENOENT ? "unknown or unavailable" : strerror(errno));
		return -1;
	}
	rep->backend = ev_loop_backend(cl->loop);
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

		c->cl = cl;
		c->fd = -1;
		c->slot = (uint32_t)i;
		c->ring = cl->conns[0].ring + (size_t)i * ring;
		c->mask = (uint32_t)ring - 1;
	}
	if (o->udp && dgram_init(cl) == -1)
		goto nomem;
	/* Every connection's timer, and launch_pace. */
	if (pace_init(&cl->pace, cl->loop, (size_t)n + 1) == -1)
		goto nomem;
	return 0;
nomem:
	report_note(rep, "out of memory for %d connections", n);
	return -1;
}

static void client_teardown(struct client *cl)
{
	pace_fini(&cl->pace);
	if (cl->conns != NULL)
		free(cl->conns[0].ring);
	free(cl->conns);
	dgram_fini();
	net_sources_free(&cl->sources);
	if (cl->loop != NULL)
		ev_loop_free(cl->loop);
}

/* Start every connection, each with its share of -n and its place in the
 * -r schedule (staggered so that they do not all send at once). */
static void client_start(struct client *cl)
{
	const struct bench_opts *o = cl->opts;
	uint64_t n = (uint64_t)cl->nconns;
	int i;

	if (o->rate > 0)
		cl->interval_ns = (uint64_t)((o->connect_rate ? 1e9 : 1e9 * (double)n) / o->rate);
	if (cl->interval_ns == 0 && o->rate > 0)
		cl->interval_ns = 1;
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
		client_launch(cl, c, cl->start_ns + cl->interval_ns * (uint64_t)i / n);
	}
}

int client_run(const struct bench_opts *o, struct report *rep)
{
	struct client cl;
	struct sigaction sa;
	sigset_t block, old;
	int rc = -1;

	memset(&cl, 0, sizeof(cl));
	cl.opts = o;
	cl.rep = rep;
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
	ev_loop_sigmask(cl.loop, &old);

	ev_timer_init(&cl.launch_timer, client_on_launch);
	pace_timer_init(&cl.launch_pace, client_on_launch_paced);
	ev_timer_init(&cl.tick_timer, client_on_tick);
	cl.show_progress = o->progress && isatty(STDERR_FILENO);
	ev_now_update(cl.loop);
	cl.start_ns = rep->start_ns = rep->tick_start_ns = clock_mono_ns();
	cl.next_progress_ns = cl.start_ns + 1000000000u;
	(void)ev_timer_start(cl.loop, &cl.tick_timer, client_tick_ms(&cl, cl.start_ns));
	client_start(&cl);

	while (!client_done(&cl)) {
		if (ev_run_once(cl.loop, -1) == -1 && errno != EINTR) {
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
