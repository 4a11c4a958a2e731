/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Access lists (see acl.h).  The rules are sorted by family, then longest
 * prefix first, then address, a deny before an allow of the same prefix;
 * a check masks the source to each length present, longest first, and looks
 * the result up by binary search in that length's run.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"

int acl_add(struct acl *a, const struct cidr *net, enum acl_verdict v)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 8;
		struct acl_rule *r = realloc(a->rules, cap * sizeof(*r));
		if (r == NULL)
			return -1;
		a->rules = r;
		a->cap = cap;
	}
	a->rules[a->n].net = *net;
	a->rules[a->n].deny = v == ACL_DENY;
	a->n++;
	if (v == ACL_ALLOW)
		a->nallow++;
	return 0;
}

static int cmp_rule(const void *pa, const void *pb)
{
	const struct acl_rule *a = pa, *b = pb;
	int c;

	if (a->net.family != b->net.family)
		return a->net.family < b->net.family ? -1 : 1;
	if (a->net.prefix != b->net.prefix)
		return a->net.prefix > b->net.prefix ? -1 : 1;
	if ((c = memcmp(a->net.addr, b->net.addr, sizeof(a->net.addr))) != 0)
		return c;
	return (int)b->deny - (int)a->deny;
}

int acl_finish(struct acl *a)
{
	size_t i, g = 0;

	free(a->groups);
	a->groups = NULL;
	a->ngroups = 0;
	if (a->n == 0)
		return 0;
	qsort(a->rules, a->n, sizeof(*a->rules), cmp_rule);
	/* At most 33 + 129 runs; count them first. */
	for (i = 0; i < a->n; i++)
		if (i == 0 || a->rules[i].net.prefix != a->rules[i - 1].net.prefix ||
		    a->rules[i].net.family != a->rules[i - 1].net.family)
			g++;
	if ((a->groups = calloc(g, sizeof(*a->groups))) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < a->n; i++) {
		const struct cidr *c = &a->rules[i].net;
		struct acl_group *cur = a->ngroups > 0 ? &a->groups[a->ngroups - 1] : NULL;
		if (cur == NULL || cur->len != c->prefix || cur->family != c->family) {
			cur = &a->groups[a->ngroups++];
			cur->family = (unsigned char)c->family;
			cur->len = (unsigned char)c->prefix;
			cur->start = i;
		}
		cur->end = i + 1;
	}
	return 0;
}

/* The first rule of g whose address is not below `key`. */
static size_t lower_bound(const struct acl *a, const struct acl_group *g, const uint8_t *key)
{
	size_t lo = g->start, hi = g->end;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (memcmp(a->rules[mid].net.addr, key, 16) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

enum acl_verdict acl_check(const struct acl *a, const struct cidr_addr *src)
{
	if (a == NULL || a->n == 0)
		return ACL_ALLOW;
	for (size_t i = 0; i < a->ngroups; i++) {
		const struct acl_group *g = &a->groups[i];
		struct cidr_addr key;
		if (g->family != src->family)
			continue;
		key = *src;
		cidr_addr_mask(&key, g->len);
		size_t at = lower_bound(a, g, key.b);
		if (at < g->end && memcmp(a->rules[at].net.addr, key.b, 16) == 0)
			return a->rules[at].deny ? ACL_DENY : ACL_ALLOW;
	}
	return a->nallow > 0 ? ACL_DENY : ACL_ALLOW;
}

int acl_equal(const struct acl *a, const struct acl *b)
{
	if (a->n != b->n || a->nallow != b->nallow)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (a->rules[i].deny != b->rules[i].deny ||
		    !cidr_equal(&a->rules[i].net, &b->rules[i].net))
			return 0;
	return 1;
}

void acl_free(struct acl *a)
{
	free(a->rules);
	free(a->groups);
	memset(a, 0, sizeof(*a));
}
