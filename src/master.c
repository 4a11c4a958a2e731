/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The master.  It owns every listening socket for the life of the process and
 * hands them to each generation of workers by fork(), so a reload never
 * closes a socket that stays in the configuration: connections waiting in an
 * accept queue are taken by the next generation instead of being reset.  A
 * TCP or UDP listener is a SO_REUSEPORT group that only ever grows (to the
 * largest worker count seen); worker i of N serves sockets i, i+N, i+2N...,
 * so a smaller generation still drains every socket of the group.
 *
 * Its loop waits in ppoll with the handled signals unblocked, then acts on
 * the flags in a fixed order: reap, stop, quit, reload, reopen.
 */
#include "acconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "clock.h"
#include "config.h"
#include "config_child.h"
#include "control.h"
#include "cpus.h"
#include "ev.h"
#include "exitcode.h"
#include "listener.h"
#include "log.h"
#include "activation.h"
#include "master.h"
#include "master_int.h"
#include "notify.h"
#include "pidfile.h"
#include "privs.h"
#include "process.h"
#include "relay.h"
#include "sandbox.h"
#include "signals.h"
#include "srclimit.h"
#include "upgrade.h"
#include "worker.h"

/* Restart delay of a slot whose workers die before they serve: doubles
 * from MIN up to MAX with each death in a row. */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
/* Extra time, past what a retiring worker may take, before it is killed. */
#define STOP_SLACK_MS 1000
/* How long an immediate stop waits for workers before killing them. */
#define QUIT_WAIT_MS 1000

/* How often STATUS= is refreshed while a service manager listens. */
#define STATUS_INTERVAL_MS 5000

static void spawn_missing(struct master *m);

/* "1 worker", "2 workers"; "1 worker serves", "2 workers serve" (the line
 * the tests and bench/run wait for ends in "serve" or "serves"). */
#define WORKERS(n)       log_plural((unsigned long long)(n), "worker", "workers")
#define WORKERS_SERVE(n) log_plural((unsigned long long)(n), "worker serves", "workers serve")

/* Workers of the current generation that said they serve. */
static size_t count_ready(const struct master *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->nkids; i++)
		if (m->kids[i].gen == m->gen && m->kids[i].ready)
			n++;
	return n;
}

static struct child *find_kid(struct master *m, pid_t pid)
{
	for (size_t i = 0; i < m->nkids; i++)
		if (m->kids[i].pid == pid)
			return &m->kids[i];
	return NULL;
}

static int chan_of(void *arg, pid_t pid)
{
	struct master *m = arg;
	struct child *k;

	if (pid == m->upgrade_peer && m->upgrade_chan != -1)
		return m->upgrade_chan;
	return (k = find_kid(m, pid)) != NULL ? k->chan : -1;
}

/* relay.h: a refusal reached the worker that offered: back in its count. */
static void back_in(void *arg, pid_t pid)
{
	struct child *k = find_kid(arg, pid);

	if (k != NULL)
		k->handed_in++;
}

static void close_chan(struct master *m, struct child *k)
{
	if (k->chan == -1)
		return;
	ev_del(m->loop, k->chan);
	close(k->chan);
	k->chan = -1;
	relay_gone(&m->relay, k->pid, chan_of, m);
}

/* Pass a retiring worker's connection (k; NULL: the old master's, in an
 * upgrade) on to the serving generation. */
static void relay_to_current(struct master *m, struct child *k, const struct chan_msg *msg,
                             const int *fds, size_t nfds)
{
	struct relay_target t[64];
	size_t n = 0;

	/* After an upgrade, the serving generation is the new master's. */
	if (m->upgrade_done && m->upgrade_chan != -1)
		t[n++] = (struct relay_target){m->upgrade_peer, m->upgrade_chan};
	for (size_t i = 0;
	     i < m->nkids && n < sizeof(t) / sizeof(t[0]) && !m->stopping && !m->upgrade_done; i++)
		if (m->kids[i].gen == m->gen && m->kids[i].ready && m->kids[i].chan != -1 &&
		    &m->kids[i] != k)
			t[n++] = (struct relay_target){m->kids[i].pid, m->kids[i].chan};
	pid_t src = k != NULL ? k->pid : m->upgrade_peer;
	int src_chan = k != NULL ? k->chan : m->upgrade_chan;
	/* None serves yet (a reload started another generation while this
	 * one's offers were on their way): the offer comes again shortly. */
	if (n == 0 && !m->stopping)
		relay_refuse(&m->relay, src, src_chan, msg->hdr.id, EAGAIN);
	else
		relay_offer(&m->relay, src, src_chan, msg, fds, nfds, t, n);
}

/*
 * Tell a worker to do something.  Should its channel be closed or full, the
 * signal that means the same from outside does it instead (a worker handles
 * TERM, QUIT and USR1 as RETIRE, QUIT and REOPEN).
 */
static void tell(struct master *m, struct child *k, enum chan_type type)
{
	int signo = type == CHAN_RETIRE   ? SIGTERM
	            : type == CHAN_QUIT   ? SIGQUIT
	            : type == CHAN_REOPEN ? SIGUSR1
	                                  : 0;
	(void)m;

	if (k->chan != -1 && chan_send(k->chan, type, 0, NULL, 0, -1) == 0)
		return;
	if (signo == 0)
		return; /* no signal means the same: the worker misses it */
	log_info("worker %zu (pid %ld): channel unusable, sending signal %d instead", k->index,
	         (long)k->pid, signo);
	kill(k->pid, signo);
}

static void tell_all(struct master *m, enum chan_type type)
{
	for (size_t i = 0; i < m->nkids; i++)
		tell(m, &m->kids[i], type);
}

/* Everything of the current generation serves: finish a start or reload. */
static void check_ready(struct master *m)
{
	size_t want = (size_t)m->cfg->workers;

	if (m->announced || m->stopping || count_ready(m) < want)
		return;
	m->announced = 1;
	master_ctl_generation_serves(m);
	if (m->gen > 1) {
		log_notice("reload: generation %u serves with %d %s; retiring older generations",
		           m->gen, m->cfg->workers, WORKERS(m->cfg->workers));
		/* Every older generation, not just the last: a reload that
		 * came while the previous one was still starting.  The new
		 * config says whether their connections move or drain. */
		struct chan_retire r = {
		    .handover = m->cfg->reload_handover == RELOAD_HANDOVER_CONNECTIONS,
		    .timeout_ms = (uint32_t)m->cfg->handover_timeout * 1000,
		};
		for (size_t i = 0; i < m->nkids; i++) {
			struct child *k = &m->kids[i];
			if (k->gen == m->gen)
				continue;
			if (k->chan == -1 ||
			    chan_send(k->chan, CHAN_RETIRE, 0, &r, sizeof(r), -1) == -1)
				tell(m, k, CHAN_RETIRE);
		}
	} else {
		log_notice("%d %s", m->cfg->workers, WORKERS_SERVE(m->cfg->workers));
		if (m->upgrade_new && m->upgrade_chan != -1) {
			/* The pid file now names us (the lock is shared). */
			if (m->upgrade_pidfile.fd != -1) {
				m->pidfile = m->upgrade_pidfile;
				m->upgrade_pidfile = (struct pidfile)PIDFILE_NONE;
				if (pidfile_write(&m->pidfile) == -1)
					log_warn("cannot write pid file %s", m->pidfile.path);
			}
			/* The old master, still the service's main process, says
			 * READY and MAINPID for us: ours would be refused. */
			if (chan_send(m->upgrade_chan, CHAN_READY, 0, NULL, 0, -1) == -1)
				log_warn("upgrade: cannot tell the old master we serve");
			control_keep_file(m->ctl, 0); /* ours from now on */
			return;
		}
	}
	notify_send("READY=1\nSTATUS=%d %s serving\nMAINPID=%ld", m->cfg->workers,
	            WORKERS(m->cfg->workers), (long)m->pid);
}

static struct child *find_chan(struct master *m, int fd)
{
	for (size_t i = 0; i < m->nkids; i++)
		if (m->kids[i].chan == fd)
			return &m->kids[i];
	return NULL;
}

/* Read what worker k has said.  Its EOF comes as it exits; reap() does the
 * rest. */
static void read_chan(struct master *m, struct child *k)
{
	struct chan_msg msg;
	int fd = k->chan;

	while (k != NULL) {
		int fds[CHAN_MAX_FDS];
		size_t nfds = 0;
		int rc = chan_recv_fds(fd, &msg, fds, CHAN_MAX_FDS, &nfds);
		if (rc == 2) {
			/* Out of descriptors here: an offer is refused, so the
			 * old worker keeps that connection. */
			struct chan_ho_answer a = {.err = EMFILE};
			log_warnx("worker %zu (pid %ld): a %s came without its descriptors",
			          k->index, (long)k->pid, chan_type_name(msg.hdr.type));
			if (msg.hdr.type == CHAN_HO_OFFER)
				chan_send(fd, CHAN_HO_ANSWER, msg.hdr.id, &a, sizeof(a), -1);
			continue;
		}
		if (rc == -1 && errno == EAGAIN)
			break;
		if (rc == -1 && errno == EBADMSG) {
			log_warnx("worker %zu (pid %ld): malformed message", k->index,
			          (long)k->pid);
			continue;
		}
		if (rc <= 0) {
			close_chan(m, k);
			break;
		}
		switch (msg.hdr.type) {
		case CHAN_READY:
			k->ready = 1;
			if (msg.hdr.len < sizeof(k->backend)) {
				memcpy(k->backend, msg.payload, msg.hdr.len);
				k->backend[msg.hdr.len] = '\0';
			}
			break;
		case CHAN_HO_OFFER:
			k->handed_out++; /* back in if refused (relay.h) */
			relay_to_current(m, k, &msg, fds, nfds);
			break;
		case CHAN_HO_ANSWER:
			k->handed_in += (uint64_t)relay_answer(&m->relay, k->pid, &msg, chan_of, m);
			break;
		case CHAN_SANDBOX:
			if (msg.hdr.len == sizeof(struct chan_sandbox)) {
				struct chan_sandbox sb;
				char name[64];
				memcpy(&sb, msg.payload, sizeof(sb));
				k->bad_syscall = sb.syscall;
				/* Said now, in case the process does not die of it. */
				log_warnx(
				    "worker %zu (pid %ld): its sandbox refused system call %s "
				    "(number %d)",
				    k->index, (long)k->pid,
				    sandbox_syscall_name(sb.syscall, name, sizeof(name)),
				    sb.syscall);
			}
			break;
		default:
			log_warnx("worker %zu (pid %ld): unexpected %s message", k->index,
			          (long)k->pid, chan_type_name(msg.hdr.type));
			break;
		}
		while (nfds > 0)
			close(fds[--nfds]);
	}
}

static void on_chan(struct ev_loop *loop, int fd, int events, void *arg)
{
	struct master *m = arg;
	struct child *k = find_chan(m, fd);
	(void)loop;
	(void)events;

	if (k != NULL)
		read_chan(m, k);
	check_ready(m);
}

/* In the child, before it becomes a worker: drop what only the master uses,
 * above all the other workers' channel ends, so that each worker sees EOF on
 * its own as soon as the master is gone. */
static void forget_master(struct master *m)
{
	for (size_t i = 0; i < m->nkids; i++)
		if (m->kids[i].chan != -1)
			close(m->kids[i].chan);
	free(m->kids);
	m->kids = NULL;
	m->nkids = 0;
	/* The loop first: it unlinks the timers still armed in what
	 * master_ctl_forget() frees (a scraper's deadline). */
	ev_loop_free(m->loop);
	m->loop = NULL;
	pidfile_forget(&m->pidfile);
	pidfile_forget(&m->upgrade_pidfile);
	if (m->upgrade_chan != -1)
		close(m->upgrade_chan); /* the masters' channel is theirs alone */
	master_ctl_forget(m);
}

static void __attribute__((noreturn))
child_main(struct master *m, size_t index, unsigned replacement, int chan, struct stats_slot *slot)
{
	forget_master(m);
	struct worker_args args = {
	    .cfg = m->cfg,
	    .listeners = m->ls,
	    .nlisteners = m->nls,
	    .index = index,
	    .count = (size_t)m->cfg->workers,
	    .gen = m->gen,
	    .replacement = replacement,
	    .privs = &m->privs,
	    .chan = chan,
	    .stats = slot,
	    .limits = m->limits,
	};
	int rc = worker_main(&args);
	for (size_t i = 0; i < m->nls; i++)
		listener_release(&m->ls[i]);
	free(m->ls);
	config_free(m->cfg);
	log_close();
	exit(rc);
}

/* STATUS= carries the connections open at this moment, read from the
 * workers' counters. */
static void on_status_timer(struct ev_loop *loop, struct ev_timer *t)
{
	struct master *m = ev_container_of(t, struct master, status_timer);

	if (!m->stopping && m->announced)
		notify_send("STATUS=%d %s serving, %llu %s", m->cfg->workers,
		            WORKERS(m->cfg->workers), (unsigned long long)master_ctl_connections(m),
		            log_plural(master_ctl_connections(m), "connection", "connections"));
	ev_timer_start(loop, t, STATUS_INTERVAL_MS);
}

static int spawn(struct master *m, size_t index, unsigned replacement)
{
	int ch[2];

	if (m->nkids == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 8;
		struct child *k = realloc(m->kids, cap * sizeof(*k));
		if (k == NULL)
			return -1;
		m->kids = k;
		m->cap = cap;
	}
	if (chan_pair(ch) == -1)
		return -1;
	/* Without a slot the worker serves all the same, uncounted. */
	struct stats_slot *slot = stats_slot_get(m->pool);
	if (slot == NULL)
		log_warn("worker %zu: no memory for its counters", index);
	pid_t pid = fork();
	if (pid == -1) {
		int saved = errno;
		close(ch[0]);
		close(ch[1]);
		if (slot != NULL)
			stats_slot_retire(m->pool, slot, 0, 0, &m->retired);
		errno = saved;
		return -1;
	}
	if (pid == 0) {
		close(ch[0]);
		child_main(m, index, replacement, ch[1], slot);
	}
	close(ch[1]);
	m->kids[m->nkids++] = (struct child){
	    .pid = pid,
	    .gen = m->gen,
	    .index = index,
	    .started = ev_now_update(m->loop),
	    .chan = ch[0],
	    .stats = slot,
	    .bad_syscall = -1,
	};
	if (ev_add(m->loop, ch[0], EV_READ, on_chan, m) == -1) {
		/* Without the channel we cannot hear it is ready: count it ready. */
		log_warn("worker %ld: channel", (long)pid);
		close(ch[0]);
		m->kids[m->nkids - 1].chan = -1;
		m->kids[m->nkids - 1].ready = 1;
	}
	log_info("worker %zu started (pid %ld, generation %u)", index, (long)pid, m->gen);
	if (m->draining)
		tell(m, &m->kids[m->nkids - 1], CHAN_DRAIN);
	return 0;
}

/* The slot of worker `index` of the current generation, or NULL. */
static struct slot *slot_of(struct master *m, size_t index)
{
	if (m->nslots != (size_t)m->cfg->workers) {
		struct slot *v = calloc((size_t)m->cfg->workers, sizeof(*v));
		if (v == NULL)
			return NULL;
		free(m->slots);
		m->slots = v;
		m->nslots = (size_t)m->cfg->workers;
	}
	return index < m->nslots ? &m->slots[index] : NULL;
}

/*
 * Start every worker slot of the current generation that has no process,
 * unless its backoff still runs; the respawn timer fires when the first
 * such delay ends.
 */
static void spawn_missing(struct master *m)
{
	uint64_t now = ev_now_update(m->loop), wait = 0;

	for (size_t index = 0; index < (size_t)m->cfg->workers; index++) {
		int present = 0;
		for (size_t i = 0; i < m->nkids && !present; i++)
			present = m->kids[i].gen == m->gen && m->kids[i].index == index;
		if (present)
			continue;
		struct slot *sl = slot_of(m, index);
		if (sl != NULL && sl->not_before > now) {
			uint64_t left = sl->not_before - now;
			wait = wait == 0 || left < wait ? left : wait;
			continue;
		}
		if (spawn(m, index, sl != NULL ? sl->starts : 0) == -1) {
			log_warn("cannot start worker %zu; trying again in %d ms", index,
			         BACKOFF_MAX_MS);
			if (sl != NULL)
				sl->not_before = now + BACKOFF_MAX_MS;
			wait = wait == 0 || BACKOFF_MAX_MS < wait ? BACKOFF_MAX_MS : wait;
		} else if (sl != NULL) {
			sl->starts++;
		}
	}
	ev_timer_stop(m->loop, &m->respawn_timer);
	if (wait > 0)
		ev_timer_start(m->loop, &m->respawn_timer, wait);
}

static void on_respawn_timer(struct ev_loop *loop, struct ev_timer *t)
{
	struct master *m = ev_container_of(t, struct master, respawn_timer);
	(void)loop;

	if (!m->stopping)
		spawn_missing(m);
}

/* How worker k ended, with the system call its sandbox refused if that is
 * what killed it. */
static void describe_death(const struct child *k, int status, char *buf, size_t len)
{
	char name[64];
	size_t n;

	process_describe_status(status, buf, len);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS)
		return;
	n = strlen(buf);
	if (k->bad_syscall >= 0)
		snprintf(buf + n, len - n, ": its sandbox refused system call %s (number %d)",
		         sandbox_syscall_name(k->bad_syscall, name, sizeof(name)), k->bad_syscall);
	else
		snprintf(buf + n, len - n, ": a system call its sandbox refuses, not reported");
}

/*
 * A worker of the current generation died.  One that had said it serves is
 * replaced at once, whatever killed it: an outside killer must not turn
 * into an outage.  One that died before it served is failing to start: its
 * slot waits, longer with each such death in a row, so a broken worker
 * cannot make the master fork in a loop.  Either way the other slots go on.
 */
static void on_death(struct master *m, const struct child *k, const char *how, uint64_t lived)
{
	struct slot *sl = slot_of(m, k->index);

	if (k->ready || sl == NULL) {
		log_warnx("worker %zu (pid %ld) %s after %llu ms; replacing it", k->index,
		          (long)k->pid, how, (unsigned long long)lived);
		if (sl != NULL)
			sl->failures = 0;
		return;
	}
	sl->failures++;
	int shift = sl->failures - 1 < 7 ? sl->failures - 1 : 7;
	uint64_t delay = (uint64_t)BACKOFF_MIN_MS << shift;
	if (delay > BACKOFF_MAX_MS)
		delay = BACKOFF_MAX_MS;
	sl->not_before = ev_now(m->loop) + delay;
	log_warnx("worker %zu (pid %ld) %s after %llu ms, before it served; workers keep dying "
	          "at start (%d in a row in this slot); restarting it in %llu ms",
	          k->index, (long)k->pid, how, (unsigned long long)lived, sl->failures,
	          (unsigned long long)delay);
}

static void upgrade_rollback(struct master *m, const char *why);

/* The new master of an upgrade we started has exited. */
static void upgrade_reaped(struct master *m, pid_t pid, const char *how)
{
	char why[192]; /* how: up to 96 */

	if (m->upgrade_new || pid != m->upgrade_peer)
		return;
	if (m->upgrade_done) {
		log_errorx("upgrade: the new master (pid %ld) %s", (long)pid, how);
		return;
	}
	snprintf(why, sizeof(why), "the new master (pid %ld) %s before it served", (long)pid, how);
	upgrade_rollback(m, why);
}

static void reap(struct master *m)
{
	int status;
	pid_t pid;
	int respawn = 0;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct child *k = find_kid(m, pid);
		char how[192];
		process_describe_status(status, how, sizeof(how));
		if (k == NULL) {
			upgrade_reaped(m, pid, how);
			continue;
		}
		/* A sandbox report may still wait in the channel. */
		read_chan(m, k);
		describe_death(k, status, how, sizeof(how));
		/* Its connections were never counted off the per-source table. */
		if (m->limits != NULL && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
			srclimit_forget_connections(m->limits);
			log_info(
			    "per-source connection counts reset: a worker did not exit cleanly");
		}
		uint64_t lived = ev_now_update(m->loop) - k->started;
		if (m->stopping || k->gen != m->gen) {
			log_info("worker %zu (pid %ld, generation %u) %s", k->index, (long)pid,
			         k->gen, how);
		} else {
			on_death(m, k, how, lived);
			respawn = 1;
			m->restarts++;
			master_ctl_worker_died(m, k, how);
		}
		master_ctl_worker_gone(m, k);
		close_chan(m, k);
		*k = m->kids[--m->nkids];
	}
	if (respawn && !m->stopping)
		spawn_missing(m);
}

static void on_stop_timer(struct ev_loop *loop, struct ev_timer *t)
{
	struct master *m = ev_container_of(t, struct master, stop_timer);
	(void)loop;

	log_warnx("%zu %s still running past the deadline; killing them", m->nkids,
	          log_plural(m->nkids, "worker", "workers"));
	for (size_t i = 0; i < m->nkids; i++)
		kill(m->kids[i].pid, SIGKILL);
}

void master_stop(struct master *m, int immediate)
{
	m->draining = 0;
	ev_timer_stop(m->loop, &m->drain_timer);
	if (m->stopping == 2 || (m->stopping == 1 && !immediate))
		immediate = 1;
	m->stopping = immediate ? 2 : 1;
	ev_timer_stop(m->loop, &m->respawn_timer);
	notify_send("STOPPING=1");
	uint64_t wait_ms = immediate ? QUIT_WAIT_MS
	                             : (uint64_t)m->cfg->shutdown_timeout * 1000 +
	                                   worker_retire_margin_ms() + STOP_SLACK_MS;
	log_notice("%s stop: %zu %s", immediate ? "immediate" : "graceful", m->nkids,
	           WORKERS(m->nkids));
	if (m->upgrade_chan != -1 && !m->upgrade_new && !m->upgrade_done)
		upgrade_rollback(m, "a stop came first");
	tell_all(m, immediate ? CHAN_QUIT : CHAN_RETIRE);
	ev_timer_start(m->loop, &m->stop_timer, wait_ms);
}

/* ---- binary upgrade (upgrade.h): the protocol between the two masters ---- */

static void upgrade_close(struct master *m)
{
	if (m->upgrade_chan == -1)
		return;
	ev_del(m->loop, m->upgrade_chan);
	close(m->upgrade_chan);
	m->upgrade_chan = -1;
	relay_gone(&m->relay, m->upgrade_peer, chan_of, m);
}

/* The new master failed: stop it if it still runs, and go on serving. */
static void upgrade_rollback(struct master *m, const char *why)
{
	char msg[320];

	log_errorx("upgrade failed: %s; still serving (pid %ld)", why, (long)m->pid);
	ev_timer_stop(m->loop, &m->upgrade_timer);
	upgrade_close(m);
	if (m->upgrade_peer > 0 && kill(m->upgrade_peer, 0) == 0)
		kill(m->upgrade_peer, SIGTERM); /* it retires gracefully: no loss */
	m->upgrade_peer = 0;
	snprintf(msg, sizeof(msg), "upgrade failed: %s; the master (pid %ld) goes on serving", why,
	         (long)m->pid);
	master_ctl_upgrade_done(m, 0, msg);
}

static void on_upgrade_timer(struct ev_loop *loop, struct ev_timer *t)
{
	struct master *m = ev_container_of(t, struct master, upgrade_timer);
	char why[128];
	(void)loop;

	snprintf(why, sizeof(why), "the new master (pid %ld) did not serve within %d s",
	         (long)m->upgrade_peer, UPGRADE_READY_MS / 1000);
	upgrade_rollback(m, why);
}

/* The new master serves: it becomes the service's main process, and we
 * retire every worker, handing connections over to it, then exit. */
static void upgrade_commit(struct master *m)
{
	struct chan_retire r = {.handover = 1,
	                        .timeout_ms = (uint32_t)m->cfg->handover_timeout * 1000};
	char msg[128];

	ev_timer_stop(m->loop, &m->upgrade_timer);
	m->upgrade_done = 1;
	log_notice("upgrade: the new master (pid %ld) serves; handing %zu workers' connections "
	           "to it and exiting",
	           (long)m->upgrade_peer, m->nkids);
	notify_send("MAINPID=%ld\nREADY=1\nSTATUS=upgraded: new master pid %ld",
	            (long)m->upgrade_peer, (long)m->upgrade_peer);
	snprintf(msg, sizeof(msg), "upgraded: the new master (pid %ld) serves; pid %ld retires",
	         (long)m->upgrade_peer, (long)m->pid);
	master_ctl_upgrade_done(m, 1, msg);
	/* The control socket is the new master's now: new clients go there,
	 * and the file stays when we exit. */
	if (m->ctl != NULL) {
		control_keep_file(m->ctl, 1);
		control_stop_listening(m->ctl);
	}
	m->gen++; /* a generation with no workers here: none is respawned */
	m->announced = 1;
	ev_timer_stop(m->loop, &m->respawn_timer);
	for (size_t i = 0; i < m->nls; i++)
		m->ls[i].inherited = 1; /* the new master's now: no unlink */
	for (size_t i = 0; i < m->nkids; i++)
		if (m->kids[i].chan == -1 ||
		    chan_send(m->kids[i].chan, CHAN_RETIRE, 0, &r, sizeof(r), -1) == -1)
			tell(m, &m->kids[i], CHAN_RETIRE);
	ev_timer_start(m->loop, &m->stop_timer,
	               (uint64_t)m->cfg->shutdown_timeout * 1000 + worker_retire_margin_ms() +
	                   STOP_SLACK_MS);
}

/* What the other master says: READY (to the old one), offers of
 * connections (to the new one), answers (to the old one). */
static void on_upgrade_chan(struct ev_loop *loop, int fd, int events, void *arg)
{
	struct master *m = arg;
	struct chan_msg msg;
	(void)loop;
	(void)events;

	while (m->upgrade_chan == fd) {
		int fds[CHAN_MAX_FDS];
		size_t nfds = 0;
		int rc = chan_recv_fds(fd, &msg, fds, CHAN_MAX_FDS, &nfds);
		if (rc == -1 && errno == EAGAIN)
			break;
		if (rc == 2 && msg.hdr.type == CHAN_HO_OFFER) {
			struct chan_ho_answer a = {.err = EMFILE};
			chan_send(fd, CHAN_HO_ANSWER, msg.hdr.id, &a, sizeof(a), -1);
			continue;
		}
		if (rc == 2 || (rc == -1 && errno == EBADMSG))
			continue;
		if (rc <= 0) {
			/* From the new master before it served: it is exiting;
			 * reap() rolls back with its exit status (or the timer
			 * does, should it linger).  Not our child: now. */
			if (m->upgrade_new)
				log_info("upgrade: the old master is done");
			upgrade_close(m);
			if (!m->upgrade_new && !m->upgrade_done && m->upgrade_detached)
				upgrade_rollback(m, "the new master closed its channel before it "
				                    "served (its own log says why)");
			break;
		}
		if (msg.hdr.type == CHAN_READY && !m->upgrade_new && !m->upgrade_done)
			upgrade_commit(m);
		else if (msg.hdr.type == CHAN_HO_OFFER && m->upgrade_new)
			relay_to_current(m, NULL, &msg, fds, nfds);
		else if (msg.hdr.type == CHAN_HO_ANSWER && !m->upgrade_new)
			/* Counted in by the new master, whose worker took it. */
			(void)relay_answer(&m->relay, m->upgrade_peer, &msg, chan_of, m);
		else
			log_warnx("upgrade: unexpected %s message", chan_type_name(msg.hdr.type));
		while (nfds > 0)
			close(fds[--nfds]);
	}
}

int master_upgrade(struct master *m)
{
	int chan;

	if (m->stopping || m->upgrade_done) {
		log_warnx("upgrade: stopping; ignored");
		return -1;
	}
	if (m->upgrade_chan != -1 || m->upgrade_peer > 0) {
		/* Its outcome answers this request too. */
		log_notice("upgrade: one is already under way");
		return 0;
	}
	/* Under a service manager the new master must become its child. */
	int detach = getenv("NOTIFY_SOCKET") != NULL;
	pid_t pid =
	    upgrade_spawn(m->ls, m->nls, m->path, m->pidfile.fd, control_fd(m->ctl), detach, &chan);
	if (pid == -1) {
		log_warn("upgrade failed: cannot start the new binary; still serving");
		return -1;
	}
	m->upgrade_peer = pid;
	m->upgrade_chan = chan;
	m->upgrade_detached = detach;
	if (ev_add(m->loop, chan, EV_READ, on_upgrade_chan, m) == -1) {
		upgrade_rollback(m, "cannot watch its channel");
		return 0; /* the rollback answered */
	}
	ev_timer_start(m->loop, &m->upgrade_timer, UPGRADE_READY_MS);
	log_notice("upgrade: started the new binary (pid %ld) with %zu listeners; waiting up "
	           "to %d s for it to serve",
	           (long)pid, m->nls, UPGRADE_READY_MS / 1000);
	return 0;
}

static void on_drain_timer(struct ev_loop *loop, struct ev_timer *t)
{
	struct master *m = ev_container_of(t, struct master, drain_timer);
	(void)loop;

	log_notice("drain_delay over");
	master_stop(m, 0);
}

/*
 * TERM or INT.  With drain_delay, the first one only starts draining: a
 * load balancer's health check must see the instance go before its
 * listeners close, so everything keeps being accepted and echoed while the
 * workers (CHAN_DRAIN) refuse the checks, which come with a PROXY LOCAL
 * header, and /healthz answers 503 "draining" (master_ctl.c) while
 * m->draining.)  One during the delay ends it and stops gracefully; two at
 * once stop at once, as without a delay.
 */
void master_stop_requested(struct master *m, int stops)
{
	if (m->draining) {
		log_notice("stop requested while draining: stopping now");
		master_stop(m, stops > 1);
		return;
	}
	if (m->stopping || stops > 1 || m->cfg->drain_delay == 0) {
		master_stop(m, stops > 1);
		return;
	}
	m->draining = 1;
	tell_all(m, CHAN_DRAIN);
	log_notice("draining for %d s before a graceful stop (drain_delay); still serving",
	           m->cfg->drain_delay);
	notify_send("STATUS=draining for %d s, then stopping", m->cfg->drain_delay);
	if (ev_timer_start(m->loop, &m->drain_timer, (uint64_t)m->cfg->drain_delay * 1000) == -1)
		master_stop(m, 0);
}

struct config *master_load_config(const char *path, struct config_errors *errs)
{
	/* The directory echod started in, taken at the first load (start-up,
	 * before -d leaves it): relative @include names stay relative to it. */
	static char *start_dir;
	if (start_dir == NULL)
		start_dir = getcwd(NULL, 0);
	struct config_env env = {
	    .cpus = cpus_available(),
	    .is_root = geteuid() == 0,
	    .if_exists = listener_if_exists,
	    .dir = start_dir,
	};

	return config_child_load(path, &env, CONFIG_CHILD_TIMEOUT_MS, errs);
}

/* Workers that dropped root must still be able to reopen the log file the
 * master (re)created. */
static void give_log(const struct master *m)
{
	const char *path = log_file();

	if (path != NULL && m->privs.set && chown(path, m->privs.uid, m->privs.gid) == -1)
		log_warn("cannot hand %s to the workers' user", path);
}

/*
 * user and group apply only when started as root.  Returns 0, or -1 with
 * "FILE:LINE: unknown user 'x'" (the line of the key at fault) in err.
 */
static int lookup_privs(const struct config *cfg, struct privs *p, char *err, size_t len)
{
	char why[256];
	int line;

	if (geteuid() != 0)
		return privs_lookup(NULL, NULL, p, why, sizeof(why));
	/* The user alone first, to know which of the two keys is wrong. */
	if (privs_lookup(cfg->user, NULL, p, why, sizeof(why)) == -1)
		line = cfg->user_line;
	else if (privs_lookup(cfg->user, cfg->group, p, why, sizeof(why)) == -1)
		line = cfg->group_line;
	else
		return 0;
	snprintf(err, len, "%s:%d: %s", cfg->file, line, why);
	return -1;
}

/*
 * Lock cfg's pid file into *pf.  Returns 0, or -1 with the reason in err:
 * another master holds it, or it cannot be created.
 */
static int lock_pidfile(struct pidfile *pf, const struct config *cfg, char *err, size_t len)
{
	pid_t holder;

	if (pidfile_lock(pf, cfg->pid_file, &holder) == 0)
		return 0;
	if (errno != EWOULDBLOCK)
		snprintf(err, len, "%s:%d: cannot lock pid file %s: %s", cfg->file,
		         cfg->pid_file_line, cfg->pid_file, strerror(errno));
	else if (holder > 0)
		snprintf(err, len, "already running as pid %ld (pid file %s)", (long)holder,
		         cfg->pid_file);
	else
		snprintf(err, len, "already running (pid file %s is locked)", cfg->pid_file);
	return -1;
}

/*
 * The per-source table cfg needs, if the current one will not do: *t gets a
 * new table, or NULL to keep the current one (the table made at start is
 * kept across reloads, counts and all, while it is big enough, or when no
 * limit is on).  Returns 0, or -1 (logged).
 */
static int limits_prepare(const struct master *m, const struct config *cfg, struct srclimit **t)
{
	size_t want = srclimit_size_for(cfg->workers, cfg->max_connections);

	*t = NULL;
	if (!config_limits_on(&cfg->limits) ||
	    (m->limits != NULL && srclimit_entries(m->limits) >= want))
		return 0;
	if ((*t = srclimit_new(want)) == NULL) {
		log_warn("cannot make the per-source table (%zu entries)", want);
		return -1;
	}
	return 0;
}

/* Use the table limits_prepare() made, if any.  Workers still running keep
 * their own mapping of the old one. */
static void limits_commit(struct master *m, struct srclimit *t)
{
	if (t == NULL)
		return;
	srclimit_free(m->limits);
	m->limits = t;
	log_info("per-source limits: a table of %zu sources shared by the workers",
	         srclimit_entries(t));
}

/* Switch the log to cfg's target and level; keep the old one if it fails. */
static void apply_log(const struct config *cfg)
{
	if (log_open(cfg->log_target, (enum log_level)cfg->log_level) == -1)
		log_warn("cannot open log %s; logging stays where it was", cfg->log_target);
}

int master_reload(struct master *m)
{
	struct config_errors errs = {0};
	struct srclimit *table = NULL;
	struct privs privs;
	char err[1024];

	notify_send("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
	            (unsigned long long)clock_mono_us());
	log_notice("reload: reading %s", m->path);
	struct config *cfg = master_load_config(m->path, &errs);
	/* The first error goes on the "rejected" line, so one grep for it
	 * tells why; the others follow, one line each. */
	if (cfg == NULL) {
		if (errs.n > 0)
			config_error_format(&errs.v[0], err, sizeof(err));
		log_errorx("reload rejected: %s; still running the previous configuration",
		           errs.n > 0 ? err : "no configuration");
	}
	for (size_t i = cfg == NULL ? 1 : 0; i < errs.n; i++) {
		config_error_format(&errs.v[i], err, sizeof(err));
		log_errorx("%s", err);
	}
	if (cfg == NULL) {
		config_errors_free(&errs);
		goto keep;
	}
	config_errors_free(&errs);
	if (lookup_privs(cfg, &privs, err, sizeof(err)) == -1) {
		log_errorx("%s; reload rejected", err);
		config_free(cfg);
		goto keep;
	}
	/* A pid file that is not the one locked (another path, or the file
	 * was removed): locked before anything changes, so that one held by
	 * another master rejects the reload. */
	struct pidfile pf = PIDFILE_NONE;
	int new_pidfile = cfg->pid_file != NULL && !pidfile_same(&m->pidfile, cfg->pid_file);
	if (new_pidfile && lock_pidfile(&pf, cfg, err, sizeof(err)) == -1) {
		log_errorx("%s; reload rejected", err);
		config_free(cfg);
		goto keep;
	}
	if (limits_prepare(m, cfg, &table) == -1 || master_ctl_prepare(m, cfg) == -1) {
		srclimit_free(table);
		log_errorx("reload rejected; still running the previous configuration");
		pidfile_release(&pf);
		config_free(cfg);
		goto keep;
	}
	if (listener_set_update(&m->ls, &m->nls, cfg) == -1) {
		log_errorx("reload rejected; still running the previous configuration");
		master_ctl_abort(m);
		srclimit_free(table);
		config_free(cfg);
		goto keep;
	}
	master_ctl_commit(m);
	limits_commit(m, table);
	master_ctl_name_listeners(m);
	m->privs = privs;
	if (strcmp(cfg->log_target, m->cfg->log_target) != 0 || cfg->log_level != m->cfg->log_level)
		apply_log(cfg);
	give_log(m);
	if (cfg->pid_file == NULL || new_pidfile) {
		pidfile_release(&m->pidfile);
		m->pidfile = pf;
		if (new_pidfile && pidfile_write(&m->pidfile) == -1)
			log_warn("cannot write pid file %s", cfg->pid_file);
	}
	config_free(m->cfg);
	m->cfg = cfg;
	m->gen++;
	m->announced = 0;
	/* A new generation starts with a clean record in every slot. */
	free(m->slots);
	m->slots = NULL;
	m->nslots = 0;
	ev_timer_stop(m->loop, &m->respawn_timer);
	log_notice("reload accepted: starting generation %u with %d %s", m->gen, cfg->workers,
	           WORKERS(cfg->workers));
	master_ctl_reload_accepted(m);
	spawn_missing(m);
	return 0;
keep:
	master_ctl_reload_rejected(m);
	notify_send("READY=1\nSTATUS=%d %s serving (last reload rejected)", m->cfg->workers,
	            WORKERS(m->cfg->workers));
	return -1;
}

int master_reopen(struct master *m)
{
	int rc = log_reopen();

	if (rc == -1)
		log_warn("cannot reopen the log");
	give_log(m);
	tell_all(m, CHAN_REOPEN);
	return rc;
}

int master_run(struct config *cfg, const char *path, int detach)
{
	struct master m = {.cfg = cfg,
	                   .path = path,
	                   .gen = 1,
	                   .pidfile = PIDFILE_NONE,
	                   .upgrade_chan = -1,
	                   .upgrade_pidfile = PIDFILE_NONE,
	                   .ctl_inherited = -1,
	                   .relay = {.back = back_in, .back_arg = &m}};
	char err[1024];
	int rc = EXIT_RUNTIME;

	ev_timer_init(&m.respawn_timer, on_respawn_timer);
	ev_timer_init(&m.stop_timer, on_stop_timer);
	ev_timer_init(&m.status_timer, on_status_timer);
	ev_timer_init(&m.upgrade_timer, on_upgrade_timer);
	ev_timer_init(&m.drain_timer, on_drain_timer);
	/* First of all, and said on standard error whatever the log target:
	 * a second instance must not open a socket, nor write into the log of
	 * the one that runs. */
	/* Started by an upgrade: the old master's lock on the same pid file
	 * comes with us (a lock belongs to the open file), taken over once we
	 * serve; until then the file still names the old master. */
	if (cfg->pid_file != NULL && upgrade_inherited_pidfile(&m.upgrade_pidfile, cfg->pid_file)) {
		/* nothing more to lock */
	} else if (cfg->pid_file != NULL && lock_pidfile(&m.pidfile, cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "echod: %s\n", err);
		goto out;
	}
	if (log_open(cfg->log_target, (enum log_level)cfg->log_level) == -1) {
		fprintf(stderr, "echod: cannot open log %s: %s\n", cfg->log_target,
		        strerror(errno));
		goto out;
	}
	if (lookup_privs(cfg, &m.privs, err, sizeof(err)) == -1) {
		log_errorx("%s", err);
		goto out;
	}
	give_log(&m);
	struct srclimit *table;
	if (limits_prepare(&m, cfg, &table) == -1)
		goto out;
	limits_commit(&m, table);
	if (activation_take(&m.ls, &m.nls, cfg) == -1 ||
	    listener_set_update(&m.ls, &m.nls, cfg) == -1)
		goto out;
	master_ctl_name_listeners(&m);
	if (detach && process_detach() == -1) {
		log_warn("cannot detach");
		goto out;
	}
	m.pid = getpid();
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	m.start_time = m.loaded_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	if (m.pidfile.fd != -1 && pidfile_write(&m.pidfile) == -1) {
		log_warn("cannot write pid file %s", cfg->pid_file);
		goto out;
	}
	if (signals_install(&m.wait_mask) == -1) {
		log_warn("signals");
		goto out;
	}
	/* poll: the master watches a few pipes and must not hold an epoll
	 * instance its children would inherit. */
	if ((m.loop = ev_loop_new("poll")) == NULL) {
		log_warn("master event loop");
		goto out;
	}
	ev_loop_sigmask(m.loop, &m.wait_mask);
	if ((m.pool = stats_pool_new()) == NULL) {
		log_warn("counters");
		goto out;
	}
	m.ctl_inherited = upgrade_inherited_control(m.cfg->control_socket);
	if (master_ctl_prepare(&m, m.cfg) == -1)
		goto out;
	master_ctl_commit(&m);
	if ((m.upgrade_chan = upgrade_inherited(&m.upgrade_peer)) != -1) {
		m.upgrade_new = 1;
		log_notice("upgrade: taking over from the master with pid %ld",
		           (long)m.upgrade_peer);
		if (ev_add(m.loop, m.upgrade_chan, EV_READ, on_upgrade_chan, &m) == -1)
			log_warn("upgrade: cannot watch the channel to the old master");
	}
	process_raise_nofile(m.cfg->max_connections);
	/* Every socket is bound and the descriptor limit raised: what is
	 * left for root to do needs only a few capabilities. */
	if (geteuid() == 0 && privs_limit_master() == -1)
		log_warn("cannot limit the master's capabilities");
	if (m.cfg->sandbox && !sandbox_available())
		log_notice("this echod is built without libseccomp: workers run without their "
		           "sandbox");
	if (getenv("NOTIFY_SOCKET") != NULL)
		ev_timer_start(m.loop, &m.status_timer, STATUS_INTERVAL_MS);
	log_notice("echod %s started (pid %ld), %d %s", PACKAGE_VERSION, (long)m.pid,
	           m.cfg->workers, WORKERS(m.cfg->workers));
	spawn_missing(&m);

	for (;;) {
		if (signals_take(SIG_FLAG_CHILD))
			reap(&m);
		int stops = signals_take(SIG_FLAG_STOP);
		if (stops)
			master_stop_requested(&m, stops);
		if (signals_take(SIG_FLAG_QUIT))
			master_stop(&m, 1);
		if (signals_take(SIG_FLAG_RELOAD) && !m.stopping && !m.upgrade_done) {
			if (m.draining)
				log_notice("reload ignored: draining before a stop");
			else
				master_reload(&m);
		}
		if (signals_take(SIG_FLAG_UPGRADE))
			master_upgrade(&m);
		if (signals_take(SIG_FLAG_REOPEN))
			master_reopen(&m);
		check_ready(&m);
		/* Checked here, not after the wait: a stop while no worker
		 * runs has no SIGCHLD coming to wake us. */
		if ((m.stopping || m.upgrade_done) && m.nkids == 0)
			break;
		if (ev_run_once(m.loop, -1) == -1 && errno != EINTR) {
			log_warn("master event loop");
			break;
		}
	}
	if (m.upgrade_done)
		log_notice("echod stopped: upgraded to pid %ld", (long)m.upgrade_peer);
	else
		log_notice("echod stopped");
	rc = EXIT_OK;
out:
	/* After an upgrade the file and its lock are the new master's. */
	if (m.upgrade_done)
		pidfile_forget(&m.pidfile);
	else
		pidfile_release(&m.pidfile);
	pidfile_forget(&m.upgrade_pidfile);
	master_ctl_abort(&m);
	master_ctl_exit(&m);
	for (size_t i = 0; i < m.nls; i++)
		listener_close(&m.ls[i]);
	free(m.ls);
	for (size_t i = 0; i < m.nkids; i++)
		close_chan(&m, &m.kids[i]);
	free(m.kids);
	free(m.slots);
	if (m.upgrade_chan != -1)
		close(m.upgrade_chan);
	relay_free(&m.relay);
	if (m.loop != NULL)
		ev_loop_free(m.loop);
	srclimit_free(m.limits);
	config_free(m.cfg);
	log_close();
	return rc;
}
