/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Pid file.  Written with rename() so a reader never sees it half written;
 * removed only if it is still ours, so a second instance that failed to
 * start cannot delete the file of the one that runs.
 */
#include "acconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pidfile.h"

int pidfile_write(const char *path)
{
	char tmp[PATH_MAX], buf[32];
	int fd, len, saved;
	ssize_t n;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1)
		return -1;
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	n = write(fd, buf, (size_t)len);
	if (n != len) {
		saved = n == -1 ? errno : EIO; /* a short write sets no errno */
		close(fd);
		goto fail;
	}
	/* close() can report a late write error; the descriptor is gone even
	 * then (Linux), so it is never closed a second time. */
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		saved = errno;
		goto fail;
	}
	return 0;
fail:
	unlink(tmp);
	errno = saved;
	return -1;
}

pid_t pidfile_read(const char *path)
{
	char buf[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		errno = EINVAL;
		return -1;
	}
	buf[n] = '\0';
	char *end;
	long pid = strtol(buf, &end, 10);
	if (pid <= 0 || pid > INT_MAX || (*end != '\n' && *end != '\0')) {
		errno = EINVAL;
		return -1;
	}
	return (pid_t)pid;
}

void pidfile_remove(const char *path)
{
	if (pidfile_read(path) == getpid())
		unlink(path);
}
