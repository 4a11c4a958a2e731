/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A master nothing can take down (issue 16), against the real echod: a
 * reload whose config exits, hangs or stalls libconfig is rejected with the
 * reason in the log while the workers go on echoing, and -t says 78 in
 * bounded time; an outside killer of workers does not cause an outage.
 */
#include "acconfig.h"

#include <dirent.h>
#include <errno.h>
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
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define LISTEN_TCP   "listen = ( { address = \"127.0.0.1\"; port = 0; } );\n"
#define EXITED(code) ((code) << 8)

static int teardown(void **state)
{
	(void)state;
	return h_teardown(NULL);
}

static int running(struct echod *e)
{
	return h_echod_signal_wait(e, 0, 0) == -1;
}

/* One fresh connection gets its echo within timeout_ms. */
static int echo_once(struct echod *e, int timeout_ms)
{
	static const char msg[] = "are you there?";
	char in[sizeof(msg)];
	int fd = h_connect("127.0.0.1", e->ports[0]);

	if (fd < 0)
		return 0;
	int ok = send(fd, msg, sizeof(msg), MSG_NOSIGNAL) == (ssize_t)sizeof(msg) &&
	         h_recv_exact(fd, in, sizeof(msg), timeout_ms) == sizeof(msg) &&
	         memcmp(in, msg, sizeof(msg)) == 0;
	close(fd);
	return ok;
}

static void echo_works(struct echod *e, int n)
{
	for (int i = 0; i < n; i++)
		assert_true(echo_once(e, 3000));
}

static int contains(const pid_t *v, int n, pid_t pid)
{
	for (int i = 0; i < n; i++)
		if (v[i] == pid)
			return 1;
	return 0;
}

/*
 * Write `config` (with @DIR@) over a serving echod's file and HUP it: the
 * reload must be rejected with `reason` on the "reload rejected" line,
 * within the reader's deadline, and the same workers go on echoing.  Then
 * `echod -t` on the same file exits 78 in bounded time.
 */
static void rejected(struct echod *e, const char *config, const char *reason)
{
	pid_t before[8], after[8];
	char line[1400];

	assert_true(h_wait_children(e, 2, 2000));
	assert_int_equal(h_children(e->pid, before, 8), 2);
	int seen = h_log_count(e, "reload rejected");
	h_echod_rewrite(e, config);
	uint64_t t0 = h_now_ms();
	assert_int_equal(kill(e->pid, SIGHUP), 0);
	assert_true(h_log_wait(e, "reload rejected", seen + 1, 8000));
	print_message("# rejected %llu ms after HUP\n", (unsigned long long)(h_now_ms() - t0));
	snprintf(line, sizeof(line), "reload rejected: %s", reason);
	if (h_log_count(e, line) != 1) {
		char *log = h_file_read(e->log);
		fail_msg("no \"%s\" in the log:\n%s", line, log);
	}
	assert_true(running(e));
	assert_int_equal(h_children(e->pid, after, 8), 2);
	assert_true(contains(after, 2, before[0]) && contains(after, 2, before[1]));
	echo_works(e, 6);

	struct h_run r;
	t0 = h_now_ms();
	h_run_echod(&r, 15000, "-t", "-c", e->conf, NULL);
	uint64_t took = h_now_ms() - t0;
	print_message("# echod -t: status %#x in %llu ms\n", r.status, (unsigned long long)took);
	assert_int_equal(r.status, EXITED(78));
	assert_true(took < 8000);
	h_run_free(&r);
}

static struct echod *start2(void)
{
	return h_echod_start("workers = 2;\n" LISTEN_TCP, NULL);
}

/* Bug: libconfig's scanner called exit(2) in the master on an @include of
 * a directory; the master died and the service with it. */
static void test_include_directory(void **state)
{
	struct echod *e = start2();
	char dir[400], reason[1200];
	(void)state;

	snprintf(dir, sizeof(dir), "%s/echod.d", e->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(reason, sizeof(reason), "%s:3: @include \"%s\": not a regular file", e->conf, dir);
	rejected(e, "workers = 2;\n" LISTEN_TCP "@include \"@DIR@/echod.d\"\n", reason);
	rmdir(dir);
	assert_int_equal(h_echod_signal_wait(e, SIGTERM, 5000), 0);
}

/* Bug: an @include of a FIFO made the reload (and -t) hang. */
static void test_include_fifo(void **state)
{
	struct echod *e = start2();
	char fifo[400], reason[1200];
	(void)state;

	snprintf(fifo, sizeof(fifo), "%s/fifo", e->dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	snprintf(reason, sizeof(reason), "%s:3: @include \"%s\": not a regular file", e->conf,
	         fifo);
	rejected(e, "workers = 2;\n" LISTEN_TCP "@include \"@DIR@/fifo\"\n", reason);
	unlink(fifo);
	assert_int_equal(h_echod_signal_wait(e, SIGTERM, 5000), 0);
}

/* Bug: 116k distinct keys (1 MiB) kept libconfig busy for minutes in the
 * master, which reaped nothing and handled no signal meanwhile. */
static void test_include_huge(void **state)
{
	struct echod *e = start2();
	static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
	char path[400], reason[1200];
	(void)state;

	snprintf(path, sizeof(path), "%s/huge.conf", e->dir);
	FILE *out = fopen(path, "w");
	assert_non_null(out);
	for (int i = 0; i < 116000; i++)
		fprintf(out, "%c%c%c=1;\n", letters[i / 2704 % 52], letters[i / 52 % 52],
		        letters[i % 52]);
	assert_int_equal(fclose(out), 0);
	/* Two settings before the include: the 257th is on its line 255. */
	snprintf(reason, sizeof(reason), "%s:255: more than 256 settings in one group", path);
	rejected(e, "workers = 2;\n" LISTEN_TCP "@include \"@DIR@/huge.conf\"\n", reason);
	assert_int_equal(h_echod_signal_wait(e, SIGTERM, 5000), 0);
}

/* Bug: the 32-bit check skipped included files, and an escaped NUL in a
 * string passed. */
static void test_include_checked(void **state)
{
	struct echod *e = start2();
	char path[400], reason[1200];
	(void)state;

	snprintf(path, sizeof(path), "%s/wide.conf", e->dir);
	FILE *out = fopen(path, "w");
	assert_non_null(out);
	fputs("workers = 4294967298;\n", out);
	assert_int_equal(fclose(out), 0);
	snprintf(reason, sizeof(reason), "%s:1: integer 4294967298 does not fit in 32 bits", path);
	rejected(e, LISTEN_TCP "@include \"@DIR@/wide.conf\"\n", reason);

	snprintf(path, sizeof(path), "%s/nul.conf", e->dir);
	out = fopen(path, "w");
	assert_non_null(out);
	fputs("\npid_file = \"/tmp/a\\x00b\";\n", out);
	assert_int_equal(fclose(out), 0);
	snprintf(reason, sizeof(reason), "%s:2: string contains \\x00", path);
	rejected(e, "workers = 2;\n" LISTEN_TCP "@include \"@DIR@/nul.conf\"\n", reason);
	assert_int_equal(h_echod_signal_wait(e, SIGTERM, 5000), 0);
}

/* A worker's start time in clock ticks since boot (field 22 of stat). */
static unsigned long long start_time(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long t = 0;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	FILE *in = fopen(path, "r");
	if (in == NULL)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, in);
	fclose(in);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	/* After "pid (comm)": state is field 3, starttime field 22. */
	for (int field = 2; p != NULL && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p != NULL)
		t = strtoull(p + 1, NULL, 10);
	return t;
}

/*
 * Bug: kill -9 of a worker every 200 ms under load drove the respawn delay
 * to 10 s, and no worker ran 58% of the time.  Now a worker that served is
 * replaced at once: kill the longest-lived worker (one that serves) every
 * 200 ms for 10 s, and sample meanwhile whether a worker runs and whether
 * an echo comes back.
 */
static void test_outside_killer(void **state)
{
	struct echod *e = start2();
	pid_t kids[8];
	int samples = 0, served = 0, echoes = 0, echoed = 0, kills = 0;
	(void)state;

	assert_true(h_wait_children(e, 2, 2000));
	uint64_t t0 = h_now_ms(), next_kill = t0 + 200;
	while (h_now_ms() - t0 < 10000) {
		int n = h_children(e->pid, kids, 8);
		samples++;
		served += n > 0;
		if (h_now_ms() >= next_kill && n > 0) {
			pid_t oldest = kids[0];
			for (int i = 1; i < n; i++)
				if (start_time(kids[i]) < start_time(oldest))
					oldest = kids[i];
			kills += kill(oldest, SIGKILL) == 0;
			next_kill += 200;
		}
		if (samples % 5 == 0) {
			echoes++;
			echoed += echo_once(e, 1000);
		}
		poll(NULL, 0, 10);
	}
	print_message("# %d kills; a worker ran in %d of %d samples, %d of %d echoes came "
	              "back\n",
	              kills, served, samples, echoed, echoes);
	assert_true(kills >= 40);
	assert_true(served * 100 >= samples * 95);
	assert_true(echoed * 100 >= echoes * 95);
	assert_true(h_log_count(e, "killed by signal 9 (SIGKILL)") >= 40);
	assert_int_equal(h_log_count(e, "keep dying"), 0);
	assert_true(running(e));
	assert_true(h_wait_children(e, 2, 2000));
	echo_works(e, 6);
	assert_int_equal(h_echod_signal_wait(e, SIGTERM, 5000), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_include_directory, teardown),
	    cmocka_unit_test_teardown(test_include_fifo, teardown),
	    cmocka_unit_test_teardown(test_include_huge, teardown),
	    cmocka_unit_test_teardown(test_include_checked, teardown),
	    cmocka_unit_test_teardown(test_outside_killer, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
