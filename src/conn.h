/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One echoed stream connection (TCP or Unix): read, write back at once what
 * the socket takes, queue the rest, stop reading past max_pending, finish the
 * echo after the client's FIN, close on idle, retire gracefully.
 */
#ifndef ECHOD_CONN_H
#define ECHOD_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buffer.h"
#include "ev.h"
#include "stats.h"

struct conn;

struct conn_io;

/*
 * What connections need from their owner, and nothing more: the loop, how
 * their bytes move, a read buffer shared by all of them, the limits, the
 * list of open connections, and a callback when one closes.  A worker embeds
 * one; a unit test can make one without a process.
 */
struct conn_ctx {
	struct ev_loop *loop;
	const struct conn_io *io; /* NULL: by readiness (conn_io_ready) */
	void *io_data;            /* the I/O driver's own state */
	char *rbuf;               /* shared read buffer */
	size_t rbuf_size;
	size_t max_pending; /* bytes queued per connection before reading stops */
	uint64_t idle_ms;   /* 0: never */
	int cut;            /* shutdown_timeout passed: retire without a quiet period */
	/* drain_delay runs: a PROXY LOCAL header (a balancer's health check)
	 * is refused, so the balancer takes this instance out of its pool. */
	int draining;
	struct conn *conns; /* every open connection */
	size_t nconns;
	char id_prefix[32];       /* "GEN.WORKER" of conn_ctx_set_id(), or "" */
	uint64_t last_id;         /* the id of the newest connection */
	struct stats_slot *stats; /* where bytes and closes are counted, or NULL */
	/* Called after a connection closed (it is already unlinked and freed),
	 * with its tag, or NULL. */
	void (*on_close)(struct conn_ctx *ctx, uint64_t tag);
	/* Called when a PROXY header names c's client (not for a LOCAL one),
	 * before anything of c is echoed: the source every other rule judges.
	 * Non-zero closes c as refused.  NULL: every client will do. */
	int (*on_client)(struct conn_ctx *ctx, struct conn *c, const struct sockaddr *client);
	/* Called when conn_adopt() takes in c from another worker, before it
	 * serves it: the owner may set c->tag.  NULL: nothing to do. */
	void (*on_adopt)(struct conn_ctx *ctx, struct conn *c);
};

enum conn_state {
	CONN_HEADER,   /* awaiting its PROXY header; nothing echoed yet */
	CONN_OPEN,     /* echoing */
	CONN_RETIRING, /* echoing; closes at its first quiet moment */
	CONN_LINGER,   /* FIN sent; discarding input until the peer closes */
	CONN_HANDOVER, /* frozen, not watched: offered to another worker */
};

/* What travels with a connection handed to another worker (handover.c),
 * beside its socket and its queue. */
struct conn_transfer {
	uint64_t bytes_in;
	uint64_t bytes_out;                   /* informational: bytes_in minus the queue */
	uint64_t idle_ms;                     /* since the last byte moved */
	uint64_t age_ms;                      /* since it was accepted (its duration so far) */
	uint8_t peer_eof;                     /* the client sent FIN */
	uint8_t has_proxy;                    /* its listener takes a PROXY header (it came) */
	struct sockaddr_storage proxy_client; /* the client it claimed, or AF_UNSPEC */
};

/* A connection behind a PROXY protocol balancer (conn_expect_proxy()). */
struct conn_proxy {
	/* The client the header names; AF_UNSPEC for a LOCAL or UNKNOWN
	 * header (then the peer is the source), or while awaiting it. */
	struct sockaddr_storage client;
	char *hdr; /* the header so far, while awaiting it */
	uint32_t len, cap;
	uint8_t retire;    /* conn_retire() came while awaiting the header */
	const void *owner; /* the owner's, for on_client */
};

struct conn {
	struct conn *prev, *next; /* ctx->conns */
	struct conn_proxy *proxy; /* NULL: no PROXY header on this listener */
	struct conn_ctx *ctx;
	struct buffer out;     /* received, not yet echoed */
	struct ev_timer timer; /* idle, quiet period or linger */
	uint64_t last_active;  /* ev_now() of the last byte moved */
	uint64_t opened;       /* ev_now() when accepted */
	uint64_t bytes_in;     /* read; those echoed are conn_bytes_out() */
	uint64_t id;           /* 1, 2, ... in the order ctx accepted them */
	uint64_t tag;          /* the owner's, handed back to on_close (0 unless set) */
	int fd;
	uint8_t state;    /* enum conn_state */
	uint8_t peer_eof; /* the client sent FIN */
	uint8_t paused;   /* reading stopped: queue over max_pending */
	uint8_t heavy;    /* the last read filled its share: more was waiting */
	uint8_t rcvbuf;   /* its socket's receive buffer is fixed (conn_received()) */
};

/* Bytes echoed so far: every byte read is sent, queued or held by the I/O
 * driver (conn_backlog()), so this needs no counter of its own (which keeps
 * struct conn, and an idle connection's memory, 8 bytes smaller). */
uint64_t conn_bytes_out(const struct conn *c);

/* Room for any id conn_id() writes. */
#define CONN_ID_MAX 64

/*
 * Name ctx's connections "GEN.WORKER.N": generation, worker index and a
 * counter, so that an id is unique for the whole life of the master.  A
 * worker that replaces one that died (replacement > 0, numbered within its
 * generation) is "GEN.WORKERrREPLACEMENT": its counter starts again at 1.
 */
void conn_ctx_set_id(struct conn_ctx *ctx, unsigned gen, size_t worker, unsigned replacement);

/* c's id as messages give it, in buf (len bytes; CONN_ID_MAX is enough). */
char *conn_id(const struct conn *c, char *buf, size_t len);

/*
 * Take over the connected, non-blocking socket fd and link it into ctx's
 * list, with the next id.  Returns the connection, or NULL with errno (ENOMEM, or the event
 * loop's error); fd is then still the caller's to close.
 */
struct conn *conn_new(struct conn_ctx *ctx, int fd);

/*
 * The listener takes a PROXY header first (c was just made by conn_new()):
 * nothing is echoed until a valid v1 or v2 header has been read, which is
 * never echoed; bytes after it are.  An invalid header, EOF before it, or
 * none complete within timeout_ms closes c.  Returns 0, or -1 with errno
 * (c is then still open and the caller's to close).
 */
int conn_expect_proxy(struct conn *c, uint64_t timeout_ms);

/*
 * The source address every rule and log line should use: the client the
 * PROXY header named, or NULL when there is none (no header on this
 * listener, a LOCAL header, or not read yet): then it is the peer's.
 */
const struct sockaddr *conn_source(const struct conn *c);

/* Close now, for `reason` (logged at debug).  Unlinks c and frees it (or
 * leaves that to the driver, whose operations on it must end first), then
 * calls ctx->on_close with c's tag. */
void conn_close(struct conn *c, const char *reason);

/* Start retiring: c closes with a half-close at its first quiet moment,
 * when everything received has been echoed and the client has been silent
 * for CONN_QUIET_MS. */
void conn_retire(struct conn *c);

/* shutdown_timeout has passed: set ctx->cut and half-close every connection
 * as soon as everything it received has been echoed, without waiting for a
 * quiet period. */
void conn_cut_all(struct conn_ctx *ctx);

/* conn_retire() every open connection. */
void conn_retire_all(struct conn_ctx *ctx);

/*
 * Freeze c for a handover: stop watching it and its timer (its queue stays
 * as it is) and describe it in *t.  Nothing is read or written on a frozen
 * connection, so another worker may take it over with its queue.  Returns
 * 0, or -1 with errno EBUSY when the I/O driver first has to get its
 * operations out of the kernel (io_uring): c then stays open, reads and
 * sends nothing more, and can be frozen a loop turn later.
 */
int conn_freeze(struct conn *c, struct conn_transfer *t);

/*
 * Serve a frozen connection again, as CONN_OPEN: after a failed handover,
 * or in the worker that adopted it.  Returns 0; 1 if c was closed and freed
 * at once (its client had finished and everything was echoed); or -1 with
 * errno (the event loop's error; c stays frozen, the caller disposes of it).
 */
int conn_thaw(struct conn *c);

/* Drop a frozen connection another process now owns: close this process's
 * descriptor only (no FIN: the socket stays open there), unlink, free, then
 * call ctx->on_close with c's tag. */
void conn_forget(struct conn *c);

/*
 * A frozen connection over fd, received from another worker, in state t;
 * the caller fills c->out with its queue, then conn_thaw()s it (or
 * conn_forget()s it).  Calls ctx->on_adopt.  Returns NULL with errno
 * ENOMEM; fd is then still the caller's.
 */
struct conn *conn_adopt(struct conn_ctx *ctx, int fd, const struct conn_transfer *t);

/* The quiet period of a retiring connection, and how long a half-closed
 * one waits for the client's FIN. */
#define CONN_QUIET_MS  250
#define CONN_LINGER_MS 1000

/* Bytes received and not yet echoed (queued, or held by the I/O driver). */
size_t conn_backlog(const struct conn *c);

/*
 * What a connection's socket receive buffer is fixed at (SO_RCVBUF; the
 * kernel doubles it: 128 KiB, its own default) the first time its queue
 * holds this much (or max_pending, if less): its client does not read its
 * echo as fast as it sends.  The kernel grows the buffer of a socket that
 * is read fast, up to 6 MB; 500 clients that send and never read their
 * echo had theirs grow to 1-1.5 MB each on io_uring, and the machine ran
 * out of TCP memory (drops for every connection, stalls of 0.2 s).
 */
#define CONN_RCVBUF_FIXED 65536

/*
 * ---- For the I/O drivers ----------------------------------------------------
 * conn.c decides what a connection does: what it queues, when reading pauses
 * and resumes, when it half-closes, closes or lingers.  A driver moves the
 * bytes and tells it what happened.  conn.c's own driver (conn_io_ready)
 * reads and sends when the loop says the socket is ready; conn_uring.c's lets
 * io_uring do both.
 */
struct conn_io {
	size_t size; /* bytes to allocate per connection, >= sizeof(struct conn) */
	/* Begin: c is set up but not linked yet.  0, or -1 with errno. */
	int (*start)(struct conn *c);
	/* Read or not as conn_wants_read() says; send what is pending.  0, or
	 * -1 with errno. */
	int (*update)(struct conn *c);
	/* Bytes received and not echoed that are not in c->out. */
	size_t (*held)(const struct conn *c);
	/* conn_close() stops c's I/O: 1 if c may be freed at once, 0 if the
	 * driver calls conn_free() once its last operation on c has ended. */
	int (*release)(struct conn *c);
	/* For a handover: stop reading and writing c.  1 when nothing of c is
	 * in the kernel and all it received is in c->out; 0 when the driver has
	 * asked the kernel to stop (ask again a turn later). */
	int (*stop)(struct conn *c);
	/* Serve c again (after stop(), or adopted): 0, or -1 with errno. */
	int (*resume)(struct conn *c);
};

extern const struct conn_io conn_io_ready;

/* Whether c reads now: while lingering (to discard), else unless the client
 * sent FIN or the queue is over max_pending. */
int conn_wants_read(const struct conn *c);

/* The driver took n bytes from c's socket (now in c->out or held), or sent n
 * bytes of its backlog. */
void conn_received(struct conn *c, size_t n);
void conn_sent(struct conn *c, size_t n);

/*
 * The driver read n bytes at data while c awaits its PROXY header
 * (c->state == CONN_HEADER).  Returns how many of them the header took, or
 * -1 if c was closed (an invalid header, a LOCAL one while draining, out of
 * memory).  If c->state is no longer CONN_HEADER, the header is complete
 * and the rest are the client's first bytes, for the driver to take as
 * input.
 */
long conn_header_input(struct conn *c, const char *data, size_t n);

/* After the driver handled an event of c: close c when the client has
 * finished and everything is echoed, half-close it when cut, else let the
 * driver update.  Returns 0, or -1 if c was closed. */
int conn_settle(struct conn *c);

/* Close c's descriptor (unless the driver has, and set it to -1) and free
 * it and its queue. */
void conn_free(struct conn *c);

#endif
