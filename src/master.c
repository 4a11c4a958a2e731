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
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "cpus.h"
#include "ev.h"
#include "exitcode.h"
#include "listener.h"
#include "log.h"
#include "master.h"
#include "notify.h"
#include "pidfile.h"
#include "privs.h"
#include "process.h"
#include "signals.h"
#include "worker.h"

/* A worker that dies sooner than this after its start counts as failing. */
#define QUICK_DEATH_MS 1000
/* Restart delay after repeated quick deaths: doubles from MIN up to MAX. */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
/* Extra time past shutdown_timeout before workers are killed: a worker
 * lingers up to CONN_LINGER_MS on the connections it cuts. */
#define STOP_MARGIN_MS (CONN_LINGER_MS + 1000)
/* How long an immediate stop waits for workers before killing them. */
#define QUIT_WAIT_MS 1000

/* Connection counters the workers publish, one slot per live worker. */
#define STATUS_SLOTS 4096
/* How often STATUS= is refreshed while a service manager listens. */
#define STATUS_INTERVAL_MS 5000

struct child {
	pid_t pid;
	unsigned gen;
	size_t index;
	size_t slot; /* its counter in m->conn_counts */
	uint64_t started;
	int ready_fd; /* -1 once the worker said it serves (or died) */
	int ready;
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
	unsigned gen;  /* the serving (or starting) generation; > 1 after a reload */
	int failures;  /* consecutive quick deaths */
	int stopping;  /* 0, 1: graceful, 2: immediate */
	int announced; /* READY=1 sent for gen */
	pid_t pid;
	sigset_t wait_mask;
	struct ev_timer respawn_timer;
	struct ev_timer stop_timer;
	struct ev_timer status_timer;
	volatile uint32_t *conn_counts; /* STATUS_SLOTS, shared with the workers */
};

static void spawn_missing(struct master *m);

static struct child *find_kid(struct master *m, pid_t pid)
{
	for (size_t i = 0; i < m->nkids; i++)
		if (m->kids[i].pid == pid)
			return &m->kids[i];
	return NULL;
}

/* Workers of the current generation that said they serve. */
static size_t count_ready(const struct master *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->nkids; i++)
		if (m->kids[i].gen == m->gen && m->kids[i].ready)
			n++;
	return n;
}

static void signal_all(struct master *m, int signo)
{
	for (size_t i = 0; i < m->nkids; i++)
		kill(m->kids[i].pid, signo);
}

static void close_ready_fd(struct master *m, struct child *k)
{
	if (k->ready_fd == -1)
		return;
	ev_del(m->loop, k->ready_fd);
	close(k->ready_fd);
	k->ready_fd = -1;
}

/* Everything of the current generation serves: finish a start or reload. */
static void check_ready(struct master *m)
{
	if (m->announced || m->stopping || count_ready(m) < (size_t)m->cfg->workers)
		return;
	m->announced = 1;
	if (m->gen > 1) {
		log_notice("reload: %d workers of generation %u serve; retiring generation %u",
		           m->cfg->workers, m->gen, m->gen - 1);
		/* Every older generation, not just the last: a reload that
		 * came while the previous one was still starting. */
		for (size_t i = 0; i < m->nkids; i++)
			if (m->kids[i].gen != m->gen)
				kill(m->kids[i].pid, SIGTERM);
	} else {
		log_notice("%d workers serve", m->cfg->workers);
	}
	notify_send("READY=1\nSTATUS=%d workers serving\nMAINPID=%ld", m->cfg->workers,
	            (long)m->pid);
}

static void on_ready(struct ev_loop *loop, int fd, int events, void *arg)
{
	struct master *m = arg;
	char byte;
	(void)loop;
	(void)events;

	for (size_t i = 0; i < m->nkids; i++) {
		struct child *k = &m->kids[i];
		if (k->ready_fd != fd)
			continue;
		if (read(fd, &byte, 1) == 1)
			k->ready = 1;
		close_ready_fd(m, k);
		break;
	}
	check_ready(m);
}

/* In the child: become worker `index` of the current generation. */
static void __attribute__((noreturn))
child_main(struct master *m, size_t index, size_t slot, int ready_fd)
{
	sigset_t wait_mask;
	int rc = EXIT_RUNTIME;

	/* Never outlive the master: its death retires us gracefully. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != m->pid)
		_exit(0);
	/* The master's loop is the master's: a worker builds its own after
	 * fork, never sharing kernel event state. */
	for (size_t i = 0; i < m->nkids; i++)
		if (m->kids[i].ready_fd != -1)
			close(m->kids[i].ready_fd);
	ev_loop_free(m->loop);
	m->loop = NULL;
	free(m->kids);
	m->kids = NULL;

	if (signals_install(&wait_mask) == -1) {
		log_warn("worker: signals");
		goto out;
	}
	if (privs_drop(&m->privs) == -1) {
		log_warn("worker: cannot drop privileges to uid %ld gid %ld", (long)m->privs.uid,
		         (long)m->privs.gid);
		goto out;
	}
	if (getenv("ECHOD_TEST_WORKER_EXIT") != NULL) {
		log_warnx("worker: exiting at start (ECHOD_TEST_WORKER_EXIT is set)");
		goto out;
	}
	struct worker_args args = {
	    .cfg = m->cfg,
	    .listeners = m->ls,
	    .nlisteners = m->nls,
	    .index = index,
	    .count = (size_t)m->cfg->workers,
	    .wait_mask = &wait_mask,
	    .ready_fd = ready_fd,
	    .conn_count = m->conn_counts != NULL ? &m->conn_counts[slot] : NULL,
	};
	if (worker_run(&args) == 0)
		rc = EXIT_OK;
out:
	for (size_t i = 0; i < m->nls; i++)
		listener_release(&m->ls[i]);
	free(m->ls);
	config_free(m->cfg);
	log_close();
	exit(rc);
}

/* A counter slot no live worker uses (slots outnumber any sane worker count). */
static size_t free_slot(const struct master *m)
{
	for (size_t slot = 0;; slot++) {
		size_t i;
		for (i = 0; i < m->nkids && m->kids[i].slot != slot; i++)
			;
		if (i == m->nkids || slot == STATUS_SLOTS - 1)
			return slot;
	}
}

static unsigned long long count_connections(const struct master *m)
{
	unsigned long long n = 0;

	for (size_t i = 0; m->conn_counts != NULL && i < m->nkids; i++)
		n += m->conn_counts[m->kids[i].slot];
	return n;
}

static void on_status_timer(struct ev_loop *loop, struct ev_timer *t)
{
	struct master *m = ev_container_of(t, struct master, status_timer);

	if (!m->stopping && m->announced)
		notify_send("STATUS=%d workers serving, %llu connections", m->cfg->workers,
		            count_connections(m));
	ev_timer_start(loop, t, STATUS_INTERVAL_MS);
}

static int spawn(struct master *m, size_t index)
{
	int p[2];

	if (m->nkids == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 8;
		struct child *k = realloc(m->kids, cap * sizeof(*k));
		if (k == NULL)
			return -1;
		m->kids = k;
		m->cap = cap;
	}
	size_t slot = free_slot(m);
	if (m->conn_counts != NULL)
		m->conn_counts[slot] = 0;
	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	pid_t pid = fork();
	if (pid == -1) {
		int saved = errno;
		close(p[0]);
		close(p[1]);
		errno = saved;
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		child_main(m, index, slot, p[1]);
	}
	close(p[1]);
	m->kids[m->nkids++] = (struct child){
	    .pid = pid,
	    .gen = m->gen,
	    .index = index,
	    .slot = slot,
	    .started = ev_now_update(m->loop),
	    .ready_fd = p[0],
	};
	if (ev_add(m->loop, p[0], EV_READ, on_ready, m) == -1) {
		/* Without the pipe we cannot hear it is ready: count it ready. */
		log_warn("worker %ld: readiness pipe", (long)pid);
		close(p[0]);
		m->kids[m->nkids - 1].ready_fd = -1;
		m->kids[m->nkids - 1].ready = 1;
	}
	log_info("worker %zu started (pid %ld, generation %u)", index, (long)pid, m->gen);
	return 0;
}

/* Start every worker slot of the current generation that has no process. */
static void spawn_missing(struct master *m)
{
	for (size_t index = 0; index < (size_t)m->cfg->workers; index++) {
		int present = 0;
		for (size_t i = 0; i < m->nkids && !present; i++)
			present = m->kids[i].gen == m->gen && m->kids[i].index == index;
		if (present)
			continue;
		if (spawn(m, index) == -1) {
			log_warn("cannot start worker %zu", index);
			m->failures++;
			ev_timer_start(m->loop, &m->respawn_timer, BACKOFF_MAX_MS);
			return;
		}
	}
}

static void on_respawn_timer(struct ev_loop *loop, struct ev_timer *t)
{
	struct master *m = ev_container_of(t, struct master, respawn_timer);
	(void)loop;

	if (!m->stopping)
		spawn_missing(m);
}

static void describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "ended (status %#x)", status);
}

static void reap(struct master *m)
{
	int status;
	pid_t pid;
	int respawn = 0;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct child *k = find_kid(m, pid);
		if (k == NULL)
			continue;
		char how[64];
		describe_status(status, how, sizeof(how));
		uint64_t lived = ev_now_update(m->loop) - k->started;
		int expected = m->stopping || k->gen != m->gen;
		if (expected) {
			log_info("worker %zu (pid %ld, generation %u) %s", k->index, (long)pid,
			         k->gen, how);
		} else {
			log_warnx("worker %zu (pid %ld) %s after %llu ms", k->index, (long)pid, how,
			          (unsigned long long)lived);
			m->failures = lived < QUICK_DEATH_MS ? m->failures + 1 : 0;
			respawn = 1;
		}
		close_ready_fd(m, k);
		*k = m->kids[--m->nkids];
	}
	if (!respawn || m->stopping)
		return;
	if (m->failures == 0) {
		spawn_missing(m);
		return;
	}
	int shift = m->failures - 1 < 7 ? m->failures - 1 : 7;
	uint64_t delay = (uint64_t)BACKOFF_MIN_MS << shift;
	if (delay > BACKOFF_MAX_MS)
		delay = BACKOFF_MAX_MS;
	if (!ev_timer_active(&m->respawn_timer)) {
		log_warnx("workers keep dying at start (%d in a row); restarting in %llu ms",
		          m->failures, (unsigned long long)delay);
		ev_timer_start(m->loop, &m->respawn_timer, delay);
	}
}

static void on_stop_timer(struct ev_loop *loop, struct ev_timer *t)
{
	struct master *m = ev_container_of(t, struct master, stop_timer);
	(void)loop;

	log_warnx("%zu workers still running past the deadline; killing them", m->nkids);
	signal_all(m, SIGKILL);
}

static void stop(struct master *m, int immediate)
{
	if (m->stopping == 2 || (m->stopping == 1 && !immediate))
		immediate = 1;
	m->stopping = immediate ? 2 : 1;
	ev_timer_stop(m->loop, &m->respawn_timer);
	notify_send("STOPPING=1");
	uint64_t wait_ms =
	    immediate ? QUIT_WAIT_MS : (uint64_t)m->cfg->shutdown_timeout * 1000 + STOP_MARGIN_MS;
	log_notice("%s stop: %zu workers", immediate ? "immediate" : "graceful", m->nkids);
	signal_all(m, immediate ? SIGQUIT : SIGTERM);
	ev_timer_start(m->loop, &m->stop_timer, wait_ms);
}

struct config *master_load_config(const char *path, struct config_errors *errs)
{
	struct config_env env = {.cpus = cpus_available(), .is_root = geteuid() == 0};

	return config_load_file(path, &env, errs);
}

/* Workers that dropped root must still be able to reopen the log file the
 * master (re)created. */
static void give_log(const struct master *m)
{
	const char *path = log_file();

	if (path != NULL && m->privs.set && chown(path, m->privs.uid, m->privs.gid) == -1)
		log_warn("cannot hand %s to the workers' user", path);
}

/* user and group apply only when started as root. */
static int lookup_privs(const struct config *cfg, struct privs *p, char *err, size_t len)
{
	if (geteuid() != 0)
		return privs_lookup(NULL, NULL, p, err, len);
	return privs_lookup(cfg->user, cfg->group, p, err, len);
}

static uint64_t monotonic_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Switch the log to cfg's target and level; keep the old one if it fails. */
static void apply_log(const struct config *cfg)
{
	if (log_open(cfg->log_target, (enum log_level)cfg->log_level) == -1)
		log_warn("cannot open log %s; logging stays where it was", cfg->log_target);
}

static void reload(struct master *m)
{
	struct config_errors errs = {0};
	struct privs privs;
	char err[1024];

	notify_send("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
	            (unsigned long long)monotonic_usec());
	log_notice("reload: reading %s", m->path);
	struct config *cfg = master_load_config(m->path, &errs);
	for (size_t i = 0; i < errs.n; i++) {
		config_error_format(&errs.v[i], err, sizeof(err));
		log_errorx("%s", err);
	}
	if (cfg == NULL) {
		log_errorx("reload rejected (%zu errors); still running the previous configuration",
		           errs.n);
		config_errors_free(&errs);
		goto keep;
	}
	config_errors_free(&errs);
	if (lookup_privs(cfg, &privs, err, sizeof(err)) == -1) {
		log_errorx("%s: %s; reload rejected", cfg->file, err);
		config_free(cfg);
		goto keep;
	}
	if (listener_set_update(&m->ls, &m->nls, cfg) == -1) {
		log_errorx("reload rejected; still running the previous configuration");
		config_free(cfg);
		goto keep;
	}
	m->privs = privs;
	if (strcmp(cfg->log_target, m->cfg->log_target) != 0 || cfg->log_level != m->cfg->log_level)
		apply_log(cfg);
	give_log(m);
	if (m->cfg->pid_file != NULL &&
	    (cfg->pid_file == NULL || strcmp(cfg->pid_file, m->cfg->pid_file) != 0))
		pidfile_remove(m->cfg->pid_file);
	if (cfg->pid_file != NULL && pidfile_write(cfg->pid_file) == -1)
		log_warn("cannot write pid file %s", cfg->pid_file);
	config_free(m->cfg);
	m->cfg = cfg;
	m->gen++;
	m->announced = 0;
	m->failures = 0;
	ev_timer_stop(m->loop, &m->respawn_timer);
	log_notice("reload accepted: starting generation %u with %d workers", m->gen, cfg->workers);
	spawn_missing(m);
	return;
keep:
	notify_send("READY=1\nSTATUS=%d workers serving (last reload rejected)", m->cfg->workers);
}

int master_run(struct config *cfg, const char *path, int detach)
{
	struct master m = {.cfg = cfg, .path = path, .gen = 1};
	char err[256];
	int rc = EXIT_RUNTIME;

	ev_timer_init(&m.respawn_timer, on_respawn_timer);
	ev_timer_init(&m.stop_timer, on_stop_timer);
	ev_timer_init(&m.status_timer, on_status_timer);
	if (log_open(cfg->log_target, (enum log_level)cfg->log_level) == -1) {
		fprintf(stderr, "echod: cannot open log %s: %s\n", cfg->log_target,
		        strerror(errno));
		goto out;
	}
	if (lookup_privs(cfg, &m.privs, err, sizeof(err)) == -1) {
		log_errorx("%s: %s", cfg->file, err);
		goto out;
	}
	give_log(&m);
	if (listener_set_update(&m.ls, &m.nls, cfg) == -1)
		goto out;
	if (detach && process_detach() == -1) {
		log_warn("cannot detach");
		goto out;
	}
	m.pid = getpid();
	if (cfg->pid_file != NULL && pidfile_write(cfg->pid_file) == -1) {
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
	process_raise_nofile(m.cfg->max_connections);
	void *shared = mmap(NULL, STATUS_SLOTS * sizeof(uint32_t), PROT_READ | PROT_WRITE,
	                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		log_warn("no shared memory for connection counts");
	else
		m.conn_counts = shared;
	if (getenv("NOTIFY_SOCKET") != NULL)
		ev_timer_start(m.loop, &m.status_timer, STATUS_INTERVAL_MS);
	log_notice("echod %s started (pid %ld), %d workers", PACKAGE_VERSION, (long)m.pid,
	           m.cfg->workers);
	spawn_missing(&m);

	for (;;) {
		if (signals_take(SIG_FLAG_CHILD))
			reap(&m);
		int stops = signals_take(SIG_FLAG_STOP);
		if (stops)
			stop(&m, stops > 1);
		if (signals_take(SIG_FLAG_QUIT))
			stop(&m, 1);
		if (signals_take(SIG_FLAG_RELOAD) && !m.stopping)
			reload(&m);
		if (signals_take(SIG_FLAG_REOPEN)) {
			if (log_reopen() == -1)
				log_warn("cannot reopen the log");
			give_log(&m);
			signal_all(&m, SIGUSR1);
		}
		check_ready(&m);
		/* Checked here, not after the wait: a stop while no worker
		 * runs has no SIGCHLD coming to wake us. */
		if (m.stopping && m.nkids == 0)
			break;
		if (ev_run_once(m.loop, -1) == -1 && errno != EINTR) {
			log_warn("master event loop");
			break;
		}
	}
	log_notice("echod stopped");
	rc = EXIT_OK;
out:
	if (m.cfg->pid_file != NULL && m.pid != 0)
		pidfile_remove(m.cfg->pid_file);
	for (size_t i = 0; i < m.nls; i++)
		listener_close(&m.ls[i]);
	free(m.ls);
	for (size_t i = 0; i < m.nkids; i++)
		close_ready_fd(&m, &m.kids[i]);
	free(m.kids);
	if (m.loop != NULL)
		ev_loop_free(m.loop);
	if (m.conn_counts != NULL)
		munmap((void *)m.conn_counts, STATUS_SLOTS * sizeof(uint32_t));
	config_free(m.cfg);
	log_close();
	return rc;
}
