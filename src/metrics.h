/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the master reports about itself, as one snapshot taken at the moment
 * of the request, and the three ways it is written out: the Prometheus text
 * format 0.0.4 (GET /metrics), and the text and JSON of `echod -s status`.
 * The writers are pure: a snapshot in, text out.
 */
#ifndef ECHOD_METRICS_H
#define ECHOD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "stats.h"

struct textbuf;

/* What became of a reload (echod_reloads_total{result}). */
enum metrics_reload {
	METRICS_RELOAD_SUCCESS,    /* its generation serves */
	METRICS_RELOAD_REJECTED,   /* refused: bad file, unknown user, address not bound */
	METRICS_RELOAD_FAILED,     /* a new worker died before its generation served */
	METRICS_RELOAD_SUPERSEDED, /* a later reload came before it resolved */
	METRICS_RELOAD_COUNT,
};
extern const char *const metrics_reload_names[METRICS_RELOAD_COUNT];

/* A worker's state (echod_workers{state}). */
enum metrics_worker {
	METRICS_WORKER_STARTING, /* forked, not yet serving */
	METRICS_WORKER_SERVING,
	METRICS_WORKER_RETIRING, /* told to retire; finishing its connections */
	METRICS_WORKER_COUNT,
};
extern const char *const metrics_worker_names[METRICS_WORKER_COUNT];

/* Generations listed in a status; older ones are left out. */
#define METRICS_MAX_GENS 8

struct metrics_gen {
	unsigned gen;
	unsigned workers[METRICS_WORKER_COUNT];
};

struct metrics_snapshot {
	struct stats_counters c;                    /* retired and live workers, added up */
	const char *listeners[STATS_MAX_LISTENERS]; /* names by stats id; NULL: unused */
	unsigned workers[METRICS_WORKER_COUNT];
	struct metrics_gen gens[METRICS_MAX_GENS]; /* newest first */
	size_t ngens;
	uint64_t restarts;
	uint64_t reloads[METRICS_RELOAD_COUNT];
	double start_time;          /* Unix time, seconds */
	double last_reload_success; /* Unix time of the start or the last good reload */
	double now;
	long pid;
	unsigned generation;
	const char *version;
	const char *backend; /* of the serving workers ("auto" until one said) */
	const char *config;  /* the configuration file */
	const char *state;   /* "starting", "serving", "draining" or "stopping" */
};

/* Append the Prometheus text exposition (format 0.0.4) of s to out. */
void metrics_render(const struct metrics_snapshot *s, struct textbuf *out);

/* Append the status report of `echod -s status`, as lines of text. */
void metrics_status_text(const struct metrics_snapshot *s, struct textbuf *out);

/* The same as one JSON object on one line. */
void metrics_status_json(const struct metrics_snapshot *s, struct textbuf *out);

/* The content type of metrics_render()'s output. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
