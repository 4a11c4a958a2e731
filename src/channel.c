/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The master-worker channel over a SOCK_SEQPACKET socketpair (see channel.h):
 * one sendmsg per message, the descriptor, if any, in an SCM_RIGHTS control
 * message beside it.
 */
#include "acconfig.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "channel.h"

int chan_pair(int fds[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds);
}

int chan_send(int fd, enum chan_type type, uint32_t id, const void *payload, size_t len,
              int fd_pass)
{
	struct chan_hdr hdr = {.type = (uint16_t)type, .len = (uint16_t)len, .id = id};
	struct iovec iov[2] = {
	    {.iov_base = &hdr, .iov_len = sizeof(hdr)},
	    {.iov_base = (void *)payload, .iov_len = len},
	};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = len > 0 ? 2 : 1};

	if (len > CHAN_MAX_PAYLOAD) {
		errno = EMSGSIZE;
		return -1;
	}
	if (fd_pass >= 0) {
		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd_pass, sizeof(int));
	}
	ssize_t n;
	do {
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	return n == -1 ? -1 : 0;
}

/* Take the descriptors out of a received message: the first into *fd_recv
 * (or closed if the caller expects none), any others closed. */
static void take_fds(struct msghdr *msg, int *fd_recv)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (fd_recv != NULL && *fd_recv == -1)
				*fd_recv = fd;
			else
				close(fd);
		}
	}
}

int chan_recv(int fd, struct chan_msg *m, int *fd_recv)
{
	struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} control;
	struct msghdr msg = {
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = control.buf,
	    .msg_controllen = sizeof(control.buf),
	};
	ssize_t n;

	if (fd_recv != NULL)
		*fd_recv = -1;
	do {
		n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n <= 0)
		return n == 0 ? 0 : -1;
	take_fds(&msg, fd_recv);
	if ((size_t)n < sizeof(m->hdr) || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    (size_t)n != sizeof(m->hdr) + m->hdr.len) {
		if (fd_recv != NULL && *fd_recv != -1) {
			close(*fd_recv);
			*fd_recv = -1;
		}
		errno = EBADMSG;
		return -1;
	}
	return 1;
}

const char *chan_type_name(unsigned type)
{
	static const char *const names[] = {
	    [CHAN_READY] = "ready",
	    [CHAN_RETIRE] = "retire",
	    [CHAN_QUIT] = "quit",
	    [CHAN_REOPEN] = "reopen",
	    [CHAN_STATS_REQ] = "stats request",
	    [CHAN_STATS] = "stats",
	    [CHAN_DRAIN] = "drain",
	    [CHAN_SANDBOX] = "sandbox violation",
	};

	if (type < sizeof(names) / sizeof(names[0]) && names[type] != NULL)
		return names[type];
	return "unknown";
}
