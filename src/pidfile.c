/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Pid file with a lock.  The master locks the file for its whole life, so the
 * lock, not the number in the file, says whether a master runs: a second
 * instance finds it taken and refuses to start, and `echod -s` finds a file
 * nobody locks to be stale instead of signalling whatever process now has
 * that number.  The lock is an open file description lock (Linux; flock()
 * elsewhere): it is inherited across the fork of -d, and the workers close
 * their copy, so it ends with the master.
 */
#include "acconfig.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "pidfile.h"

/* How long -s waits for a locked but still empty file to name its master. */
#define CHECK_WAIT_MS 1000
#define CHECK_POLL_MS 10
/* Attempts to lock a file that its old master unlinks under us. */
#define LOCK_ATTEMPTS 3

/* Take the exclusive lock without waiting: 0, or -1 with errno. */
static int lock_exclusive(int fd)
{
#ifdef F_OFD_SETLK
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	if (errno == EACCES || errno == EAGAIN)
		errno = EWOULDBLOCK;
	return -1;
#else
	return flock(fd, LOCK_EX | LOCK_NB);
#endif
}

/* Whether another open file holds the lock: 1, 0, or -1 with errno.  The
 * test takes no lock where it can (F_OFD_GETLK), so it never makes a master
 * that starts at the same moment find its file taken. */
static int locked_by_other(int fd)
{
#ifdef F_OFD_GETLK
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

	if (fcntl(fd, F_OFD_GETLK, &fl) == -1)
		return -1;
	return fl.l_type != F_UNLCK;
#else
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		flock(fd, LOCK_UN);
		return 0;
	}
	return errno == EWOULDBLOCK ? 1 : -1;
#endif
}

pid_t pidfile_parse(const char *buf, size_t len)
{
	long long pid = 0;
	size_t i;

	if (len > 0 && buf[len - 1] == '\n')
		len--;
	/* As a master writes it: digits, no sign, no leading zero. */
	if (len == 0 || buf[0] == '0')
		return -1;
	for (i = 0; i < len; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return -1;
		pid = pid * 10 + (buf[i] - '0');
		if (pid > INT_MAX)
			return -1;
	}
	return pid > 0 ? (pid_t)pid : -1;
}

/* The pid the open file names, or 0 (empty, unreadable or not a pid). */
static pid_t fd_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf), 0);
	pid_t pid = n > 0 ? pidfile_parse(buf, (size_t)n) : -1;

	return pid > 0 ? pid : 0;
}

int pidfile_same(const struct pidfile *pf, const char *path)
{
	struct stat a, b;

	if (pf->fd == -1 || fstat(pf->fd, &a) == -1 || lstat(path, &b) == -1)
		return 0;
	return a.st_nlink > 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int pidfile_lock(struct pidfile *pf, const char *path, pid_t *holder)
{
	struct pidfile got = {.fd = -1, .path = strdup(path)};
	struct stat st;
	int saved;

	*holder = 0;
	if (got.path == NULL)
		return -1;
	for (int attempt = 1;; attempt++) {
		/* O_NOFOLLOW: a master started as root must not truncate
		 * whatever a link planted in its run directory points to. */
		got.fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (got.fd == -1)
			goto fail;
		if (fstat(got.fd, &st) == -1)
			goto fail;
		if (!S_ISREG(st.st_mode)) {
			errno = EINVAL;
			goto fail;
		}
		if (lock_exclusive(got.fd) == -1) {
			if (errno == EWOULDBLOCK)
				*holder = fd_pid(got.fd);
			goto fail;
		}
		/* A master that stopped just now unlinks the file it held: a
		 * lock on that inode would be one nobody else can see. */
		if (pidfile_same(&got, path) || attempt == LOCK_ATTEMPTS)
			break;
		close(got.fd);
	}
	if (ftruncate(got.fd, 0) == -1)
		goto fail;
	*pf = got;
	return 0;
fail:
	saved = errno;
	if (got.fd != -1)
		close(got.fd);
	free(got.path);
	errno = saved;
	return -1;
}

int pidfile_write(const struct pidfile *pf)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	if (ftruncate(pf->fd, 0) == -1)
		return -1;
	ssize_t n = pwrite(pf->fd, buf, (size_t)len, 0);
	if (n == -1)
		return -1;
	if (n != len) {
		errno = EIO; /* a short write sets no errno */
		return -1;
	}
	return 0;
}

void pidfile_forget(struct pidfile *pf)
{
	if (pf->fd != -1)
		close(pf->fd);
	free(pf->path);
	pf->fd = -1;
	pf->path = NULL;
}

void pidfile_release(struct pidfile *pf)
{
	/* Unlinked while still locked: a new master either finds the lock
	 * taken or creates a new file, never inherits this one. */
	if (pf->fd != -1 && pidfile_same(pf, pf->path))
		unlink(pf->path);
	pidfile_forget(pf);
}

pid_t pidfile_read(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return -1;
	pid_t pid = fd_pid(fd);
	close(fd);
	if (pid == 0) {
		errno = EINVAL;
		return -1;
	}
	return pid;
}

/*
 * Whether process pid has the file open as fd is: 1, 0 (it does not, or it
 * does not exist), or -1 if that cannot be told (no /proc, or its
 * descriptors are not ours to see).
 */
static int holds_open(pid_t pid, int fd)
{
	char dir[64], path[sizeof(dir) + 2 + NAME_MAX];
	struct stat want, st;
	struct dirent *de;
	int found = 0;

	if (fstat(fd, &want) == -1)
		return -1;
	snprintf(dir, sizeof(dir), "/proc/%ld/fd", (long)pid);
	DIR *d = opendir(dir);
	if (d == NULL) {
		if (errno == ENOENT && access("/proc/self/fd", F_OK) == 0)
			return 0;
		return -1;
	}
	/* cppcheck-suppress readdirCalled ; readdir_r is deprecated, and -s has no threads */
	while (!found && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		found =
		    stat(path, &st) == 0 && st.st_dev == want.st_dev && st.st_ino == want.st_ino;
	}
	closedir(d);
	return found;
}

enum pidfile_state pidfile_check(const char *path, pid_t *pid)
{
	uint64_t end = clock_mono_ms() + CHECK_WAIT_MS;
	enum pidfile_state state;
	int fd, locked, saved;

	*pid = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT ? PIDFILE_ABSENT : PIDFILE_ERROR;
	for (;;) {
		locked = locked_by_other(fd);
		*pid = fd_pid(fd);
		if (locked != 1 || *pid != 0 || clock_mono_ms() >= end)
			break;
		struct timespec ts = {0, CHECK_POLL_MS * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (locked == -1)
		state = PIDFILE_ERROR;
	else if (locked == 0)
		state = PIDFILE_STALE;
	else if (*pid <= 1 || holds_open(*pid, fd) == 0)
		state = PIDFILE_FOREIGN;
	else
		state = PIDFILE_RUNNING;
	saved = errno;
	close(fd);
	errno = saved;
	return state;
}
