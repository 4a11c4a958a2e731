/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The completion operations of ev_uring.h, prepared on the io_uring
 * backend's ring and submitted with the next wait; and, in a build without
 * io_uring, the same functions saying they cannot (ENOTSUP), so that their
 * callers need no #ifdef.
 */
#include "acconfig.h"

#include "ev_uring_int.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#ifdef EV_HAVE_IO_URING

#include <limits.h>
#include <stdint.h>

static struct io_uring_sqe *evu_op_sqe(struct ev_loop *loop, struct ev_op *op)
{
	struct evu *u = evu_of(loop);
	struct io_uring_sqe *sqe;

	if (u == NULL || (sqe = evu_sqe(u)) == NULL)
		return NULL;
	io_uring_sqe_set_data(sqe, op);
	return sqe;
}

int ev_uring_recv_limit(const struct ev_loop *loop)
{
	const struct evu *u = evu_of(loop);

	return u != NULL && u->recv_limit;
}

int ev_op_recv(struct ev_loop *loop, struct ev_op *op, int fd, enum ev_buf_group g, size_t limit)
{
	struct evu *u = evu_of(loop);
	struct io_uring_sqe *sqe;

	if (u == NULL || evu_group_open(u, g) == -1)
		return -1;
	if ((sqe = evu_op_sqe(loop, op)) == NULL)
		return -1;
	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = (uint16_t)g;
	if (limit > 0 && u->recv_limit) {
		/* Below one buffer, each read takes at most the limit too, so
		 * that the total is kept exactly. */
		if (limit < u->group[g].size)
			sqe->len = (unsigned)limit;
		sqe->file_index = limit > UINT_MAX ? UINT_MAX : (unsigned)limit;
	}
	op->group = g;
	return 0;
}

int ev_op_recvmsg(struct ev_loop *loop, struct ev_op *op, int fd, struct msghdr *msg)
{
	struct evu *u = evu_of(loop);
	struct io_uring_sqe *sqe;

	if (u == NULL || evu_group_open(u, EV_BUF_DGRAM) == -1)
		return -1;
	if ((sqe = evu_op_sqe(loop, op)) == NULL)
		return -1;
	/* The kernel only reads the lengths of msg's name and control. */
	io_uring_prep_recvmsg_multishot(sqe, fd, msg, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = EV_BUF_DGRAM;
	op->group = EV_BUF_DGRAM;
	return 0;
}

int ev_op_sendto(struct ev_loop *loop, struct ev_op *op, int fd, const void *buf, size_t len,
                 int flags, const struct sockaddr *to, socklen_t tolen)
{
	struct io_uring_sqe *sqe = evu_op_sqe(loop, op);

	if (sqe == NULL)
		return -1;
	io_uring_prep_send(sqe, fd, buf, len, flags | MSG_NOSIGNAL);
	if (to != NULL)
		io_uring_prep_send_set_addr(sqe, to, (__u16)tolen);
	op->group = -1;
	return 0;
}

int ev_op_send(struct ev_loop *loop, struct ev_op *op, int fd, const void *buf, size_t len,
               int flags)
{
	return ev_op_sendto(loop, op, fd, buf, len, flags, NULL, 0);
}

int ev_op_sendmsg(struct ev_loop *loop, struct ev_op *op, int fd, const struct msghdr *msg,
                  int flags)
{
	struct io_uring_sqe *sqe = evu_op_sqe(loop, op);

	if (sqe == NULL)
		return -1;
	io_uring_prep_sendmsg(sqe, fd, msg, (unsigned)(flags | MSG_NOSIGNAL));
	op->group = -1;
	return 0;
}

int ev_op_cancel(struct ev_loop *loop, struct ev_op *op)
{
	struct evu *u = evu_of(loop);
	struct io_uring_sqe *sqe;

	if (u == NULL || (sqe = evu_sqe(u)) == NULL)
		return -1;
	io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op, IORING_ASYNC_CANCEL_ALL);
	io_uring_sqe_set_data64(sqe, 0);
	if (u->skip_cqe)
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	return 0;
}

int ev_uring_close(struct ev_loop *loop, int fd)
{
	struct evu *u = evu_of(loop);
	struct io_uring_sqe *sqe;

	if (u == NULL || (sqe = evu_sqe(u)) == NULL)
		return -1;
	io_uring_prep_close(sqe, fd);
	io_uring_sqe_set_data64(sqe, 0);
	if (u->skip_cqe)
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	return 0;
}

#else /* !EV_HAVE_IO_URING: the operations exist, and say so */

static int no_completions(struct ev_loop *loop, struct ev_op *op, int fd)
{
	(void)loop;
	(void)op;
	(void)fd;
	errno = ENOTSUP;
	return -1;
}

int ev_uring_recv_limit(const struct ev_loop *loop)
{
	(void)loop;
	return 0;
}

int ev_op_recv(struct ev_loop *loop, struct ev_op *op, int fd, enum ev_buf_group g, size_t limit)
{
	(void)g;
	(void)limit;
	return no_completions(loop, op, fd);
}

int ev_op_recvmsg(struct ev_loop *loop, struct ev_op *op, int fd, struct msghdr *msg)
{
	(void)msg;
	return no_completions(loop, op, fd);
}

long ev_uring_dgram(struct ev_loop *loop, const struct ev_completion *c, const struct msghdr *msg,
                    void **payload, struct msghdr *got)
{
	(void)loop;
	(void)c;
	(void)msg;
	(void)payload;
	memset(got, 0, sizeof(*got));
	return -1;
}

int ev_op_send(struct ev_loop *loop, struct ev_op *op, int fd, const void *buf, size_t len,
               int flags)
{
	(void)buf;
	(void)len;
	(void)flags;
	return no_completions(loop, op, fd);
}

int ev_op_sendto(struct ev_loop *loop, struct ev_op *op, int fd, const void *buf, size_t len,
                 int flags, const struct sockaddr *to, socklen_t tolen)
{
	(void)buf;
	(void)len;
	(void)flags;
	(void)to;
	(void)tolen;
	return no_completions(loop, op, fd);
}

int ev_op_sendmsg(struct ev_loop *loop, struct ev_op *op, int fd, const struct msghdr *msg,
                  int flags)
{
	(void)msg;
	(void)flags;
	return no_completions(loop, op, fd);
}

int ev_op_cancel(struct ev_loop *loop, struct ev_op *op)
{
	return no_completions(loop, op, -1);
}

int ev_uring_close(struct ev_loop *loop, int fd)
{
	(void)loop;
	(void)fd;
	errno = ENOTSUP;
	return -1;
}

size_t ev_buf_size(const struct ev_loop *loop, enum ev_buf_group g)
{
	(void)loop;
	(void)g;
	return 0;
}

void ev_buf_release(struct ev_loop *loop, enum ev_buf_group g, int buf)
{
	(void)loop;
	(void)g;
	(void)buf;
}

size_t ev_buf_free(const struct ev_loop *loop, enum ev_buf_group g)
{
	(void)loop;
	(void)g;
	return 0;
}

#endif
