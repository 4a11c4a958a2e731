/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The worker: after fork it drops privileges, builds its own event loop, then
 * accepts on its share of the listeners and echoes, until the master tells it
 * over the channel to retire (stop accepting, let every connection finish at
 * its first quiet moment, cut what is left at shutdown_timeout) or to stop.
 * EOF on the channel means the master is gone: the worker retires.  It
 * accepts in batches when a listener is readable, on every backend; on a
 * loop that takes completions (io_uring) conn_uring.c and udp_uring.c move
 * the bytes, by readiness conn.c and udp.c do.
 *
 * Why no io_uring accept: it waits on the listening socket exclusively, so
 * a connection's wake-up goes to it alone.  An accept being cancelled (a
 * retiring worker's), or one of a ring being torn down (a killed worker's,
 * whose teardown runs later in a kernel thread), takes the wake-up and
 * accepts nothing: that connection waited in the queue until the next one
 * came, seconds in the tests.  A poll wakes every waiter.
 */
#include "acconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admit.h"
#include "buffer.h"
#include "channel.h"
#include "cidr.h"
#include "config.h"
#include "conn.h"
#include "conn_uring.h"
#include "ev.h"
#include "exitcode.h"
#include "handover.h"
#include "listener.h"
#include "log.h"
#include "privs.h"
#include "proxy.h"
#include "sandbox.h"
#include "signals.h"
#include "stats.h"
#include "udp.h"
#include "udp_uring.h"
#include "worker.h"

/* One read takes up to this much; also the largest direct echo. */
#define WORKER_RBUF_SIZE ((size_t)64 * 1024)
/* Connections accepted per readiness event of a listener, so that a flood
 * of new clients cannot starve the established ones. */
#define ACCEPT_BATCH 64
/* How long accepting pauses when descriptors or memory run out. */
#define ACCEPT_PAUSE_MS 100

struct worker;

/* What the callback of one listener needs: its worker and its entry. */
struct worker_lsn {
	struct worker *w;
	const struct listen_conf *lc;
	const struct acl *acl; /* its access list: its own or the global one */
	struct udp_sock udp;   /* UDP: how its datagrams are served */
	unsigned stats_id;     /* its accepted connections' counter (stats.h) */
};

struct worker {
	struct conn_ctx conns; /* the stream connections and what they share */
	struct handover ho;    /* connections moving to or from other workers */
	const struct config *cfg;
	size_t index;
	int chan;               /* to the master; -1 once it is gone */
	struct udp_echo *udp;   /* shared UDP batch buffers, or NULL */
	struct udp_uring *udpu; /* UDP by completions, or NULL */
	uint64_t deadline;      /* when retiring: cut what is left */
	int *accept_fds;        /* stream listeners served */
	size_t naccept_fds;
	struct worker_lsn *lsn; /* one per listener */
	struct ev_timer accept_timer;
	/* Connections refused or shed, each reason logged at most once per
	 * LOG_RATE_MS with its count (log.h); rate_timer writes what they
	 * held back once it is due. */
	struct log_rate refused;   /* max_connections reached */
	struct log_rate paused;    /* accept paused: out of descriptors or memory */
	struct log_rate unwatched; /* accepted, but the event loop cannot take it */
	struct ev_timer rate_timer;
	uint64_t accepted;
	int accept_paused;
	int retiring;
	int quit;

	/* Who gets in: what each connection and datagram is checked against. */
	struct admit admit; /* access lists, per-source limits, UDP guard */
};

uint64_t worker_retire_margin_ms(void)
{
	return CONN_LINGER_MS;
}

static void accept_set(struct worker *w, int events)
{
	for (size_t i = 0; i < w->naccept_fds; i++)
		if (ev_set(w->conns.loop, w->accept_fds[i], events) == -1)
			log_warn("cannot change interest in a listening socket");
}

static void accept_resume(struct worker *w)
{
	w->accept_paused = 0;
	ev_timer_stop(w->conns.loop, &w->accept_timer);
	if (!w->retiring)
		accept_set(w, EV_READ);
}

static void on_accept_timer(struct ev_loop *loop, struct ev_timer *t)
{
	(void)loop;
	accept_resume(ev_container_of(t, struct worker, accept_timer));
}

/* A connection closed: its source counts one fewer, and a descriptor just
 * came free, so a paused accept need not wait for its pause to end. */
static void on_conn_closed(struct conn_ctx *ctx, uint64_t tag)
{
	struct worker *w = ev_container_of(ctx, struct worker, conns);

	admit_closed(&w->admit, tag);
	if (w->accept_paused)
		accept_resume(w);
}

/* The lines the worker's log_rates held back, once due (or all of them
 * now, with force). */
static void rate_flush(struct worker *w, int force)
{
	uint64_t now = ev_now(w->conns.loop);

	log_rate_flush(&w->refused, now, force, LOG_LEVEL_NOTICE,
	               "connection refused: max_connections (%d) reached", w->cfg->max_connections);
	log_rate_flush(&w->paused, now, force, LOG_LEVEL_WARNING,
	               "accept paused: out of descriptors or memory");
	log_rate_flush(&w->unwatched, now, force, LOG_LEVEL_WARNING,
	               "connection closed at once: the event loop cannot watch it");
}

/* The soonest a held-back line is due, or 0. */
static uint64_t rate_due(const struct worker *w)
{
	const struct log_rate *r[] = {&w->refused, &w->paused, &w->unwatched};
	uint64_t due = 0;

	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		uint64_t d = log_rate_due(r[i]);
		if (d != 0 && (due == 0 || d < due))
			due = d;
	}
	return due;
}

static void rate_arm(struct worker *w)
{
	struct ev_loop *loop = w->conns.loop;
	uint64_t due = rate_due(w), now = ev_now(loop);

	if (due != 0 && !ev_timer_active(&w->rate_timer))
		ev_timer_start(loop, &w->rate_timer, due > now ? due - now : 0);
}

static void on_rate_timer(struct ev_loop *loop, struct ev_timer *t)
{
	struct worker *w = ev_container_of(t, struct worker, rate_timer);
	(void)loop;

	rate_flush(w, 0);
	rate_arm(w);
}

/*
 * Out of descriptors or memory: the pending clients stay in the listen queue
 * while accepting pauses, instead of the loop spinning on a listener that is
 * always readable.  It resumes after a moment or as soon as a connection
 * closes.
 */
static void accept_pause(struct worker *w, int err)
{
	if (log_rate(&w->paused, ev_now(w->conns.loop), 1, LOG_LEVEL_WARNING,
	             "accept: %s; pausing new connections (%zu open)", strerror(err),
	             w->conns.nconns) == 0)
		rate_arm(w);
	w->accept_paused = 1;
	accept_set(w, 0);
	if (ev_timer_start(w->conns.loop, &w->accept_timer, ACCEPT_PAUSE_MS) == -1)
		accept_resume(w);
}

static void log_accepted(const struct conn *c, const struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN] = "?", id[CONN_ID_MAX];
	int port = 0;

	conn_id(c, id, sizeof(id));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		port = ntohs(sin6->sin6_port);
	} else {
		log_debug("connection %s accepted on a unix socket", id);
		return;
	}
	log_debug("connection %s accepted from %s port %d", id, host, port);
}

/* A PROXY header named c's client: it is the source that the access list
 * of c's listener and the per-source limits judge. */
static int on_proxy_client(struct conn_ctx *ctx, struct conn *c, const struct sockaddr *client)
{
	struct worker *w = ev_container_of(ctx, struct worker, conns);
	const struct worker_lsn *lsn = c->proxy->owner;
	uint64_t ticket = 0;

	if (lsn == NULL || !admit_stream_on(&w->admit, lsn->acl))
		return 0;
	if (admit_stream(&w->admit, lsn->acl, client, sizeof(struct sockaddr_storage), &ticket) !=
	    REFUSE_NONE)
		return -1;
	c->tag = ticket;
	return 0;
}

/* A connection handed over by a worker of the previous generation, which
 * counted it off its source: count it on again, as accept or
 * on_proxy_client() would have (a LOCAL header's is not counted).  It is
 * open, so no limit refuses it, and the new access lists do not apply. */
static void on_adopt(struct conn_ctx *ctx, struct conn *c)
{
	struct worker *w = ev_container_of(ctx, struct worker, conns);
	struct sockaddr_storage ss;
	const struct sockaddr *src = conn_source(c);
	socklen_t len = sizeof(ss);

	if (src == NULL) {
		if (c->proxy != NULL || getpeername(c->fd, (struct sockaddr *)&ss, &len) == -1)
			return;
		src = (const struct sockaddr *)&ss;
	} else {
		len = sizeof(struct sockaddr_storage);
	}
	admit_adopted(&w->admit, src, len, &c->tag);
}

/* A stream listener with proxy_protocol: refuse peers outside from, and
 * have the others send their header first.  Returns 0, or -1 when fd was
 * closed. */
static int proxy_accept(const struct listen_conf *lc, int fd, const struct sockaddr_storage *ss)
{
	if (!cidr_list_match(&lc->proxy_from, (const struct sockaddr *)ss)) {
		char peer[PROXY_ADDR_STRLEN];
		log_debug("connection from %s refused: not in proxy_protocol.from",
		          proxy_addr_format(ss, peer, sizeof(peer)));
		close(fd);
		return -1;
	}
	return 0;
}

static void on_acceptable(struct ev_loop *loop, int lfd, int events, void *arg)
{
	struct worker_lsn *lsn = arg;
	struct worker *w = lsn->w;
	const struct listen_conf *lc = lsn->lc;
	int max = w->cfg->max_connections;
	/* Behind a PROXY balancer the source to judge is the client its
	 * header names: on_proxy_client() does it then. */
	int check = !lc->proxy && admit_stream_on(&w->admit, lsn->acl);
	(void)loop;
	(void)events;

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss = {.ss_family = AF_UNSPEC};
		socklen_t len = sizeof(ss);
		int debug = log_enabled(LOG_LEVEL_DEBUG);
		/* The peer's address, to log it or judge it. */
		int peer = debug || lc->proxy || check;
		uint64_t ticket = 0;
		int fd = accept4(lfd, peer ? (struct sockaddr *)&ss : NULL, peer ? &len : NULL,
		                 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			switch (errno) {
			case EAGAIN:
#if EWOULDBLOCK != EAGAIN
			case EWOULDBLOCK:
#endif
				return;
			case EINTR:
			case ECONNABORTED:
			case EPROTO:
				continue;
			case EMFILE:
			case ENFILE:
			case ENOBUFS:
			case ENOMEM:
				accept_pause(w, errno);
				return;
			default:
				log_warn("accept");
				return;
			}
		}
		w->accepted++;
		stats_accepted(w->conns.stats, lsn->stats_id);
		/* Refused: closed at once, nothing read or written. */
		enum refuse_reason why = REFUSE_NONE;
		if (check && (why = admit_stream(&w->admit, lsn->acl, (struct sockaddr *)&ss, len,
		                                 &ticket)) != REFUSE_NONE) {
			log_debug("connection %d refused", fd);
			close(fd);
			stats_rejected(w->conns.stats, refuse_stats_reject(why));
			continue;
		}
		if (w->conns.nconns >= (size_t)max) {
			if (log_rate(&w->refused, ev_now(loop), 1, LOG_LEVEL_NOTICE,
			             "connection refused: max_connections (%d) reached", max) == 0)
				rate_arm(w);
			/* Whatever the client already sent is read first: closing
			 * with unread input would reset instead of EOF. */
			ssize_t r = recv(fd, w->conns.rbuf, w->conns.rbuf_size, MSG_DONTWAIT);
			(void)r;
			close(fd);
			stats_rejected(w->conns.stats, STATS_REJECT_MAX_CONNECTIONS);
			admit_closed(&w->admit, ticket);
			continue;
		}
		if (lc->proxy && proxy_accept(lc, fd, &ss) == -1) {
			stats_rejected(w->conns.stats, STATS_REJECT_PROXY);
			continue;
		}
		struct conn *c = conn_new(&w->conns, fd);
		if (c != NULL && lc->proxy &&
		    conn_expect_proxy(c, (uint64_t)lc->proxy_timeout * 1000) == -1) {
			log_warn("connection %d", fd);
			conn_close(c, "out of memory");
			continue;
		}
		if (c != NULL) {
			c->tag = ticket;
			if (c->proxy != NULL)
				c->proxy->owner = lsn;
		} else {
			int err = errno; /* close() below may change errno */
			admit_closed(&w->admit, ticket);
			close(fd);
			stats_rejected(w->conns.stats, STATS_REJECT_ERROR);
			if (err == ENOMEM) {
				accept_pause(w, ENOMEM);
				return;
			}
			if (log_rate(&w->unwatched, ev_now(loop), 1, LOG_LEVEL_WARNING,
			             "connection closed at once: %s",
			             err == ERANGE ? "its descriptor is beyond what the select "
			                             "backend can watch (FD_SETSIZE)"
			                           : strerror(err)) == 0)
				rate_arm(w);
			continue;
		}
		if (debug)
			log_accepted(c, &ss);
	}
}

static int watch_listeners(struct worker *w, struct listener *ls, size_t n, size_t index,
                           size_t count)
{
	struct ev_loop *loop = w->conns.loop;
	size_t total = 0;
	int completions = ev_loop_completions(loop);

	for (size_t i = 0; i < n; i++)
		total += ls[i].nfds;
	if ((w->accept_fds = calloc(total ? total : 1, sizeof(int))) == NULL)
		return -1;
	if ((w->lsn = calloc(n ? n : 1, sizeof(*w->lsn))) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct listener *l = &ls[i];
		struct worker_lsn *lsn = &w->lsn[i];
		/* UDP with a PROXY header per datagram stays with udp.c, by
		 * readiness, on io_uring too. */
		int udp_uring = l->proto == LISTEN_UDP && completions && !w->cfg->listen[i].proxy;
		if (l->proto == LISTEN_UDP && !udp_uring && w->udp == NULL) {
			if ((w->udp = udp_echo_new(&w->admit)) == NULL)
				return -1;
			udp_echo_count(w->udp, w->conns.stats);
		}
		if (udp_uring && w->udpu == NULL) {
			if ((w->udpu = udp_uring_new(loop, &w->admit)) == NULL)
				return -1;
			udp_uring_count(w->udpu, w->conns.stats);
		}
		/* The master builds listener i from entry i of this config. */
		lsn->w = w;
		lsn->stats_id = l->stats_id;
		lsn->lc = &w->cfg->listen[i];
		lsn->acl = config_listen_access(w->cfg, i);
		lsn->udp.u = w->udp;
		lsn->udp.from = lsn->lc->proxy ? &lsn->lc->proxy_from : NULL;
		lsn->udp.acl = lsn->acl;
		for (size_t j = 0; j < l->nfds; j++) {
			if (!listener_serves(l, j, index, count))
				continue;
			int fd = l->fds[j];
			int rc;
			if (l->proto != LISTEN_UDP) {
				rc = ev_add(loop, fd, EV_READ, on_acceptable, lsn);
			} else if (udp_uring) {
				rc = udp_uring_watch(w->udpu, fd, l->addr.ss_family, lsn->acl);
			} else {
				rc = udp_watch(loop, fd, l->addr.ss_family, &lsn->udp);
			}
			if (rc == -1) {
				log_warn("%s: cannot watch socket %d", l->name, fd);
				return -1;
			}
			if (l->proto != LISTEN_UDP)
				w->accept_fds[w->naccept_fds++] = fd;
		}
	}
	return 0;
}

/* Stop accepting and retire every connection, or first offer each one to
 * the new generation (handover.h) for up to handover_ms.  UDP stays served
 * until the worker exits: each datagram goes to one socket's reader, so the
 * old and the new generation answering side by side neither drop nor repeat
 * one. */
static void worker_retire(struct worker *w, int handover, uint64_t handover_ms)
{
	struct ev_loop *loop = w->conns.loop;

	if (w->retiring) {
		if (!handover)
			handover_finish(&w->ho, 0); /* a stop: no more offers */
		return;
	}
	w->retiring = 1;
	w->deadline = ev_now(loop) + (uint64_t)w->cfg->shutdown_timeout * 1000;
	for (size_t i = 0; i < w->naccept_fds; i++)
		ev_del(loop, w->accept_fds[i]);
	w->naccept_fds = 0;
	ev_timer_stop(loop, &w->accept_timer);
	log_info("worker retiring: %zu %s open (worker %zu)", w->conns.nconns,
	         log_plural(w->conns.nconns, "connection", "connections"), w->index);
	if (handover && w->chan != -1)
		handover_start(&w->ho, handover_ms);
	else
		conn_retire_all(&w->conns);
}

static void channel_gone(struct worker *w)
{
	w->ho.chan = -1;
	ev_del(w->conns.loop, w->chan);
	sandbox_report_to(-1);
	close(w->chan);
	w->chan = -1;
}

static void send_stats(struct worker *w, uint32_t id)
{
	struct chan_stats st = {.connections = w->conns.nconns, .accepted = w->accepted};

	if (chan_send(w->chan, CHAN_STATS, id, &st, sizeof(st), -1) == -1 && errno != EAGAIN)
		log_warn("worker %zu: channel", w->index);
}

/* The master's commands.  Its EOF (or a broken channel) means it is gone:
 * nobody would replace us or send the stop, so retire now. */
static void on_channel(struct ev_loop *loop, int fd, int events, void *arg)
{
	struct worker *w = arg;
	struct chan_msg msg;
	(void)loop;
	(void)events;

	for (;;) {
		int fds[CHAN_MAX_FDS];
		size_t nfds = 0;
		int rc = chan_recv_fds(fd, &msg, fds, CHAN_MAX_FDS, &nfds);
		if (rc == 2 && msg.hdr.type == CHAN_HO_OFFER) {
			handover_on_offer(&w->ho, &msg, fds, 0, 1, 0, 0);
			continue;
		}
		if (rc == 2) {
			log_warnx("worker %zu: a %s came without its descriptors", w->index,
			          chan_type_name(msg.hdr.type));
			continue;
		}
		if (rc == -1 && errno == EAGAIN)
			return;
		if (rc == -1 && errno == EBADMSG) {
			log_warnx("worker %zu: malformed message from the master", w->index);
			continue;
		}
		if (rc <= 0) {
			log_notice("worker %zu: the master is gone; retiring", w->index);
			channel_gone(w);
			handover_finish(&w->ho, 1);
			worker_retire(w, 0, 0);
			return;
		}
		switch (msg.hdr.type) {
		case CHAN_RETIRE: {
			struct chan_retire r = {0};
			if (msg.hdr.len == sizeof(r))
				memcpy(&r, msg.payload, sizeof(r));
			worker_retire(w, r.handover != 0, r.timeout_ms);
			break;
		}
		case CHAN_HO_OFFER:
			handover_on_offer(&w->ho, &msg, fds, nfds, 0, !w->retiring,
			                  (size_t)w->cfg->max_connections);
			nfds = 0; /* handover_on_offer took them */
			break;
		case CHAN_HO_ANSWER:
			handover_on_answer(&w->ho, &msg);
			break;
		case CHAN_QUIT:
			w->quit = 1;
			break;
		case CHAN_REOPEN:
			if (log_reopen() == -1)
				log_warn("cannot reopen the log");
			break;
		case CHAN_STATS_REQ:
			send_stats(w, msg.hdr.id);
			break;
		case CHAN_DRAIN:
			w->conns.draining = 1;
			log_info("worker %zu draining: failing balancers' health checks", w->index);
			break;
		default:
			log_warnx("worker %zu: unexpected %s message from the master", w->index,
			          chan_type_name(msg.hdr.type));
			break;
		}
		while (nfds > 0)
			close(fds[--nfds]);
	}
}

static void worker_free(struct worker *w)
{
	struct ev_loop *loop = w->conns.loop;

	handover_abandon(&w->ho);
	while (w->conns.conns != NULL)
		conn_close(w->conns.conns, "shutdown");
	if (loop != NULL) {
		rate_flush(w, 1);
		ev_timer_stop(loop, &w->rate_timer);
		admit_free(&w->admit);
	}
	/* Before the loop: they stop their own timers there.  The loop runs no
	 * more, so no completion can reach what they free. */
	udp_echo_free(w->udp);
	udp_uring_free(w->udpu);
	if (loop != NULL)
		ev_loop_free(loop);
	/* With the loop gone, no operation is left in the kernel: the
	 * connections it still held can go. */
	conn_uring_detach(&w->conns);
	free(w->accept_fds);
	free(w->lsn);
	free(w->conns.rbuf);
	buffer_cache_flush();
}

/* The loop proper; returns 0 after a stop, -1 if the worker could not be
 * set up (logged). */
static int worker_run(struct worker *w, const struct worker_args *a, const sigset_t *wait_mask)
{
	const struct config *cfg = a->cfg;
	struct ev_loop *loop;

	/* "auto" takes io_uring where the kernel lets this process use it:
	 * the worker, unlike the master, has completions to give it. */
	if ((loop = ev_loop_new_flags(cfg->backend, EV_LOOP_COMPLETIONS)) == NULL) {
		if (ev_last_error()[0] != '\0')
			log_warnx("cannot start the %s event backend: %s", cfg->backend,
			          ev_last_error());
		else
			log_warn("cannot start the %s event backend", cfg->backend);
		return -1;
	}
	w->conns.loop = loop;
	if (ev_loop_fallback(loop) != NULL)
		log_notice("worker %zu: %s; using %s", a->index, ev_loop_fallback(loop),
		           ev_loop_backend(loop));
	if (ev_loop_completions(loop) && conn_uring_attach(&w->conns) == -1) {
		log_warn("worker %zu", a->index);
		return -1;
	}
	ev_loop_sigmask(loop, wait_mask);
	if ((w->conns.rbuf = malloc(w->conns.rbuf_size)) == NULL) {
		log_warn("worker");
		return -1;
	}
	if (admit_init(&w->admit, cfg, a->listeners, a->nlisteners, a->limits, loop, a->stats) ==
	    -1) {
		log_warn("worker %zu", a->index);
		return -1;
	}
	if (watch_listeners(w, a->listeners, a->nlisteners, a->index, a->count) == -1)
		return -1;
	if (ev_add(loop, w->chan, EV_READ, on_channel, w) == -1) {
		log_warn("worker %zu: cannot watch the channel", a->index);
		return -1;
	}
	/* Everything is open that the worker will ever open: from here on it
	 * needs only the system calls of serving. */
	if (cfg->sandbox && sandbox_available() && sandbox_enter(w->chan) == -1) {
		log_warn("worker %zu: cannot install the sandbox (sandbox = false runs without)",
		         a->index);
		return -1;
	}
	log_info("worker %zu serving with the %s backend", a->index, ev_loop_backend(loop));
	/* The backend goes with it: "auto" is resolved only here. */
	if (chan_send(w->chan, CHAN_READY, 0, ev_loop_backend(loop), strlen(ev_loop_backend(loop)),
	              -1) == -1)
		log_warn("worker %zu: cannot tell the master it serves", a->index);

	while (!w->quit) {
		if (signals_take(SIG_FLAG_QUIT))
			break;
		if (signals_take(SIG_FLAG_STOP))
			worker_retire(w, 0, 0);
		if (signals_take(SIG_FLAG_REOPEN) && log_reopen() == -1)
			log_warn("cannot reopen the log");
		/* Done, once the io_uring operations left have completed: an
		 * answer already sent still has its count to add. */
		if (w->retiring && w->conns.nconns == 0 && !udp_uring_stop(w->udpu))
			break;
		if (w->retiring && ev_now(loop) >= w->deadline) {
			if (w->conns.cut)
				break;
			/* shutdown_timeout: stop waiting for quiet moments; what
			 * still runs after one more linger time is closed.  No
			 * more handover offers either: what is not offered yet
			 * retires here (offers on their way keep their answer's
			 * chance until the end). */
			handover_finish(&w->ho, 0);
			w->deadline = ev_now(loop) + CONN_LINGER_MS;
			conn_cut_all(&w->conns);
			continue;
		}
		int wait_ms = -1;
		if (w->retiring)
			wait_ms = (int)(w->deadline - ev_now(loop));
		if (ev_run_once(loop, wait_ms) == -1) {
			log_warn("event loop");
			return -1;
		}
	}
	if (w->conns.nconns > 0)
		log_notice("closing %zu %s still open", w->conns.nconns,
		           log_plural(w->conns.nconns, "connection", "connections"));
	return 0;
}

int worker_main(const struct worker_args *a)
{
	struct worker w = {
	    .conns =
	        {
	            .rbuf_size = WORKER_RBUF_SIZE,
	            .max_pending = (size_t)a->cfg->max_pending,
	            .idle_ms = (uint64_t)a->cfg->idle_timeout * 1000,
	            .on_close = on_conn_closed,
	            .stats = a->stats,
	            .on_client = on_proxy_client,
	            .on_adopt = on_adopt,
	        },
	    .cfg = a->cfg,
	    .index = a->index,
	    .chan = a->chan,
	};
	sigset_t wait_mask;
	int rc = EXIT_RUNTIME;

	ev_timer_init(&w.accept_timer, on_accept_timer);
	handover_init(&w.ho, &w.conns, a->chan);
	ev_timer_init(&w.rate_timer, on_rate_timer);
	conn_ctx_set_id(&w.conns, a->gen, a->index, a->replacement);
	if (signals_install(&wait_mask) == -1) {
		log_warn("worker %zu: signals", a->index);
		return rc;
	}
	if (privs_drop(a->privs) == -1) {
		log_warn("worker %zu: cannot drop privileges to uid %ld gid %ld", a->index,
		         (long)a->privs->uid, (long)a->privs->gid);
		return rc;
	}
	/* A worker binds nothing and signals nobody: whatever capabilities the
	 * master kept (or an ambient set gave) are of no use here. */
	if (privs_drop_capabilities() == -1) {
		log_warn("worker %zu: cannot drop capabilities", a->index);
		return rc;
	}
	if (worker_run(&w, a, &wait_mask) == 0)
		rc = EXIT_OK;
	worker_free(&w);
	return rc;
}
