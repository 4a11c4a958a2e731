/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The master's state, shared by master.c (supervision: workers, signals,
 * reload, stop) and master_ctl.c (what it tells about itself and the orders
 * it takes: /metrics, /healthz, the control socket).  Nothing else includes
 * this.
 */
#ifndef ECHOD_MASTER_INT_H
#define ECHOD_MASTER_INT_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "ev.h"
#include "metrics.h"
#include "pidfile.h"
#include "privs.h"
#include "relay.h"
#include "stats.h"
#include "textbuf.h"

struct srclimit;

struct child {
	pid_t pid;
	unsigned gen;
	size_t index;
	uint64_t started;
	int chan;                 /* the master's end of its channel; -1 once closed */
	int ready;                /* it said it serves */
	struct stats_slot *stats; /* its counters, or NULL */
	uint64_t handed_in;       /* connections it took in a handover, or that came
	                           * back to it refused (relay.h) */
	uint64_t handed_out;      /* connections it offered in a handover */
	char backend[16];         /* the event backend it said it serves with */
	int bad_syscall;          /* the call its sandbox refused (CHAN_SANDBOX), or -1 */
};

/* A worker slot of the current generation: how its last starts went. */
struct slot {
	int failures;        /* deaths before ready, in a row */
	uint64_t not_before; /* no new start before this (ev_now ms) */
	unsigned starts;     /* workers started in it: a replacement is numbered
	                      * by it, so the connection ids of two never meet */
};

struct master {
	struct ev_loop *loop;
	struct config *cfg;
	const char *path;
	struct listener *ls;
	size_t nls;
	struct child *kids;
	size_t nkids;
	size_t cap;
	struct privs privs;
	struct pidfile pidfile; /* locked for the master's life, if pid_file is set */
	unsigned gen;           /* the serving (or starting) generation; > 1 after a reload */
	struct slot *slots;     /* cfg->workers of them, for gen */
	size_t nslots;
	int stopping;  /* 0, 1: graceful, 2: immediate */
	int announced; /* READY=1 sent for gen */
	int served;    /* some generation has served: /healthz can say 200 */
	int draining;  /* a graceful stop waits drain_delay, serving meanwhile;
	                * /healthz says 503 "draining" */
	pid_t pid;
	sigset_t wait_mask;
	struct ev_timer respawn_timer;
	struct ev_timer stop_timer;
	struct ev_timer status_timer;
	struct ev_timer drain_timer;
	struct relay relay; /* connection handover offers in flight */
	/* Binary upgrade (upgrade.h): the channel to the other master and its
	 * pid; upgrade_new: we are the new one; upgrade_done: (old one) the
	 * new one serves, we hand our connections to it and exit. */
	int upgrade_chan;
	pid_t upgrade_peer;
	int upgrade_new;
	int upgrade_done;
	int upgrade_detached; /* (old one) the new one is not our child */
	/* (new one) the old master's locked pid file, ours once we serve */
	struct pidfile upgrade_pidfile;
	struct ev_timer upgrade_timer;

	/* Observability (master_ctl.c). */
	struct stats_pool *pool;
	struct stats_counters retired; /* what exited workers counted */
	char *listener_names[STATS_MAX_LISTENERS];
	uint64_t restarts;
	uint64_t reloads[METRICS_RELOAD_COUNT];
	unsigned pending;   /* the generation of a reload not yet resolved, or 0 */
	double start_time;  /* Unix time */
	double loaded_time; /* Unix time the configuration in force began to serve */
	char backend[16];   /* of the serving generation */
	struct httpd *httpd;
	struct control *ctl;
	struct control *ctl_old;  /* replaced by a reload, answering its last clients */
	struct httpd *httpd_next; /* opened by a reload not yet committed */
	struct control *ctl_next;
	int httpd_change;   /* the reload changes metrics.listen */
	int ctl_change;     /* the reload changes control_socket */
	int ctl_inherited;  /* the control listener an upgrade passed, until used; or -1 */
	struct textbuf tap; /* errors logged while a control client's reload ran */

	struct srclimit *limits; /* the per-source table (srclimit.h), or NULL */
};

/* From master.c, for the control socket: the same as HUP, TERM, QUIT, USR1.
 * master_reload() returns 0 if the reload was accepted (its generation is
 * starting), -1 if it was rejected. */
int master_reload(struct master *m);
void master_stop(struct master *m, int immediate);
/* What `stops` TERMs or INTs in a row ask for: with drain_delay, the first
 * one drains before the graceful stop. */
void master_stop_requested(struct master *m, int stops);
int master_reopen(struct master *m);
/* USR2: start a binary upgrade.  Returns 0 if one is under way (started
 * now or before; its outcome goes to master_ctl_upgrade_done()), or -1 if
 * none could start (logged). */
int master_upgrade(struct master *m);

/* ---- master_ctl.c ---- */

/* Give every listener its stats id, adding new names to the table. */
void master_ctl_name_listeners(struct master *m);

/* Open, keep or replace the metrics endpoint and the control socket for
 * cfg; commit with master_ctl_commit() once the reload is sure, or undo
 * with master_ctl_abort().  Returns 0, or -1 (logged, naming the key). */
int master_ctl_prepare(struct master *m, const struct config *cfg);
void master_ctl_commit(struct master *m);
void master_ctl_abort(struct master *m);

/* Fill s with the figures of this moment. */
void master_ctl_snapshot(struct master *m, struct metrics_snapshot *s);

/* Open connections, for STATUS=. */
uint64_t master_ctl_connections(struct master *m);

/* A reload's outcome, for its control clients and the counters. */
void master_ctl_reload_accepted(struct master *m);
void master_ctl_reload_rejected(struct master *m);
void master_ctl_generation_serves(struct master *m);
void master_ctl_worker_died(struct master *m, const struct child *k, const char *how);

/* An upgrade's outcome (ok: the new master serves and this one retires),
 * for the control clients that wait for it; msg says how. */
void master_ctl_upgrade_done(struct master *m, int ok, const char *msg);

/* A worker was reaped: fold its counters into the retired totals. */
void master_ctl_worker_gone(struct master *m, struct child *k);

/* In a forked child: let go of everything that is the master's alone. */
void master_ctl_forget(struct master *m);

/* At the master's exit: answer whoever waits for it, close the rest. */
void master_ctl_exit(struct master *m);

#endif
