/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Observability and control against the real echod: the scraped counters
 * equal echod-bench's own totals exactly (TCP and UDP); no _total goes down
 * across ten reloads with changing workers and a kill -9; promtool accepts
 * the page; scrapers that say nothing or send a megabyte of header do not
 * keep the master from replacing a killed worker; /healthz; -s reload over
 * the control socket with its exit codes (valid, syntax error, port in
 * use, new workers that die); -s status and -j; -s stop waits for the exit;
 * the workers hold none of the master's own sockets.
 */
#include "acconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define EXITED(code) ((code) << 8)

#define CONFIG_HEAD                                                                                \
	"control_socket = \"@DIR@/control.sock\";\n"                                               \
	"metrics = { listen = \"127.0.0.1:0\"; };\n"                                               \
	"log = { level = \"info\"; };\n"

#define LISTEN_TCP_UDP                                                                             \
	"listen = ( { address = \"127.0.0.1\"; port = 0; },\n"                                     \
	"           { address = \"127.0.0.1\"; port = 0; protocol = \"udp\"; } );\n"

/* The metrics port, from "metrics on http://127.0.0.1:PORT/metrics". */
static int metrics_port(struct echod *e)
{
	char *log = h_file_read(e->log);
	const char *p = strstr(log, "metrics on http://127.0.0.1:");
	int port = p != NULL ? atoi(p + strlen("metrics on http://127.0.0.1:")) : 0;

	free(log);
	assert_true(port > 0);
	return port;
}

/* An HTTP exchange: `request` sent whole, the reply read to EOF.  Returns
 * the status code (0 if none came) and the body in *body (free it). */
static int http(int port, const char *request, char **body, int timeout_ms)
{
	int fd = h_connect("127.0.0.1", port);
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;
	int status = 0;

	assert_true(fd >= 0);
	assert_non_null(buf);
	h_send_all(fd, request, strlen(request));
	for (;;) {
		uint64_t now = h_now_ms();
		if (now >= end)
			break;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, (int)(end - now)) <= 0)
			break;
		if (len + 4096 > cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	sscanf(buf, "HTTP/1.1 %d", &status);
	char *b = strstr(buf, "\r\n\r\n");
	*body = strdup(b != NULL ? b + 4 : "");
	free(buf);
	return status;
}

static char *scrape(int port)
{
	char *body;

	assert_int_equal(http(port, "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n", &body, 5000),
	                 200);
	return body;
}

/* The value of the sample `series` ("name" or "name{label=\"v\"}"), or -1. */
static double metric(const char *page, const char *series)
{
	size_t len = strlen(series);

	for (const char *p = page; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (strncmp(p, series, len) == 0 && p[len] == ' ')
			return strtod(p + len + 1, NULL);
	return -1;
}

/* Where the value of the sample line at p starts: after its last space (a
 * label value may hold spaces too). */
static const char *value_of(const char *p)
{
	const char *nl = strchr(p, '\n'), *sp = NULL;

	for (const char *q = p; q < nl; q++)
		if (*q == ' ')
			sp = q;
	assert_non_null(sp);
	return sp + 1;
}

/* The sum of every sample of family `name` (with labels or without). */
static double metric_sum(const char *page, const char *name)
{
	size_t len = strlen(name);
	double sum = 0;

	for (const char *p = page; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (strncmp(p, name, len) == 0 && (p[len] == ' ' || p[len] == '{'))
			sum += strtod(value_of(p), NULL);
	return sum;
}

/* `echod -c CONF -s ARGS...`, capturing its output. */
static void ctl(struct h_run *r, struct echod *e, const char *word, const char *extra)
{
	h_run_echod(r, 90000, "-c", e->conf, "-s", word, extra, (char *)NULL);
}

/* echod-bench's JSON number `key` ("\"bytes\": N"). */
static double bench_num(const char *json, const char *key)
{
	char want[64];
	const char *p;

	snprintf(want, sizeof(want), "\"%s\": ", key);
	p = strstr(json, want);
	assert_non_null(p);
	return strtod(p + strlen(want), NULL);
}

static void bench(struct h_run *r, const char *const *args)
{
	const char *argv[24];
	size_t n = 0;

	argv[n++] = getenv("ECHOD_BENCH_BIN");
	assert_non_null(argv[0]);
	for (; *args != NULL && n < 22; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	h_run(r, 60000, argv);
	if (r->status != 0)
		fprintf(stderr, "# echod-bench: %s\n%s\n", r->err, r->out);
	assert_int_equal(r->status, 0);
}

/* Wait until /metrics says every connection has been closed. */
static char *scrape_when_idle(int port)
{
	uint64_t end = h_now_ms() + 5000;

	for (;;) {
		char *page = scrape(port);
		if (metric(page, "echod_connections_active") == 0)
			return page;
		if (h_now_ms() > end) {
			fprintf(stderr, "# connections still open after 5 s\n");
			return page;
		}
		free(page);
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

/*
 * After echod-bench has run a fixed count and closed, the counters are
 * exactly its totals: connections, bytes both ways, datagrams.
 */
static void test_counters_equal_bench_totals(void **state)
{
	struct h_run tcp, udp;
	char tport[16], uport[16];
	(void)state;

	struct echod *e = h_echod_start("workers = 2;\n" CONFIG_HEAD LISTEN_TCP_UDP, NULL);
	int mport = metrics_port(e);
	snprintf(tport, sizeof(tport), "%d", e->ports[0]);
	snprintf(uport, sizeof(uport), "%d", e->ports[1]);
	const char *targs[] = {"-H", "127.0.0.1", "-p", tport, "-c",     "6",
	                       "-n", "3000",      "-s", "700", "--json", NULL};
	const char *uargs[] = {"-H", "127.0.0.1", "-p", uport, "-u",     "-c", "3",
	                       "-n", "900",       "-s", "333", "--json", NULL};
	bench(&tcp, targs);
	bench(&udp, uargs);
	double tbytes = bench_num(tcp.out, "bytes"), ubytes = bench_num(udp.out, "bytes");
	double conns = bench_num(tcp.out, "opened");
	double dgrams = bench_num(udp.out, "messages");
	assert_true(tbytes == 3000.0 * 700);
	assert_true(conns == 6);
	/* Loopback at one datagram in flight per flow loses none; if it ever
	 * did, echod's counts would differ from echod-bench's for a reason
	 * that is not echod's. */
	assert_true(bench_num(udp.out, "lost") == 0);
	assert_true(dgrams == 900);

	char *page = scrape_when_idle(mport);
	char series[128];
	snprintf(series, sizeof(series),
	         "echod_connections_accepted_total{listener=\"tcp 127.0.0.1:%d\"}", e->ports[0]);
	assert_true(metric(page, series) == conns);
	assert_true(metric(page, "echod_connections_active") == 0);
	assert_true(metric(page, "echod_connections_closed_total{reason=\"client\"}") == conns);
	assert_true(metric_sum(page, "echod_connections_rejected_total") == 0);
	assert_true(metric(page, "echod_connection_duration_seconds_count") == conns);
	assert_true(metric(page, "echod_bytes_received_total") == tbytes + ubytes);
	assert_true(metric(page, "echod_bytes_echoed_total") == tbytes + ubytes);
	assert_true(metric(page, "echod_udp_datagrams_received_total") == dgrams);
	assert_true(metric(page, "echod_udp_datagrams_echoed_total") == dgrams);
	assert_true(metric_sum(page, "echod_udp_datagrams_dropped_total") == 0);
	assert_true(metric(page, "echod_workers{state=\"serving\"}") == 2);
	free(page);
	h_run_free(&tcp);
	h_run_free(&udp);
	h_echod_free(e);
}

/* Every sample of `now` whose name ends in _total (or _count, _sum, _bucket
 * of the histogram) is at least what it was in `before`. */
static void assert_not_down(const char *before, const char *now, int step)
{
	int compared = 0;

	for (const char *p = before; *p != '\0'; p = strchr(p, '\n') + 1) {
		if (*p == '#')
			continue;
		const char *sp = value_of(p) - 1;
		char series[256];
		size_t len = (size_t)(sp - p);
		assert_true(len < sizeof(series));
		memcpy(series, p, len);
		series[len] = '\0';
		const char *name_end = strpbrk(series, "{");
		size_t nlen = name_end != NULL ? (size_t)(name_end - series) : len;
		int monotonic = (nlen > 6 && strncmp(series + nlen - 6, "_total", 6) == 0) ||
		                strstr(series, "duration_seconds_") != NULL;
		if (!monotonic)
			continue;
		double was = strtod(sp + 1, NULL), is = metric(now, series);
		if (is < was)
			fail_msg("step %d: %s went down from %.0f to %.0f", step, series, was, is);
		compared++;
	}
	assert_true(compared > 10);
}

/* Send and take back `len` bytes on fd. */
static void echo_bytes(int fd, size_t len, uint32_t seed)
{
	char *buf = malloc(len);

	assert_non_null(buf);
	h_fill_random(buf, len, seed);
	assert_true(h_echo_check(fd, buf, len, 5000));
	free(buf);
}

/*
 * Ten reloads, the worker count changing each time, connections left open
 * across them, and a worker killed with SIGKILL while it holds one: no
 * total ever goes down, and at the end the byte counters are exactly what
 * was sent, all of it counted by workers that have since exited.
 */
static void test_totals_never_go_down(void **state)
{
	static const int workers[] = {2, 3, 1, 4, 2, 1, 3, 2, 4, 1};
	char config[1024];
	size_t sent = 0;
	int open_fds[12], nopen = 0;
	(void)state;

	snprintf(config, sizeof(config),
	         "workers = 2;\nshutdown_timeout = 30;\n" CONFIG_HEAD LISTEN_TCP_UDP);
	struct echod *e = h_echod_start(config, NULL);
	int mport = metrics_port(e);
	char *before = scrape(mport);

	for (int step = 0; step < 10; step++) {
		/* A connection that stays open through the reload: handed over
		 * to a new worker, it goes on echoing there. */
		int fd = h_connect("127.0.0.1", e->ports[0]);
		assert_true(fd >= 0);
		echo_bytes(fd, 10000, (uint32_t)step + 1);
		sent += 10000;
		open_fds[nopen++] = fd;

		snprintf(config, sizeof(config),
		         "workers = %d;\nshutdown_timeout = 30;\n" CONFIG_HEAD LISTEN_TCP_UDP,
		         workers[step]);
		h_echod_rewrite(e, config);
		struct h_run r;
		ctl(&r, e, "reload", NULL);
		if (r.status != 0)
			fprintf(stderr, "# -s reload: %s%s\n", r.out, r.err);
		assert_int_equal(r.status, 0);
		assert_non_null(strstr(r.out, "reloaded: generation"));
		h_run_free(&r);

		/* The connection from before the reload still echoes. */
		echo_bytes(fd, 5000, (uint32_t)step + 100);
		sent += 5000;
		int ufd = h_udp("127.0.0.1", e->ports[1]);
		char d[100], back[100];
		h_fill_random(d, sizeof(d), (uint32_t)step);
		h_send_all(ufd, d, sizeof(d));
		assert_int_equal(h_recv_exact(ufd, back, sizeof(back), 3000), sizeof(back));
		close(ufd);
		sent += sizeof(d);

		if (step == 5) {
			/* A worker bumps a counter just after its system call: the
			 * client may see its echo a moment before.  Let the counts
			 * catch up, then kill every worker without a chance to say
			 * anything, connections open. */
			uint64_t end = h_now_ms() + 3000;
			for (;;) {
				char *page = scrape(mport);
				double out = metric(page, "echod_bytes_echoed_total");
				double in = metric(page, "echod_bytes_received_total");
				free(page);
				if ((in == (double)sent && out == (double)sent) || h_now_ms() > end)
					break;
			}
			pid_t kids[64];
			int n = h_children(e->pid, kids, 64);
			assert_true(n >= 1);
			for (int i = 0; i < n; i++)
				kill(kids[i], SIGKILL);
			assert_true(h_log_wait(e, "killed by signal 9", 1, 5000));
			assert_true(h_wait_children(e, workers[step], 10000));
			close(open_fds[--nopen]);
			/* Every connection of the killed workers is gone. */
			while (nopen > 0)
				close(open_fds[--nopen]);
		}
		char *now = scrape(mport);
		assert_not_down(before, now, step);
		assert_true(metric(now, "echod_reloads_total{result=\"success\"}") == step + 1);
		free(before);
		before = now;
	}
	for (int i = 0; i < nopen; i++)
		close(open_fds[i]);
	char *end = scrape_when_idle(mport);
	assert_not_down(before, end, 10);
	assert_true(metric(end, "echod_bytes_received_total") == (double)sent);
	assert_true(metric(end, "echod_bytes_echoed_total") == (double)sent);
	assert_true(metric(end, "echod_connections_closed_total{reason=\"worker_exit\"}") >= 1);
	assert_true(metric(end, "echod_worker_restarts_total") >= 1);
	assert_true(metric(end, "echod_connections_active") == 0);
	/* accepted = closed + rejected + open, whatever happened. */
	if (metric_sum(end, "echod_connections_accepted_total") !=
	    metric_sum(end, "echod_connections_closed_total") +
	        metric_sum(end, "echod_connections_rejected_total"))
		fprintf(stderr, "# page:\n%s\n", end);
	assert_true(metric_sum(end, "echod_connections_accepted_total") ==
	            metric_sum(end, "echod_connections_closed_total") +
	                metric_sum(end, "echod_connections_rejected_total"));
	free(before);
	free(end);
	h_echod_free(e);
}

/*
 * Bug: from the moment the master read a handover offer until the answer
 * came, the connection was in nobody's count, so echod_connections_active
 * read one short for each offer in flight (up to 16 per old worker), and a
 * scrape during a reload saw open connections as gone; test_totals_never_
 * go_down's scrape_when_idle() could then compare the totals too early
 * (about one run in 150).  A new worker stopped in the middle of the
 * handover holds every offer in flight until it runs again.
 */
static void test_active_counts_handovers_in_flight(void **state)
{
	enum { N = 2000 };
	char config[1024];
	pid_t old[8], now[8], stopped = 0;
	(void)state;

	h_raise_nofile(N + 256);
	snprintf(config, sizeof(config),
	         "workers = 2;\nmax_connections = 10000;\n" CONFIG_HEAD LISTEN_TCP_UDP);
	struct echod *e = h_echod_start(config, NULL);
	int mport = metrics_port(e);
	int *fds = calloc(N, sizeof(*fds));
	assert_non_null(fds);
	for (int i = 0; i < N; i++) {
		fds[i] = h_connect("127.0.0.1", e->ports[0]);
		assert_true(fds[i] >= 0);
	}
	for (int i = 0; i < N; i++)
		echo_bytes(fds[i], 1, (uint32_t)i);
	char *page = scrape(mport);
	assert_true(metric(page, "echod_connections_active") == N);
	free(page);
	assert_int_equal(h_children(e->pid, old, 8), 2);

	snprintf(config, sizeof(config),
	         "workers = 1;\nmax_connections = 10000;\n" CONFIG_HEAD LISTEN_TCP_UDP);
	h_echod_rewrite(e, config);
	assert_int_equal(kill(e->pid, SIGHUP), 0);
	/* Stopped as soon as it serves, it has taken a few offers at most:
	 * handing N over takes tens of milliseconds. */
	uint64_t end = h_now_ms() + 5000;
	while (h_log_count(e, "worker 0 serving") < 2 && h_now_ms() < end)
		continue;
	int n = h_children(e->pid, now, 8);
	for (int i = 0; i < n; i++)
		if (now[i] != old[0] && now[i] != old[1])
			stopped = now[i];
	assert_true(stopped > 0);
	assert_int_equal(kill(stopped, SIGSTOP), 0);

	/* The old workers' offers reach the master and wait there. */
	for (int i = 0; i < 30; i++) {
		page = scrape(mport);
		double active = metric(page, "echod_connections_active");
		if (active != N)
			fprintf(stderr, "# %d: active %g, %d open\n", i, active, N);
		assert_true(active == N);
		free(page);
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
	/* Still in the middle of it: the old workers wait for answers. */
	assert_true(kill(old[0], 0) == 0 || kill(old[1], 0) == 0);
	assert_int_equal(kill(stopped, SIGCONT), 0);

	assert_true(h_wait_children(e, 1, 10000));
	page = scrape(mport);
	assert_true(metric(page, "echod_connections_active") == N);
	free(page);
	for (int i = 0; i < N; i += 97)
		echo_bytes(fds[i], 100, (uint32_t)i);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	free(fds);
	h_echod_free(e);
}

/* Where promtool is: $ECHOD_PROMTOOL, or promtool in PATH; NULL if none. */
static const char *promtool(void)
{
	static char path[4096];
	const char *env = getenv("ECHOD_PROMTOOL");
	const char *dirs = getenv("PATH");

	if (env != NULL && *env != '\0')
		return access(env, X_OK) == 0 ? env : NULL;
	for (const char *d = dirs; d != NULL && *d != '\0';) {
		size_t len = strcspn(d, ":");
		snprintf(path, sizeof(path), "%.*s/promtool", (int)len, d);
		if (access(path, X_OK) == 0)
			return path;
		d += len + (d[len] == ':');
	}
	return NULL;
}

/*
 * The real page, after some traffic, against the format: promtool (Debian's
 * prometheus package; dev.sh provides it) where there is one, and always the
 * harness's own validator, so that a build without promtool (the package's
 * own make check) still checks it.
 */
static void test_metrics_page_format(void **state)
{
	const char *tool = promtool();
	(void)state;

	/* A Unix listener whose name needs escaping in a label. */
	struct echod *e = h_echod_start(
	    "workers = 2;\n" CONFIG_HEAD "listen = ( { address = \"127.0.0.1\"; port = 0; },\n"
	    "           { address = \"127.0.0.1\"; port = 0; protocol = \"udp\"; },\n"
	    "           { path = \"@DIR@/echo \\\"sock\\\"\"; } );\n",
	    NULL);
	int fd = h_connect("127.0.0.1", e->ports[0]);
	echo_bytes(fd, 1000, 7);
	close(fd);
	char *page = scrape(metrics_port(e));
	assert_int_equal(h_promtext_validate(page), 16);
	if (tool == NULL) {
		fprintf(stderr,
		        "# no promtool (set ECHOD_PROMTOOL, or run ./dev.sh test): the page "
		        "was checked by the harness's validator only\n");
		free(page);
		h_echod_free(e);
		return;
	}
	char file[400];
	snprintf(file, sizeof(file), "%s/metrics.txt", e->dir);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fputs(page, f);
	fclose(f);
	/* promtool reads the page on its standard input. */
	char cmd[8192];
	snprintf(cmd, sizeof(cmd), "%s check metrics < '%s' > '%s.out' 2>&1", tool, file, file);
	int rc = system(cmd);
	snprintf(cmd, sizeof(cmd), "%s.out", file);
	char *out = h_file_read(cmd);
	if (rc != 0)
		fprintf(stderr, "# promtool check metrics: %s\n# page:\n%s\n", out, page);
	assert_int_equal(rc, 0);
	/* Not even a lint warning (it prints those and still exits 0). */
	assert_string_equal(out, "");
	free(out);
	free(page);
	h_echod_free(e);
}

/*
 * A scraper that sends a megabyte of header, then scrapers that connect and
 * say nothing and take every slot: the master still replaces a killed
 * worker at once, answers /metrics once a slot frees, and the oversized
 * request is answered (431) and closed, never left hanging.
 */
static void test_bad_scrapers_do_not_stop_supervision(void **state)
{
	int silent[8];
	(void)state;

	struct echod *e = h_echod_start("workers = 2;\n" CONFIG_HEAD LISTEN_TCP_UDP, NULL);
	int mport = metrics_port(e);
	/* The megabyte, sent without blocking: whatever the master takes. */
	int big = h_connect("127.0.0.1", mport);
	assert_true(big >= 0);
	fcntl(big, F_SETFL, O_NONBLOCK);
	char *mib = malloc(1 << 20);
	assert_non_null(mib);
	memset(mib, 'x', 1 << 20);
	memcpy(mib, "GET /metrics HTTP/1.1\r\nX-Big: ", 30);
	size_t off = 0;
	uint64_t end = h_now_ms() + 2000;
	while (off < (1u << 20) && h_now_ms() < end) {
		ssize_t n = send(big, mib + off, (1u << 20) - off, MSG_NOSIGNAL);
		if (n > 0)
			off += (size_t)n;
		else if (n == -1 && errno != EAGAIN)
			break; /* closed on us: the answer came at 8 KiB */
		else
			poll(NULL, 0, 1);
	}
	free(mib);
	/* Loopback buffers may take the whole megabyte before the master
	 * reads any: what counts is that it answers and closes. */
	assert_true(h_wait_eof(big, 3000) != 0);
	close(big);
	for (int i = 0; i < 8; i++) {
		silent[i] = h_connect("127.0.0.1", mport);
		assert_true(silent[i] >= 0);
	}

	pid_t kids[8];
	assert_int_equal(h_children(e->pid, kids, 8), 2);
	uint64_t t0 = h_now_ms();
	kill(kids[0], SIGKILL);
	assert_true(h_log_wait(e, "killed by signal 9", 1, 2000));
	assert_true(h_log_wait(e, "worker 0 started", 2, 2000) ||
	            h_log_wait(e, "worker 1 started", 2, 2000));
	assert_true(h_wait_children(e, 2, 2000));
	/* Well inside the scrapers' 5 s deadline: they did not hold it up. */
	assert_true(h_now_ms() - t0 < 3000);
	/* The new worker serves. */
	int fd = h_connect("127.0.0.1", e->ports[0]);
	echo_bytes(fd, 100, 3);
	close(fd);

	/* A real scrape gets through once the silent ones are timed out. */
	char *body;
	assert_int_equal(http(mport, "GET /metrics HTTP/1.0\r\n\r\n", &body, 9000), 200);
	assert_true(metric(body, "echod_worker_restarts_total") == 1);
	free(body);
	/* The silent ones were closed by the master at their deadline. */
	for (int i = 0; i < 8; i++) {
		assert_true(h_wait_eof(silent[i], 3000) != 0);
		close(silent[i]);
	}
	h_echod_free(e);
}

static void test_http_paths(void **state)
{
	char *body;
	(void)state;

	struct echod *e = h_echod_start(
	    "workers = 1;\nshutdown_timeout = 20;\n" CONFIG_HEAD LISTEN_TCP_UDP, NULL);
	int mport = metrics_port(e);
	assert_int_equal(http(mport, "GET /healthz HTTP/1.1\r\n\r\n", &body, 3000), 200);
	assert_string_equal(body, "serving\n");
	free(body);
	assert_int_equal(http(mport, "HEAD /metrics HTTP/1.1\r\n\r\n", &body, 3000), 200);
	assert_string_equal(body, "");
	free(body);
	assert_int_equal(http(mport, "GET /nope HTTP/1.1\r\n\r\n", &body, 3000), 404);
	free(body);
	assert_int_equal(http(mport, "POST /metrics HTTP/1.1\r\n\r\n", &body, 3000), 405);
	free(body);
	assert_int_equal(http(mport, "garbage\r\n\r\n", &body, 3000), 400);
	free(body);
	/* A graceful stop with a connection open lasts: /healthz says so. */
	int fd = h_connect("127.0.0.1", e->ports[0]);
	echo_bytes(fd, 10, 1);
	kill(e->pid, SIGTERM);
	assert_true(h_log_wait(e, "graceful stop", 1, 3000));
	assert_int_equal(http(mport, "GET /healthz HTTP/1.1\r\n\r\n", &body, 3000), 503);
	assert_string_equal(body, "stopping\n");
	free(body);
	close(fd);
	assert_int_equal(h_echod_signal_wait(e, 0, 10000), 0);
	h_echod_free(e);
}

/* drain_delay: between the stop and its drain's end the instance still
 * serves, and /healthz says 503 "draining" so that a balancer drops it. */
static void test_healthz_draining(void **state)
{
	char *body;
	(void)state;

	struct echod *e =
	    h_echod_start("workers = 1;\ndrain_delay = 30;\n" CONFIG_HEAD LISTEN_TCP_UDP, NULL);
	int mport = metrics_port(e);
	kill(e->pid, SIGTERM);
	assert_true(h_log_wait(e, "draining for 30 s", 1, 3000));
	assert_int_equal(http(mport, "GET /healthz HTTP/1.1\r\n\r\n", &body, 3000), 503);
	assert_string_equal(body, "draining\n");
	free(body);
	int fd = h_connect("127.0.0.1", e->ports[0]);
	echo_bytes(fd, 100, 4);
	close(fd);
	/* A second TERM ends the drain: a graceful stop. */
	assert_int_equal(h_echod_signal_wait(e, SIGTERM, 10000), 0);
	h_echod_free(e);
}

/* -s reload's exit status and words: a valid file, a syntax error, a port
 * somebody else holds, and new workers that die before serving. */
static void test_reload_outcomes(void **state)
{
	struct h_run r;
	char config[1024];
	(void)state;

	/* fail_epoll: a worker with the epoll backend dies at start. */
	struct h_opts opts = {.fail_epoll = 1};
	struct echod *e =
	    h_echod_start("workers = 2;\nbackend = \"poll\";\n" CONFIG_HEAD LISTEN_TCP_UDP, &opts);
	int mport = metrics_port(e);

	h_echod_rewrite(e, "workers = 3;\nbackend = \"poll\";\n" CONFIG_HEAD LISTEN_TCP_UDP);
	ctl(&r, e, "reload", NULL);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "reloaded: generation 2 serves with 3 workers\n");
	assert_string_equal(r.err, "");
	h_run_free(&r);

	/* A file that does not parse never reaches the master: -s reads it
	 * first (for control_socket) and exits 78 with FILE:LINE. */
	FILE *bad = fopen(e->conf, "w");
	assert_non_null(bad);
	fprintf(bad, "workers = 3;\nmax_pending = ;\n");
	fclose(bad);
	ctl(&r, e, "reload", NULL);
	assert_int_equal(r.status, EXITED(78));
	char want[512];
	snprintf(want, sizeof(want), "%s:2: syntax error", e->conf);
	if (strstr(r.err, want) == NULL)
		fail_msg("no \"%s\" in: %s", want, r.err);
	h_run_free(&r);

	/* A syntax error: FILE:LINE on stderr, exit 1; the master carries on.
	 * (-s reads its own copy of the file first and would refuse it with
	 * 78, so it is given the good one while the master rereads the bad.) */
	char good[400];
	snprintf(good, sizeof(good), "%s/good.conf", e->dir);
	h_echod_rewrite(e, "workers = 3;\nbackend = \"poll\";\n" CONFIG_HEAD LISTEN_TCP_UDP);
	assert_int_equal(rename(e->conf, good), 0);
	FILE *f = fopen(e->conf, "w");
	assert_non_null(f);
	fprintf(f, "workers = 3;\nbackend = \"poll\";\nmax_pending = ;\n");
	fclose(f);
	h_run_echod(&r, 60000, "-c", good, "-s", "reload", (char *)NULL);
	assert_int_equal(r.status, EXITED(1));
	snprintf(want, sizeof(want), "%s:3: syntax error", e->conf);
	if (strstr(r.err, want) == NULL)
		fail_msg("no \"%s\" in: %s", want, r.err);
	assert_non_null(strstr(r.err, "reload rejected"));
	assert_string_equal(r.out, "");
	h_run_free(&r);
	assert_int_equal(rename(good, e->conf), 0);

	/* A port somebody else holds (no SO_REUSEPORT): the address named. */
	int busy = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	socklen_t slen = sizeof(sin);
	assert_int_equal(bind(busy, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(busy, 1), 0);
	assert_int_equal(getsockname(busy, (struct sockaddr *)&sin, &slen), 0);
	int bport = ntohs(sin.sin_port);
	snprintf(config, sizeof(config),
	         "workers = 3;\nbackend = \"poll\";\n" CONFIG_HEAD
	         "listen = ( { address = \"127.0.0.1\"; port = 0; },\n"
	         "           { address = \"127.0.0.1\"; port = 0; protocol = \"udp\"; },\n"
	         "           { address = \"127.0.0.1\"; port = %d; } );\n",
	         bport);
	h_echod_rewrite(e, config);
	ctl(&r, e, "reload", NULL);
	assert_int_equal(r.status, EXITED(1));
	snprintf(want, sizeof(want),
	         "%s:8: cannot listen on tcp 127.0.0.1:%d: Address already in use", e->conf, bport);
	if (strstr(r.err, want) == NULL)
		fail_msg("no \"%s\" in: %s", want, r.err);
	assert_non_null(strstr(r.err, "reload rejected: generation 2 goes on serving"));
	h_run_free(&r);
	close(busy);
	/* The old configuration still serves. */
	int fd = h_connect("127.0.0.1", e->ports[0]);
	echo_bytes(fd, 100, 9);
	close(fd);

	/* New workers that die at start (epoll fails under the shim). */
	h_echod_rewrite(e, "workers = 3;\nbackend = \"epoll\";\n" CONFIG_HEAD LISTEN_TCP_UDP);
	ctl(&r, e, "reload", NULL);
	if (r.status != EXITED(1))
		fprintf(stderr, "# -s reload: %s%s\n", r.out, r.err);
	assert_int_equal(r.status, EXITED(1));
	assert_non_null(strstr(r.err, "reload failed: worker"));
	assert_non_null(strstr(r.err, "before serving"));
	h_run_free(&r);
	fd = h_connect("127.0.0.1", e->ports[0]);
	echo_bytes(fd, 100, 10);
	close(fd);

	char *page = scrape(mport);
	assert_true(metric(page, "echod_reloads_total{result=\"success\"}") == 1);
	assert_true(metric(page, "echod_reloads_total{result=\"rejected\"}") == 2);
	assert_true(metric(page, "echod_reloads_total{result=\"failed\"}") == 1);
	free(page);
	/* Back to a backend that starts: the generation that kept failing is
	 * superseded and the new one serves. */
	h_echod_rewrite(e, "workers = 1;\nbackend = \"poll\";\n" CONFIG_HEAD LISTEN_TCP_UDP);
	ctl(&r, e, "reload", NULL);
	assert_int_equal(r.status, 0);
	h_run_free(&r);
	h_echod_free(e);
}

static void test_status(void **state)
{
	struct h_run r;
	char want[128];
	(void)state;

	struct echod *e = h_echod_start("workers = 2;\n" CONFIG_HEAD LISTEN_TCP_UDP, NULL);
	int fd = h_connect("127.0.0.1", e->ports[0]);
	echo_bytes(fd, 4321, 5);

	ctl(&r, e, "status", NULL);
	assert_int_equal(r.status, 0);
	snprintf(want, sizeof(want), "echod %s, pid %ld, serving\n", PACKAGE_VERSION, (long)e->pid);
	assert_non_null(strstr(r.out, want));
	assert_non_null(strstr(r.out, "generation 1,"));
	/* "auto": io_uring where the kernel lets a worker set it up, else epoll. */
	assert_true(strstr(r.out, "workers: 2 serving (backend io_uring)\n") != NULL ||
	            strstr(r.out, "workers: 2 serving (backend epoll)\n") != NULL);
	assert_non_null(strstr(r.out, "  generation 1: 2 serving\n"));
	assert_non_null(strstr(r.out, "connections: 1 open, 1 accepted, 0 rejected, 0 closed\n"));
	assert_non_null(strstr(r.out, "bytes: 4321 received, 4321 echoed\n"));
	assert_non_null(strstr(r.out, "\nuptime "));
	h_run_free(&r);

	ctl(&r, e, "status", "-j");
	assert_int_equal(r.status, 0);
	snprintf(want, sizeof(want), "{\"pid\":%ld,\"version\":\"%s\",\"state\":\"serving\"",
	         (long)e->pid, PACKAGE_VERSION);
	assert_true(strncmp(r.out, want, strlen(want)) == 0);
	assert_non_null(strstr(r.out, "\"bytes\":{\"received\":4321,\"echoed\":4321}"));
	assert_non_null(strstr(r.out, "\"connections\":{\"open\":1,\"accepted\":1,"));
	assert_int_equal(strchr(r.out, '\n'), r.out + strlen(r.out) - 1);
	h_run_free(&r);
	close(fd);

	/* -j alone, or with another word: a usage error. */
	h_run_echod(&r, 10000, "-c", e->conf, "-s", "reload", "-j", (char *)NULL);
	assert_int_equal(r.status, EXITED(2));
	h_run_free(&r);

	/* The socket belongs to the master's user, and to nobody else. */
	char path[400];
	struct stat st;
	snprintf(path, sizeof(path), "%s/control.sock", e->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_uid, geteuid());

	/* -s stop returns once the master is exiting, its descriptors closed:
	 * nothing listens any more, so a new echod could start at once, and
	 * the process is gone a moment later. */
	ctl(&r, e, "stop", NULL);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "stopped\n");
	assert_int_equal(h_connect("127.0.0.1", e->ports[0]), -1);
	assert_int_equal(errno, ECONNREFUSED);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(h_echod_signal_wait(e, 0, 2000), 0);
	h_run_free(&r);
	h_echod_free(e);
}

/* Without control_socket, status cannot work; a control socket nobody
 * answers on is reported. */
static void test_status_needs_control_socket(void **state)
{
	struct h_run r;
	(void)state;

	struct echod *e = h_echod_start("workers = 1;\n" LISTEN_TCP_UDP, NULL);
	ctl(&r, e, "status", NULL);
	assert_int_equal(r.status, EXITED(1));
	assert_non_null(strstr(r.err, "-s status needs control_socket"));
	h_run_free(&r);
	h_echod_rewrite(e, "workers = 1;\ncontrol_socket = \"@DIR@/none.sock\";\n" LISTEN_TCP_UDP);
	ctl(&r, e, "status", NULL);
	assert_int_equal(r.status, EXITED(1));
	assert_non_null(strstr(r.err, "no master answers on"));
	h_run_free(&r);
	h_echod_free(e);
}

/* -s reopen over the control socket: the log file is opened again (made
 * anew after a rotation) before the answer comes. */
static void test_reopen(void **state)
{
	struct h_run r;
	char log[400], rotated[420];
	(void)state;

	struct echod *e =
	    h_echod_prepare("workers = 1;\ncontrol_socket = \"@DIR@/control.sock\";\n"
	                    "log = { target = \"@DIR@/echod.log\"; };\n" LISTEN_TCP_UDP);
	snprintf(log, sizeof(log), "%s/echod.log", e->dir);
	snprintf(rotated, sizeof(rotated), "%s.1", log);
	struct h_opts opts = {.no_wait = 1};
	h_echod_launch(e, &opts);
	assert_true(h_file_wait(log, " worker serves", 1, 10000));
	assert_int_equal(rename(log, rotated), 0);
	ctl(&r, e, "reopen", NULL);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "log reopened\n");
	h_run_free(&r);
	assert_int_equal(access(log, F_OK), 0);
	h_echod_free(e);
}

/* The inode of the listening socket on 127.0.0.1:port in /proc/net/tcp. */
static unsigned long tcp_listen_inode(int port)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[512];
	unsigned long inode = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned addr, lport, state;
		unsigned long ino;
		if (sscanf(line, " %*d: %x:%x %*x:%*x %x %*s %*s %*s %*d %*d %lu", &addr, &lport,
		           &state, &ino) == 4 &&
		    (int)lport == port && state == 0x0A)
			inode = ino;
	}
	fclose(f);
	return inode;
}

static unsigned long unix_inode(const char *path)
{
	FILE *f = fopen("/proc/net/unix", "r");
	char line[512];
	unsigned long inode = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *p = strstr(line, path);
		unsigned long ino;
		if (p != NULL && sscanf(line, "%*s %*s %*s %*s %*s %*s %lu", &ino) == 1 &&
		    strncmp(p, path, strlen(path)) == 0 && p[strlen(path)] == '\n')
			inode = ino;
	}
	fclose(f);
	return inode;
}

static int holds_socket(pid_t pid, unsigned long inode)
{
	char dir[64], link[64], target[128];
	int found = 0;

	for (int fd = 0; fd < 1024 && !found; fd++) {
		snprintf(dir, sizeof(dir), "/proc/%ld/fd/%d", (long)pid, fd);
		ssize_t n = readlink(dir, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		snprintf(link, sizeof(link), "socket:[%lu]", inode);
		found = strcmp(target, link) == 0;
	}
	return found;
}

/* The metrics listener, the control socket and their clients are the
 * master's: no worker holds them, not even one forked while a scraper and
 * a control client were connected. */
static void test_workers_hold_no_master_sockets(void **state)
{
	char path[400];
	(void)state;

	struct echod *e = h_echod_start("workers = 2;\n" CONFIG_HEAD LISTEN_TCP_UDP, NULL);
	int mport = metrics_port(e);
	int scraper = h_connect("127.0.0.1", mport);
	snprintf(path, sizeof(path), "%s/control.sock", e->dir);
	int control = h_connect_unix(path);
	assert_true(scraper >= 0 && control >= 0);
	/* New workers, forked while both are connected. */
	h_echod_rewrite(e, "workers = 3;\n" CONFIG_HEAD LISTEN_TCP_UDP);
	kill(e->pid, SIGHUP);
	assert_true(h_log_wait(e, "generation 2 serves with 3 workers", 1, 5000));
	unsigned long minode = tcp_listen_inode(mport), cinode = unix_inode(path);
	assert_true(minode != 0);
	assert_true(cinode != 0);
	assert_true(holds_socket(e->pid, minode));
	assert_true(holds_socket(e->pid, cinode));
	pid_t kids[8];
	int n = h_children(e->pid, kids, 8);
	assert_true(n >= 3);
	for (int i = 0; i < n; i++) {
		assert_false(holds_socket(kids[i], minode));
		assert_false(holds_socket(kids[i], cinode));
	}
	close(scraper);
	close(control);
	h_echod_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_counters_equal_bench_totals, h_teardown),
	    cmocka_unit_test_teardown(test_totals_never_go_down, h_teardown),
	    cmocka_unit_test_teardown(test_active_counts_handovers_in_flight, h_teardown),
	    cmocka_unit_test_teardown(test_metrics_page_format, h_teardown),
	    cmocka_unit_test_teardown(test_bad_scrapers_do_not_stop_supervision, h_teardown),
	    cmocka_unit_test_teardown(test_http_paths, h_teardown),
	    cmocka_unit_test_teardown(test_healthz_draining, h_teardown),
	    cmocka_unit_test_teardown(test_reload_outcomes, h_teardown),
	    cmocka_unit_test_teardown(test_status, h_teardown),
	    cmocka_unit_test_teardown(test_status_needs_control_socket, h_teardown),
	    cmocka_unit_test_teardown(test_reopen, h_teardown),
	    cmocka_unit_test_teardown(test_workers_hold_no_master_sockets, h_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
