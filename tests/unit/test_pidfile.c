/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the pid file: write, read back, remove only our own, reject
 * what is not a pid, and fail cleanly when the file cannot be written.
 * close() is wrapped (-Wl,--wrap=close) so that a test can make it fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pidfile.h"

int __real_close(int fd);
int __wrap_close(int fd);

/* When set, the next close() releases the descriptor, as Linux does even when
 * close() fails, and then reports EIO, as it may for a delayed write error. */
static int close_fails;
static int failed_fd = -1;
static int closes_after_failure;

int __wrap_close(int fd)
{
	if (close_fails) {
		close_fails = 0;
		failed_fd = fd;
		__real_close(fd);
		errno = EIO;
		return -1;
	}
	if (fd == failed_fd)
		closes_after_failure++;
	return __real_close(fd);
}

struct dir {
	char path[64];
	char pidfile[96];
	char tmpfile[112];
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
	snprintf(d->tmpfile, sizeof(d->tmpfile), "%s.tmp", d->pidfile);
	close_fails = 0;
	failed_fd = -1;
	closes_after_failure = 0;
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct dir *d = *state;

	unlink(d->tmpfile);
	unlink(d->pidfile);
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

static void test_write_read_remove(void **state)
{
	struct dir *d = *state;

	assert_int_equal(pidfile_write(d->pidfile), 0);
	assert_int_equal(pidfile_read(d->pidfile), getpid());
	assert_int_equal(access(d->tmpfile, F_OK), -1);
	pidfile_remove(d->pidfile);
	assert_int_equal(access(d->pidfile, F_OK), -1);
}

/* Another process's file stays: a second echod that failed to start must not
 * delete the pid file of the one that runs. */
static void test_remove_keeps_other_pid(void **state)
{
	struct dir *d = *state;
	char text[32];

	snprintf(text, sizeof(text), "%ld\n", (long)getppid());
	write_text(d->pidfile, text);
	pidfile_remove(d->pidfile);
	assert_int_equal(pidfile_read(d->pidfile), getppid());
}

static void test_read_rejects(void **state)
{
	/* Empty, no number, trailing junk, not a valid pid, past INT_MAX. */
	static const char *const bad[] = {
	    "", "\n", "abc\n", "12x\n", "-5\n", "0\n", "99999999999\n",
	};
	struct dir *d = *state;
	size_t i;

	errno = 0;
	assert_int_equal(pidfile_read(d->pidfile), -1);
	assert_int_equal(errno, ENOENT);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_text(d->pidfile, bad[i]);
		errno = 0;
		assert_int_equal(pidfile_read(d->pidfile), -1);
		assert_int_equal(errno, EINVAL);
	}
	write_text(d->pidfile, "42");
	assert_int_equal(pidfile_read(d->pidfile), 42);
}

/*
 * Bug: when close() of the temporary file failed, pidfile_write closed the
 * same descriptor a second time in its error path (cppcheck: doubleFree), and
 * by then the number could belong to another file.  Now the write fails with
 * close()'s errno, the temporary file is gone, and the descriptor is closed
 * exactly once.
 */
static void test_close_failure_closes_once(void **state)
{
	struct dir *d = *state;

	close_fails = 1;
	errno = 0;
	assert_int_equal(pidfile_write(d->pidfile), -1);
	assert_int_equal(errno, EIO);
	assert_int_not_equal(failed_fd, -1);
	assert_int_equal(closes_after_failure, 0);
	assert_int_equal(access(d->tmpfile, F_OK), -1);
	assert_int_equal(access(d->pidfile, F_OK), -1);
}

static void test_write_unwritable(void **state)
{
	struct dir *d = *state;
	char path[128];

	snprintf(path, sizeof(path), "%s/missing/echod.pid", d->path);
	errno = 0;
	assert_int_equal(pidfile_write(path), -1);
	assert_int_equal(errno, ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_write_read_remove, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_keeps_other_pid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_rejects, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_close_failure_closes_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_unwritable, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
