/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The master's relay of handover offers and answers (see relay.h).  Offers
 * in flight are few (each old worker has at most HANDOVER_WINDOW), so a
 * plain array searched linearly is enough.
 */
#include "acconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "relay.h"

/* A refusal of src's offer was told to src, or could not be (told 0). */
static void refused(struct relay *r, pid_t src, int told)
{
	if (!told)
		r->lost++;
	else if (r->back != NULL && src != 0)
		r->back(r->back_arg, src);
}

void relay_refuse(struct relay *r, pid_t src, int src_chan, uint32_t token, int err)
{
	struct chan_ho_answer a = {.err = err};
	int told =
	    src_chan >= 0 && chan_send(src_chan, CHAN_HO_ANSWER, token, &a, sizeof(a), -1) == 0;

	if (src_chan >= 0 && !told)
		log_warn("handover: cannot answer an offer");
	refused(r, src, told);
}

static int remember(struct relay *r, const struct relay_flight *f)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct relay_flight *v = realloc(r->v, cap * sizeof(*v));
		if (v == NULL)
			return -1;
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n++] = *f;
	return 0;
}

void relay_offer(struct relay *r, pid_t src, int src_chan, const struct chan_msg *msg,
                 const int *fds, size_t nfds, const struct relay_target *targets, size_t n)
{
	struct relay_flight f = {.token = msg->hdr.id, .src = src};

	if (n == 0) {
		relay_refuse(r, src, src_chan, msg->hdr.id, ESHUTDOWN);
		return;
	}
	const struct relay_target *t = &targets[r->rr++ % n];
	f.dst = t->pid;
	f.id = r->next_id++;
	if (remember(r, &f) == -1) {
		relay_refuse(r, src, src_chan, msg->hdr.id, ENOMEM);
		return;
	}
	if (chan_send_fds(t->chan, CHAN_HO_OFFER, f.id, msg->payload, msg->hdr.len, fds, nfds) ==
	    -1) {
		int err = errno;
		r->n--;
		relay_refuse(r, src, src_chan, msg->hdr.id, err);
	}
}

static void take(struct relay *r, size_t i)
{
	r->v[i] = r->v[--r->n];
}

int relay_answer(struct relay *r, pid_t dst, const struct chan_msg *msg, relay_chan_fn *chan_of,
                 void *arg)
{
	struct chan_ho_answer a = {.err = EPROTO};

	if (msg->hdr.len == sizeof(a))
		memcpy(&a, msg->payload, sizeof(a));
	for (size_t i = 0; i < r->n; i++) {
		struct relay_flight f = r->v[i];
		if (f.id != msg->hdr.id || f.dst != dst)
			continue;
		take(r, i);
		int chan = f.src != 0 ? chan_of(arg, f.src) : -1;
		int told = chan >= 0 && chan_send(chan, CHAN_HO_ANSWER, f.token, msg->payload,
		                                  msg->hdr.len, -1) == 0;
		if (chan >= 0 && !told)
			log_warn("handover: cannot pass an answer on to worker pid %ld",
			         (long)f.src);
		if (a.err != 0)
			refused(r, f.src, told); /* lost if its old worker is gone */
		return a.err == 0;
	}
	log_warnx("handover: worker pid %ld answered an offer it was not made", (long)dst);
	return 0;
}

void relay_gone(struct relay *r, pid_t pid, relay_chan_fn *chan_of, void *arg)
{
	for (size_t i = 0; i < r->n;) {
		struct relay_flight *f = &r->v[i];
		if (f->src == pid && f->dst != pid) {
			f->src = 0; /* the answer has nobody to go back to */
			i++;
			continue;
		}
		if (f->dst != pid) {
			i++;
			continue;
		}
		relay_refuse(r, f->src, f->src != 0 ? chan_of(arg, f->src) : -1, f->token, EPIPE);
		take(r, i);
	}
}

size_t relay_in_flight(const struct relay *r, pid_t foreign)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += r->v[i].src == 0 || r->v[i].src != foreign;
	return n;
}

void relay_free(struct relay *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}
