/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Counting errors and printing the results.  The JSON field names are part
 * of echod-bench's interface (echod-bench(1) lists them): add fields, never
 * rename or remove one.
 */
#include "acconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "report.h"

static const char *const report_err_names[ERR_KINDS] = {
    [ERR_MISMATCH] = "mismatch", [ERR_EXTRA] = "extra", [ERR_SIZE] = "size",
    [ERR_EOF] = "eof",           [ERR_RESET] = "reset", [ERR_TIMEOUT] = "timeout",
    [ERR_CONNECT] = "connect",   [ERR_IO] = "io",       [ERR_LOST] = "lost",
};

/* The latency percentiles reported, and their JSON names. */
static const struct {
	double pct;
	const char *text;
	const char *json;
} report_pcts[] = {
    {50.0, "p50", "p50"},
    {90.0, "p90", "p90"},
    {99.0, "p99", "p99"},
    {99.9, "p99.9", "p99_9"},
};

#define NPCTS (sizeof(report_pcts) / sizeof(report_pcts[0]))

void report_init(struct report *r, const struct bench_opts *opts)
{
	memset(r, 0, sizeof(*r));
	r->opts = opts;
	r->proto = opts->unix_path != NULL ? "unix" : opts->udp ? "udp" : "tcp";
	r->backend = "";
	r->conns_used = opts->conns;
	hist_reset(&r->lat);
	hist_reset(&r->tick_lat);
}

void report_progress_clear(struct report *r)
{
	if (r->progress_on) {
		fputs("\r\033[K", stderr);
		r->progress_on = 0;
	}
}

void report_error(struct report *r, enum report_err kind, uint64_t conn, uint64_t offset,
                  const char *fmt, ...)
{
	struct report_sample *s;
	va_list ap;

	r->errors++;
	r->err[kind]++;
	if (r->nsample == REPORT_SAMPLES) {
		return;
	}
	s = &r->sample[r->nsample++];
	s->kind = kind;
	s->conn = conn;
	s->offset = offset;
	va_start(ap, fmt);
	vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
	va_end(ap);
	report_progress_clear(r);
	/* A connect or a lost datagram has no offset worth reading. */
	if (kind == ERR_CONNECT || kind == ERR_LOST)
		fprintf(stderr, "echod-bench: conn %llu: %s\n", (unsigned long long)conn, s->msg);
	else
		fprintf(stderr, "echod-bench: conn %llu: %s at offset %llu: %s\n",
		        (unsigned long long)conn, report_err_names[kind],
		        (unsigned long long)offset, s->msg);
	if (r->nsample == REPORT_SAMPLES)
		fputs("echod-bench: further errors are only counted\n", stderr);
}

void report_note(struct report *r, const char *fmt, ...)
{
	va_list ap;

	report_progress_clear(r);
	fputs("echod-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void report_progress(struct report *r, uint64_t now_ns)
{
	double secs = (double)(now_ns - r->tick_start_ns) / 1e9;

	if (secs <= 0)
		return;
	fprintf(stderr, "\r\033[K[%5.1fs] %.0f msg/s  %.2f MB/s  %s %llu  errors %llu  p99 %.1f us",
	        (double)(now_ns - r->start_ns) / 1e9, (double)r->tick_messages / secs,
	        (double)r->tick_bytes / secs / 1e6, r->opts->udp ? "flows" : "conns",
	        (unsigned long long)r->conns_active, (unsigned long long)r->errors,
	        (double)hist_percentile(&r->tick_lat, 99.0) / 1e3);
	if (r->dgrams_lost != 0)
		fprintf(stderr, "  lost %llu", (unsigned long long)r->dgrams_lost);
	fflush(stderr);
	r->progress_on = 1;
	r->tick_messages = 0;
	r->tick_bytes = 0;
	r->tick_start_ns = now_ns;
	hist_reset(&r->tick_lat);
}

static double report_secs(const struct report *r)
{
	return r->end_ns > r->start_ns ? (double)(r->end_ns - r->start_ns) / 1e9 : 0.0;
}

static double report_per_sec(const struct report *r, double v)
{
	double secs = report_secs(r);

	return secs > 0 ? v / secs : 0.0;
}

static const char *report_mode(const struct bench_opts *o)
{
	if (o->connect_rate)
		return "connect-rate";
	if (o->slow_ms >= 0)
		return "slow";
	return o->depth > 1 ? "pipelined" : "request-response";
}

void report_print_text(const struct report *r, FILE *out)
{
	const struct bench_opts *o = r->opts;
	size_t i;
	int k, first = 1;

	/* A UDP "connection" is a flow: a connected socket, nothing opened on
	 * the server. */
	const char *one = o->udp ? "flow" : "connection";
	const char *many = o->udp ? "flows" : "connections";

	fprintf(out, "target       %s %s (%s backend)\n", r->proto, r->target, r->backend);
	fprintf(out, "mode         %s, %d %s, %zu", report_mode(o), r->conns_used,
	        r->conns_used == 1 ? one : many, o->size_min);
	if (o->size_max != o->size_min)
		fprintf(out, "-%zu", o->size_max);
	fprintf(out, " bytes, depth %d", o->depth);
	if (o->rate > 0)
		fprintf(out, ", %.0f/s target", o->rate);
	fputc('\n', out);
	fprintf(out, "duration     %.3f s\n", report_secs(r));
	fprintf(out, "%-12s %llu opened, %llu failed, %llu at most at once\n", many,
	        (unsigned long long)r->conns_opened, (unsigned long long)r->conns_failed,
	        (unsigned long long)r->conns_peak);
	if (o->connect_rate)
		fprintf(out, "connects/s   %.1f\n", report_per_sec(r, (double)r->conns_opened));
	fprintf(out, "messages     %llu (%.1f/s)\n", (unsigned long long)r->messages,
	        report_per_sec(r, (double)r->messages));
	fprintf(out, "bytes        %llu (%.3f MB/s)\n", (unsigned long long)r->bytes,
	        report_per_sec(r, (double)r->bytes) / 1e6);
	if (o->udp)
		fprintf(out, "datagrams    %llu sent, %llu lost, %llu late\n",
		        (unsigned long long)r->dgrams_sent, (unsigned long long)r->dgrams_lost,
		        (unsigned long long)r->dgrams_late);
	fprintf(out, "latency us   min %.1f  mean %.1f", r->lat.n ? (double)r->lat.min / 1e3 : 0.0,
	        hist_mean(&r->lat) / 1e3);
	for (i = 0; i < NPCTS; i++)
		fprintf(out, "  %s %.1f", report_pcts[i].text,
		        (double)hist_percentile(&r->lat, report_pcts[i].pct) / 1e3);
	fprintf(out, "  max %.1f\n", (double)r->lat.max / 1e3);
	fprintf(out, "errors       %llu", (unsigned long long)r->errors);
	for (k = 0; k < ERR_KINDS; k++) {
		if (r->err[k] == 0)
			continue;
		fprintf(out, "%s%s %llu", first ? " (" : ", ", report_err_names[k],
		        (unsigned long long)r->err[k]);
		first = 0;
	}
	fputs(first ? "\n" : ")\n", out);
}

static void report_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

void report_print_json(const struct report *r, FILE *out)
{
	const struct bench_opts *o = r->opts;
	unsigned u;
	size_t i;
	int k;

	fprintf(out, "{\n  \"version\": ");
	report_json_string(out, PACKAGE_VERSION);
	fprintf(out, ",\n  \"proto\": \"%s\",\n  \"target\": ", r->proto);
	report_json_string(out, r->target);
	fprintf(out, ",\n  \"backend\": ");
	report_json_string(out, r->backend);
	fprintf(out, ",\n  \"mode\": \"%s\",\n", report_mode(o));
	fprintf(out,
	        "  \"connections\": {\"requested\": %d, \"used\": %d, \"opened\": %llu, "
	        "\"failed\": %llu, \"peak\": %llu},\n",
	        o->conns, r->conns_used, (unsigned long long)r->conns_opened,
	        (unsigned long long)r->conns_failed, (unsigned long long)r->conns_peak);
	fprintf(out, "  \"size_min\": %zu,\n  \"size_max\": %zu,\n  \"depth\": %d,\n", o->size_min,
	        o->size_max, o->depth);
	fprintf(out, "  \"rate_target\": %.3f,\n  \"duration_s\": %.6f,\n", o->rate,
	        report_secs(r));
	fprintf(out, "  \"messages\": %llu,\n  \"messages_per_s\": %.3f,\n",
	        (unsigned long long)r->messages, report_per_sec(r, (double)r->messages));
	fprintf(out, "  \"connects_per_s\": %.3f,\n", report_per_sec(r, (double)r->conns_opened));
	fprintf(out, "  \"bytes\": %llu,\n  \"mb_per_s\": %.6f,\n", (unsigned long long)r->bytes,
	        report_per_sec(r, (double)r->bytes) / 1e6);
	fprintf(out, "  \"datagrams\": {\"sent\": %llu, \"lost\": %llu, \"late\": %llu},\n",
	        (unsigned long long)r->dgrams_sent, (unsigned long long)r->dgrams_lost,
	        (unsigned long long)r->dgrams_late);
	fprintf(out, "  \"latency_us\": {\"count\": %llu, \"min\": %.3f, \"mean\": %.3f",
	        (unsigned long long)r->lat.n, r->lat.n ? (double)r->lat.min / 1e3 : 0.0,
	        hist_mean(&r->lat) / 1e3);
	for (i = 0; i < NPCTS; i++)
		fprintf(out, ", \"%s\": %.3f", report_pcts[i].json,
		        (double)hist_percentile(&r->lat, report_pcts[i].pct) / 1e3);
	fprintf(out, ", \"max\": %.3f},\n", (double)r->lat.max / 1e3);
	fprintf(out, "  \"errors\": {\"total\": %llu", (unsigned long long)r->errors);
	for (k = 0; k < ERR_KINDS; k++)
		fprintf(out, ", \"%s\": %llu", report_err_names[k], (unsigned long long)r->err[k]);
	fprintf(out, "},\n  \"error_samples\": [");
	for (u = 0; u < r->nsample; u++) {
		const struct report_sample *s = &r->sample[u];

		fprintf(
		    out,
		    "%s\n    {\"kind\": \"%s\", \"conn\": %llu, \"offset\": %llu, \"message\": ",
		    u ? "," : "", report_err_names[s->kind], (unsigned long long)s->conn,
		    (unsigned long long)s->offset);
		report_json_string(out, s->msg);
		fputc('}', out);
	}
	fprintf(out, "%s],\n  \"ok\": %s\n}\n", r->nsample ? "\n  " : "",
	        report_failed(r) ? "false" : "true");
}

int report_failed(const struct report *r)
{
	return r->errors != 0;
}
