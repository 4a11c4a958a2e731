/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the master tells about itself and the orders it takes: the figures
 * (worker slots folded into retired totals, so that no total ever goes
 * down), GET /metrics and /healthz, and the control socket, through which a
 * reload is answered with its real outcome.
 */
#include "acconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "http.h"
#include "httpd.h"
#include "listener.h"
#include "log.h"
#include "master_int.h"

/* Errors kept for one control client's reload. */
#define TAP_MAX ((size_t)64 * 1024)

static double now_unix(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void master_ctl_name_listeners(struct master *m)
{
	const unsigned other = STATS_MAX_LISTENERS - 1;

	for (size_t i = 0; i < m->nls; i++) {
		struct listener *l = &m->ls[i];
		unsigned id;
		if (l->proto == LISTEN_UDP)
			continue; /* no connections to count */
		for (id = 0; id < other; id++)
			if (m->listener_names[id] == NULL ||
			    strcmp(m->listener_names[id], l->name) == 0)
				break;
		if (id < other && m->listener_names[id] == NULL &&
		    (m->listener_names[id] = strdup(l->name)) == NULL)
			id = other;
		if (id == other && m->listener_names[other] == NULL) {
			log_warnx(
			    "more than %d listen entries over this master's life: %s and later "
			    "ones are counted as \"other\"",
			    STATS_MAX_LISTENERS - 1, l->name);
			m->listener_names[other] = strdup("other");
		}
		l->stats_id = id;
	}
}

/* ---- figures ---- */

static enum metrics_worker worker_state(const struct master *m, const struct child *k)
{
	if (m->stopping)
		return METRICS_WORKER_RETIRING;
	if (k->gen != m->gen && m->announced)
		return METRICS_WORKER_RETIRING; /* told to, when gen came to serve */
	return k->ready ? METRICS_WORKER_SERVING : METRICS_WORKER_STARTING;
}

static const char *health(const struct master *m)
{
	if (m->stopping)
		return "stopping";
	if (m->draining)
		return "draining";
	return m->served ? "serving" : "starting";
}

/* The generation's row in s, made if there is room (newest first). */
static struct metrics_gen *gen_row(struct metrics_snapshot *s, unsigned gen)
{
	size_t i;

	for (i = 0; i < s->ngens; i++)
		if (s->gens[i].gen == gen)
			return &s->gens[i];
	for (i = 0; i < s->ngens && s->gens[i].gen > gen; i++)
		;
	if (i == METRICS_MAX_GENS)
		return NULL;
	if (s->ngens == METRICS_MAX_GENS)
		s->ngens--;
	memmove(&s->gens[i + 1], &s->gens[i], (s->ngens - i) * sizeof(s->gens[0]));
	s->ngens++;
	memset(&s->gens[i], 0, sizeof(s->gens[i]));
	s->gens[i].gen = gen;
	return &s->gens[i];
}

/* What worker k has counted, with the connections the master counted in
 * for it (relay.h).  Returns 0, or -1 if k has no counters. */
static int kid_counters(const struct child *k, struct stats_counters *c)
{
	if (k->stats == NULL)
		return -1;
	stats_read(k->stats, c);
	c->handed_in += k->handed_in;
	c->handed_out += k->handed_out;
	return 0;
}

/* What the live workers have counted, with the offers in flight between
 * them (open, in no worker's count yet: relay.h); stats_open() of it is the
 * connections open now. */
static void live_counters(const struct master *m, struct stats_counters *sum)
{
	struct stats_counters c;

	memset(sum, 0, sizeof(*sum));
	for (size_t i = 0; i < m->nkids; i++)
		if (kid_counters(&m->kids[i], &c) == 0)
			stats_sum(sum, &c);
	sum->handed_in += relay_in_flight(&m->relay, m->upgrade_peer);
}

void master_ctl_snapshot(struct master *m, struct metrics_snapshot *s)
{
	struct stats_counters live;

	memset(s, 0, sizeof(*s));
	s->c = m->retired;
	/* Lost in a handover along with both its workers (relay.h). */
	s->c.handed_in += m->relay.lost;
	s->c.closed[STATS_CLOSE_WORKER_EXIT] += m->relay.lost;
	live_counters(m, &live);
	stats_sum(&s->c, &live);
	for (size_t i = 0; i < m->nkids; i++) {
		enum metrics_worker st = worker_state(m, &m->kids[i]);
		s->workers[st]++;
		struct metrics_gen *g = gen_row(s, m->kids[i].gen);
		if (g != NULL)
			g->workers[st]++;
	}
	for (size_t i = 0; i < STATS_MAX_LISTENERS; i++)
		s->listeners[i] = m->listener_names[i];
	s->restarts = m->restarts;
	memcpy(s->reloads, m->reloads, sizeof(s->reloads));
	s->start_time = m->start_time;
	s->last_reload_success = m->loaded_time;
	s->now = now_unix();
	s->pid = (long)m->pid;
	s->generation = m->gen;
	s->version = PACKAGE_VERSION;
	s->backend = m->backend[0] != '\0' ? m->backend : m->cfg->backend;
	s->config = m->path;
	s->state = health(m);
}

uint64_t master_ctl_connections(struct master *m)
{
	struct stats_counters live;

	live_counters(m, &live);
	return stats_open(&live);
}

void master_ctl_worker_gone(struct master *m, struct child *k)
{
	if (k->stats == NULL)
		return;
	stats_slot_retire(m->pool, k->stats, k->handed_in, k->handed_out, &m->retired);
	k->stats = NULL;
}

/* ---- reload outcomes ---- */

void master_ctl_reload_accepted(struct master *m)
{
	/* The clients of the earlier one now wait for this one, which read
	 * the same file again. */
	if (m->pending != 0)
		m->reloads[METRICS_RELOAD_SUPERSEDED]++;
	m->pending = m->gen;
}

void master_ctl_reload_rejected(struct master *m)
{
	m->reloads[METRICS_RELOAD_REJECTED]++;
}

static size_t done_all(struct master *m, enum control_wait what, int ok, const char *msg)
{
	size_t n = control_done_all(m->ctl, what, ok, "%s", msg);
	return n + control_done_all(m->ctl_old, what, ok, "%s", msg);
}

void master_ctl_generation_serves(struct master *m)
{
	char msg[128];

	for (size_t i = 0; i < m->nkids; i++)
		if (m->kids[i].gen == m->gen && m->kids[i].backend[0] != '\0')
			memcpy(m->backend, m->kids[i].backend, sizeof(m->backend));
	m->served = 1;
	if (m->gen == 1)
		return;
	m->loaded_time = now_unix();
	if (m->pending != m->gen)
		return; /* it failed before, and was answered then */
	m->pending = 0;
	m->reloads[METRICS_RELOAD_SUCCESS]++;
	snprintf(msg, sizeof(msg), "reloaded: generation %u serves with %d %s", m->gen,
	         m->cfg->workers, m->cfg->workers == 1 ? "worker" : "workers");
	done_all(m, CONTROL_WAIT_RELOAD, 1, msg);
}

void master_ctl_upgrade_done(struct master *m, int ok, const char *msg)
{
	done_all(m, CONTROL_WAIT_UPGRADE, ok, msg);
}

void master_ctl_worker_died(struct master *m, const struct child *k, const char *how)
{
	char msg[512];

	if (k->gen != m->pending || k->ready)
		return;
	m->pending = 0;
	m->reloads[METRICS_RELOAD_FAILED]++;
	snprintf(msg, sizeof(msg),
	         "reload failed: worker %zu (pid %ld) of generation %u %s before serving; the "
	         "older generation goes on serving while the master keeps starting the new one "
	         "(see the log)",
	         k->index, (long)k->pid, k->gen, how);
	done_all(m, CONTROL_WAIT_RELOAD, 0, msg);
}

/* ---- HTTP ---- */

static int on_http(void *arg, const struct http_request *req, struct textbuf *body,
                   const char **type)
{
	struct master *m = arg;

	if (strcmp(req->path, "/metrics") == 0) {
		struct metrics_snapshot s;
		master_ctl_snapshot(m, &s);
		metrics_render(&s, body);
		*type = METRICS_CONTENT_TYPE;
		return 200;
	}
	if (strcmp(req->path, "/healthz") == 0) {
		const char *state = health(m);
		textbuf_printf(body, "%s\n", state);
		return strcmp(state, "serving") == 0 ? 200 : 503;
	}
	textbuf_printf(body, "not found: try /metrics or /healthz\n");
	return 404;
}

/* ---- the control socket ---- */

static void on_tap(void *arg, enum log_level level, const char *msg)
{
	struct master *m = arg;
	(void)level;

	if (m->tap.len < TAP_MAX)
		textbuf_printf(&m->tap, "%s\n", msg);
}

/* Hand the errors the reload logged to the client, one '!' line each. */
static void send_tap(struct master *m, struct control_client *c)
{
	for (char *line = m->tap.p, *nl; line != NULL && *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl == NULL)
			break;
		*nl = '\0';
		control_line(c, '!', "%s", line);
	}
	textbuf_free(&m->tap);
}

static void status(struct master *m, struct control_client *c, int json)
{
	struct metrics_snapshot s;
	struct textbuf t = {0};

	master_ctl_snapshot(m, &s);
	if (json)
		metrics_status_json(&s, &t);
	else
		metrics_status_text(&s, &t);
	if (textbuf_failed(&t)) {
		textbuf_free(&t);
		control_done(c, 0, "out of memory");
		return;
	}
	for (char *line = t.p, *nl; line != NULL && (nl = strchr(line, '\n')) != NULL;
	     line = nl + 1) {
		*nl = '\0';
		control_line(c, '|', "%s", line);
	}
	textbuf_free(&t);
	control_done(c, 1, "%s", "");
}

static void on_control(void *arg, struct control_client *c, enum control_cmd cmd, int json)
{
	struct master *m = arg;
	int rc;

	switch (cmd) {
	case CONTROL_STATUS:
		status(m, c, json);
		break;
	case CONTROL_RELOAD:
		if (m->stopping || m->draining) {
			control_done(c, 0, "the master is %s; no reload",
			             m->draining ? "draining before a stop" : "stopping");
			break;
		}
		log_set_tap(on_tap, m);
		rc = master_reload(m);
		log_set_tap(NULL, NULL);
		send_tap(m, c);
		if (rc == 0)
			control_wait(c, CONTROL_WAIT_RELOAD);
		else
			control_done(c, 0,
			             "reload rejected: generation %u goes on serving with the "
			             "previous configuration",
			             m->gen);
		break;
	case CONTROL_UPGRADE:
		if (m->stopping || m->draining) {
			control_done(c, 0, "the master is %s; no upgrade",
			             m->draining ? "draining before a stop" : "stopping");
			break;
		}
		/* Waiting first: the outcome may come at once (a rollback). */
		control_wait(c, CONTROL_WAIT_UPGRADE);
		log_set_tap(on_tap, m);
		rc = master_upgrade(m);
		log_set_tap(NULL, NULL);
		send_tap(m, c);
		if (rc == -1)
			master_ctl_upgrade_done(m, 0,
			                        "upgrade failed: the new binary did not start; "
			                        "the master goes on serving");
		break;
	case CONTROL_STOP:
		control_wait(c, CONTROL_WAIT_EXIT);
		master_stop_requested(m, 1); /* as TERM: drain_delay first, if set */
		break;
	case CONTROL_QUIT:
		control_wait(c, CONTROL_WAIT_EXIT);
		master_stop(m, 1);
		break;
	case CONTROL_REOPEN:
		if (master_reopen(m) == 0)
			control_done(c, 1, "log reopened");
		else
			control_done(c, 0, "cannot reopen the log: %s", strerror(errno));
		break;
	case CONTROL_COUNT:
		control_done(c, 0, "unknown request");
		break;
	}
}

/* ---- opening and replacing the endpoints ---- */

static int same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int master_ctl_prepare(struct master *m, const struct config *cfg)
{
	const struct config *old = m->cfg != cfg ? m->cfg : NULL;

	m->httpd_next = NULL;
	m->ctl_next = NULL;
	m->httpd_change = old == NULL || !same(old->metrics_listen, cfg->metrics_listen);
	m->ctl_change = old == NULL || !same(old->control_socket, cfg->control_socket);
	if (m->httpd_change && cfg->metrics_listen != NULL) {
		struct config_endpoint ep;
		const char *why = config_endpoint_parse(cfg->metrics_listen, &ep);
		if (why != NULL) {
			log_errorx("%s: metrics.listen: \"%s\": %s", cfg->file, cfg->metrics_listen,
			           why);
			return -1;
		}
		if ((m->httpd_next = httpd_new(m->loop, &ep, on_http, m)) == NULL) {
			log_errorx("%s: metrics.listen: cannot listen on %s: %s", cfg->file,
			           cfg->metrics_listen, strerror(errno));
			return -1;
		}
	}
	/* After an upgrade, the old master's listener (upgrade.h). */
	int fd = m->ctl_inherited;
	m->ctl_inherited = -1;
	if (m->ctl_change && cfg->control_socket != NULL &&
	    (m->ctl_next = control_adopt(m->loop, cfg->control_socket, fd, on_control, m)) ==
	        NULL) {
		log_errorx("%s: control_socket: cannot listen on %s: %s", cfg->file,
		           cfg->control_socket, strerror(errno));
		httpd_free(m->httpd_next);
		m->httpd_next = NULL;
		return -1;
	}
	return 0;
}

void master_ctl_abort(struct master *m)
{
	httpd_free(m->httpd_next);
	control_free(m->ctl_next);
	m->httpd_next = NULL;
	m->ctl_next = NULL;
}

void master_ctl_commit(struct master *m)
{
	if (m->httpd_change) {
		httpd_free(m->httpd);
		m->httpd = m->httpd_next;
		if (m->httpd != NULL && strncmp(httpd_name(m->httpd), "unix:", 5) == 0)
			log_notice("metrics on %s (GET /metrics)", httpd_name(m->httpd));
		else if (m->httpd != NULL)
			log_notice("metrics on http://%s/metrics", httpd_name(m->httpd));
	}
	if (m->ctl_change) {
		/* The old socket may be serving the very client that asked for
		 * this reload: it keeps its clients, and takes no new ones. */
		control_free(m->ctl_old);
		m->ctl_old = m->ctl;
		if (m->ctl_old != NULL)
			control_stop_listening(m->ctl_old);
		m->ctl = m->ctl_next;
		if (m->ctl != NULL)
			log_notice("control socket %s", control_path(m->ctl));
	}
	m->httpd_next = NULL;
	m->ctl_next = NULL;
}

void master_ctl_forget(struct master *m)
{
	httpd_forget(m->httpd);
	control_forget(m->ctl);
	control_forget(m->ctl_old);
	m->httpd = NULL;
	m->ctl = NULL;
	m->ctl_old = NULL;
	for (size_t i = 0; i < STATS_MAX_LISTENERS; i++) {
		free(m->listener_names[i]);
		m->listener_names[i] = NULL;
	}
	textbuf_free(&m->tap);
	/* The worker keeps the mappings: its own slot is in one of them. */
	stats_pool_forget(m->pool);
	m->pool = NULL;
}

void master_ctl_exit(struct master *m)
{
	done_all(m, CONTROL_WAIT_RELOAD, 0, "the master stopped before the reload finished");
	done_all(m, CONTROL_WAIT_UPGRADE, 0, "the master stopped before the upgrade finished");
	done_all(m, CONTROL_WAIT_EXIT, 1, "stopped");
	httpd_free(m->httpd);
	control_exit(m->ctl);
	control_exit(m->ctl_old);
	m->httpd = NULL;
	m->ctl = NULL;
	m->ctl_old = NULL;
	for (size_t i = 0; i < STATS_MAX_LISTENERS; i++)
		free(m->listener_names[i]);
	textbuf_free(&m->tap);
	stats_pool_free(m->pool);
	m->pool = NULL;
}
