/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The io_uring backend's pools of provided buffers: where the kernel puts
 * what a multishot receive reads.  A completion lends part of a buffer (all
 * of it where the kernel cannot consume buffers bit by bit); the buffer goes
 * back to the kernel once every part has been given back and the kernel is
 * done with it.
 */
#include "acconfig.h"

#include "ev_uring_int.h"

#ifdef EV_HAVE_IO_URING

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

/* A pool's geometry. */
struct evu_geometry {
	unsigned entries;
	size_t size;
	int inc;
	int populate; /* fault it in at once: the worker's memory does not grow
	               * later with the first megabytes of traffic */
};

/* Stream receives, incremental: a few large buffers that small messages
 * share (a turn's receives on a thousand connections fit in one).  512 KiB
 * in all, so that what the copies go through stays in the core's cache (1 MiB
 * of L2 on the machine measured): the ring hands buffers out oldest first,
 * so all of it is touched in turn.  With 64 KiB messages on 10 connections
 * the server's CPU per message was 1.05x the floor's with 512 KiB, 1.18x
 * with 768 KiB and 1.17x with 1 MiB.  128 KiB each, so that a 64 KiB message
 * seldom straddles two: that costs a second receive, and a window update
 * from the kernel with it. */
static const struct evu_geometry evu_stream_inc = {4, 131072, 1, 1};

/* Without it each receive takes a whole buffer: many smaller ones, 4 MiB,
 * and a 64 KiB message in four. */
static const struct evu_geometry evu_stream_plain = {256, 16384, 0, 1};

/* Bulk receives: whole buffers of 64 KiB, each read at its start; 512 KiB
 * in all, as the stream pool and for the same reason. */
static const struct evu_geometry evu_bulk = {EV_URING_BULK_BUFS, 65536, 0, 1};

/* The largest datagram and its sender's address (io_uring_recvmsg_out,
 * sockaddr_storage) in each; pages touched only as far as datagrams reach. */
static const struct evu_geometry evu_dgram = {EV_URING_DGRAM_BUFS, 65536 + 4096, 0, 0};

static void evu_group_add(struct evu_group *g, unsigned bid)
{
	io_uring_buf_ring_add(g->br, g->base + (size_t)bid * g->size, (unsigned)g->size,
	                      (unsigned short)bid, io_uring_buf_ring_mask(g->entries),
	                      (int)g->adds++);
}

void evu_group_close(struct evu_group *g)
{
	if (g->br != NULL)
		munmap(g->br, g->br_bytes);
	if (g->base != NULL)
		munmap(g->base, g->entries * g->size);
	free(g->off);
	free(g->refs);
	free(g->done);
	memset(g, 0, sizeof(*g));
}

/* Map and register pool `which` with geometry geo (5.19; incremental 6.12).
 * Returns 0, or -1 with errno (EINVAL: the kernel lacks the geometry). */
static int evu_group_try(struct evu *u, enum ev_buf_group which, const struct evu_geometry *geo)
{
	struct evu_group *g = &u->group[which];
	struct io_uring_buf_reg reg;
	long page = sysconf(_SC_PAGESIZE);
	int rc;

	g->entries = geo->entries;
	g->size = geo->size;
	g->inc = geo->inc;
	g->br_bytes =
	    (g->entries * sizeof(struct io_uring_buf) + (size_t)page - 1) & ~((size_t)page - 1);
	g->br = mmap(NULL, g->br_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->br == MAP_FAILED) {
		g->br = NULL;
		goto fail;
	}
	g->base = mmap(NULL, g->entries * g->size, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | (geo->populate ? MAP_POPULATE : 0), -1, 0);
	if (g->base == MAP_FAILED) {
		g->base = NULL;
		goto fail;
	}
	g->off = calloc(g->entries, sizeof(*g->off));
	g->refs = calloc(g->entries, sizeof(*g->refs));
	g->done = calloc(g->entries, sizeof(*g->done));
	if (g->off == NULL || g->refs == NULL || g->done == NULL)
		goto fail;
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)g->br;
	reg.ring_entries = g->entries;
	reg.bgid = (uint16_t)which;
	reg.pad = geo->inc ? EVU_PBUF_RING_INC : 0;
	if ((rc = io_uring_register_buf_ring(&u->ring, &reg, 0)) < 0) {
		errno = -rc;
		goto fail;
	}
	io_uring_buf_ring_init(g->br);
	for (unsigned i = 0; i < g->entries; i++)
		evu_group_add(g, i);
	io_uring_buf_ring_advance(g->br, (int)g->adds);
	g->adds = 0;
	g->ready = 1;
	return 0;

fail:;
	int saved = errno;
	evu_group_close(g);
	errno = saved;
	return -1;
}

int evu_group_open(struct evu *u, enum ev_buf_group which)
{
	int rc;

	if (u->group[which].ready)
		return 0;
	if (which == EV_BUF_DGRAM)
		rc = evu_group_try(u, which, &evu_dgram);
	else if (which == EV_BUF_BULK)
		rc = evu_group_try(u, which, &evu_bulk);
	else if ((rc = evu_group_try(u, which, &evu_stream_inc)) == -1 && errno == EINVAL)
		rc = evu_group_try(u, which, &evu_stream_plain);
	if (rc == -1)
		ev_backend_error("io_uring: cannot register a buffer ring: %s", strerror(errno));
	return rc;
}

/* A completion lent `len` bytes of buffer bid: where they are.  The kernel
 * has finished with the buffer unless it goes on filling it. */
char *evu_buf_lend(struct evu_group *g, unsigned bid, int len, unsigned flags)
{
	char *data = g->base + (size_t)bid * g->size + g->off[bid];

	if (len > 0)
		g->off[bid] += (uint32_t)len;
	g->refs[bid]++;
	if (!g->inc || !(flags & IORING_CQE_F_BUF_MORE)) {
		g->done[bid] = 1;
		g->lent++;
	}
	return data;
}

/* One lending of bid given back: the buffer returns to the ring when it
 * was the last and the kernel is done with it. */
void evu_buf_return(struct evu_group *g, unsigned bid)
{
	if (--g->refs[bid] > 0 || !g->done[bid])
		return;
	g->off[bid] = 0;
	g->done[bid] = 0;
	g->lent--;
	evu_group_add(g, bid);
}

void evu_give_back(struct evu *u)
{
	for (int i = 0; i < EV_BUF_GROUPS; i++) {
		struct evu_group *g = &u->group[i];
		if (g->adds > 0) {
			io_uring_buf_ring_advance(g->br, (int)g->adds);
			g->adds = 0;
		}
	}
}

long ev_uring_dgram(struct ev_loop *loop, const struct ev_completion *c, const struct msghdr *msg,
                    void **payload, struct msghdr *got)
{
	struct evu *u = evu_of(loop);
	const struct io_uring_recvmsg_out *o;
	size_t head = sizeof(*o) + msg->msg_namelen + msg->msg_controllen;
	char *buf;

	memset(got, 0, sizeof(*got));
	if (u == NULL || c->data == NULL || c->res < 0 || (size_t)c->res < head)
		return -1;
	buf = c->data;
	o = (const struct io_uring_recvmsg_out *)(void *)buf;
	if ((o->flags & MSG_TRUNC) || o->namelen > msg->msg_namelen ||
	    o->controllen > msg->msg_controllen)
		return -1;
	got->msg_name = buf + sizeof(*o);
	got->msg_namelen = o->namelen;
	if (o->controllen > 0) {
		got->msg_control = buf + sizeof(*o) + msg->msg_namelen;
		got->msg_controllen = o->controllen;
	}
	got->msg_flags = (int)o->flags;
	*payload = buf + head;
	return (long)((size_t)c->res - head);
}

void ev_buf_release(struct ev_loop *loop, enum ev_buf_group g, int buf)
{
	struct evu *u = loop->bdata;

	if (g == EV_BUF_STREAM && buf >= EV_URING_BULK_FIRST) {
		g = EV_BUF_BULK;
		buf -= EV_URING_BULK_FIRST;
	}
	evu_buf_return(&u->group[g], (unsigned)buf);
}

size_t ev_buf_size(const struct ev_loop *loop, enum ev_buf_group g)
{
	const struct evu *u = evu_of(loop);

	return u != NULL && u->group[g].ready ? u->group[g].size : 0;
}

size_t ev_buf_free(const struct ev_loop *loop, enum ev_buf_group g)
{
	const struct evu *u = evu_of(loop);

	if (u == NULL || !u->group[g].ready)
		return 0;
	/* Given back counts: the wait that follows passes it on first. */
	return u->group[g].entries - u->group[g].lent;
}

#endif
