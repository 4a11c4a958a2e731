/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Writing a snapshot of the master's figures (see metrics.h): the Prometheus
 * text format 0.0.4, and the status report as text or JSON.  Every label
 * value a family can take is written, zeros included, so that rate() and
 * increase() have a series from the first scrape on.
 */
#include "acconfig.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "textbuf.h"

const char *const metrics_reload_names[METRICS_RELOAD_COUNT] = {
    [METRICS_RELOAD_SUCCESS] = "success",
    [METRICS_RELOAD_REJECTED] = "rejected",
    [METRICS_RELOAD_FAILED] = "failed",
    [METRICS_RELOAD_SUPERSEDED] = "superseded",
};

const char *const metrics_worker_names[METRICS_WORKER_COUNT] = {
    [METRICS_WORKER_STARTING] = "starting",
    [METRICS_WORKER_SERVING] = "serving",
    [METRICS_WORKER_RETIRING] = "retiring",
};

/* A label value: backslash, double quote and newline escaped. */
static void label_value(struct textbuf *t, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			textbuf_printf(t, "\\%c", *s);
		else if (*s == '\n')
			textbuf_add(t, "\\n", 2);
		else
			textbuf_add(t, s, 1);
	}
}

static void family(struct textbuf *t, const char *name, const char *type, const char *help)
{
	textbuf_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(struct textbuf *t, const char *name, uint64_t v)
{
	textbuf_printf(t, "%s %" PRIu64 "\n", name, v);
}

static void labelled(struct textbuf *t, const char *name, const char *label, const char *value,
                     uint64_t v)
{
	textbuf_printf(t, "%s{%s=\"", name, label);
	label_value(t, value);
	textbuf_printf(t, "\"} %" PRIu64 "\n", v);
}

/* One counter family with a label whose values are names[0..n-1]. */
static void by_reason(struct textbuf *t, const char *name, const char *help, const char *label,
                      const char *const *names, const uint64_t *v, size_t n)
{
	family(t, name, "counter", help);
	for (size_t i = 0; i < n; i++)
		labelled(t, name, label, names[i], v[i]);
}

static uint64_t sum(const uint64_t *v, size_t n)
{
	uint64_t s = 0;

	for (size_t i = 0; i < n; i++)
		s += v[i];
	return s;
}

static void histogram(struct textbuf *t, const struct stats_counters *c)
{
	const char *name = "echod_connection_duration_seconds";
	uint64_t cum = 0;

	family(t, name, "histogram", "How long stream connections lasted, from accept to close.");
	for (size_t b = 0; b < STATS_DURATION_BUCKETS; b++) {
		cum += c->duration[b];
		if (b < STATS_DURATION_BUCKETS - 1)
			textbuf_printf(t, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name,
			               (double)stats_duration_le_ms[b] / 1000, cum);
		else
			textbuf_printf(t, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cum);
	}
	textbuf_printf(t, "%s_sum %.3f\n", name, (double)c->duration_sum_ms / 1000);
	textbuf_printf(t, "%s_count %" PRIu64 "\n", name, cum);
}

void metrics_render(const struct metrics_snapshot *s, struct textbuf *t)
{
	const struct stats_counters *c = &s->c;
	const char *name;

	name = "echod_connections_accepted_total";
	for (size_t i = 0, first = 1; i < STATS_MAX_LISTENERS; i++) {
		if (s->listeners[i] == NULL)
			continue;
		/* No family without a sample: a master with only UDP has none. */
		if (first)
			family(t, name, "counter",
			       "Stream connections accepted, by listen entry; those rejected at "
			       "once included.");
		first = 0;
		labelled(t, name, "listener", s->listeners[i], c->accepted[i]);
	}
	family(t, "echod_connections_active", "gauge", "Stream connections open now.");
	sample(t, "echod_connections_active", stats_open(c));
	by_reason(t, "echod_connections_closed_total",
	          "Stream connections closed after they were served, by reason.", "reason",
	          stats_close_names, c->closed, STATS_CLOSE_COUNT);
	by_reason(t, "echod_connections_rejected_total",
	          "Stream connections closed as soon as they were accepted, by reason.", "reason",
	          stats_reject_names, c->rejected, STATS_REJECT_COUNT);
	histogram(t, c);
	family(t, "echod_bytes_received_total", "counter",
	       "Bytes read from clients to be echoed, streams and datagrams.");
	sample(t, "echod_bytes_received_total", c->bytes_in);
	family(t, "echod_bytes_echoed_total", "counter",
	       "Bytes sent back to clients, streams and datagrams.");
	sample(t, "echod_bytes_echoed_total", c->bytes_out);
	family(t, "echod_udp_datagrams_received_total", "counter", "UDP datagrams received.");
	sample(t, "echod_udp_datagrams_received_total", c->dgrams_in);
	family(t, "echod_udp_datagrams_echoed_total", "counter", "UDP datagrams sent back.");
	sample(t, "echod_udp_datagrams_echoed_total", c->dgrams_out);
	by_reason(t, "echod_udp_datagrams_dropped_total",
	          "UDP datagrams received and not sent back, by reason.", "reason",
	          stats_drop_names, c->dropped, STATS_DROP_COUNT);
	name = "echod_workers";
	family(t, name, "gauge", "Worker processes, by state.");
	for (size_t i = 0; i < METRICS_WORKER_COUNT; i++)
		labelled(t, name, "state", metrics_worker_names[i], s->workers[i]);
	family(t, "echod_worker_restarts_total", "counter",
	       "Workers that died unexpectedly and were started again.");
	sample(t, "echod_worker_restarts_total", s->restarts);
	by_reason(t, "echod_reloads_total", "Reloads of the configuration, by result.", "result",
	          metrics_reload_names, s->reloads, METRICS_RELOAD_COUNT);
	name = "echod_last_reload_success_timestamp_seconds";
	family(t, name, "gauge",
	       "When the configuration in force was loaded (the start, or the last good reload).");
	textbuf_printf(t, "%s %.3f\n", name, s->last_reload_success);
	name = "echod_start_time_seconds";
	family(t, name, "gauge", "When the master started, in seconds since the Unix epoch.");
	textbuf_printf(t, "%s %.3f\n", name, s->start_time);
	name = "echod_build_info";
	family(t, name, "gauge", "Always 1: the version and the workers' event backend.");
	textbuf_printf(t, "%s{version=\"", name);
	label_value(t, s->version);
	textbuf_add(t, "\",backend=\"", 11);
	label_value(t, s->backend);
	textbuf_add(t, "\"} 1\n", 5);
}

/* "2026-11-28T06:00:00Z" */
static void utc(struct textbuf *t, double when)
{
	time_t secs = (time_t)when;
	struct tm tm;
	char buf[32];

	if (gmtime_r(&secs, &tm) == NULL ||
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, sizeof(buf), "%.0f", when);
	textbuf_printf(t, "%s", buf);
}

static void duration(struct textbuf *t, double secs)
{
	uint64_t s = secs > 0 ? (uint64_t)secs : 0;

	if (s >= 86400)
		textbuf_printf(t, "%" PRIu64 "d ", s / 86400);
	textbuf_printf(t, "%02" PRIu64 ":%02" PRIu64 ":%02" PRIu64, s / 3600 % 24, s / 60 % 60,
	               s % 60);
}

static void worker_counts(struct textbuf *t, const unsigned *w)
{
	const char *sep = "";

	for (size_t i = 0; i < METRICS_WORKER_COUNT; i++) {
		if (w[i] == 0)
			continue;
		textbuf_printf(t, "%s%u %s", sep, w[i], metrics_worker_names[i]);
		sep = ", ";
	}
	if (*sep == '\0')
		textbuf_printf(t, "none");
}

void metrics_status_text(const struct metrics_snapshot *s, struct textbuf *t)
{
	const struct stats_counters *c = &s->c;
	uint64_t accepted = sum(c->accepted, STATS_MAX_LISTENERS);

	textbuf_printf(t, "echod %s, pid %ld, %s\n", s->version, s->pid, s->state);
	textbuf_printf(t, "uptime ");
	duration(t, s->now - s->start_time);
	textbuf_printf(t, " (started ");
	utc(t, s->start_time);
	textbuf_printf(t, ")\nconfiguration %s, generation %u, loaded ", s->config, s->generation);
	utc(t, s->last_reload_success);
	textbuf_printf(t, "\nworkers: ");
	worker_counts(t, s->workers);
	textbuf_printf(t, " (backend %s)\n", s->backend);
	for (size_t i = 0; i < s->ngens; i++) {
		textbuf_printf(t, "  generation %u: ", s->gens[i].gen);
		worker_counts(t, s->gens[i].workers);
		textbuf_printf(t, "\n");
	}
	textbuf_printf(t,
	               "connections: %" PRIu64 " open, %" PRIu64 " accepted, %" PRIu64
	               " rejected, %" PRIu64 " closed\n",
	               stats_open(c), accepted, sum(c->rejected, STATS_REJECT_COUNT),
	               sum(c->closed, STATS_CLOSE_COUNT));
	textbuf_printf(t, "bytes: %" PRIu64 " received, %" PRIu64 " echoed\n", c->bytes_in,
	               c->bytes_out);
	textbuf_printf(t,
	               "datagrams: %" PRIu64 " received, %" PRIu64 " echoed, %" PRIu64 " dropped\n",
	               c->dgrams_in, c->dgrams_out, sum(c->dropped, STATS_DROP_COUNT));
	textbuf_printf(t, "reloads:");
	for (size_t i = 0; i < METRICS_RELOAD_COUNT; i++)
		textbuf_printf(t, "%s %" PRIu64 " %s", i ? "," : "", s->reloads[i],
		               metrics_reload_names[i]);
	textbuf_printf(t, "; worker restarts: %" PRIu64 "\n", s->restarts);
}

static void json_workers(struct textbuf *t, const unsigned *w)
{
	textbuf_printf(t, "{");
	for (size_t i = 0; i < METRICS_WORKER_COUNT; i++)
		textbuf_printf(t, "%s\"%s\":%u", i ? "," : "", metrics_worker_names[i], w[i]);
	textbuf_printf(t, "}");
}

static void json_by_name(struct textbuf *t, const char *key, const char *const *names,
                         const uint64_t *v, size_t n)
{
	textbuf_printf(t, "\"%s\":{", key);
	for (size_t i = 0; i < n; i++)
		textbuf_printf(t, "%s\"%s\":%" PRIu64, i ? "," : "", names[i], v[i]);
	textbuf_printf(t, "}");
}

void metrics_status_json(const struct metrics_snapshot *s, struct textbuf *t)
{
	const struct stats_counters *c = &s->c;

	textbuf_printf(t, "{\"pid\":%ld,\"version\":", s->pid);
	textbuf_json_string(t, s->version);
	textbuf_printf(t, ",\"state\":");
	textbuf_json_string(t, s->state);
	textbuf_printf(t, ",\"backend\":");
	textbuf_json_string(t, s->backend);
	textbuf_printf(t, ",\"config\":");
	textbuf_json_string(t, s->config);
	textbuf_printf(t,
	               ",\"start_time\":%.3f,\"uptime_seconds\":%.3f,\"generation\":%u,"
	               "\"config_loaded_time\":%.3f,\"workers\":",
	               s->start_time, s->now - s->start_time, s->generation,
	               s->last_reload_success);
	json_workers(t, s->workers);
	textbuf_printf(t, ",\"generations\":[");
	for (size_t i = 0; i < s->ngens; i++) {
		textbuf_printf(t, "%s{\"generation\":%u,\"workers\":", i ? "," : "",
		               s->gens[i].gen);
		json_workers(t, s->gens[i].workers);
		textbuf_printf(t, "}");
	}
	textbuf_printf(t, "],\"connections\":{\"open\":%" PRIu64 ",\"accepted\":%" PRIu64 ",",
	               stats_open(c), sum(c->accepted, STATS_MAX_LISTENERS));
	json_by_name(t, "rejected", stats_reject_names, c->rejected, STATS_REJECT_COUNT);
	textbuf_printf(t, ",");
	json_by_name(t, "closed", stats_close_names, c->closed, STATS_CLOSE_COUNT);
	textbuf_printf(t, ",\"by_listener\":{");
	const char *sep = "";
	for (size_t i = 0; i < STATS_MAX_LISTENERS; i++) {
		if (s->listeners[i] == NULL)
			continue;
		textbuf_printf(t, "%s", sep);
		textbuf_json_string(t, s->listeners[i]);
		textbuf_printf(t, ":%" PRIu64, c->accepted[i]);
		sep = ",";
	}
	textbuf_printf(t,
	               "}},\"bytes\":{\"received\":%" PRIu64 ",\"echoed\":%" PRIu64
	               "},\"datagrams\":{\"received\":%" PRIu64 ",\"echoed\":%" PRIu64 ",",
	               c->bytes_in, c->bytes_out, c->dgrams_in, c->dgrams_out);
	json_by_name(t, "dropped", stats_drop_names, c->dropped, STATS_DROP_COUNT);
	textbuf_printf(t, "},");
	json_by_name(t, "reloads", metrics_reload_names, s->reloads, METRICS_RELOAD_COUNT);
	textbuf_printf(t, ",\"worker_restarts\":%" PRIu64 "}\n", s->restarts);
}
