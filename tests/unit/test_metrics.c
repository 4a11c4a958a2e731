/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the metrics page and the status report (src/metrics.c),
 * from made-up snapshots.  Besides promtool in the integration test, the
 * page is checked against the text format 0.0.4 by the harness's validator
 * (h_promtext_validate).
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "metrics.h"
#include "textbuf.h"

static void snapshot(struct metrics_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->listeners[0] = "tcp 127.0.0.1:7";
	s->listeners[1] = "unix /run/echod/a \"quoted\" \\ path";
	s->c.accepted[0] = 10;
	s->c.accepted[1] = 5;
	s->c.rejected[STATS_REJECT_MAX_CONNECTIONS] = 2;
	s->c.closed[STATS_CLOSE_CLIENT] = 9;
	s->c.closed[STATS_CLOSE_WORKER_EXIT] = 1;
	s->c.bytes_in = 123456789012ULL;
	s->c.bytes_out = 123456789000ULL;
	s->c.dgrams_in = 40;
	s->c.dgrams_out = 39;
	s->c.dropped[STATS_DROP_BUFFER] = 1;
	s->c.duration[0] = 4;
	s->c.duration[3] = 5;
	s->c.duration[7] = 1;
	s->c.duration_sum_ms = 4000123;
	s->workers[METRICS_WORKER_SERVING] = 4;
	s->workers[METRICS_WORKER_RETIRING] = 1;
	s->ngens = 2;
	s->gens[0].gen = 3;
	s->gens[0].workers[METRICS_WORKER_SERVING] = 4;
	s->gens[1].gen = 2;
	s->gens[1].workers[METRICS_WORKER_RETIRING] = 1;
	s->restarts = 2;
	s->reloads[METRICS_RELOAD_SUCCESS] = 2;
	s->reloads[METRICS_RELOAD_REJECTED] = 1;
	s->start_time = 1795840000.5;
	s->last_reload_success = 1795843600.25;
	s->now = 1795847204.5;
	s->pid = 4120;
	s->generation = 3;
	s->version = "0.1.0";
	s->backend = "epoll";
	s->config = "/etc/echod.conf";
	s->state = "serving";
}

static void test_render_valid(void **state)
{
	struct metrics_snapshot s;
	struct textbuf t = {0};
	(void)state;

	snapshot(&s);
	metrics_render(&s, &t);
	assert_false(textbuf_failed(&t));
	assert_int_equal(h_promtext_validate(t.p), 16);
	textbuf_free(&t);
	/* A fresh master: nothing counted, no listener yet. */
	memset(&s, 0, sizeof(s));
	s.version = "0.1.0";
	s.backend = "auto";
	metrics_render(&s, &t);
	/* No stream listener: no accepted_total family, not an empty one. */
	assert_int_equal(h_promtext_validate(t.p), 15);
	assert_null(strstr(t.p, "echod_connections_accepted_total"));
	textbuf_free(&t);
}

static void test_render_values(void **state)
{
	struct metrics_snapshot s;
	struct textbuf t = {0};
	(void)state;

	snapshot(&s);
	metrics_render(&s, &t);
	static const char *const want[] = {
	    "echod_connections_accepted_total{listener=\"tcp 127.0.0.1:7\"} 10\n",
	    ("echod_connections_accepted_total{listener=\"unix /run/echod/a \\\"quoted\\\" \\\\ "
	     "path\"} 5\n"),
	    "echod_connections_active 3\n",
	    "echod_connections_closed_total{reason=\"client\"} 9\n",
	    "echod_connections_closed_total{reason=\"worker_exit\"} 1\n",
	    "echod_connections_closed_total{reason=\"idle\"} 0\n",
	    "echod_connections_rejected_total{reason=\"max_connections\"} 2\n",
	    "echod_connection_duration_seconds_bucket{le=\"0.01\"} 4\n",
	    "echod_connection_duration_seconds_bucket{le=\"1\"} 4\n",
	    "echod_connection_duration_seconds_bucket{le=\"10\"} 9\n",
	    "echod_connection_duration_seconds_bucket{le=\"3600\"} 9\n",
	    "echod_connection_duration_seconds_bucket{le=\"+Inf\"} 10\n",
	    "echod_connection_duration_seconds_sum 4000.123\n",
	    "echod_connection_duration_seconds_count 10\n",
	    "echod_bytes_received_total 123456789012\n",
	    "echod_bytes_echoed_total 123456789000\n",
	    "echod_udp_datagrams_received_total 40\n",
	    "echod_udp_datagrams_echoed_total 39\n",
	    "echod_udp_datagrams_dropped_total{reason=\"buffer_full\"} 1\n",
	    "echod_workers{state=\"serving\"} 4\n",
	    "echod_workers{state=\"retiring\"} 1\n",
	    "echod_workers{state=\"starting\"} 0\n",
	    "echod_worker_restarts_total 2\n",
	    "echod_reloads_total{result=\"success\"} 2\n",
	    "echod_reloads_total{result=\"rejected\"} 1\n",
	    "echod_reloads_total{result=\"failed\"} 0\n",
	    "echod_last_reload_success_timestamp_seconds 1795843600.250\n",
	    "echod_start_time_seconds 1795840000.500\n",
	    "echod_build_info{version=\"0.1.0\",backend=\"epoll\"} 1\n",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (strstr(t.p, want[i]) == NULL)
			fail_msg("missing: %s", want[i]);
	textbuf_free(&t);
}

static void test_status_text(void **state)
{
	struct metrics_snapshot s;
	struct textbuf t = {0};
	(void)state;

	snapshot(&s);
	metrics_status_text(&s, &t);
	static const char *const want[] = {
	    "echod 0.1.0, pid 4120, serving\n",
	    "uptime 02:00:04 (started 2026-11-28T04:26:40Z)\n",
	    "configuration /etc/echod.conf, generation 3, loaded 2026-11-28T05:26:40Z\n",
	    "workers: 4 serving, 1 retiring (backend epoll)\n",
	    "  generation 3: 4 serving\n",
	    "  generation 2: 1 retiring\n",
	    "connections: 3 open, 15 accepted, 2 rejected, 10 closed\n",
	    "bytes: 123456789012 received, 123456789000 echoed\n",
	    "datagrams: 40 received, 39 echoed, 1 dropped\n",
	    "reloads: 2 success, 1 rejected, 0 failed, 0 superseded; worker restarts: 2\n",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (strstr(t.p, want[i]) == NULL)
			fail_msg("missing: %s\nin:\n%s", want[i], t.p);
	textbuf_free(&t);
}

static void test_status_json(void **state)
{
	struct metrics_snapshot s;
	struct textbuf t = {0};
	int depth = 0, in_string = 0;
	(void)state;

	snapshot(&s);
	metrics_status_json(&s, &t);
	/* One line, balanced braces and brackets outside strings. */
	assert_int_equal(strchr(t.p, '\n'), t.p + t.len - 1);
	for (const char *p = t.p; *p != '\0'; p++) {
		if (in_string) {
			if (*p == '\\')
				p++;
			else if (*p == '"')
				in_string = 0;
			continue;
		}
		if (*p == '"')
			in_string = 1;
		else if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']')
			assert_true(--depth >= 0);
	}
	assert_int_equal(depth, 0);
	static const char *const want[] = {
	    "{\"pid\":4120,\"version\":\"0.1.0\",\"state\":\"serving\"",
	    "\"generation\":3,",
	    "\"workers\":{\"starting\":0,\"serving\":4,\"retiring\":1}",
	    "\"connections\":{\"open\":3,\"accepted\":15,",
	    "\"unix /run/echod/a \\\"quoted\\\" \\\\ path\":5",
	    "\"bytes\":{\"received\":123456789012,\"echoed\":123456789000}",
	    "\"reloads\":{\"success\":2,\"rejected\":1,\"failed\":0,\"superseded\":0}",
	    "\"worker_restarts\":2}",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (strstr(t.p, want[i]) == NULL)
			fail_msg("missing: %s\nin:\n%s", want[i], t.p);
	textbuf_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_render_valid),
	    cmocka_unit_test(test_render_values),
	    cmocka_unit_test(test_status_text),
	    cmocka_unit_test(test_status_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
