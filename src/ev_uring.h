/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Completion operations: what a loop whose backend takes them (io_uring;
 * ev_loop_completions()) offers beside readiness.  The kernel does the I/O
 * and reports the result, so a connection costs no system call per message.
 * An operation is a struct ev_op embedded in its owner; its callback gets
 * every completion.  Preparing one makes no system call: the loop submits
 * what a turn prepared in its next wait.  Received data lands in the loop's
 * provided buffers, lent to the owner until it gives them back.
 */
#ifndef ECHOD_EV_URING_H
#define ECHOD_EV_URING_H

#include <stddef.h>
#include <sys/socket.h>

#include "ev.h"

/* One completion of an operation. */
struct ev_completion {
	int res;    /* the result (a descriptor, a byte count), or -errno */
	int more;   /* a multishot operation stays armed: more completions follow */
	int buf;    /* the provided buffer lent with the data, or -1 */
	char *data; /* where in it the data starts */
};

struct ev_op;
typedef void ev_op_fn(struct ev_loop *loop, struct ev_op *op, const struct ev_completion *c);

/*
 * Embedded in its owner, which finds itself with ev_container_of().  The op
 * must stay valid from the moment it is prepared until its last completion
 * (the one without `more`) has run; ev_op_cancel() hastens that one.
 */
struct ev_op {
	ev_op_fn *fn;
	int group; /* the loop's: whose buffers its receives lend */
};

static inline void ev_op_init(struct ev_op *op, ev_op_fn *fn)
{
	op->fn = fn;
	op->group = -1;
}

/*
 * The loop's pools of provided buffers.  Where the kernel can (6.12), a
 * stream receive takes only what it needs of a buffer and the next one goes
 * on in the same buffer, so many small messages share one; each completion
 * lends its part, and the buffer goes back to the kernel once every part has
 * been given back.  A bulk receive takes whole buffers of a pool of its own,
 * each read at the start of one: the copies in and out of a buffer cost
 * less than at the odd offsets where a shared buffer leaves the next read
 * (64 KiB messages: about 4% less server CPU), and a backlogged client
 * cannot take the buffers that the others' small messages need.  The bulk
 * pool's ids follow the stream pool's (EV_URING_BULK_FIRST and up): a
 * stream completion's buffer goes back with ev_buf_release(loop,
 * EV_BUF_STREAM, buf) whichever pool it came from.
 */
enum ev_buf_group {
	EV_BUF_STREAM, /* stream receives */
	EV_BUF_BULK,   /* bulk stream receives: whole buffers */
	EV_BUF_DGRAM,  /* datagram receives: a whole datagram and its sender each */
	EV_BUF_GROUPS,
};

/* The first id of the bulk pool's buffers, and how many it has. */
#define EV_URING_BULK_FIRST 1024
#define EV_URING_BULK_BUFS  8

/* Buffers in the datagram pool: ids run from 0 to EV_URING_DGRAM_BUFS - 1. */
#define EV_URING_DGRAM_BUFS 64

/*
 * Each of the following prepares one operation on fd, reported to op.  They
 * return 0, or -1 with errno: ENOTSUP if the loop takes no completions,
 * ENOMEM, or the kernel's error in submitting what was queued before.
 */

/*
 * Multishot receive into buffers of pool g (EV_BUF_STREAM or EV_BUF_BULK):
 * one completion per read (res bytes in buffer `buf`), 0 at end of file,
 * until `more` is clear (-ENOBUFS: the pool was empty).  With limit > 0 the
 * operation ends after about `limit` bytes (at most one read more) where
 * the kernel can count them (ev_uring_recv_limit()); 0: no limit.
 */
int ev_op_recv(struct ev_loop *loop, struct ev_op *op, int fd, enum ev_buf_group g, size_t limit);

/* Whether ev_op_recv()'s limit is kept by this kernel. */
int ev_uring_recv_limit(const struct ev_loop *loop);

/*
 * Multishot recvmsg into EV_BUF_DGRAM buffers: one completion per datagram,
 * laid out as the kernel's struct io_uring_recvmsg_out, then the sender's
 * address (msg->msg_namelen bytes), its control data (msg->msg_controllen
 * bytes), then the payload; see
 * ev_uring_dgram().  msg (only its name and control lengths count) must stay
 * valid while the operation runs.  -EINVAL: this kernel has no multishot
 * recvmsg.
 */
int ev_op_recvmsg(struct ev_loop *loop, struct ev_op *op, int fd, struct msghdr *msg);

/* Where the payload of datagram completion c is, given the msghdr the
 * receive was prepared with; got's msg_name, msg_namelen, msg_control and
 * msg_controllen are set to the sender and the control data the kernel
 * wrote beside it (the rest of got is zeroed).  Returns the payload's
 * length, or -1 if the datagram was truncated or malformed. */
long ev_uring_dgram(struct ev_loop *loop, const struct ev_completion *c, const struct msghdr *msg,
                    void **payload, struct msghdr *got);

/* Send len bytes at buf (valid until the completion), with send(2)'s flags
 * (MSG_NOSIGNAL is added).  res: the bytes sent, maybe fewer than len. */
int ev_op_send(struct ev_loop *loop, struct ev_op *op, int fd, const void *buf, size_t len,
               int flags);

/* The same to address `to` (a datagram socket; 6.0, the kernel that has
 * multishot recvmsg): no msghdr and iovec for the kernel to copy in.  In a
 * profile of 64 B datagrams SENDMSG's path took 0.26 us per datagram, this
 * one 0.13 us, of 4.7 us in all. */
int ev_op_sendto(struct ev_loop *loop, struct ev_op *op, int fd, const void *buf, size_t len,
                 int flags, const struct sockaddr *to, socklen_t tolen);

/* Send a message; msg, its iovecs, name and bytes stay valid until the
 * completion. */
int ev_op_sendmsg(struct ev_loop *loop, struct ev_op *op, int fd, const struct msghdr *msg,
                  int flags);

/* Ask the kernel to end every operation reported to op; each still ends
 * with a completion (-ECANCELED, or whatever it had come to). */
int ev_op_cancel(struct ev_loop *loop, struct ev_op *op);

/* Close fd in the next submission instead of by a system call now (no
 * operation may still name it).  Its number stays taken until then.
 * Returns 0, or -1 with errno: then fd is still the caller's to close. */
int ev_uring_close(struct ev_loop *loop, int fd);

/* Give back what completion c of group g lent, once the last send from it
 * has completed.  Buffers go back to the kernel at the next wait. */
void ev_buf_release(struct ev_loop *loop, enum ev_buf_group g, int buf);

/* Buffers of group g that the kernel can fill now. */
size_t ev_buf_free(const struct ev_loop *loop, enum ev_buf_group g);

/* The most one completion of group g lends (a buffer's size). */
size_t ev_buf_size(const struct ev_loop *loop, enum ev_buf_group g);

#endif
