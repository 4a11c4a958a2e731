/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The config reader's answer on the wire.  Layout, integers little-endian:
 *
 *   "ECW1"  u8 has_config
 *   config: str file, u32 workers_auto, u32 user_line, u32 group_line,
 *           u32 pid_file_line, each top-level key of the table in table
 *           order, u32 nlisten, then per entry u32 line and each "listen.*"
 *           key in table order
 *   u32 nerrors, then per error: str file, u32 line, str msg
 *
 * A key is an u32 (int, index), an u64 (size) or a str: u32 length, then the
 * bytes, no NUL; length 0xffffffff is NULL; a prefix list is an u32 count,
 * then per prefix u32 family, u32 length and 16 address bytes.
 */
#include <netinet/in.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_wire.h"

#define WIRE_MAGIC "ECW1"
#define WIRE_NULL  0xffffffffu

struct wbuf {
	unsigned char *p;
	size_t len, cap;
	int err; /* errno of the first failure, 0 if none */
};

static void put(struct wbuf *w, const void *data, size_t n)
{
	if (w->err != 0 || n == 0)
		return;
	if (n > CONFIG_WIRE_MAX - w->len) {
		w->err = EMSGSIZE;
		return;
	}
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;
		while (cap < w->len + n)
			cap *= 2;
		unsigned char *p = realloc(w->p, cap);
		if (p == NULL) {
			w->err = ENOMEM;
			return;
		}
		w->p = p;
		w->cap = cap;
	}
	memcpy(w->p + w->len, data, n);
	w->len += n;
}

static void put_u32(struct wbuf *w, uint32_t v)
{
	unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
	                      (unsigned char)(v >> 24)};
	put(w, b, sizeof(b));
}

static void put_u64(struct wbuf *w, uint64_t v)
{
	put_u32(w, (uint32_t)v);
	put_u32(w, (uint32_t)(v >> 32));
}

static void put_str(struct wbuf *w, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (s != NULL && n >= WIRE_NULL) {
		w->err = w->err ? w->err : EMSGSIZE;
		return;
	}
	put_u32(w, s != NULL ? (uint32_t)n : WIRE_NULL);
	put(w, s, n);
}

/* Whether key k is a field of a list entry (struct listen_conf). */
static int key_in_list(const struct config_key *k)
{
	const char *dot = strchr(k->name, '.');

	if (dot == NULL)
		return 0;
	for (size_t i = 0; i < config_nkeys; i++)
		if (config_keys[i].type == CONFIG_KEY_LIST &&
		    strncmp(config_keys[i].name, k->name, (size_t)(dot - k->name)) == 0 &&
		    config_keys[i].name[dot - k->name] == '\0')
			return 1;
	return 0;
}

/* The rules of one kind (allow or deny) of an access list: a count, then
 * for each its family, length and 16 address bytes. */
static void put_acl(struct wbuf *w, const struct acl *a, int deny)
{
	uint32_t n = 0;

	for (size_t i = 0; i < a->n; i++)
		n += a->rules[i].deny == deny;
	put_u32(w, n);
	for (size_t i = 0; i < a->n; i++) {
		const struct cidr *c = &a->rules[i].net;
		if (a->rules[i].deny != deny)
			continue;
		put_u32(w, (uint32_t)c->family);
		put_u32(w, c->prefix);
		put(w, c->addr, sizeof(c->addr));
	}
}

static void put_key(struct wbuf *w, const struct config_key *k, const void *base)
{
	const char *field = (const char *)base + k->offset;

	switch (k->store) {
	case CONFIG_STORE_INT:
	case CONFIG_STORE_INDEX:
		put_u32(w, (uint32_t) * (const int *)(const void *)field);
		break;
	case CONFIG_STORE_SIZE:
		put_u64(w, *(const size_t *)(const void *)field);
		break;
	case CONFIG_STORE_STRING:
		put_str(w, *(char *const *)(const void *)field);
		break;
	case CONFIG_STORE_CIDRS: {
		const struct cidr_list *l = (const void *)field;
		put_u32(w, (uint32_t)l->n);
		for (size_t i = 0; i < l->n; i++) {
			put_u32(w, (uint32_t)l->v[i].family);
			put_u32(w, l->v[i].prefix);
			put(w, l->v[i].addr, sizeof(l->v[i].addr));
		}
		break;
	}
	case CONFIG_STORE_ALLOW:
	case CONFIG_STORE_DENY:
		put_acl(w, (const struct acl *)(const void *)field, k->store == CONFIG_STORE_DENY);
		break;
	case CONFIG_STORE_NONE:
		break;
	}
}

/* Each key stored in `base`: the list entry's keys or the others. */
static void put_keys(struct wbuf *w, const void *base, int in_list)
{
	for (size_t i = 0; i < config_nkeys; i++)
		if (key_in_list(&config_keys[i]) == in_list)
			put_key(w, &config_keys[i], base);
}

int config_wire_encode(const struct config *cfg, const struct config_errors *errs, char **out,
                       size_t *len)
{
	struct wbuf w = {0};
	size_t n = errs != NULL ? errs->n : 0;
	size_t shown = n > CONFIG_WIRE_ERRORS_MAX ? CONFIG_WIRE_ERRORS_MAX : n;

	put(&w, WIRE_MAGIC, 4);
	put(&w, cfg != NULL ? "\1" : "\0", 1);
	if (cfg != NULL) {
		put_str(&w, cfg->file);
		put_u32(&w, (uint32_t)cfg->workers_auto);
		put_u32(&w, (uint32_t)cfg->user_line);
		put_u32(&w, (uint32_t)cfg->group_line);
		put_u32(&w, (uint32_t)cfg->pid_file_line);
		put_keys(&w, cfg, 0);
		put_u32(&w, (uint32_t)cfg->nlisten);
		for (size_t i = 0; i < cfg->nlisten; i++) {
			put_u32(&w, (uint32_t)cfg->listen[i].line);
			put_keys(&w, &cfg->listen[i], 1);
		}
	}
	put_u32(&w, (uint32_t)(shown + (shown < n)));
	for (size_t i = 0; i < shown; i++) {
		put_str(&w, errs->v[i].file);
		put_u32(&w, (uint32_t)errs->v[i].line);
		put_str(&w, errs->v[i].msg);
	}
	if (shown < n) {
		char msg[64];
		snprintf(msg, sizeof(msg), "... and %zu more errors", n - shown);
		put_str(&w, errs->v[n - 1].file);
		put_u32(&w, 0);
		put_str(&w, msg);
	}
	if (w.err != 0) {
		free(w.p);
		errno = w.err;
		return -1;
	}
	*out = (char *)w.p;
	*len = w.len;
	return 0;
}

struct rbuf {
	const unsigned char *p;
	size_t len, off;
	int bad;
};

static const unsigned char *take(struct rbuf *r, size_t n)
{
	if (r->bad || n > r->len - r->off) {
		r->bad = 1;
		return NULL;
	}
	r->off += n;
	return r->p + r->off - n;
}

static uint32_t get_u32(struct rbuf *r)
{
	const unsigned char *b = take(r, 4);

	if (b == NULL)
		return 0;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t get_u64(struct rbuf *r)
{
	uint64_t lo = get_u32(r);

	return lo | (uint64_t)get_u32(r) << 32;
}

/* A new string, or NULL: then *null tells a sent NULL from a failure. */
static char *get_str(struct rbuf *r, int *null)
{
	uint32_t n = get_u32(r);
	const unsigned char *b;
	char *s;

	*null = !r->bad && n == WIRE_NULL;
	if (r->bad || n == WIRE_NULL)
		return NULL;
	if ((b = take(r, n)) == NULL || memchr(b, '\0', n) != NULL) {
		r->bad = 1;
		return NULL;
	}
	if ((s = malloc((size_t)n + 1)) == NULL) {
		r->bad = 1;
		errno = ENOMEM;
		return NULL;
	}
	memcpy(s, b, n);
	s[n] = '\0';
	return s;
}

/* Whether `s` is one of k's choices; its index goes to *index. */
static int is_choice(const struct config_key *k, const char *s, size_t *index)
{
	const char *c;

	for (size_t i = 0; (c = k->choice(i)) != NULL; i++)
		if (s != NULL && strcmp(c, s) == 0) {
			*index = i;
			return 1;
		}
	return 0;
}

static size_t nchoices(const struct config_key *k)
{
	size_t n = 0;

	while (k->choice(n) != NULL)
		n++;
	return n;
}

/* A prefix list, held to what cidr_parse() gives: a known family, a length
 * it allows, no bit set past it. */
static void get_cidrs(struct rbuf *r, struct cidr_list *l)
{
	uint32_t n = get_u32(r);

	l->v = NULL;
	l->n = 0;
	if (r->bad || n == 0)
		return;
	if (n > (r->len - r->off) / 24 || (l->v = calloc(n, sizeof(*l->v))) == NULL) {
		r->bad = 1;
		return;
	}
	for (uint32_t i = 0; i < n && !r->bad; i++) {
		struct cidr *c = &l->v[l->n++];
		uint32_t family = get_u32(r), len = get_u32(r);
		const unsigned char *a = take(r, sizeof(c->addr));
		unsigned max = family == AF_INET ? 32 : 128;
		if (a == NULL || (family != AF_INET && family != AF_INET6) || len > max) {
			r->bad = 1;
			break;
		}
		c->family = (int)family;
		c->prefix = len;
		memcpy(c->addr, a, sizeof(c->addr));
		for (unsigned bit = len; bit < 128; bit++)
			if (c->addr[bit / 8] & (0x80u >> (bit % 8)))
				r->bad = 1;
	}
}

/* Rules of one kind into an access list, each held to what check() (that
 * is, cidr_parse()) takes when printed. */
static void get_acl(struct rbuf *r, const struct config_key *k, struct acl *a, int deny)
{
	uint32_t n = get_u32(r);
	char text[CIDR_STRLEN];

	/* Each rule takes 24 bytes: a count past that is a lie. */
	if (n > (r->len - r->off) / 24)
		r->bad = 1;
	for (uint32_t i = 0; i < n && !r->bad; i++) {
		struct cidr c = {.family = (int)get_u32(r)}, back;
		uint32_t len = get_u32(r);
		const unsigned char *b = take(r, sizeof(c.addr));
		if (r->bad || b == NULL || (c.family != AF_INET && c.family != AF_INET6) ||
		    len > 128) {
			r->bad = 1;
			break;
		}
		c.prefix = len;
		memcpy(c.addr, b, sizeof(c.addr));
		cidr_format(&c, text, sizeof(text));
		if (k->check(text) != NULL || cidr_parse(text, &back, NULL) == -1 ||
		    !cidr_equal(&back, &c) || acl_add(a, &c, deny ? ACL_DENY : ACL_ALLOW) == -1)
			r->bad = 1;
	}
}

/* Read key k into base and check it as config.c would have. */
static void get_key(struct rbuf *r, const struct config_key *k, void *base)
{
	char *field = (char *)base + k->offset;
	long long v;
	size_t index;
	char *s;
	int null;

	switch (k->store) {
	case CONFIG_STORE_INT:
	case CONFIG_STORE_INDEX:
		v = (int32_t)get_u32(r);
		if (k->store == CONFIG_STORE_INDEX ? v < 0 || (size_t)v >= nchoices(k)
		                                   : v < k->min || v > k->max)
			r->bad = 1;
		*(int *)(void *)field = (int)v;
		break;
	case CONFIG_STORE_SIZE: {
		uint64_t u = get_u64(r);
		if (u < (uint64_t)k->min || u > (uint64_t)k->max)
			r->bad = 1;
		*(size_t *)(void *)field = (size_t)u;
		break;
	}
	case CONFIG_STORE_STRING:
		s = get_str(r, &null);
		*(char **)(void *)field = s;
		if (s == NULL)
			r->bad |= !null || k->def != NULL;
		else if (k->type == CONFIG_KEY_CHOICE)
			r->bad |= !is_choice(k, s, &index);
		else if (k->check != NULL)
			r->bad |= k->check(s) != NULL;
		break;
	case CONFIG_STORE_CIDRS:
		get_cidrs(r, (struct cidr_list *)(void *)field);
		break;
	case CONFIG_STORE_ALLOW:
	case CONFIG_STORE_DENY:
		get_acl(r, k, (struct acl *)(void *)field, k->store == CONFIG_STORE_DENY);
		break;
	case CONFIG_STORE_NONE:
		break;
	}
}

static void get_keys(struct rbuf *r, void *base, int in_list)
{
	for (size_t i = 0; i < config_nkeys && !r->bad; i++)
		if (key_in_list(&config_keys[i]) == in_list)
			get_key(r, &config_keys[i], base);
}

static struct config *get_config(struct rbuf *r)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	int null;

	if (cfg == NULL) {
		r->bad = 1;
		return NULL;
	}
	cfg->file = get_str(r, &null);
	r->bad |= cfg->file == NULL;
	cfg->workers_auto = (int)get_u32(r);
	r->bad |= cfg->workers_auto != 0 && cfg->workers_auto != 1;
	int *lines[] = {&cfg->user_line, &cfg->group_line, &cfg->pid_file_line};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		uint32_t line = get_u32(r);
		r->bad |= line > INT32_MAX;
		*lines[i] = (int)line;
	}
	get_keys(r, cfg, 0);
	uint32_t n = get_u32(r);
	/* Each entry takes at least its line: a count past that is a lie,
	 * not a reason to allocate. */
	if (n == 0 || n > (r->len - r->off) / 4)
		r->bad = 1;
	if (!r->bad && (cfg->listen = calloc(n, sizeof(*cfg->listen))) == NULL)
		r->bad = 1;
	for (uint32_t i = 0; i < n && !r->bad; i++) {
		struct listen_conf *l = &cfg->listen[cfg->nlisten++];
		l->line = (int)get_u32(r);
		get_keys(r, l, 1);
		if (l->proto == LISTEN_UNIX ? l->path == NULL : l->address == NULL)
			r->bad = 1;
		/* proxy_protocol: only on TCP and UDP, and never trusting nobody
		 * (or, read the other way, everybody). */
		if (l->proxy && (l->proto == LISTEN_UNIX || l->proxy_from.n == 0))
			r->bad = 1;
		if (!l->proxy && l->proxy_from.n != 0)
			r->bad = 1;
		if (!r->bad && acl_finish(&l->access) == -1)
			r->bad = 1;
	}
	if (!r->bad && acl_finish(&cfg->access) == -1)
		r->bad = 1;
	if (r->bad) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

int config_wire_decode(const void *buf, size_t len, struct config **cfgp,
                       struct config_errors *errs)
{
	struct rbuf r = {.p = buf, .len = len};
	struct config_errors got = {0};
	struct config *cfg = NULL;
	const unsigned char *magic = take(&r, 4);
	const unsigned char *has = take(&r, 1);
	int null;

	*cfgp = NULL;
	errno = EBADMSG;
	if (magic == NULL || memcmp(magic, WIRE_MAGIC, 4) != 0 || has == NULL || *has > 1)
		return -1;
	if (*has == 1 && (cfg = get_config(&r)) == NULL)
		goto fail;
	uint32_t n = get_u32(&r);
	if (n > (r.len - r.off) / 12)
		r.bad = 1;
	for (uint32_t i = 0; i < n && !r.bad; i++) {
		char *file = get_str(&r, &null);
		int line = (int)get_u32(&r);
		char *msg = get_str(&r, &null);
		if (!r.bad && (file == NULL || msg == NULL || line < 0))
			r.bad = 1;
		if (!r.bad && config_errors_add(&got, file, line, "%s", msg) == -1)
			r.bad = 1;
		free(file);
		free(msg);
	}
	if (r.bad || r.off != r.len)
		goto fail;
	for (size_t i = 0; i < got.n; i++)
		if (config_errors_add(errs, got.v[i].file, got.v[i].line, "%s", got.v[i].msg) == -1)
			goto fail;
	config_errors_free(&got);
	*cfgp = cfg;
	return 0;
fail:
	config_free(cfg);
	config_errors_free(&got);
	errno = EBADMSG;
	return -1;
}
