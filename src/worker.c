/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The worker's event loop: accept on its share of the listeners, echo, and on
 * a stop request retire gracefully (stop accepting, let every connection
 * finish at its first quiet moment, cut what is left at shutdown_timeout).
 */
#include "acconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "buffer.h"
#include "config.h"
#include "conn.h"
#include "listener.h"
#include "log.h"
#include "signals.h"
#include "udp.h"
#include "worker.h"

/* One read takes up to this much; also the largest direct echo. */
#define WORKER_RBUF_SIZE (64 * 1024)
/* Connections accepted per readiness event of a listener, so that a flood
 * of new clients cannot starve the established ones. */
#define ACCEPT_BATCH 64
/* How long accepting pauses when descriptors or memory run out. */
#define ACCEPT_PAUSE_MS 100
/* At most one "out of descriptors" warning per this many ms. */
#define FD_WARNING_MS 10000

void worker_conn_link(struct worker *w, struct conn *c)
{
	c->prev = NULL;
	c->next = w->conns;
	if (w->conns != NULL)
		w->conns->prev = c;
	w->conns = c;
	w->nconns++;
	if (w->conn_count != NULL)
		*w->conn_count = (uint32_t)w->nconns;
}

static void accept_resume(struct worker *w);

void worker_conn_unlink(struct worker *w, struct conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	w->nconns--;
	if (w->conn_count != NULL)
		*w->conn_count = (uint32_t)w->nconns;
	/* A descriptor just came free: no need to wait for the pause to end. */
	if (w->accept_paused)
		accept_resume(w);
}

static void accept_set(struct worker *w, int events)
{
	for (size_t i = 0; i < w->naccept_fds; i++)
		if (ev_set(w->loop, w->accept_fds[i], events) == -1)
			log_warn("cannot change interest in a listening socket");
}

static void accept_resume(struct worker *w)
{
	w->accept_paused = 0;
	ev_timer_stop(w->loop, &w->accept_timer);
	if (!w->retiring)
		accept_set(w, EV_READ);
}

static void on_accept_timer(struct ev_loop *loop, struct ev_timer *t)
{
	(void)loop;
	accept_resume(ev_container_of(t, struct worker, accept_timer));
}

/*
 * Out of descriptors or memory: the pending clients stay in the listen queue
 * while accepting pauses, instead of the loop spinning on a listener that is
 * always readable.  It resumes after a moment or as soon as a connection
 * closes.
 */
static void accept_pause(struct worker *w, int err)
{
	uint64_t now = ev_now(w->loop);

	if (w->last_fd_warning == 0 || now - w->last_fd_warning >= FD_WARNING_MS) {
		w->last_fd_warning = now;
		log_warnx("accept: %s; pausing new connections (%zu open)", strerror(err),
		          w->nconns);
	}
	w->accept_paused = 1;
	accept_set(w, 0);
	if (ev_timer_start(w->loop, &w->accept_timer, ACCEPT_PAUSE_MS) == -1)
		accept_resume(w);
}

static void log_accepted(int fd, const struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		port = ntohs(sin6->sin6_port);
	} else {
		log_debug("connection %d accepted on a unix socket", fd);
		return;
	}
	log_debug("connection %d accepted from %s port %d", fd, host, port);
}

static void on_acceptable(struct ev_loop *loop, int lfd, int events, void *arg)
{
	struct worker *w = arg;
	int max = w->cfg->max_connections;
	(void)loop;
	(void)events;

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int debug = log_enabled(LOG_LEVEL_DEBUG);
		int fd = accept4(lfd, debug ? (struct sockaddr *)&ss : NULL, debug ? &len : NULL,
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
		if (debug)
			log_accepted(fd, &ss);
		if (w->nconns >= (size_t)max) {
			log_debug("connection %d closed: max_connections (%d) reached", fd, max);
			/* Whatever the client already sent is read first: closing
			 * with unread input would reset instead of EOF. */
			ssize_t r = recv(fd, w->rbuf, w->rbuf_size, MSG_DONTWAIT);
			(void)r;
			close(fd);
			continue;
		}
		if (conn_new(w, fd) == NULL) {
			int err = errno; /* close() below may change errno */
			if (err == ERANGE)
				log_warnx("descriptor %d is beyond what the %s backend can watch; "
				          "closing it",
				          fd, ev_loop_backend(w->loop));
			else
				log_warn("connection %d", fd);
			close(fd);
			if (err == ENOMEM) {
				accept_pause(w, ENOMEM);
				return;
			}
		}
	}
}

static int watch_listeners(struct worker *w, struct listener *ls, size_t n, size_t index,
                           size_t count)
{
	size_t total = 0;

	for (size_t i = 0; i < n; i++)
		total += ls[i].nfds;
	if ((w->accept_fds = calloc(total ? total : 1, sizeof(int))) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct listener *l = &ls[i];
		if (l->proto == LISTEN_UDP && w->udp == NULL && (w->udp = udp_echo_new()) == NULL)
			return -1;
		for (size_t j = 0; j < l->nfds; j++) {
			if (!listener_serves(l, j, index, count))
				continue;
			int fd = l->fds[j];
			int rc = l->proto == LISTEN_UDP
			             ? ev_add(w->loop, fd, EV_READ, udp_on_readable, w->udp)
			             : ev_add(w->loop, fd, EV_READ, on_acceptable, w);
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

/* Stop accepting and retire every connection.  UDP stays served until the
 * worker exits: each datagram goes to one socket's reader, so the old and
 * the new generation answering side by side neither drop nor repeat one. */
static void worker_retire(struct worker *w)
{
	w->retiring = 1;
	w->deadline = ev_now(w->loop) + (uint64_t)w->cfg->shutdown_timeout * 1000;
	for (size_t i = 0; i < w->naccept_fds; i++)
		ev_del(w->loop, w->accept_fds[i]);
	w->naccept_fds = 0;
	ev_timer_stop(w->loop, &w->accept_timer);
	for (struct conn *c = w->conns, *next; c != NULL; c = next) {
		next = c->next;
		conn_retire(c);
	}
	log_info("worker retiring: %zu connections open", w->nconns);
}

static void worker_free(struct worker *w)
{
	while (w->conns != NULL)
		conn_close(w->conns, "shutdown");
	if (w->loop != NULL)
		ev_loop_free(w->loop);
	udp_echo_free(w->udp);
	free(w->accept_fds);
	free(w->rbuf);
	buffer_cache_flush();
}

int worker_run(const struct worker_args *a)
{
	const struct config *cfg = a->cfg;
	struct worker w = {
	    .cfg = cfg,
	    .idle_ms = (uint64_t)cfg->idle_timeout * 1000,
	    .rbuf_size = WORKER_RBUF_SIZE,
	    .conn_count = a->conn_count,
	};
	int rc = -1;

	ev_timer_init(&w.accept_timer, on_accept_timer);
	if ((w.loop = ev_loop_new(cfg->backend)) == NULL) {
		log_warn("cannot start the %s event backend", cfg->backend);
		goto out;
	}
	ev_loop_sigmask(w.loop, a->wait_mask);
	if ((w.rbuf = malloc(w.rbuf_size)) == NULL) {
		log_warn("worker");
		goto out;
	}
	if (watch_listeners(&w, a->listeners, a->nlisteners, a->index, a->count) == -1)
		goto out;
	log_info("worker %zu serving with the %s backend", a->index, ev_loop_backend(w.loop));
	if (a->ready_fd != -1) {
		ssize_t wr = write(a->ready_fd, "R", 1);
		(void)wr; /* the master sees EOF instead and counts us not ready */
		close(a->ready_fd);
	}

	for (;;) {
		if (signals_take(SIG_FLAG_QUIT))
			break;
		if (signals_take(SIG_FLAG_STOP) && !w.retiring)
			worker_retire(&w);
		if (signals_take(SIG_FLAG_REOPEN) && log_reopen() == -1)
			log_warn("cannot reopen the log");
		if (w.retiring && w.nconns == 0)
			break;
		if (w.retiring && ev_now(w.loop) >= w.deadline) {
			if (w.cut)
				break;
			/* shutdown_timeout: stop waiting for quiet moments; what
			 * still runs after one more linger time is closed. */
			w.cut = 1;
			w.deadline = ev_now(w.loop) + CONN_LINGER_MS;
			for (struct conn *c = w.conns, *next; c != NULL; c = next) {
				next = c->next;
				conn_cut(c);
			}
			continue;
		}
		int wait_ms = -1;
		if (w.retiring)
			wait_ms = (int)(w.deadline - ev_now(w.loop));
		if (ev_run_once(w.loop, wait_ms) == -1) {
			log_warn("event loop");
			goto out;
		}
	}
	if (w.nconns > 0)
		log_notice("closing %zu connections still open", w.nconns);
	rc = 0;
out:
	worker_free(&w);
	return rc;
}
