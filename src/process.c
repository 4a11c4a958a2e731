/* SPDX-License-Identifier: BSD-2-Clause */
/* Process-wide set-up of the master: detaching from the terminal and sizing
 * the descriptor limit. */
#include "acconfig.h"

#include <fcntl.h>
#include <sys/resource.h>
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
