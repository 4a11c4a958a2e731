/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The handover record's wire form: fields of (uint16 tag, uint16 length,
 * value) in host byte order (both ends are processes of one echod on one
 * machine), unknown tags skipped.
 */
#include "acconfig.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "handover_rec.h"

enum rec_tag {
	REC_BYTES_IN = 1,
	REC_BYTES_OUT,
	REC_IDLE_MS,
	REC_PEER_EOF,
	REC_QUEUE_LEN,
	REC_QUEUE_DATA,
	REC_PROXY_CLIENT, /* the listener takes PROXY headers: the claimed client */
	REC_AGE_MS,       /* since it was accepted (optional: 0 if absent) */
};

/* Tags every record must carry, as a bit mask. */
#define REC_REQUIRED                                                                               \
	((1u << REC_BYTES_IN) | (1u << REC_BYTES_OUT) | (1u << REC_IDLE_MS) |                      \
	 (1u << REC_PEER_EOF) | (1u << REC_QUEUE_LEN))

struct rec_writer {
	unsigned char *p;
	size_t cap;
	size_t len;
	int overflow;
};

static void put(struct rec_writer *w, uint16_t tag, const void *v, size_t n)
{
	uint16_t n16 = (uint16_t)n;

	if (n > UINT16_MAX || w->cap - w->len < 4 + n) {
		w->overflow = 1;
		return;
	}
	memcpy(w->p + w->len, &tag, 2);
	memcpy(w->p + w->len + 2, &n16, 2);
	if (n > 0)
		memcpy(w->p + w->len + 4, v, n);
	w->len += 4 + n;
}

long handover_rec_encode(const struct handover_rec *r, void *buf, size_t cap)
{
	struct rec_writer w = {.p = buf, .cap = cap};
	uint8_t eof = r->t.peer_eof != 0;

	put(&w, REC_BYTES_IN, &r->t.bytes_in, 8);
	put(&w, REC_BYTES_OUT, &r->t.bytes_out, 8);
	put(&w, REC_IDLE_MS, &r->t.idle_ms, 8);
	put(&w, REC_AGE_MS, &r->t.age_ms, 8);
	put(&w, REC_PEER_EOF, &eof, 1);
	put(&w, REC_QUEUE_LEN, &r->queue_len, 8);
	if (r->t.has_proxy) {
		int fam = r->t.proxy_client.ss_family;
		size_t n = fam == AF_INET    ? sizeof(struct sockaddr_in)
		           : fam == AF_INET6 ? sizeof(struct sockaddr_in6)
		                             : sizeof(sa_family_t);
		put(&w, REC_PROXY_CLIENT, &r->t.proxy_client, n);
	}
	if (r->queue_inline_len > 0)
		put(&w, REC_QUEUE_DATA, r->queue_inline, r->queue_inline_len);
	return w.overflow ? -1 : (long)w.len;
}

/* Copy a fixed-size field's value, or fail if its length is not n. */
static int get(const unsigned char *v, size_t len, void *dst, size_t n)
{
	if (len != n)
		return -1;
	memcpy(dst, v, n);
	return 0;
}

int handover_rec_decode(const void *buf, size_t len, struct handover_rec *r)
{
	const unsigned char *p = buf;
	unsigned seen = 0;
	size_t off = 0;
	uint8_t eof = 0;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	while (off < len && rc == 0) {
		uint16_t tag, n;
		if (len - off < 4)
			return -1;
		memcpy(&tag, p + off, 2);
		memcpy(&n, p + off + 2, 2);
		off += 4;
		if (len - off < n)
			return -1;
		const unsigned char *v = p + off;
		off += n;
		switch (tag) {
		case REC_BYTES_IN:
			rc = get(v, n, &r->t.bytes_in, 8);
			break;
		case REC_BYTES_OUT:
			rc = get(v, n, &r->t.bytes_out, 8);
			break;
		case REC_IDLE_MS:
			rc = get(v, n, &r->t.idle_ms, 8);
			break;
		case REC_AGE_MS:
			rc = get(v, n, &r->t.age_ms, 8);
			break;
		case REC_PEER_EOF:
			rc = get(v, n, &eof, 1);
			break;
		case REC_QUEUE_LEN:
			rc = get(v, n, &r->queue_len, 8);
			break;
		case REC_PROXY_CLIENT:
			if (n < sizeof(sa_family_t) || n > sizeof(r->t.proxy_client)) {
				rc = -1;
				break;
			}
			memcpy(&r->t.proxy_client, v, n);
			r->t.has_proxy = 1;
			break;
		case REC_QUEUE_DATA:
			r->queue_inline = v;
			r->queue_inline_len = n;
			break;
		default:
			continue; /* a later version's field */
		}
		if (tag < 32)
			seen |= 1u << tag;
	}
	if (rc != 0 || (seen & REC_REQUIRED) != REC_REQUIRED || eof > 1)
		return -1;
	if (r->queue_inline_len != 0 && r->queue_inline_len != r->queue_len)
		return -1;
	r->t.peer_eof = eof;
	return 0;
}
