/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The io_uring backend (liburing): the ring, the probe that decides whether
 * a worker may use it, readiness for the few descriptors that still want it
 * (the master channel, the tests) as one-shot POLL_ADDs armed again after
 * each report, so level-triggered like epoll, and one io_uring_enter per turn
 * that submits what the turn prepared and waits, with ev_run_once()'s
 * timeout and signal mask.  The completion operations of ev_uring.h are in
 * ev_uring_ops.c, their buffers in ev_uring_buf.c.
 */
#include "acconfig.h"

#include "ev_uring_int.h"

#ifdef EV_HAVE_IO_URING

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define EVU_SQ_ENTRIES 512
#define EVU_CQ_ENTRIES 8192
/* Completions run per turn at most; the rest wait in the ring. */
#define EVU_DONE_MAX 4096
/* user_data of the start-up probe's receive. */
#define EVU_UD_PROBE 2

/* ---- set-up and the probe -------------------------------------------------- */

/* Why io_uring_setup said no, as an operator can act on it. */
static void evu_setup_error(int err)
{
	const char *hint = "";
	char knob[8] = "";
	FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "re");

	if (f != NULL) {
		if (fgets(knob, sizeof(knob), f) == NULL)
			knob[0] = '\0';
		(void)fclose(f);
	}
	if (err == EPERM && knob[0] == '2')
		hint = " (kernel.io_uring_disabled = 2)";
	else if (err == EPERM && knob[0] == '1')
		hint = " (kernel.io_uring_disabled = 1 and not in kernel.io_uring_group)";
	else if (err == EPERM || err == EACCES)
		hint = " (denied by a seccomp filter or a security module)";
	else if (err == ENOSYS)
		hint = " (not in this kernel, or hidden by a seccomp filter)";
	ev_backend_error("io_uring_setup: %s%s", strerror(err), hint);
}

/* The ring, with the cheapest way of running completions the kernel has:
 * deferred to our own wait (6.1), else cooperative (5.19), else plain.  It
 * starts disabled, to be restricted (evu_restrict()) before its first use. */
static int evu_setup(struct evu *u)
{
	static const unsigned tries[] = {
	    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
	    IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
	    0,
	};
	int rc = -EINVAL;

	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]) && rc == -EINVAL; i++) {
		struct io_uring_params p;

		memset(&p, 0, sizeof(p));
		p.flags = tries[i] | IORING_SETUP_CQSIZE | IORING_SETUP_R_DISABLED;
		p.cq_entries = EVU_CQ_ENTRIES;
		rc = io_uring_queue_init_params(EVU_SQ_ENTRIES, &u->ring, &p);
	}
	if (rc < 0) {
		evu_setup_error(-rc);
		errno = -rc;
		return -1;
	}
	u->ring_ok = 1;
	/* Timeout and signal mask in the same io_uring_enter (5.11); a full
	 * completion queue never drops one (5.5). */
	if (!(u->ring.features & IORING_FEAT_EXT_ARG) || !(u->ring.features & IORING_FEAT_NODROP)) {
		ev_backend_error("io_uring: the kernel lacks IORING_FEAT_EXT_ARG or NODROP");
		errno = ENOTSUP;
		return -1;
	}
	u->skip_cqe = (u->ring.features & IORING_FEAT_CQE_SKIP) != 0;
	/* Saves a descriptor lookup per io_uring_enter; optional. */
	(void)io_uring_register_ring_fd(&u->ring);
	return 0;
}

/*
 * Limit the ring to what the backend does, then enable it.  An operation
 * of the ring runs in the kernel without the system call it stands for, so
 * a seccomp filter (the worker sandbox) never sees it: the ring's own
 * restrictions are what keeps a worker that is made to submit an openat or
 * a connect from doing it.  Allowed: the operations of ev_uring.h and of
 * readiness, the flags they set, and as registrations only a buffer ring
 * (a pool opened at its first use) and the ring descriptor's release at
 * the end.
 */
static int evu_restrict(struct evu *u)
{
	static const unsigned char ops[] = {
	    IORING_OP_POLL_ADD, IORING_OP_POLL_REMOVE, IORING_OP_ASYNC_CANCEL, IORING_OP_RECV,
	    IORING_OP_SEND,     IORING_OP_RECVMSG,     IORING_OP_SENDMSG,      IORING_OP_CLOSE,
	};
	static const unsigned char regs[] = {IORING_REGISTER_PBUF_RING, IORING_UNREGISTER_RING_FDS};
	struct io_uring_restriction res[sizeof(ops) + sizeof(regs) + 1];
	unsigned n = 0;
	int rc;

	memset(res, 0, sizeof(res));
	for (size_t i = 0; i < sizeof(ops); i++) {
		res[n].opcode = IORING_RESTRICTION_SQE_OP;
		res[n++].sqe_op = ops[i];
	}
	for (size_t i = 0; i < sizeof(regs); i++) {
		res[n].opcode = IORING_RESTRICTION_REGISTER_OP;
		res[n++].register_op = regs[i];
	}
	res[n].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
	res[n++].sqe_flags = IOSQE_BUFFER_SELECT | IOSQE_CQE_SKIP_SUCCESS;
	/* io_uring_register_restrictions() and io_uring_enable_rings() are
	 * missing from Debian 12's liburing.so (2.3): the system call. */
	if ((rc = io_uring_register((unsigned)u->ring.ring_fd, IORING_REGISTER_RESTRICTIONS, res,
	                            n)) < 0 ||
	    (rc = io_uring_register((unsigned)u->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL,
	                            0)) < 0) {
		ev_backend_error("io_uring: cannot restrict the ring: %s", strerror(-rc));
		errno = -rc;
		return -1;
	}
	return 0;
}

static int evu_probe_opcodes(struct evu *u)
{
	static const struct {
		int op;
		const char *name;
	} need[] = {
	    {IORING_OP_POLL_ADD, "POLL_ADD"},
	    {IORING_OP_POLL_REMOVE, "POLL_REMOVE"},
	    {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
	    {IORING_OP_RECV, "RECV"},
	    {IORING_OP_SEND, "SEND"},
	    {IORING_OP_RECVMSG, "RECVMSG"},
	    {IORING_OP_SENDMSG, "SENDMSG"},
	    {IORING_OP_CLOSE, "CLOSE"},
	};
	struct io_uring_probe *p = io_uring_get_probe_ring(&u->ring);

	if (p == NULL) {
		ev_backend_error("io_uring: cannot probe the supported operations");
		errno = ENOTSUP;
		return -1;
	}
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (!io_uring_opcode_supported(p, need[i].op)) {
			ev_backend_error("io_uring: the kernel lacks IORING_OP_%s", need[i].name);
			io_uring_free_probe(p);
			errno = ENOTSUP;
			return -1;
		}
	}
	io_uring_free_probe(p);
	return 0;
}

/*
 * Does a multishot receive into the stream pool work here (6.0), and does it
 * keep a byte limit (a later kernel)?  Tried on a socket pair, the only sure
 * way: the opcode probe cannot tell.  Returns 1 if it works, 0 if not, -1
 * if the test itself failed.
 */
static int evu_try_recv(struct evu *u, int limit)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = {.tv_sec = 1};
	struct evu_group *g = &u->group[EV_BUF_STREAM];
	int sv[2], works = 0, ended = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	if (write(sv[1], "probe", 5) != 5 || (sqe = io_uring_get_sqe(&u->ring)) == NULL)
		goto out;
	io_uring_prep_recv_multishot(sqe, sv[0], NULL, limit ? 64 : 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = EV_BUF_STREAM;
	/* The byte limit is the SQE's optlen, file_index in liburing 2.3. */
	sqe->file_index = limit ? 64 : 0;
	io_uring_sqe_set_data64(sqe, EVU_UD_PROBE);
	for (int step = 0; step < 2 && !ended; step++) {
		unsigned head, seen = 0;

		if (io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL) < 0)
			break;
		io_uring_for_each_cqe(&u->ring, head, cqe)
		{
			seen++;
			if (cqe->user_data != EVU_UD_PROBE)
				continue;
			if (cqe->flags & IORING_CQE_F_BUFFER) {
				unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
				(void)evu_buf_lend(g, bid, cqe->res, cqe->flags);
				evu_buf_return(g, bid);
				if (g->adds > 0)
					io_uring_buf_ring_advance(g->br, (int)g->adds);
				g->adds = 0;
			}
			if (step == 0 && cqe->res == 5 && (cqe->flags & IORING_CQE_F_MORE))
				works = 1;
			if (!(cqe->flags & IORING_CQE_F_MORE))
				ended = 1;
		}
		io_uring_cq_advance(&u->ring, seen);
		if (!ended && step == 0 && (sqe = io_uring_get_sqe(&u->ring)) != NULL) {
			io_uring_prep_cancel64(sqe, EVU_UD_PROBE, 0);
			io_uring_sqe_set_data64(sqe, 0);
		}
	}
out:
	close(sv[0]);
	close(sv[1]);
	return ended ? works : -1;
}

static int evu_probe_recv(struct evu *u)
{
	int rc = evu_try_recv(u, 1);

	if (rc == 1) {
		u->recv_limit = 1;
		return 0;
	}
	if (rc == 0 && evu_try_recv(u, 0) == 1)
		return 0;
	ev_backend_error(
	    "io_uring: no multishot receive with provided buffers (Linux 6.0 or later)");
	errno = ENOTSUP;
	return -1;
}

/* ---- the backend ------------------------------------------------------------ */

static void evu_free(struct ev_loop *loop)
{
	struct evu *u = loop->bdata;

	if (u == NULL)
		return;
	/* What is still queued goes first: a close must not be lost. */
	if (u->ring_ok && io_uring_sq_ready(&u->ring) > 0)
		(void)io_uring_submit(&u->ring);
	if (u->ring_ok)
		io_uring_queue_exit(&u->ring);
	for (int g = 0; g < EV_BUF_GROUPS; g++)
		evu_group_close(&u->group[g]);
	free(u->fds);
	free(u->arm);
	free(u->done);
	free(u);
	loop->bdata = NULL;
}

static int evu_init(struct ev_loop *loop)
{
	struct evu *u = calloc(1, sizeof(*u));

	if (u == NULL)
		return -1;
	loop->bdata = u;
	if ((u->done = calloc(EVU_DONE_MAX, sizeof(*u->done))) == NULL)
		goto fail;
	if (evu_setup(u) == -1 || evu_probe_opcodes(u) == -1 ||
	    evu_group_open(u, EV_BUF_STREAM) == -1 || evu_restrict(u) == -1 ||
	    evu_probe_recv(u) == -1)
		goto fail;
	return 0;

fail:;
	int saved = errno;
	evu_free(loop);
	errno = saved;
	return -1;
}

struct io_uring_sqe *evu_sqe(struct evu *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (sqe == NULL) {
		int rc = io_uring_submit(&u->ring);
		if (rc < 0) {
			errno = -rc;
			return NULL;
		}
		if ((sqe = io_uring_get_sqe(&u->ring)) == NULL)
			errno = EBUSY;
	}
	return sqe;
}

/* The tag of fd's current poll: odd, so never an ev_op's address. */
static uint64_t evu_tag(int fd, uint32_t seq)
{
	return ((uint64_t)seq << 32) | ((uint64_t)(uint32_t)fd << 1) | 1;
}

static int evu_fds_reserve(struct evu *u, int fd)
{
	size_t cap = u->fds_cap > 0 ? u->fds_cap : 64;
	struct evu_fd *fds;
	int *arm;

	if ((size_t)fd < u->fds_cap)
		return 0;
	while (cap <= (size_t)fd)
		cap *= 2;
	if ((fds = realloc(u->fds, cap * sizeof(*fds))) == NULL)
		return -1;
	u->fds = fds;
	memset(fds + u->fds_cap, 0, (cap - u->fds_cap) * sizeof(*fds));
	if ((arm = realloc(u->arm, cap * sizeof(*arm))) == NULL)
		return -1;
	u->arm = arm;
	u->fds_cap = cap;
	return 0;
}

static void evu_queue(struct evu *u, int fd)
{
	if (!u->fds[fd].queued) {
		u->fds[fd].queued = 1;
		u->arm[u->narm++] = fd;
	}
}

/* Take fd's poll out of the kernel now, so that the number is clean for a
 * new owner: a poll holds its file open until it is removed. */
static int evu_disarm(struct evu *u, int fd)
{
	struct io_uring_sqe *sqe = evu_sqe(u);

	if (sqe == NULL)
		return -1;
	io_uring_prep_poll_remove(sqe, evu_tag(fd, u->fds[fd].seq));
	io_uring_sqe_set_data64(sqe, 0);
	if (u->skip_cqe)
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	u->fds[fd].armed = 0;
	return 0;
}

static int evu_update(struct ev_loop *loop, int fd, int old_mask, int new_mask)
{
	struct evu *u = loop->bdata;
	(void)old_mask;

	if (evu_fds_reserve(u, fd) == -1)
		return -1;
	if (u->fds[fd].armed && u->fds[fd].mask != new_mask && evu_disarm(u, fd) == -1)
		return -1;
	if (new_mask != 0 && !u->fds[fd].armed)
		evu_queue(u, fd);
	return 0;
}

static void evu_forget(struct ev_loop *loop, int fd, int old_mask)
{
	(void)evu_update(loop, fd, old_mask, 0);
}

/* Arm a poll for every queued descriptor that still wants one. */
static void evu_arm_polls(struct ev_loop *loop, struct evu *u)
{
	size_t i;

	for (i = 0; i < u->narm; i++) {
		int fd = u->arm[i];
		struct evu_fd *f = &u->fds[fd];
		int want = (size_t)fd < loop->fds_cap ? loop->fds[fd].mask : -1;
		struct io_uring_sqe *sqe;

		if (want <= 0 || f->armed) {
			f->queued = 0;
			continue;
		}
		if ((sqe = evu_sqe(u)) == NULL)
			break; /* the rest stay queued for the next turn */
		f->queued = 0;
		f->seq++;
		io_uring_prep_poll_add(sqe, fd,
		                       (want & EV_READ ? POLLIN : 0) |
		                           (want & EV_WRITE ? POLLOUT : 0) | POLLERR | POLLHUP);
		io_uring_sqe_set_data64(sqe, evu_tag(fd, f->seq));
		f->armed = 1;
		f->mask = (uint8_t)want;
	}
	if (i < u->narm)
		memmove(u->arm, u->arm + i, (u->narm - i) * sizeof(*u->arm));
	u->narm -= i;
}

static int evu_poll_events(int res)
{
	if (res < 0 || (res & (POLLERR | POLLHUP)))
		return EV_READ | EV_WRITE;
	return (res & POLLIN ? EV_READ : 0) | (res & POLLOUT ? EV_WRITE : 0);
}

/* Take the completions the kernel posted: polls into loop->fired (one per
 * watched descriptor at most, which ev.c has room for), operations into
 * u->done.  Returns how many polls fired. */
static int evu_harvest(struct ev_loop *loop, struct evu *u)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	int nfired = 0;

	io_uring_for_each_cqe(&u->ring, head, cqe)
	{
		uint64_t ud = cqe->user_data;

		if (ud & 1) {
			int fd = (int)((ud & 0xffffffffu) >> 1);
			struct evu_fd *f = (size_t)fd < u->fds_cap ? &u->fds[fd] : NULL;

			/* Anything but the current poll was removed meanwhile. */
			if (f != NULL && f->armed && f->seq == (uint32_t)(ud >> 32)) {
				f->armed = 0;
				evu_queue(u, fd);
				loop->fired[nfired].fd = fd;
				loop->fired[nfired].events = evu_poll_events(cqe->res);
				nfired++;
			}
		} else if (ud != 0 && ud != EVU_UD_PROBE) {
			struct evu_done *d;
			struct ev_op *op = io_uring_cqe_get_data(cqe);

			if (u->ndone == EVU_DONE_MAX)
				break;
			d = &u->done[u->ndone++];
			d->op = op;
			d->res = cqe->res;
			d->flags = cqe->flags;
			d->data = NULL;
			if ((cqe->flags & IORING_CQE_F_BUFFER) && op->group >= 0)
				d->data = evu_buf_lend(&u->group[op->group],
				                       cqe->flags >> IORING_CQE_BUFFER_SHIFT,
				                       cqe->res, cqe->flags);
		}
		seen++;
	}
	io_uring_cq_advance(&u->ring, seen);
	return nfired;
}

static int evu_wait(struct ev_loop *loop, int timeout_ms, const sigset_t *mask)
{
	struct evu *u = loop->bdata;
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts, *tsp = NULL;
	sigset_t set, *setp = NULL;
	int rc, n;

	evu_arm_polls(loop, u);
	evu_give_back(u);
	/* Completions left in the ring by a full turn: do not sleep on them. */
	if (io_uring_cq_ready(&u->ring) > 0)
		timeout_ms = 0;
	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long long)(timeout_ms % 1000) * 1000000;
		tsp = &ts;
	}
	if (mask != NULL) {
		set = *mask;
		setp = &set;
	}
	rc = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, tsp, setp);
	n = evu_harvest(loop, u);
	if (n == 0 && u->ndone == 0 && rc < 0 && rc != -ETIME && rc != -EAGAIN && rc != -EBUSY) {
		errno = -rc; /* EINTR included */
		return -1;
	}
	return n;
}

/* The id a completion's buffer has for the caller: bulk ids follow the
 * stream pool's. */
static int evu_buf_id(const struct evu_done *d)
{
	int bid = (int)(d->flags >> IORING_CQE_BUFFER_SHIFT);

	return d->op->group == EV_BUF_BULK ? EV_URING_BULK_FIRST + bid : bid;
}

static int evu_complete(struct ev_loop *loop)
{
	struct evu *u = loop->bdata;
	size_t n = u->ndone;

	/* Callbacks may prepare operations but not wait: u->done stays put. */
	for (size_t i = 0; i < n; i++) {
		const struct evu_done *d = &u->done[i];
		struct ev_completion c = {
		    .res = d->res,
		    .more = (d->flags & IORING_CQE_F_MORE) != 0,
		    .buf = d->data != NULL ? evu_buf_id(d) : -1,
		    .data = d->data,
		};
		d->op->fn(loop, d->op, &c);
	}
	u->ndone = 0;
	return (int)n;
}

const struct ev_backend ev_backend_io_uring = {
    .name = "io_uring",
    .init = evu_init,
    .free = evu_free,
    .update = evu_update,
    .wait = evu_wait,
    .forget = evu_forget,
    .complete = evu_complete,
    .completions = 1,
};

struct evu *evu_of(const struct ev_loop *loop)
{
	if (loop->backend != &ev_backend_io_uring) {
		errno = ENOTSUP;
		return NULL;
	}
	return loop->bdata;
}

#endif
