/* SPDX-License-Identifier: BSD-2-Clause */
/* `echod -s` over the control socket (see control_client.h). */
#include "acconfig.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "control_client.h"

static int connect_unix(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Wait until fd is readable or the deadline passes; 1, 0 (time out) or -1. */
static int wait_readable(int fd, uint64_t deadline)
{
	for (;;) {
		uint64_t now = clock_mono_ms();
		if (now >= deadline)
			return 0;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int n = poll(&pfd, 1, (int)(deadline - now));
		if (n == -1 && errno == EINTR)
			continue;
		return n > 0 ? 1 : n;
	}
}

/* One line of the answer: 1 if it was the last, and how it ended. */
static int handle_line(const char *line, FILE *out, FILE *err, enum control_outcome *how)
{
	if (line[0] == '|' || line[0] == '!') {
		fprintf(line[0] == '|' ? out : err, "%s\n", line[1] == ' ' ? line + 2 : line + 1);
		return 0;
	}
	if (strncmp(line, "ok", 2) == 0 && (line[2] == '\0' || line[2] == ' ')) {
		if (line[2] == ' ')
			fprintf(out, "%s\n", line + 3);
		*how = CONTROL_OK;
		return 1;
	}
	if (strncmp(line, "error", 5) == 0 && (line[5] == '\0' || line[5] == ' ')) {
		fprintf(err, "echod: %s\n", line[5] == ' ' ? line + 6 : "failed");
		*how = CONTROL_FAILED;
		return 1;
	}
	fprintf(err, "echod: unexpected answer from the master: %s\n", line);
	*how = CONTROL_FAILED;
	return 1;
}

enum control_outcome control_request(const char *path, const char *request, int wait_exit,
                                     int timeout_ms, FILE *out, FILE *err)
{
	uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
	enum control_outcome how = CONTROL_LOST;
	char buf[4096], line[2048] = "";
	size_t llen = 0;
	int fd, finished = 0;

	if ((fd = connect_unix(path)) == -1)
		return CONTROL_NO_MASTER;
	snprintf(buf, sizeof(buf), "%s\n", request);
	if (send(fd, buf, strlen(buf), MSG_NOSIGNAL) != (ssize_t)strlen(buf)) {
		fprintf(err, "echod: %s: %s\n", path, strerror(errno));
		close(fd);
		return CONTROL_LOST;
	}
	for (;;) {
		int r = wait_readable(fd, deadline);
		if (r <= 0) {
			fprintf(err, "echod: %s after %d s\n",
			        finished ? "the master has not exited"
			                 : "no answer from the master",
			        timeout_ms / 1000);
			how = CONTROL_LOST;
			break;
		}
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* EOF after the last line: for a stop, the master is gone. */
			if (!finished) {
				fprintf(err, "echod: the master closed the connection without an "
				             "answer\n");
				how = CONTROL_LOST;
			}
			break;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (llen < sizeof(line) - 1)
					line[llen++] = buf[i];
				continue;
			}
			line[llen] = '\0';
			llen = 0;
			if (!finished && handle_line(line, out, err, &how))
				finished = 1;
		}
		if (finished && !(wait_exit && how == CONTROL_OK))
			break;
	}
	close(fd);
	return how;
}
