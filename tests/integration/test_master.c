/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The master against the real echod: how many workers it keeps, replacing
 * them and backing off when they keep dying, reload (accepted and rejected),
 * every signal, the pid file and -s, privilege drop, start-up failures, the
 * command line and sd_notify.  Each test starts its own echod; the teardown
 * stops it even when the test failed.
 */
#include "acconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ev.h"
#include "harness.h"

#define LISTEN_TCP "listen = ( { address = \"127.0.0.1\"; port = 0; } );\n"

/* The exit status h_echod_signal_wait and h_run report for "exit(code)". */
#define EXITED(code) ((code) << 8)

#define MAX_FDS 8

/* What a test leaves for the teardown to clean up, whether it passed or not. */
struct fixture {
	struct echod *e;
	int fds[MAX_FDS];
	int nfds;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	struct echod *e = f->e;

	for (int i = 0; i < f->nfds; i++)
		close(f->fds[i]);
	free(f);
	h_echod_free(e);
	return 0;
}

/* Close fd at the end of the test. */
static int track(struct fixture *f, int fd)
{
	assert_true(fd >= 0);
	assert_true(f->nfds < MAX_FDS);
	f->fds[f->nfds++] = fd;
	return fd;
}

static struct echod *start(struct fixture *f, const char *config, const struct h_opts *opts)
{
	f->e = h_echod_start(config, opts);
	return f->e;
}

/* A graceful stop with nothing in flight: prompt, and exit status 0. */
static void stop_ok(struct echod *e)
{
	assert_int_equal(h_echod_signal_wait(e, SIGTERM, 5000), 0);
}

static int running(struct echod *e)
{
	return h_echod_signal_wait(e, 0, 0) == -1;
}

/* Wait for echod to exit on its own. */
static int wait_exit(struct echod *e, int timeout_ms)
{
	return h_echod_signal_wait(e, 0, timeout_ms);
}

/* n fresh connections to the first TCP port each get their echo: with n well
 * above the worker count, the kernel hands some to every SO_REUSEPORT socket. */
static void echo_works(struct echod *e, int n)
{
	char msg[64], in[64];

	assert_true(e->nports >= 1);
	for (int i = 0; i < n; i++) {
		int fd = h_connect("127.0.0.1", e->ports[0]);
		assert_true(fd >= 0);
		int len = snprintf(msg, sizeof(msg), "hello %d from pid %ld", i, (long)getpid());
		h_send_all(fd, msg, (size_t)len);
		size_t got = h_recv_exact(fd, in, (size_t)len, 3000);
		close(fd);
		assert_int_equal(got, (size_t)len);
		assert_memory_equal(in, msg, (size_t)len);
	}
}

static int contains(const pid_t *pids, int n, pid_t pid)
{
	for (int i = 0; i < n; i++)
		if (pids[i] == pid)
			return 1;
	return 0;
}

/* Gone for good: exited and reaped (a zombie still answers kill 0). */
static int gone(pid_t pid)
{
	return kill(pid, 0) == -1 && errno == ESRCH;
}

/* Exited, reaped or not (a zombie's state in /proc is Z). */
static int exited(pid_t pid)
{
	char path[64], buf[256];
	int zombie = 0;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	FILE *fp = fopen(path, "r");
	if (fp == NULL)
		return gone(pid);
	if (fgets(buf, sizeof(buf), fp) != NULL) {
		const char *p = strrchr(buf, ')');
		zombie = p != NULL && p[1] == ' ' && p[2] == 'Z';
	}
	fclose(fp);
	return zombie || gone(pid);
}

static int wait_gone(const pid_t *pids, int n, int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;
	int left;

	do {
		left = 0;
		for (int i = 0; i < n; i++)
			left += !gone(pids[i]);
		if (left == 0)
			return 1;
		poll(NULL, 0, 5);
	} while (h_now_ms() < end);
	return 0;
}

/* A file appears (echod created it), within timeout_ms. */
static int wait_exists(const char *path, int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;

	do {
		if (access(path, F_OK) == 0)
			return 1;
		poll(NULL, 0, 5);
	} while (h_now_ms() < end);
	return access(path, F_OK) == 0;
}

/* The number N of the first "N workers serve" (or "1 worker serves") line
 * in a log, or -1. */
static int workers_serving(const char *log_path)
{
	char *log = h_file_read(log_path);
	char *p = strstr(log, " workers serve");
	int n = -1;

	if (p == NULL)
		p = strstr(log, " worker serves");
	if (p != NULL) {
		while (p > log && p[-1] >= '0' && p[-1] <= '9')
			p--;
		n = atoi(p);
	}
	free(log);
	return n;
}

/* Send without reading until nothing moves for 200 ms: echod then holds
 * bytes it cannot echo, so a graceful retire cannot end this connection. */
static void stuff(int fd)
{
	static char junk[65536];
	size_t sent = 0;
	uint64_t last = h_now_ms();

	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (h_now_ms() - last < 200 && sent < (64u << 20)) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		ssize_t n = send(fd, junk, sizeof(junk), MSG_NOSIGNAL);
		if (n > 0) {
			sent += (size_t)n;
			last = h_now_ms();
		}
	}
	assert_true(sent > 0);
}

/* A TCP socket on 127.0.0.1 with a kernel-chosen port, listening, WITHOUT
 * SO_REUSEPORT: nobody else can bind that port. */
static int hold_port(int *port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static int affinity_cpus(void)
{
	cpu_set_t set;

	assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
	return CPU_COUNT(&set);
}

/* Is there a cgroup v2 CPU quota on our cgroup or above it? */
static int cgroup_quota(void)
{
	char *cg = h_file_read("/proc/self/cgroup");
	char path[512], *line = strstr(cg, "0::");
	int quota = 0;

	if (line != NULL && (line == cg || line[-1] == '\n')) {
		char *nl = strchr(line, '\n');
		if (nl != NULL)
			*nl = '\0';
		snprintf(path, sizeof(path), "/sys/fs/cgroup%s", line + 3);
		for (;;) {
			char file[600];
			snprintf(file, sizeof(file), "%s/cpu.max", path);
			char *max = h_file_read(file);
			if (max[0] >= '0' && max[0] <= '9')
				quota = 1;
			free(max);
			char *slash = strrchr(path, '/');
			if (quota || slash == NULL || strcmp(path, "/sys/fs/cgroup") == 0)
				break;
			*slash = '\0';
		}
	}
	free(cg);
	return quota;
}

/* ---- how many workers ------------------------------------------------- */

static void test_workers_exact(void **state)
{
	struct echod *e = start(*state, "workers = 3;\n" LISTEN_TCP, NULL);
	pid_t pids[16];

	assert_true(h_wait_children(e, 3, 2000));
	assert_int_equal(h_children(e->pid, pids, 16), 3);
	assert_int_equal(workers_serving(e->log), 3);
	for (int i = 0; i < 3; i++) {
		char needle[32];
		snprintf(needle, sizeof(needle), "worker %d serving", i);
		assert_int_equal(h_log_count(e, needle), 1);
	}
	echo_works(e, 12);
	stop_ok(e);
}

/* "auto" is the CPUs this process may use: the affinity mask, or fewer under
 * a cgroup CPU quota (which echod's own log then tells). */
static void test_workers_auto(void **state)
{
	struct echod *e = start(*state, "workers = \"auto\";\n" LISTEN_TCP, NULL);
	int cpus = affinity_cpus();
	int n = workers_serving(e->log);

	print_message("# %d CPUs in our affinity mask; echod says %d workers serve\n", cpus, n);
	assert_true(n >= 1 && n <= cpus);
	if (!cgroup_quota())
		assert_int_equal(n, cpus);
	assert_true(h_wait_children(e, n, 2000));
	echo_works(e, 4);
	stop_ok(e);
}

/* Run on one CPU, "auto" means one worker. */
static void test_workers_auto_affinity(void **state)
{
	struct h_opts opts = {.cpus = 1};
	struct echod *e = start(*state, "workers = \"auto\";\n" LISTEN_TCP, &opts);

	assert_int_equal(workers_serving(e->log), 1);
	assert_true(h_wait_children(e, 1, 2000));
	echo_works(e, 2);
	stop_ok(e);
}

/* ---- supervision ------------------------------------------------------ */

static void test_worker_killed_is_replaced(void **state)
{
	struct echod *e = start(*state, "workers = 2;\n" LISTEN_TCP, NULL);
	pid_t before[16], after[16];
	int n = 0;

	assert_true(h_wait_children(e, 2, 2000));
	assert_int_equal(h_children(e->pid, before, 16), 2);
	assert_int_equal(kill(before[0], SIGKILL), 0);

	uint64_t end = h_now_ms() + 2000;
	int replaced = 0;
	while (!replaced && h_now_ms() < end) {
		n = h_children(e->pid, after, 16);
		replaced =
		    n == 2 && !contains(after, n, before[0]) && contains(after, n, before[1]);
		if (!replaced)
			poll(NULL, 0, 5);
	}
	assert_true(replaced);
	assert_true(gone(before[0]));
	assert_int_equal(h_log_count(e, "killed by signal 9"), 1);
	/* The newcomer serves: every socket of the group gets an echo. */
	assert_true(h_log_wait(e, "serving with the", 3, 2000));
	echo_works(e, 12);
	assert_true(running(e));
	stop_ok(e);
}

/* Workers that exit at once: the master says so and backs off instead of
 * forking in a loop.  They die because no epoll instance can be made
 * (tests/lib/fail_epoll.so), as a worker whose backend cannot start would. */
static void test_worker_dying_backs_off(void **state)
{
	struct fixture *f = *state;
	struct h_opts opts = {.fail_epoll = 1, .no_wait = 1};
	struct echod *e = start(f, "workers = 2;\nbackend = \"epoll\";\n" LISTEN_TCP, &opts);

	assert_true(h_log_wait(e, "keep dying", 1, 3000));
	assert_true(h_log_count(e, "cannot start the epoll event backend") >= 1);
	long cpu0 = h_cpu_ms(e->pid);
	uint64_t t0 = h_now_ms();
	/* Measure over two seconds of wall time: a bounded wait, not a sync. */
	while (h_now_ms() - t0 < 2000)
		poll(NULL, 0, 50);
	long cpu = h_cpu_ms(e->pid) - cpu0;
	/* "started (pid" also matches the master's own start line. */
	int starts = h_log_count(e, "started (pid") - 1;
	print_message("# %d workers started in %llu ms; master used %ld ms of CPU\n", starts,
	              (unsigned long long)(h_now_ms() - t0), cpu);
	assert_true(starts < 20);
	assert_true(cpu < 200);
	assert_true(running(e));
	/* Nothing to retire: the stop is prompt (bug: the master, with no
	 * worker alive at TERM, sat out the whole stop timer, shutdown_timeout
	 * + margin, before it noticed it had nothing left to wait for). */
	uint64_t t1 = h_now_ms();
	int status = h_echod_signal_wait(e, SIGTERM, 3000);
	print_message("# TERM took %llu ms\n", (unsigned long long)(h_now_ms() - t1));
	assert_int_equal(status, 0);
}

/* ---- reload ----------------------------------------------------------- */

static void test_reload_workers_2_to_3(void **state)
{
	struct fixture *f = *state;
	struct echod *e = start(f, "workers = 2;\n" LISTEN_TCP, NULL);
	pid_t old[16], now[16];
	char msg[32], in[32];

	assert_true(h_wait_children(e, 2, 2000));
	assert_int_equal(h_children(e->pid, old, 16), 2);
	/* A client connected before the reload, in the middle of a dialogue. */
	int fd = track(f, h_connect("127.0.0.1", e->ports[0]));
	assert_true(h_echo_check(fd, "before", 6, 2000));

	/* "drain": the retiring worker keeps its connections (the default,
	 * handing them over, is tests/integration/test_handover.c's). */
	h_echod_rewrite(e, "workers = 3;\nreload_handover = \"drain\";\n" LISTEN_TCP);
	assert_int_equal(kill(e->pid, SIGHUP), 0);
	assert_true(h_log_wait(e, "reload: generation 2 serves with 3 workers", 1, 5000));
	assert_true(h_log_wait(e, "worker retiring", 2, 2000));
	assert_true(running(e));

	/* It keeps talking while its worker retires: every message is echoed
	 * and the connection stays open (each pause is shorter than the quiet
	 * period that would end it). */
	for (int i = 0; i < 10; i++) {
		assert_int_equal(h_wait_eof(fd, 100), 0);
		int len = snprintf(msg, sizeof(msg), "during %d", i);
		h_send_all(fd, msg, (size_t)len);
		assert_int_equal(h_recv_exact(fd, in, (size_t)len, 2000), (size_t)len);
		assert_memory_equal(in, msg, (size_t)len);
	}
	/* Once quiet, it is closed with EOF and the old generation is gone. */
	assert_int_equal(h_wait_eof(fd, 3000), 1);
	assert_true(wait_gone(old, 2, 3000));
	assert_true(h_wait_children(e, 3, 2000));
	int n = h_children(e->pid, now, 16);
	assert_int_equal(n, 3);
	for (int i = 0; i < n; i++)
		assert_false(contains(old, 2, now[i]));
	echo_works(e, 12);
	stop_ok(e);
}

/* A reload that arrives while the previous generation is still starting:
 * once the newest serves, every older generation retires, not only the one
 * before it.  Generation 2 never starts here (its backend, epoll, cannot be
 * created under tests/lib/fail_epoll.so), so generation 1 keeps serving
 * until generation 3 does.  (Kills the mutation that retires only
 * generation N-1: generation 1 would run forever beside generation 3.) */
static void test_reload_retires_every_older_generation(void **state)
{
	struct fixture *f = *state;
	struct h_opts opts = {.fail_epoll = 1};
	struct echod *e = start(f, "workers = 1;\nbackend = \"poll\";\n" LISTEN_TCP, &opts);
	pid_t first[16], now[16];

	assert_true(h_wait_children(e, 1, 2000));
	assert_int_equal(h_children(e->pid, first, 16), 1);
	h_echod_rewrite(e, "workers = 1;\nbackend = \"epoll\";\n" LISTEN_TCP);
	assert_int_equal(kill(e->pid, SIGHUP), 0);
	assert_true(h_log_wait(e, "starting generation 2", 1, 3000));
	assert_true(h_log_wait(e, "cannot start the epoll event backend", 1, 3000));
	/* Generation 1 still serves. */
	echo_works(e, 4);
	assert_false(gone(first[0]));

	h_echod_rewrite(e, "workers = 1;\nbackend = \"poll\";\n" LISTEN_TCP);
	assert_int_equal(kill(e->pid, SIGHUP), 0);
	assert_true(h_log_wait(e, "reload: generation 3 serves with 1 worker;", 1, 5000));
	assert_true(wait_gone(first, 1, 3000));
	assert_true(h_wait_children(e, 1, 3000));
	assert_int_equal(h_children(e->pid, now, 16), 1);
	assert_true(now[0] != first[0]);
	echo_works(e, 4);
	stop_ok(e);
}

/* A worker learns that its master is gone from EOF on its channel, with no
 * signal: it retires (its client gets the echo, then EOF) and exits. */
static void test_worker_outlives_no_master(void **state)
{
	struct fixture *f = *state;
	struct echod *e = start(f, "workers = 2;\n" LISTEN_TCP, NULL);
	pid_t kids[16];

	assert_true(h_wait_children(e, 2, 2000));
	assert_int_equal(h_children(e->pid, kids, 16), 2);
	int fd = track(f, h_connect("127.0.0.1", e->ports[0]));
	assert_true(h_echo_check(fd, "ping", 4, 2000));
	assert_int_equal(kill(e->pid, SIGKILL), 0);
	assert_true(h_echod_signal_wait(e, 0, 2000) != -1);
	assert_true(h_echo_check(fd, "still", 5, 2000));
	assert_int_equal(h_wait_eof(fd, 5000), 1);
	/* Orphans are reaped by whoever adopted them, which may take its time:
	 * a zombie has exited too.  (The first version waited for the reaping
	 * and failed under load.) */
	uint64_t end = h_now_ms() + 10000;
	while ((!exited(kids[0]) || !exited(kids[1])) && h_now_ms() < end)
		poll(NULL, 0, 5);
	assert_true(exited(kids[0]) && exited(kids[1]));
	assert_true(h_log_count(e, "the master is gone") >= 1);
}

/* A rejected reload changes nothing: same workers, still serving, and the
 * error in the log names FILE:LINE. */
static void reload_rejected(struct fixture *f, const char *broken, const char *message)
{
	struct echod *e = start(f, "workers = 2;\n" LISTEN_TCP, NULL);
	pid_t before[16], after[16];
	char where[400];

	assert_true(h_wait_children(e, 2, 2000));
	assert_int_equal(h_children(e->pid, before, 16), 2);
	h_echod_rewrite(e, broken);
	assert_int_equal(kill(e->pid, SIGHUP), 0);
	assert_true(h_log_wait(e, "reload rejected", 1, 5000));
	/* Every broken config puts its error on line 3. */
	snprintf(where, sizeof(where), "%s:3: %s", e->conf, message);
	assert_int_equal(h_log_count(e, where), 1);
	assert_int_equal(h_log_count(e, "reload accepted"), 0);
	assert_true(running(e));
	assert_int_equal(h_children(e->pid, after, 16), 2);
	assert_true(contains(after, 2, before[0]) && contains(after, 2, before[1]));
	echo_works(e, 8);
	/* Nothing was started or retired behind our back. */
	assert_int_equal(h_log_count(e, "started (pid"), 3);
	assert_int_equal(h_log_count(e, "retiring"), 0);
	stop_ok(e);
}

static void test_reload_syntax_error(void **state)
{
	reload_rejected(*state, "workers = 3;\n" LISTEN_TCP "idle_timeout = = 3;\n",
	                "syntax error");
}

static void test_reload_unknown_key(void **state)
{
	reload_rejected(*state, "workers = 3;\n" LISTEN_TCP "frobnicate = 1;\n",
	                "unknown key \"frobnicate\"");
}

/* ---- signals ---------------------------------------------------------- */

/* Two workers (their pids in pids) and a client that never reads, with its
 * echo stuck: a graceful stop would wait shutdown_timeout (10 s) for it. */
static struct echod *start_with_stuck_client(struct fixture *f, pid_t pids[2])
{
	struct echod *e = start(
	    f, "workers = 2;\nmax_pending = 65536;\nshutdown_timeout = 10;\n" LISTEN_TCP, NULL);

	assert_true(h_wait_children(e, 2, 2000));
	assert_int_equal(h_children(e->pid, pids, 2), 2);
	stuff(track(f, h_connect("127.0.0.1", e->ports[0])));
	return e;
}

/* QUIT cuts even a client graceful stop would wait for (up to 10 s). */
static void test_quit(void **state)
{
	struct fixture *f = *state;
	pid_t pids[2];
	struct echod *e = start_with_stuck_client(f, pids);
	uint64_t t0 = h_now_ms();
	assert_int_equal(h_echod_signal_wait(e, SIGQUIT, 1500), 0);
	print_message("# QUIT took %llu ms\n", (unsigned long long)(h_now_ms() - t0));
	/* The master reaps its workers before it exits. */
	assert_true(gone(pids[0]) && gone(pids[1]));
}

/* TERM and INT: a graceful stop, prompt with nothing in flight. */
static void graceful_stop(struct fixture *f, int signo)
{
	struct echod *e = start(f, "workers = 2;\n" LISTEN_TCP, NULL);
	pid_t pids[16];

	assert_true(h_wait_children(e, 2, 2000));
	assert_int_equal(h_children(e->pid, pids, 16), 2);
	assert_int_equal(h_echod_signal_wait(e, signo, 3000), 0);
	assert_int_equal(h_log_count(e, "graceful stop"), 1);
	assert_true(gone(pids[0]) && gone(pids[1]));
}

static void test_term(void **state)
{
	graceful_stop(*state, SIGTERM);
}

static void test_int(void **state)
{
	graceful_stop(*state, SIGINT);
}

/* A client that never reads holds a graceful stop for shutdown_timeout; a
 * second TERM makes it immediate. */
static void test_term_twice(void **state)
{
	struct fixture *f = *state;
	pid_t pids[2];
	struct echod *e = start_with_stuck_client(f, pids);
	assert_int_equal(kill(e->pid, SIGTERM), 0);
	assert_true(h_log_wait(e, "graceful stop", 1, 2000));
	/* Still waiting for that client... */
	assert_int_equal(h_echod_signal_wait(e, 0, 500), -1);
	/* ...until the second TERM. */
	uint64_t t0 = h_now_ms();
	assert_int_equal(h_echod_signal_wait(e, SIGTERM, 1500), 0);
	print_message("# second TERM took %llu ms\n", (unsigned long long)(h_now_ms() - t0));
	assert_true(gone(pids[0]) && gone(pids[1]));
}

/* The first TCP port in a log file's "listening on tcp 127.0.0.1:PORT". */
static int port_in(const char *log_path)
{
	char *log = h_file_read(log_path);
	char *p = strstr(log, "listening on tcp 127.0.0.1:");
	int port = p != NULL ? atoi(p + strlen("listening on tcp 127.0.0.1:")) : 0;

	free(log);
	return port;
}

/* logrotate: rename the file, USR1, and the master and every worker write to
 * a new file at the configured path. */
static void reopen(struct fixture *f, const char *extra)
{
	struct h_opts opts = {.no_wait = 1};
	char config[512], log[400], rotated[410];
	pid_t pids[16];

	snprintf(config, sizeof(config),
	         "workers = 2;\n%s"
	         "log = { target = \"@DIR@/echod.log\"; level = \"debug\"; };\n" LISTEN_TCP,
	         extra);
	struct echod *e = f->e = h_echod_prepare(config);
	/* Workers that dropped privileges may go through it. */
	assert_int_equal(chmod(e->dir, 0755), 0);
	h_echod_launch(e, &opts);
	snprintf(log, sizeof(log), "%s/echod.log", e->dir);
	snprintf(rotated, sizeof(rotated), "%s.1", log);
	assert_true(h_file_wait_serving(log, 10000));
	int port = port_in(log);
	assert_true(port > 0);
	assert_int_equal(h_children(e->pid, pids, 16), 2);

	assert_int_equal(rename(log, rotated), 0);
	assert_int_equal(kill(e->pid, SIGUSR1), 0);
	assert_true(wait_exists(log, 2000));

	/* New connections until each worker has logged one in the new file
	 * (the kernel spreads them over both workers' sockets). */
	char needle[2][48];
	for (int i = 0; i < 2; i++)
		snprintf(needle[i], sizeof(needle[i]), "%ld: connection", (long)pids[i]);
	int seen = 0;
	for (uint64_t end = h_now_ms() + 3000; !seen && h_now_ms() < end;) {
		int fd = h_connect("127.0.0.1", port);
		assert_true(fd >= 0);
		assert_true(h_echo_check(fd, "rotate", 6, 2000));
		close(fd);
		seen = h_file_count(log, needle[0]) > 0 && h_file_count(log, needle[1]) > 0;
		if (!seen)
			poll(NULL, 0, 10); /* poll interval */
	}
	if (!seen) {
		char *text = h_file_read(log);
		print_message("# new log file:\n%s\n", text);
		free(text);
	}
	assert_true(seen);
	/* The master's own lines follow. */
	assert_int_equal(h_echod_signal_wait(e, SIGTERM, 5000), 0);
	assert_int_equal(h_file_count(log, "echod stopped"), 1);
	assert_int_equal(h_file_count(rotated, "echod stopped"), 0);
	assert_int_equal(h_file_serving(log), 0);
}

static void test_reopen(void **state)
{
	reopen(*state, "");
}

/* The same with workers that dropped privileges: the master, still root,
 * creates the new file; the workers must write there too, not keep writing
 * to the rotated one. */
static void test_reopen_unprivileged_workers(void **state)
{
	if (geteuid() != 0 || getpwnam("nobody") == NULL) {
		print_message("# skipped: needs root and a user \"nobody\"\n");
		skip();
	}
	reopen(*state, "user = \"nobody\";\n");
}

/* ---- pid file and -s -------------------------------------------------- */

static void test_pid_file_and_signal_option(void **state)
{
	struct fixture *f = *state;
	struct echod *e =
	    start(f, "workers = 1;\npid_file = \"@DIR@/echod.pid\";\n" LISTEN_TCP, NULL);
	char pidfile[300];
	struct h_run r;

	snprintf(pidfile, sizeof(pidfile), "%s/echod.pid", e->dir);
	char *text = h_file_read(pidfile);
	long pid = atol(text);
	free(text);
	assert_int_equal(pid, (long)e->pid);

	h_run_echod(&r, 5000, "-c", e->conf, "-s", "reload", NULL);
	assert_int_equal(r.status, 0);
	h_run_free(&r);
	assert_true(h_log_wait(e, "reload: generation 2 serves with 1 worker;", 1, 5000));
	assert_true(running(e));

	h_run_echod(&r, 5000, "-c", e->conf, "-s", "stop", NULL);
	assert_int_equal(r.status, 0);
	h_run_free(&r);
	assert_int_equal(wait_exit(e, 5000), 0);
	assert_int_equal(access(pidfile, F_OK), -1);

	/* Nothing runs any more. */
	h_run_echod(&r, 5000, "-c", e->conf, "-s", "stop", NULL);
	print_message("# -s stop with no master: %s", r.err);
	assert_int_equal(r.status, EXITED(1));
	assert_non_null(strstr(r.err, "no master"));
	h_run_free(&r);
}

/*
 * -d: the command returns at once with status 0; the detached master writes
 * its pid file, serves, logs to its file, and stops on -s stop.
 */
static void test_daemon(void **state)
{
	struct fixture *f = *state;
	struct echod *e = f->e =
	    h_echod_prepare("workers = 1;\n"
	                    "pid_file = \"@DIR@/echod.pid\";\n"
	                    "log = { target = \"@DIR@/echod.log\"; };\n"
	                    "listen = ( { path = \"@DIR@/echod.sock\"; } );\n");
	char pidfile[300], logfile[300], sock[300];
	struct h_run r;

	snprintf(pidfile, sizeof(pidfile), "%s/echod.pid", e->dir);
	snprintf(logfile, sizeof(logfile), "%s/echod.log", e->dir);
	snprintf(sock, sizeof(sock), "%s/echod.sock", e->dir);
	/* The detached master is re-parented to us, so we can reap it. */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	h_run_echod(&r, 5000, "-d", "-c", e->conf, NULL);
	assert_int_equal(r.status, 0);
	h_run_free(&r);
	assert_true(h_file_wait_serving(logfile, 10000));
	char *text = h_file_read(pidfile);
	pid_t pid = (pid_t)atol(text);
	free(text);
	assert_true(pid > 0);
	e->pid = pid; /* our child now (subreaper): the teardown stops it if we fail */
	/* Detached: a session of its own. */
	assert_true(getsid(pid) != getsid(0));

	int fd = h_connect_unix(sock);
	assert_true(fd >= 0);
	assert_true(h_echo_check(fd, "detached", 8, 3000));
	close(fd);

	h_run_echod(&r, 5000, "-c", e->conf, "-s", "stop", NULL);
	assert_int_equal(r.status, 0);
	h_run_free(&r);
	int status = -1;
	for (uint64_t end = h_now_ms() + 10000; h_now_ms() < end;) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		poll(NULL, 0, 10);
	}
	e->status = status;
	assert_int_equal(status, 0);
	assert_int_equal(access(pidfile, F_OK), -1);
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
}

/* -s with no master: no pid file, a stale one, or no pid_file key at all. */
static void test_signal_option_no_master(void **state)
{
	struct fixture *f = *state;
	struct echod *e = f->e =
	    h_echod_prepare("workers = 1;\npid_file = \"@DIR@/echod.pid\";\n" LISTEN_TCP);
	char pidfile[300];
	struct h_run r;

	h_run_echod(&r, 5000, "-c", e->conf, "-s", "reload", NULL);
	assert_int_equal(r.status, EXITED(1));
	h_run_free(&r);

	/* The pid of a process that has ended. */
	pid_t dead = fork();
	assert_true(dead != -1);
	if (dead == 0)
		_exit(0);
	assert_int_equal(waitpid(dead, NULL, 0), dead);
	snprintf(pidfile, sizeof(pidfile), "%s/echod.pid", e->dir);
	FILE *fp = fopen(pidfile, "w");
	assert_non_null(fp);
	fprintf(fp, "%ld\n", (long)dead);
	assert_int_equal(fclose(fp), 0);
	h_run_echod(&r, 5000, "-c", e->conf, "-s", "stop", NULL);
	assert_int_equal(r.status, EXITED(1));
	h_run_free(&r);

	h_echod_rewrite(e, "workers = 1;\n" LISTEN_TCP);
	h_run_echod(&r, 5000, "-c", e->conf, "-s", "stop", NULL);
	assert_int_equal(r.status, EXITED(1));
	assert_non_null(strstr(r.err, "pid_file"));
	h_run_free(&r);
}

/* ---- privileges ------------------------------------------------------- */

/* The four ids of a "Uid:" or "Gid:" line of /proc/PID/status. */
static void proc_ids(pid_t pid, const char *key, long ids[4])
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	char *status = h_file_read(path);
	char *line = strstr(status, key);

	assert_non_null(line);
	assert_int_equal(
	    sscanf(line + strlen(key), "%ld %ld %ld %ld", &ids[0], &ids[1], &ids[2], &ids[3]), 4);
	free(status);
}

static void test_privilege_drop(void **state)
{
	struct passwd *pw = getpwnam("nobody");

	if (geteuid() != 0 || pw == NULL) {
		print_message("# skipped: needs root and a user \"nobody\"\n");
		skip();
	}
	long uid = (long)pw->pw_uid, gid = (long)pw->pw_gid;
	struct echod *e = start(*state, "workers = 2;\nuser = \"nobody\";\n" LISTEN_TCP, NULL);
	pid_t pids[16];
	long ids[4];

	assert_true(h_wait_children(e, 2, 2000));
	assert_int_equal(h_children(e->pid, pids, 16), 2);
	for (int i = 0; i < 2; i++) {
		proc_ids(pids[i], "\nUid:", ids);
		for (int j = 0; j < 4; j++)
			assert_int_equal(ids[j], uid);
		proc_ids(pids[i], "\nGid:", ids);
		for (int j = 0; j < 4; j++)
			assert_int_equal(ids[j], gid);
		/* No supplementary group of root's is left behind. */
		char path[64], expect[32];
		snprintf(path, sizeof(path), "/proc/%ld/status", (long)pids[i]);
		snprintf(expect, sizeof(expect), "\nGroups:\t%ld \n", gid);
		assert_int_equal(h_file_count(path, expect), 1);
	}
	proc_ids(e->pid, "\nUid:", ids);
	for (int j = 0; j < 4; j++)
		assert_int_equal(ids[j], 0);
	echo_works(e, 8);
	stop_ok(e);
}

static void test_unknown_user(void **state)
{
	if (geteuid() != 0) {
		print_message("# skipped: user applies only when started as root\n");
		skip();
	}
	struct h_opts opts = {.no_wait = 1};
	struct echod *e =
	    start(*state, "workers = 1;\nuser = \"no-such-user-echod\";\n" LISTEN_TCP, &opts);

	assert_int_equal(wait_exit(e, 5000), EXITED(1));
	assert_int_equal(h_log_count(e, "unknown user 'no-such-user-echod'"), 1);
	assert_int_equal(h_file_serving(e->log), 0);
}

/* ---- start-up failures and the command line --------------------------- */

static void test_port_in_use(void **state)
{
	struct fixture *f = *state;
	struct h_opts opts = {.no_wait = 1};
	char config[256], where[64];
	int port;

	track(f, hold_port(&port));
	snprintf(config, sizeof(config),
	         "workers = 1;\nlisten = ( { address = \"127.0.0.1\"; port = %d; } );\n", port);
	struct echod *e = start(f, config, &opts);
	assert_int_equal(wait_exit(e, 5000), EXITED(1));
	snprintf(where, sizeof(where), "127.0.0.1:%d", port);
	if (h_log_count(e, where) != 1) {
		char *log = h_file_read(e->log);
		print_message("# log:\n%s\n", log);
		free(log);
	}
	assert_int_equal(h_log_count(e, where), 1);
	assert_int_equal(h_file_serving(e->log), 0);
}

static void test_bad_configs(void **state)
{
	static const struct {
		const char *config; /* the error is on line 2 */
		const char *message;
	} cases[] = {
	    {"workers = 1;\nidle_timeout = = 3;\n" LISTEN_TCP, "syntax error"},
	    {"workers = 1;\nfrobnicate = 1;\n" LISTEN_TCP, "unknown key \"frobnicate\""},
	    {"backend = \"auto\";\nworkers = 0;\n" LISTEN_TCP, "workers: 0 is out of range"},
	    {"workers = 1;\nidle_timeout = \"long\";\n" LISTEN_TCP,
	     "idle_timeout: expected an integer"},
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct echod *e = f->e = h_echod_prepare(cases[i].config);
		char where[400];
		struct h_run r;

		snprintf(where, sizeof(where), "%s:2: %s", e->conf, cases[i].message);
		/* The real start, then the check: both refuse, the same way. */
		h_run_echod(&r, 5000, "-c", e->conf, NULL);
		print_message("# %s", r.err);
		assert_int_equal(r.status, EXITED(78));
		assert_non_null(strstr(r.err, where));
		h_run_free(&r);
		h_run_echod(&r, 5000, "-t", "-c", e->conf, NULL);
		assert_int_equal(r.status, EXITED(78));
		assert_non_null(strstr(r.err, where));
		assert_string_equal(r.out, "");
		h_run_free(&r);
		f->e = NULL;
		h_echod_free(e);
	}
}

/* -t checks and opens nothing: the port is held by us without SO_REUSEPORT
 * and the Unix socket is not created. */
static void test_check_option(void **state)
{
	struct fixture *f = *state;
	char config[512], expect[400], sock[300];
	int port;

	track(f, hold_port(&port));
	snprintf(config, sizeof(config),
	         "workers = 2;\nlisten = (\n  { address = \"127.0.0.1\"; port = %d; },\n"
	         "  { path = \"@DIR@/echod.sock\"; }\n);\n",
	         port);
	struct echod *e = f->e = h_echod_prepare(config);
	struct h_run r;

	h_run_echod(&r, 5000, "-t", "-c", e->conf, NULL);
	assert_int_equal(r.status, 0);
	snprintf(expect, sizeof(expect), "%s: ok\n", e->conf);
	assert_string_equal(r.out, expect);
	assert_string_equal(r.err, "");
	h_run_free(&r);
	snprintf(sock, sizeof(sock), "%s/echod.sock", e->dir);
	assert_int_equal(access(sock, F_OK), -1);
}

static void test_command_line(void **state)
{
	(void)state;
	struct h_run r;
	char version[256];
	size_t len;

	/* The version line, then the backends ev.c built, in its order. */
	len = (size_t)snprintf(version, sizeof(version), "echod " PACKAGE_VERSION "\nbackends:");
	for (size_t i = 0; ev_backend_name(i) != NULL; i++)
		len += (size_t)snprintf(version + len, sizeof(version) - len, " %s",
		                        ev_backend_name(i));
	assert_true(len + 1 < sizeof(version));
	strcat(version, "\n");
	h_run_echod(&r, 5000, "-V", NULL);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, version);
	h_run_free(&r);
	h_run_echod(&r, 5000, "--version", NULL);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, version);
	h_run_free(&r);

	h_run_echod(&r, 5000, "-h", NULL);
	assert_int_equal(r.status, 0);
	assert_true(strncmp(r.out, "usage: echod", 12) == 0);
	assert_string_equal(r.err, "");
	h_run_free(&r);

	/* Bad command lines: 2, usage on stderr, nothing on stdout. */
	static const char *const bad[][3] = {
	    {"-x", NULL, NULL},
	    {"--no-such-option", NULL, NULL},
	    {"-c", "/nonexistent/echod.conf", "stray"},
	    {"-s", "bogus", NULL},
	    {"-c", NULL, NULL},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		h_run_echod(&r, 5000, bad[i][0], bad[i][1], bad[i][2], NULL);
		assert_int_equal(r.status, EXITED(2));
		assert_string_equal(r.out, "");
		assert_true(strlen(r.err) > 0);
		h_run_free(&r);
	}
}

/* ---- sd_notify -------------------------------------------------------- */

/*
 * The next state message on the notify socket (one with READY=1,
 * RELOADING=1 or STOPPING=1; STATUS= alone may come in between) must carry
 * `want`.  Returns it (static).
 */
static const char *expect_notify(int fd, const char *want, int timeout_ms)
{
	static char msg[1024];
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		uint64_t now = h_now_ms();
		if (now >= end)
			fail_msg("no notify message with %s within %d ms", want, timeout_ms);
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, (int)(end - now)) <= 0)
			continue;
		ssize_t n = recv(fd, msg, sizeof(msg) - 1, 0);
		assert_true(n >= 0);
		msg[n] = '\0';
		if (strstr(msg, "READY=1") == NULL && strstr(msg, "RELOADING=1") == NULL &&
		    strstr(msg, "STOPPING=1") == NULL)
			continue;
		if (strstr(msg, want) == NULL)
			fail_msg("expected %s, got \"%s\"", want, msg);
		return msg;
	}
}

static uint64_t monotonic_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* RELOADING=1 must come with MONOTONIC_USEC= taken at the reload. */
static void expect_reloading(int fd, uint64_t since)
{
	const char *msg = expect_notify(fd, "RELOADING=1", 5000);
	const char *usec = strstr(msg, "MONOTONIC_USEC=");

	assert_non_null(usec);
	unsigned long long t = strtoull(usec + strlen("MONOTONIC_USEC="), NULL, 10);
	assert_true(t >= since && t <= monotonic_usec());
}

static void test_notify(void **state)
{
	struct fixture *f = *state;
	struct echod *e = f->e = h_echod_prepare("workers = 2;\n" LISTEN_TCP);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	static char env[sizeof(sun.sun_path) + 16];
	char mainpid[32];

	int fd = track(f, socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	char path[300];
	snprintf(path, sizeof(path), "%s/notify.sock", e->dir);
	assert_true(strlen(path) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	snprintf(env, sizeof(env), "NOTIFY_SOCKET=%s", sun.sun_path);
	struct h_opts opts = {.env = env};
	h_echod_launch(e, &opts);

	const char *msg = expect_notify(fd, "READY=1", 5000);
	snprintf(mainpid, sizeof(mainpid), "MAINPID=%ld", (long)e->pid);
	assert_non_null(strstr(msg, mainpid));

	/* An accepted reload: READY=1 once the new generation serves. */
	h_echod_rewrite(e, "workers = 3;\n" LISTEN_TCP);
	uint64_t t0 = monotonic_usec();
	assert_int_equal(kill(e->pid, SIGHUP), 0);
	expect_reloading(fd, t0);
	expect_notify(fd, "READY=1", 5000);
	assert_int_equal(h_log_count(e, "reload: generation 2 serves with 3 workers"), 1);

	/* A rejected one: READY=1 at once, the old configuration running. */
	h_echod_rewrite(e, "workers = 3;\nfrobnicate = 1;\n" LISTEN_TCP);
	t0 = monotonic_usec();
	assert_int_equal(kill(e->pid, SIGHUP), 0);
	expect_reloading(fd, t0);
	expect_notify(fd, "READY=1", 5000);
	assert_int_equal(h_log_count(e, "reload rejected"), 1);

	assert_int_equal(kill(e->pid, SIGTERM), 0);
	expect_notify(fd, "STOPPING=1", 5000);
	assert_int_equal(wait_exit(e, 5000), 0);
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_workers_exact),
	    TEST(test_workers_auto),
	    TEST(test_workers_auto_affinity),
	    TEST(test_worker_killed_is_replaced),
	    TEST(test_worker_dying_backs_off),
	    TEST(test_reload_workers_2_to_3),
	    TEST(test_reload_retires_every_older_generation),
	    TEST(test_worker_outlives_no_master),
	    TEST(test_reload_syntax_error),
	    TEST(test_reload_unknown_key),
	    TEST(test_quit),
	    TEST(test_term),
	    TEST(test_int),
	    TEST(test_term_twice),
	    TEST(test_reopen),
	    TEST(test_reopen_unprivileged_workers),
	    TEST(test_pid_file_and_signal_option),
	    TEST(test_signal_option_no_master),
	    TEST(test_daemon),
	    TEST(test_privilege_drop),
	    TEST(test_unknown_user),
	    TEST(test_port_in_use),
	    TEST(test_bad_configs),
	    TEST(test_check_option),
	    TEST(test_command_line),
	    TEST(test_notify),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
