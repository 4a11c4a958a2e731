/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the pid file and its lock (src/pidfile.c): the parser; one
 * lock per file, kept across fork() as long as a copy is open; what `echod
 * -s` may signal (pidfile_check): only a holder of the lock that the file
 * names, never a stale file's pid, never pid 1; and removal of only the file
 * that was locked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "pidfile.h"

struct dir {
	char path[64];
	char pidfile[96];
	char other[96];
};

static int setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return -1;
	snprintf(d->path, sizeof(d->path), "/tmp/test_pidfile.XXXXXX");
	if (mkdtemp(d->path) == NULL) {
		free(d);
		return -1;
	}
	snprintf(d->pidfile, sizeof(d->pidfile), "%s/echod.pid", d->path);
	snprintf(d->other, sizeof(d->other), "%s/other", d->path);
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct dir *d = *state;

	unlink(d->pidfile);
	unlink(d->other);
	rmdir(d->path);
	free(d);
	return 0;
}

static void write_text(const char *path, const char *text)
{
	FILE *out = fopen(path, "w");

	assert_non_null(out);
	fputs(text, out);
	assert_int_equal(fclose(out), 0);
}

static void test_parse(void **state)
{
	static const char *const bad[] = {
	    "",      "\n",    "abc\n", "12x\n", "-5\n",         "+5\n",
	    " 5\n",  "5 \n",  "0\n",   "00\n",  "2147483648\n", "99999999999999999999\n",
	    "5\n\n", "5\r\n", "007\n", /* a master never writes a leading zero */
	};
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pidfile_parse(bad[i], strlen(bad[i])), -1);
	assert_int_equal(pidfile_parse("42", 2), 42);
	assert_int_equal(pidfile_parse("42\n", 3), 42);
	assert_int_equal(pidfile_parse("1\n", 2), 1);
	assert_int_equal(pidfile_parse("2147483647\n", 11), INT_MAX);
	/* The length counts, not a NUL: bytes past it are not read. */
	assert_int_equal(pidfile_parse("123456", 3), 123);
}

/* pidfile_read: ENOENT without a file, EINVAL without a pid in it. */
static void test_read(void **state)
{
	struct dir *d = *state;

	errno = 0;
	assert_int_equal(pidfile_read(d->pidfile), -1);
	assert_int_equal(errno, ENOENT);
	write_text(d->pidfile, "12x\n");
	errno = 0;
	assert_int_equal(pidfile_read(d->pidfile), -1);
	assert_int_equal(errno, EINVAL);
	write_text(d->pidfile, "");
	assert_int_equal(pidfile_read(d->pidfile), -1);
	assert_int_equal(errno, EINVAL);
	write_text(d->pidfile, "42");
	assert_int_equal(pidfile_read(d->pidfile), 42);
}

/* Locked, written, read back, checked as running, removed at release. */
static void test_lock_write_release(void **state)
{
	struct dir *d = *state;
	struct pidfile pf = PIDFILE_NONE;
	pid_t holder = -1, pid;
	struct stat st;

	write_text(d->pidfile, "12345\n"); /* a stale one is taken over */
	assert_int_equal(pidfile_lock(&pf, d->pidfile, &holder), 0);
	assert_int_equal(holder, 0);
	/* Emptied at once: until the write, it names nobody. */
	assert_int_equal(stat(d->pidfile, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(pidfile_write(&pf), 0);
	assert_int_equal(pidfile_read(d->pidfile), getpid());
	assert_true(pidfile_same(&pf, d->pidfile));
	assert_int_equal(pidfile_check(d->pidfile, &pid), PIDFILE_RUNNING);
	assert_int_equal(pid, getpid());

	pidfile_release(&pf);
	assert_int_equal(pf.fd, -1);
	assert_int_equal(access(d->pidfile, F_OK), -1);
	assert_int_equal(pidfile_check(d->pidfile, &pid), PIDFILE_ABSENT);
	assert_int_equal(errno, ENOENT);
	pidfile_release(&pf); /* harmless twice */
}

/* A second lock on the same file fails, even from the same process (open
 * file description locks), and says who holds it. */
static void test_second_lock_refused(void **state)
{
	struct dir *d = *state;
	struct pidfile a = PIDFILE_NONE, b = PIDFILE_NONE;
	pid_t holder = -1;

	assert_int_equal(pidfile_lock(&a, d->pidfile, &holder), 0);
	assert_int_equal(pidfile_lock(&b, d->pidfile, &holder), -1);
	assert_int_equal(errno, EWOULDBLOCK);
	assert_int_equal(holder, 0); /* not written yet */
	assert_int_equal(pidfile_write(&a), 0);
	assert_int_equal(pidfile_lock(&b, d->pidfile, &holder), -1);
	assert_int_equal(errno, EWOULDBLOCK);
	assert_int_equal(holder, getpid());
	assert_int_equal(b.fd, -1);
	/* The refused attempt left the file alone. */
	assert_int_equal(pidfile_read(d->pidfile), getpid());
	pidfile_release(&a);
	assert_int_equal(pidfile_lock(&b, d->pidfile, &holder), 0);
	pidfile_release(&b);
}

/* A file nobody locks is stale, whatever it names: a live process (our
 * parent), pid 1, or nothing. */
static void test_stale(void **state)
{
	struct dir *d = *state;
	char text[32];
	pid_t pid;

	snprintf(text, sizeof(text), "%ld\n", (long)getppid());
	write_text(d->pidfile, text);
	assert_int_equal(pidfile_check(d->pidfile, &pid), PIDFILE_STALE);
	assert_int_equal(pid, getppid());
	write_text(d->pidfile, "1\n");
	assert_int_equal(pidfile_check(d->pidfile, &pid), PIDFILE_STALE);
	assert_int_equal(pid, 1);
	write_text(d->pidfile, "junk");
	assert_int_equal(pidfile_check(d->pidfile, &pid), PIDFILE_STALE);
	assert_int_equal(pid, 0);
}

/* Locked, but naming a process that does not hold it (pid 1, our parent):
 * never to be signalled. */
static void test_foreign(void **state)
{
	struct dir *d = *state;
	struct pidfile pf = PIDFILE_NONE;
	char text[32];
	pid_t holder, pid;
	int len;

	assert_int_equal(pidfile_lock(&pf, d->pidfile, &holder), 0);
	assert_int_equal(pwrite(pf.fd, "1\n", 2, 0), 2);
	assert_int_equal(pidfile_check(d->pidfile, &pid), PIDFILE_FOREIGN);
	assert_int_equal(pid, 1);
	len = snprintf(text, sizeof(text), "%ld\n", (long)getppid());
	assert_int_equal(ftruncate(pf.fd, 0), 0);
	assert_int_equal(pwrite(pf.fd, text, (size_t)len, 0), len);
	assert_int_equal(pidfile_check(d->pidfile, &pid), PIDFILE_FOREIGN);
	assert_int_equal(pid, getppid());
	pidfile_release(&pf);
}

/* A master between its lock and its first write: -s waits for the pid, a
 * bounded time, and takes it once written. */
static void test_check_waits_for_the_write(void **state)
{
	struct dir *d = *state;
	struct pidfile pf = PIDFILE_NONE;
	pid_t holder, pid;
	uint64_t t0;

	assert_int_equal(pidfile_lock(&pf, d->pidfile, &holder), 0);
	/* Never written: after its wait, -s finds nobody named. */
	t0 = clock_mono_ms();
	assert_int_equal(pidfile_check(d->pidfile, &pid), PIDFILE_FOREIGN);
	assert_int_equal(pid, 0);
	assert_true(clock_mono_ms() - t0 >= 900);
	assert_true(clock_mono_ms() - t0 < 3000);

	/* Written 100 ms into the wait (by a child, through the shared open
	 * file): taken as soon as it is there. */
	pid_t child = fork();
	assert_true(child != -1);
	if (child == 0) {
		char text[32];
		struct timespec ts = {0, 100 * 1000000L};
		nanosleep(&ts, NULL);
		int len = snprintf(text, sizeof(text), "%ld\n", (long)getppid());
		_exit(pwrite(pf.fd, text, (size_t)len, 0) == len ? 0 : 1);
	}
	t0 = clock_mono_ms();
	assert_int_equal(pidfile_check(d->pidfile, &pid), PIDFILE_RUNNING);
	assert_int_equal(pid, getpid());
	assert_true(clock_mono_ms() - t0 < 900);
	int status;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_int_equal(status, 0);
	pidfile_release(&pf);
}

/*
 * The lock lives as long as any copy of the descriptor: a master that
 * detaches (fork, and the parent exits) keeps it; a worker that forgets its
 * copy does not take it away from the master.
 */
static void test_lock_across_fork(void **state)
{
	struct dir *d = *state;
	struct pidfile pf = PIDFILE_NONE, other = PIDFILE_NONE;
	pid_t holder;
	int go[2], status;
	char c = 'x';

	assert_int_equal(pidfile_lock(&pf, d->pidfile, &holder), 0);
	/* A "worker" forgets its copy and exits: the lock stays. */
	pid_t worker = fork();
	assert_true(worker != -1);
	if (worker == 0) {
		pidfile_forget(&pf);
		_exit(0);
	}
	assert_int_equal(waitpid(worker, &status, 0), worker);
	assert_int_equal(pidfile_lock(&other, d->pidfile, &holder), -1);
	assert_int_equal(errno, EWOULDBLOCK);

	/* A "detached master": the child keeps the lock after we forget ours,
	 * until it exits. */
	assert_int_equal(pipe(go), 0);
	pid_t child = fork();
	assert_true(child != -1);
	if (child == 0) {
		close(go[1]);
		_exit(read(go[0], &c, 1) == 1 ? 0 : 1);
	}
	close(go[0]);
	pidfile_forget(&pf);
	assert_int_equal(access(d->pidfile, F_OK), 0);
	assert_int_equal(pidfile_lock(&other, d->pidfile, &holder), -1);
	assert_int_equal(errno, EWOULDBLOCK);
	assert_int_equal(write(go[1], &c, 1), 1);
	close(go[1]);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_int_equal(pidfile_lock(&other, d->pidfile, &holder), 0);
	pidfile_release(&other);
}

/* Never through a symbolic link: a master started as root would truncate
 * whatever it points to. */
static void test_no_symlink(void **state)
{
	struct dir *d = *state;
	struct pidfile pf = PIDFILE_NONE;
	pid_t holder;
	struct stat st;

	write_text(d->other, "precious\n");
	assert_int_equal(symlink(d->other, d->pidfile), 0);
	assert_int_equal(pidfile_lock(&pf, d->pidfile, &holder), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(stat(d->other, &st), 0);
	assert_int_equal(st.st_size, 9);
	unlink(d->pidfile);
	/* Nor anything but a regular file. */
	assert_int_equal(mkfifo(d->pidfile, 0600), 0);
	assert_int_equal(pidfile_lock(&pf, d->pidfile, &holder), -1);
	assert_int_equal(errno, EINVAL);
}

/* Only the file that was locked is removed: one put in its place since (by
 * hand, or by another master after ours lost it) stays. */
static void test_release_only_ours(void **state)
{
	struct dir *d = *state;
	struct pidfile pf = PIDFILE_NONE;
	pid_t holder;

	assert_int_equal(pidfile_lock(&pf, d->pidfile, &holder), 0);
	assert_int_equal(pidfile_write(&pf), 0);
	write_text(d->other, "4242\n");
	assert_int_equal(rename(d->other, d->pidfile), 0);
	assert_false(pidfile_same(&pf, d->pidfile));
	pidfile_release(&pf);
	assert_int_equal(pidfile_read(d->pidfile), 4242);
	/* The same once the file is gone: nothing to remove, no error. */
	unlink(d->pidfile);
	assert_int_equal(pidfile_lock(&pf, d->pidfile, &holder), 0);
	unlink(d->pidfile);
	assert_false(pidfile_same(&pf, d->pidfile));
	pidfile_release(&pf);
	assert_int_equal(access(d->pidfile, F_OK), -1);
}

static void test_write_unwritable(void **state)
{
	struct dir *d = *state;
	struct pidfile pf = PIDFILE_NONE;
	char path[128];
	pid_t holder;

	snprintf(path, sizeof(path), "%s/missing/echod.pid", d->path);
	errno = 0;
	assert_int_equal(pidfile_lock(&pf, path, &holder), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(pf.fd, -1);
	assert_null(pf.path);
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_parse),
	    TEST(test_read),
	    TEST(test_lock_write_release),
	    TEST(test_second_lock_refused),
	    TEST(test_stale),
	    TEST(test_foreign),
	    TEST(test_check_waits_for_the_write),
	    TEST(test_lock_across_fork),
	    TEST(test_no_symlink),
	    TEST(test_release_only_ours),
	    TEST(test_write_unwritable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
