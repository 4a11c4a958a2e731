/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Privileges: a worker drops root to the configured user and group
 * (verified) and then every capability; a master started as root keeps
 * only the capabilities it still uses.
 */
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

/*
 * Drop every capability (effective, permitted, inheritable, ambient) and set
 * no_new_privs, so that none can come back, not even through execve.  For a
 * worker, after privs_drop().  Returns 0 or -1 with errno.
 */
int privs_drop_capabilities(void);

/*
 * For a master running as root: keep only the capabilities it still uses
 * (PRIVS_MASTER_CAPS) in its effective and permitted sets, and remove every
 * other one from its bounding set.  Returns 0, or -1 with errno.
 */
int privs_limit_master(void);

/*
 * What the master keeps, as bits (1 << CAP_...): binding privileged ports on
 * a reload (NET_BIND_SERVICE), dropping new workers to the configured user
 * (SETUID, SETGID), signalling workers that run as that user (KILL), and its
 * file work as root (CHOWN: the log file handed to the workers' user;
 * DAC_OVERRIDE: reopening that file, or one logrotate created for that
 * user, and the pid file and Unix sockets in directories root does not own).
 */
unsigned long long privs_master_caps(void);

#endif
