/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * An LD_PRELOAD shim for the sandbox test: before the first accept4() a
 * worker makes, it opens and closes an IPv4 socket, what an exploited
 * worker making a connection of its own would do first, and what the
 * worker's seccomp filter refuses.  With the sandbox the worker dies of it
 * and the master names the call; without, the worker goes on serving.  The
 * master never accepts, so it is not affected.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static int (*real_accept4)(int, struct sockaddr *, socklen_t *, int);

/* Looked up at load time: after the sandbox is in, dlsym might need a
 * system call the filter refuses, and that would test the wrong thing. */
__attribute__((constructor)) static void init(void)
{
	real_accept4 =
	    (int (*)(int, struct sockaddr *, socklen_t *, int))dlsym(RTLD_NEXT, "accept4");
}

int accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	static int done;

	if (!done) {
		done = 1;
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (s >= 0)
			close(s);
	}
	return real_accept4(fd, sa, len, flags);
}
