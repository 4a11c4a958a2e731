/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Inside the io_uring backend: its state, shared by ev_uring.c (the ring,
 * its probe, readiness, the wait), ev_uring_buf.c (the pools of provided
 * buffers) and ev_uring_ops.c (the completion operations).  Not for use
 * outside them.
 */
#ifndef ECHOD_EV_URING_INT_H
#define ECHOD_EV_URING_INT_H

#include "ev_backend.h"
#include "ev_uring.h"

#ifdef EV_HAVE_IO_URING

#include <liburing.h>
#include <stddef.h>
#include <stdint.h>

/* Not in liburing 2.3's headers: incremental buffer consumption (6.12),
 * set in io_uring_buf_reg's flags (pad in 2.3), and the flag of a completion
 * after which the kernel goes on filling the same buffer. */
#define EVU_PBUF_RING_INC 2
#ifndef IORING_CQE_F_BUF_MORE
#define IORING_CQE_F_BUF_MORE (1U << 4)
#endif

/* One pool of provided buffers: a ring the kernel takes from, the memory
 * its buffers cut, and what of each is lent out. */
struct evu_group {
	struct io_uring_buf_ring *br;
	size_t br_bytes;
	char *base;
	size_t size;      /* bytes per buffer */
	unsigned entries; /* a power of two */
	int inc;          /* consumed incrementally */
	unsigned adds;    /* given back since the ring's tail last moved */
	unsigned lent;    /* finished by the kernel, not given back yet */
	uint32_t *off;    /* per buffer: how far the kernel has filled it */
	uint32_t *refs;   /* per buffer: completions lending it, not given back */
	uint8_t *done;    /* per buffer: the kernel has finished with it */
	int ready;
};

/* A descriptor watched for readiness. */
struct evu_fd {
	uint32_t seq;   /* polls armed on this number so far: the last one's tag */
	uint8_t armed;  /* a poll tagged seq is in the kernel */
	uint8_t mask;   /* its interest, EV_READ | EV_WRITE */
	uint8_t queued; /* in the list of polls to arm before the next wait */
};

/* A completion waiting for its callback. */
struct evu_done {
	struct ev_op *op;
	char *data; /* of its buffer, if it has one */
	int32_t res;
	uint32_t flags;
};

struct evu {
	struct io_uring ring;
	int ring_ok;    /* ring set up: io_uring_queue_exit() it */
	int skip_cqe;   /* IOSQE_CQE_SKIP_SUCCESS for cancels and removals */
	int recv_limit; /* multishot receives take a byte limit */
	struct evu_fd *fds;
	size_t fds_cap;
	int *arm; /* descriptors whose poll must be (re)armed */
	size_t narm;
	struct evu_done *done;
	size_t ndone;
	struct evu_group group[EV_BUF_GROUPS];
};

/* The backend's state of loop, or NULL with errno ENOTSUP if its backend is
 * not io_uring. */
struct evu *evu_of(const struct ev_loop *loop);

/* A free submission entry; when the queue is full, what it holds goes to
 * the kernel first.  NULL with errno if even that fails. */
struct io_uring_sqe *evu_sqe(struct evu *u);

/* Map and register pool `which` (5.19; the stream pool incremental where
 * the kernel can, 6.12).  Returns 0, or -1 with errno and ev_last_error(). */
int evu_group_open(struct evu *u, enum ev_buf_group which);
void evu_group_close(struct evu_group *g);

/* A completion with `flags` lent `len` bytes of buffer bid: where they are. */
char *evu_buf_lend(struct evu_group *g, unsigned bid, int len, unsigned flags);
/* One lending of bid given back; the buffer returns to the ring (at the
 * next evu_give_back()) when it was the last and the kernel is done. */
void evu_buf_return(struct evu_group *g, unsigned bid);
/* Hand the buffers given back to the kernel: before each submission. */
void evu_give_back(struct evu *u);

#endif

#endif
