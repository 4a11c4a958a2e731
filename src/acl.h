/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Access lists: prefixes that allow and prefixes that deny.  The longest
 * prefix that contains the source decides; between an allow and a deny of
 * the same prefix, deny wins; a source that no prefix contains is allowed
 * unless the list allows anything, in which case only what it allows gets
 * in.  acl_check() is pure and costs one binary search per distinct prefix
 * length in the list.
 */
#ifndef ECHOD_ACL_H
#define ECHOD_ACL_H

#include <stddef.h>

#include "cidr.h"

enum acl_verdict {
	ACL_ALLOW,
	ACL_DENY,
};

struct acl_rule {
	struct cidr net;
	unsigned char deny; /* enum acl_verdict */
};

/* Zero it to start (an empty list allows everyone); fill it with acl_add(),
 * then acl_finish() before the first acl_check(). */
struct acl {
	struct acl_rule *rules;
	size_t n;
	size_t nallow; /* allow rules among them */
	size_t cap;
	/* Made by acl_finish(): the runs of rules of one family and length,
	 * longest first. */
	struct acl_group *groups;
	size_t ngroups;
};

struct acl_group {
	unsigned char family, len;
	size_t start, end; /* rules[start..end) */
};

/* Add a rule.  Returns 0, or -1 with errno ENOMEM. */
int acl_add(struct acl *a, const struct cidr *net, enum acl_verdict v);

/* Sort the rules for acl_check(); call after the last acl_add().  Returns 0,
 * or -1 with errno ENOMEM (the list is then unusable: free it). */
int acl_finish(struct acl *a);

/* What the list says about `src`. */
enum acl_verdict acl_check(const struct acl *a, const struct cidr_addr *src);

/* Whether the list has no rule at all (it allows everyone). */
static inline int acl_empty(const struct acl *a)
{
	return a == NULL || a->n == 0;
}

/* Whether the two lists have the same rules (for tests and reloads). */
int acl_equal(const struct acl *a, const struct acl *b);

void acl_free(struct acl *a);

#endif
