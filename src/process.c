/* SPDX-License-Identifier: BSD-2-Clause */
/* Process-wide set-up of the master: detaching from the terminal, sizing
 * the descriptor limit, and telling how a child ended. */
#include "acconfig.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "process.h"

/*
 * Each worker may hold max_connections sockets: raise the soft descriptor
 * limit toward that (up to the hard limit), and say so when it falls short,
 * rather than discover it as accept() failures under load.
 */
void process_raise_nofile(int max_connections)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)max_connections + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < want)
		log_notice("descriptor limit %llu is below max_connections %d (+64): "
		           "raise it (LimitNOFILE=, ulimit -n) to serve that many",
		           (unsigned long long)rl.rlim_cur, max_connections);
}

int process_detach(void)
{
	pid_t pid = fork();

	if (pid == -1)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() == -1)
		return -1;
	if ((pid = fork()) == -1)
		return -1;
	if (pid > 0)
		_exit(0);
	if (chdir("/") == -1)
		return -1;
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd == -1)
		return -1;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	return 0;
}

void process_describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status)) {
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
#ifdef HAVE_SIGABBREV_NP
		const char *abbrev = sigabbrev_np(sig);
#else
		const char *abbrev = NULL;
#endif
		snprintf(buf, len, "killed by signal %d (%s%s)%s", sig, abbrev ? "SIG" : "",
		         abbrev ? abbrev : strsignal(sig),
		         WCOREDUMP(status) ? ", core dumped" : "");
	} else {
		snprintf(buf, len, "ended (status %#x)", status);
	}
}
