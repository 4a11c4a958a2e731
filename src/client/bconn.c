/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the two kinds of connection have in common: message sizes, the turn
 * of source addresses, and the one way a connection ends.
 */
#include "acconfig.h"

#include <unistd.h>

#include "bconn.h"
#include "report.h"

uint32_t bconn_msg_size(const struct bconn_run *run, uint64_t id, uint64_t msg)
{
	const struct bench_opts *o = run->opts;
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

const struct sockaddr_storage *bconn_next_source(struct bconn_run *run)
{
	const struct sockaddr_storage *ss;

	if (run->sources.n == 0)
		return NULL;
	ss = &run->sources.addr[run->next_source];
	run->next_source = (run->next_source + 1) % run->sources.n;
	return ss;
}

void bconn_opened(struct bconn *c)
{
	struct report *rep = c->run->rep;

	c->opened = 1;
	rep->conns_opened++;
	if (++rep->conns_open > rep->conns_peak)
		rep->conns_peak = rep->conns_open;
}

void bconn_close(struct bconn *c, int failed)
{
	struct bconn_run *run = c->run;

	if (c->opened) {
		run->rep->conns_open--;
		c->opened = 0;
	}
	if (c->fd != -1) {
		ev_del_closing(run->loop, c->fd);
		close(c->fd);
		c->fd = -1;
	}
	pace_stop(&run->pace, &c->timer);
	c->state = BCONN_IDLE;
	run->on_close(run, failed);
}
