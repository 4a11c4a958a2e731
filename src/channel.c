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
	return chan_send_fds(fd, type, id, payload, len, &fd_pass, fd_pass >= 0 ? 1 : 0);
}

int chan_send_fds(int fd, enum chan_type type, uint32_t id, const void *payload, size_t len,
                  const int *fds, size_t nfds)
{
	struct chan_hdr hdr = {.type = (uint16_t)type, .len = (uint16_t)len, .id = id};
	struct iovec iov[2] = {
	    {.iov_base = &hdr, .iov_len = sizeof(hdr)},
	    {.iov_base = (void *)payload, .iov_len = len},
	};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * CHAN_MAX_FDS)];
	} control;
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = len > 0 ? 2 : 1};

	if (len > CHAN_MAX_PAYLOAD || nfds > CHAN_MAX_FDS) {
		errno = EMSGSIZE;
		return -1;
	}
	if (nfds > 0) {
		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	ssize_t n;
	do {
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	return n == -1 ? -1 : 0;
}

/* Take the descriptors out of a received message: the first `max` into
 * fds[] (counted in *nfds), any others closed. */
static void take_fds(struct msghdr *msg, int *fds, size_t max, size_t *nfds)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (*nfds < max)
				fds[(*nfds)++] = fd;
			else
				close(fd);
		}
	}
}

static void close_fds(int *fds, size_t *nfds)
{
	while (*nfds > 0)
		close(fds[--*nfds]);
}

int chan_recv(int fd, struct chan_msg *m, int *fd_recv)
{
	int fds[1];
	size_t n = 0;
	int rc = chan_recv_fds(fd, m, fds, fd_recv != NULL ? 1 : 0, &n);

	if (fd_recv != NULL)
		*fd_recv = n > 0 ? fds[0] : -1;
	if (rc == 2) {
		/* A descriptor was lost: callers of this interface cannot
		 * tell, so the message is malformed to them. */
		errno = EBADMSG;
		return -1;
	}
	return rc;
}

int chan_recv_fds(int fd, struct chan_msg *m, int *fds, size_t max, size_t *nfds)
{
	struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} control;
	struct msghdr mh = {
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = control.buf,
	    .msg_controllen = sizeof(control.buf),
	};
	ssize_t n;

	*nfds = 0;
	do {
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n <= 0)
		return n == 0 ? 0 : -1;
	take_fds(&mh, fds, max, nfds);
	if ((size_t)n < sizeof(m->hdr) || (mh.msg_flags & MSG_TRUNC) ||
	    (size_t)n != sizeof(m->hdr) + m->hdr.len) {
		close_fds(fds, nfds);
		errno = EBADMSG;
		return -1;
	}
	if (mh.msg_flags & MSG_CTRUNC) {
		close_fds(fds, nfds);
		return 2;
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
	    [CHAN_HO_OFFER] = "handover offer",
	    [CHAN_HO_ANSWER] = "handover answer",
	    [CHAN_DRAIN] = "drain",
	    [CHAN_SANDBOX] = "sandbox violation",
	};

	if (type < sizeof(names) / sizeof(names[0]) && names[type] != NULL)
		return names[type];
	return "unknown";
}
