/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The config reader child.  Privilege separation in the small: libconfig is
 * the least trusted code echod runs on outside input, so it runs in a
 * process that may die, and the master waits for it with a deadline instead
 * of trusting it to return.
 */
#include "acconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef HAVE_SYS_PRCTL_H
#include <sys/prctl.h>
#endif

#include "clock.h"
#include "config_child.h"
#include "config_wire.h"
#include "process.h"

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void __attribute__((noreturn))
reader_main(const struct config_reader *reader, const char *path, const struct config_env *env,
            int out, pid_t parent)
{
	struct config_errors errs = {0};
	char *buf;
	size_t len;

#ifdef HAVE_SYS_PRCTL_H
	/* Never outlive the process waiting for the answer. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
	if (getppid() != parent)
		_exit(1);
	/* The parent's handlers only set flags its loop reads: here a signal
	 * does what it does by default, and a fault ends the reader. */
	sigset_t none;
	sigemptyset(&none);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	struct config *cfg = NULL;
	if (env->dir != NULL && chdir(env->dir) == -1)
		config_errors_add(&errs, path, 0, "cannot enter %s for relative @include: %s",
		                  env->dir, strerror(errno));
	else
		cfg = reader->load(path, env, &errs);
	int rc = config_wire_encode(cfg, &errs, &buf, &len) == 0 && write_all(out, buf, len) == 0;
	/* _exit: nothing of the parent's (atexit handlers, stdio buffers,
	 * leak checks of its heap) belongs to this process. */
	_exit(rc ? 0 : 1);
}

/*
 * Read the reader's answer until EOF, the deadline or the size limit.
 * Returns the bytes (the caller frees them) or NULL with why in `why`.
 */
static char *read_answer(int fd, uint64_t deadline, size_t *lenp, const char **why)
{
	size_t len = 0, cap = (size_t)64 * 1024;
	char *buf = malloc(cap);

	if (buf == NULL) {
		*why = "out of memory";
		return NULL;
	}
	for (;;) {
		uint64_t now = clock_mono_ms();
		if (now >= deadline) {
			*why = "timeout";
			goto fail;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int rc = poll(&pfd, 1, (int)(deadline - now));
		if (rc == -1 && errno != EINTR) {
			*why = "poll failed";
			goto fail;
		}
		if (rc <= 0)
			continue;
		if (len == cap) {
			if (cap >= CONFIG_WIRE_MAX) {
				*why = "answer too large";
				goto fail;
			}
			cap *= 2;
			char *p = realloc(buf, cap);
			if (p == NULL) {
				*why = "out of memory";
				goto fail;
			}
			buf = p;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n == 0)
			break;
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1) {
			*why = "read failed";
			goto fail;
		}
		len += (size_t)n;
	}
	*lenp = len;
	return buf;
fail:
	free(buf);
	return NULL;
}

struct config *config_child_load(const char *path, const struct config_env *env, int timeout_ms,
                                 struct config_errors *errs)
{
	static const struct config_reader reader = {.load = config_load_file};

	return config_child_load_with(&reader, path, env, timeout_ms, errs);
}

struct config *config_child_load_with(const struct config_reader *reader, const char *path,
                                      const struct config_env *env, int timeout_ms,
                                      struct config_errors *errs)
{
	uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
	struct config *cfg = NULL;
	const char *why = NULL;
	char how[96];
	size_t len = 0;
	int p[2], status = 0;

	if (pipe2(p, O_CLOEXEC) == -1) {
		config_errors_add(errs, path, 0, "cannot start the config reader: %s",
		                  strerror(errno));
		return NULL;
	}
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == -1) {
		config_errors_add(errs, path, 0, "cannot start the config reader: %s",
		                  strerror(errno));
		close(p[0]);
		close(p[1]);
		return NULL;
	}
	if (pid == 0) {
		close(p[0]);
		reader_main(reader, path, env, p[1], parent);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
	char *buf = read_answer(p[0], deadline, &len, &why);
	close(p[0]);
	if (buf == NULL)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (buf == NULL) {
		if (strcmp(why, "timeout") == 0)
			config_errors_add(errs, path, 0,
			                  "config reader took longer than %d ms; killed it",
			                  timeout_ms);
		else
			config_errors_add(errs, path, 0, "config reader: %s; killed it", why);
		return NULL;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		process_describe_status(status, how, sizeof(how));
		config_errors_add(errs, path, 0, "config reader %s", how);
	} else if (config_wire_decode(buf, len, &cfg, errs) == -1) {
		config_errors_add(errs, path, 0, "config reader: malformed answer (%zu bytes)",
		                  len);
	} else if (cfg == NULL && errs->n == 0) {
		config_errors_add(errs, path, 0, "config reader: neither a config nor errors");
	}
	free(buf);
	return cfg;
}
