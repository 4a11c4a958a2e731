/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * An LD_PRELOAD shim for integration tests: no epoll instance can be created
 * in the process (EMFILE), so a worker configured with backend = "epoll"
 * fails at its first event-loop call and exits, while the master (whose loop
 * is poll) runs on.  This is how tests make workers die at start without a
 * test hook inside echod.
 */
#include <errno.h>
#include <sys/epoll.h>

int epoll_create(int size)
{
	(void)size;
	errno = EMFILE;
	return -1;
}

int epoll_create1(int flags)
{
	(void)flags;
	errno = EMFILE;
	return -1;
}
