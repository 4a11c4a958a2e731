/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The master-worker channel: one SOCK_SEQPACKET socketpair per worker, made
 * before fork, carrying small typed messages (a fixed header, then a payload
 * of at most CHAN_MAX_PAYLOAD bytes, optionally one descriptor passed with
 * SCM_RIGHTS).  Every message is one datagram, so it arrives whole or not at
 * all.  EOF tells either side that the other is gone.  Signals remain the
 * interface from outside only.
 */
#ifndef ECHOD_CHANNEL_H
#define ECHOD_CHANNEL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The vocabulary.  M->W: master to worker; W->M: worker to master. */
enum chan_type {
	CHAN_READY = 1, /* W->M: every listener is watched; the worker serves.
	                 * Payload: the name of its event backend (no NUL). */
	CHAN_RETIRE,    /* M->W: stop accepting, retire connections gracefully */
	CHAN_QUIT,      /* M->W: stop now */
	CHAN_REOPEN,    /* M->W: reopen the log file */
	CHAN_STATS_REQ, /* M->W: send CHAN_STATS */
	CHAN_STATS,     /* W->M: payload struct chan_stats */
	CHAN_DRAIN,     /* M->W: draining before a stop: fail balancers' checks */
	/* Connection handover (handover.h): W->M->W, the connection's socket
	 * and, if its queue did not fit the payload, a memfd holding it. */
	CHAN_HO_OFFER,
	CHAN_HO_ANSWER, /* W->M->W: payload struct chan_ho_answer */
	CHAN_SANDBOX,   /* W->M: payload struct chan_sandbox; the worker is dying */
};

/* CHAN_RETIRE's optional payload (none: drain, as on a stop). */
struct chan_retire {
	uint32_t handover;   /* 1: hand connections to the new generation */
	uint32_t timeout_ms; /* handover_timeout */
};

/* The answer to a CHAN_HO_OFFER, whose id it carries. */
struct chan_ho_answer {
	int32_t err; /* 0: adopted; else an errno (EAGAIN: try again later) */
};

struct chan_hdr {
	uint16_t type; /* enum chan_type */
	uint16_t len;  /* payload bytes after the header */
	uint32_t id;   /* for the sender's use: a request's id echoed in its answer */
};

#define CHAN_MAX_PAYLOAD 1024

struct chan_msg {
	struct chan_hdr hdr;
	unsigned char payload[CHAN_MAX_PAYLOAD];
};

/* What a worker reports in CHAN_STATS. */
struct chan_stats {
	uint64_t connections; /* open stream connections */
	uint64_t accepted;    /* stream connections accepted since the worker started */
};

/* What a worker reports in CHAN_SANDBOX, from its SIGSYS handler: the
 * system call its seccomp filter refused. */
struct chan_sandbox {
	int32_t syscall; /* the number, as the kernel's siginfo gives it */
	uint32_t arch;   /* AUDIT_ARCH_* of the call */
};

/*
 * Make the pair: fds[0] for the master, fds[1] for the worker; both
 * close-on-exec and non-blocking, so neither side can ever block on the
 * other.  Returns 0, or -1 with errno.
 */
int chan_pair(int fds[2]);

/*
 * Send one message with `len` bytes of payload and, if fd_pass >= 0, that
 * descriptor (a copy arrives; the caller still owns fd_pass).  Returns 0, or
 * -1 with errno: EMSGSIZE if len > CHAN_MAX_PAYLOAD, EAGAIN if the peer's
 * queue is full, EPIPE if the peer is gone.
 */
int chan_send(int fd, enum chan_type type, uint32_t id, const void *payload, size_t len,
              int fd_pass);

/*
 * Receive one message into *msg; a descriptor that came with it is stored
 * in *fd_recv (the caller owns it), else *fd_recv is -1 (fd_recv may be NULL
 * only if none is expected: an unexpected descriptor is closed).  Returns 1
 * for a message, 0 at EOF (the peer is gone), or -1 with errno (EAGAIN:
 * nothing queued; EBADMSG: a malformed message, which was dropped).
 */
int chan_recv(int fd, struct chan_msg *msg, int *fd_recv);

/*
 * chan_send() with up to CHAN_MAX_FDS descriptors (copies arrive; the
 * caller still owns them).  Same returns.
 */
#define CHAN_MAX_FDS 2
int chan_send_fds(int fd, enum chan_type type, uint32_t id, const void *payload, size_t len,
                  const int *fds, size_t nfds);

/*
 * chan_recv() that keeps up to `max` descriptors in fds[] (the caller owns
 * them) and stores their number in *nfds; any beyond max are closed.
 * Returns 1 for a whole message, 2 for a whole message some descriptors of
 * which were lost on the way in (MSG_CTRUNC: this process is at its
 * descriptor limit; those that came are closed, *nfds is 0), 0 at EOF, or -1
 * with errno as chan_recv().
 */
int chan_recv_fds(int fd, struct chan_msg *msg, int *fds, size_t max, size_t *nfds);

/* The name of a message type, for logs ("ready", "retire", ...). */
const char *chan_type_name(unsigned type);

#endif
