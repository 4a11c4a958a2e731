/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Starting the new binary for an upgrade (see upgrade.h).  The child only
 * rearranges descriptors, sets the environment and execs: everything else
 * happens in the new program.
 */
#include "acconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "activation.h"
#include "channel.h"
#include "upgrade.h"

/* The executable's path: /proc/self/exe names the file even after a
 * package replaced it, with " (deleted)" appended; the new file is at the
 * same path. */
static int exe_path(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	const char *del = " (deleted)";

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	size_t dl = strlen(del);
	if ((size_t)n > dl && strcmp(buf + n - dl, del) == 0)
		buf[n - dl] = '\0';
	return 0;
}

/* Pass descriptor fd (if >= 0) at number `at`, named by the variable env;
 * else unset env.  In the child before exec. */
static void pass_fd(int fd, int at, const char *env)
{
	char buf[32];

	if (fd < 0) {
		unsetenv(env);
		return;
	}
	if (dup2(fd, at) == -1)
		_exit(127);
	snprintf(buf, sizeof(buf), "%d", at);
	setenv(env, buf, 1);
}

/* In the child: move the n descriptors in fds[] to 3, 4, ... (without
 * close-on-exec) and exec.  Never returns. */
static void __attribute__((noreturn)) exec_new(const char *exe, const char *config, int *fds,
                                               size_t n, int chan, int pidfd, int ctlfd, pid_t old)
{
	char buf[32];
	sigset_t none;
	int low = (int)(ACTIVATION_FD_START + n + 3);

	/* Out of the way first, so that moving one cannot clobber another. */
	for (size_t i = 0; i < n; i++)
		if ((fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, low)) == -1)
			_exit(127);
	if ((chan = fcntl(chan, F_DUPFD_CLOEXEC, low)) == -1)
		_exit(127);
	if (pidfd >= 0 && (pidfd = fcntl(pidfd, F_DUPFD_CLOEXEC, low)) == -1)
		_exit(127);
	if (ctlfd >= 0 && (ctlfd = fcntl(ctlfd, F_DUPFD_CLOEXEC, low)) == -1)
		_exit(127);
	for (size_t i = 0; i < n; i++)
		if (dup2(fds[i], (int)(ACTIVATION_FD_START + i)) == -1)
			_exit(127);
	int up = (int)(ACTIVATION_FD_START + n);
	if (dup2(chan, up) == -1)
		_exit(127);
	pass_fd(pidfd, up + 1, "ECHOD_UPGRADE_PIDFILE_FD");
	pass_fd(ctlfd, up + 2, "ECHOD_UPGRADE_CONTROL_FD");
	snprintf(buf, sizeof(buf), "%ld", (long)getpid());
	setenv("LISTEN_PID", buf, 1);
	snprintf(buf, sizeof(buf), "%zu", n);
	setenv("LISTEN_FDS", buf, 1);
	unsetenv("LISTEN_FDNAMES");
	snprintf(buf, sizeof(buf), "%d", up);
	setenv("ECHOD_UPGRADE_FD", buf, 1);
	snprintf(buf, sizeof(buf), "%ld", (long)old);
	setenv("ECHOD_UPGRADE_PID", buf, 1);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execl(exe, "echod", "-c", config, (char *)NULL);
	_exit(127);
}

/* In the intermediate child of a detached start: start the new master,
 * tell the old one its pid over `out`, and exit, so that the new master is
 * re-parented to the service manager. */
static void __attribute__((noreturn))
detach_new(const char *exe, const char *config, int *fds, size_t n, int chan, int pidfd, int ctlfd,
           pid_t old, int out)
{
	pid_t pid = fork();

	if (pid == 0) {
		close(out);
		exec_new(exe, config, fds, n, chan, pidfd, ctlfd, old);
	}
	ssize_t w = write(out, &pid, sizeof(pid));
	_exit(w == (ssize_t)sizeof(pid) && pid > 0 ? 0 : 1);
}

pid_t upgrade_spawn(const struct listener *ls, size_t nls, const char *config, int pidfile_fd,
                    int control_fd, int detach, int *chan)
{
	char exe[PATH_MAX];
	int ch[2], p[2] = {-1, -1};
	size_t n = 0;
	pid_t old = getpid();

	for (size_t i = 0; i < nls; i++)
		n += ls[i].nfds;
	if (n > ACTIVATION_MAX_FDS) {
		errno = EMFILE;
		return -1;
	}
	int *fds = calloc(n ? n : 1, sizeof(*fds));
	if (fds == NULL)
		return -1;
	n = 0;
	for (size_t i = 0; i < nls; i++)
		for (size_t j = 0; j < ls[i].nfds; j++)
			fds[n++] = ls[i].fds[j];
	if (exe_path(exe, sizeof(exe)) == -1 || chan_pair(ch) == -1) {
		free(fds);
		return -1;
	}
	if (detach && pipe2(p, O_CLOEXEC) == -1) {
		int saved = errno;
		free(fds);
		close(ch[0]);
		close(ch[1]);
		errno = saved;
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(ch[0]);
		if (detach)
			detach_new(exe, config, fds, n, ch[1], pidfile_fd, control_fd, old, p[1]);
		exec_new(exe, config, fds, n, ch[1], pidfile_fd, control_fd, old);
	}
	int saved = errno;
	free(fds);
	close(ch[1]);
	if (detach) {
		/* The intermediate child writes the pid at once, then exits. */
		pid_t inter = pid, got = -1;
		ssize_t r;
		close(p[1]);
		do {
			r = pid > 0 ? read(p[0], &got, sizeof(got)) : -1;
		} while (r == -1 && errno == EINTR);
		saved = errno;
		close(p[0]);
		if (inter > 0)
			waitpid(inter, NULL, 0);
		pid = r == (ssize_t)sizeof(got) && got > 0 ? got : -1;
		if (pid == -1 && saved == 0)
			saved = ECHILD;
	}
	if (pid == -1) {
		close(ch[0]);
		errno = saved;
		return -1;
	}
	*chan = ch[0];
	return pid;
}

/* A descriptor or pid number from our own environment: decimal, positive,
 * int-sized.  Returns it, or -1. */
static long env_number(const char *s)
{
	char *end;
	long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	return errno != 0 || *end != '\0' || v <= 0 || v > INT_MAX ? -1 : v;
}

int upgrade_inherited(pid_t *peer)
{
	const char *fd_s = getenv("ECHOD_UPGRADE_FD");
	const char *pid_s = getenv("ECHOD_UPGRADE_PID");
	int fd;
	long pid;

	if (fd_s == NULL || pid_s == NULL)
		return -1;
	fd = (int)env_number(fd_s);
	pid = env_number(pid_s);
	unsetenv("ECHOD_UPGRADE_FD");
	unsetenv("ECHOD_UPGRADE_PID");
	if (fd < ACTIVATION_FD_START || pid <= 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) == -1)
		return -1;
	*peer = (pid_t)pid;
	return fd;
}

int upgrade_inherited_pidfile(struct pidfile *pf, const char *path)
{
	const char *fd_s = getenv("ECHOD_UPGRADE_PIDFILE_FD");
	int fd = (int)env_number(fd_s);

	unsetenv("ECHOD_UPGRADE_PIDFILE_FD");
	if (fd < ACTIVATION_FD_START || fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		return 0;
	struct pidfile got = {.fd = fd, .path = strdup(path)};
	if (got.path == NULL || !pidfile_same(&got, path)) {
		pidfile_forget(&got); /* another file: ours is locked as usual */
		return 0;
	}
	*pf = got;
	return 1;
}

int upgrade_inherited_control(const char *path)
{
	int fd = (int)env_number(getenv("ECHOD_UPGRADE_CONTROL_FD"));
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);

	unsetenv("ECHOD_UPGRADE_CONTROL_FD");
	if (fd < ACTIVATION_FD_START || fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		return -1;
	/* Only the socket at the path the configuration names: the new one may
	 * name another (or none), which is bound afresh. */
	memset(&sun, 0, sizeof(sun));
	if (path == NULL || getsockname(fd, (struct sockaddr *)&sun, &len) == -1 ||
	    sun.sun_family != AF_UNIX || strncmp(sun.sun_path, path, sizeof(sun.sun_path)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}
