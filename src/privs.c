/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Privilege drop, in the order that cannot leave a supplementary group or
 * the saved uid behind, and verified afterwards (a setuid that "succeeded"
 * is not trusted on its word).
 */
#include "acconfig.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <unistd.h>

#include "privs.h"

int privs_lookup(const char *user, const char *group, struct privs *p, char *err, size_t errlen)
{
	p->set = 0;
	p->uid = getuid();
	p->gid = getgid();
	if (user == NULL && group == NULL)
		return 0;
	if (user != NULL) {
		/* cppcheck-suppress getpwnamCalled ; not reentrant, but echod has no threads */
		struct passwd *pw = getpwnam(user);
		if (pw == NULL) {
			snprintf(err, errlen, "unknown user '%s'", user);
			return -1;
		}
		p->uid = pw->pw_uid;
		p->gid = pw->pw_gid;
	}
	if (group != NULL) {
		/* cppcheck-suppress getgrnamCalled ; not reentrant, but echod has no threads */
		struct group *gr = getgrnam(group);
		if (gr == NULL) {
			snprintf(err, errlen, "unknown group '%s'", group);
			return -1;
		}
		p->gid = gr->gr_gid;
	}
	p->set = 1;
	return 0;
}

int privs_drop(const struct privs *p)
{
	if (!p->set)
		return 0;
	if (setgroups(1, &p->gid) == -1 || setresgid(p->gid, p->gid, p->gid) == -1 ||
	    setresuid(p->uid, p->uid, p->uid) == -1)
		return -1;
	if (p->uid != 0 && (setuid(0) != -1 || seteuid(0) != -1)) {
		errno = EPERM;
		return -1;
	}
	if (getuid() != p->uid || geteuid() != p->uid || getgid() != p->gid ||
	    getegid() != p->gid) {
		errno = EPERM;
		return -1;
	}
	return 0;
}
