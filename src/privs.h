/* SPDX-License-Identifier: BSD-2-Clause */
/* Dropping root in a worker: to the configured user and group, verified. */
#ifndef ECHOD_PRIVS_H
#define ECHOD_PRIVS_H

#include <sys/types.h>

struct privs {
	uid_t uid;
	gid_t gid;
	int set; /* 0: nothing to drop to */
};

/*
 * Look up `user` and `group` (either may be NULL; a user without a group
 * takes the user's primary group).  Returns 0, or -1 with a message in err.
 */
int privs_lookup(const char *user, const char *group, struct privs *p, char *err, size_t errlen);

/*
 * setgroups, setgid, setuid in that order, then check that root cannot be
 * regained.  Returns 0, or -1 with errno (EPERM if the check failed).
 */
int privs_drop(const struct privs *p);

#endif
