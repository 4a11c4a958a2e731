/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Privilege drop, in the order that cannot leave a supplementary group or
 * the saved uid behind, and verified afterwards (a setuid that "succeeded"
 * is not trusted on its word).  Capabilities are set with capset(2) and
 * prctl(2) directly: three calls do not need a library.
 */
#include "acconfig.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
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

#define CAP_BIT(c) (1ull << (c))

unsigned long long privs_master_caps(void)
{
	return CAP_BIT(CAP_NET_BIND_SERVICE) | CAP_BIT(CAP_SETUID) | CAP_BIT(CAP_SETGID) |
	       CAP_BIT(CAP_KILL) | CAP_BIT(CAP_CHOWN) | CAP_BIT(CAP_DAC_OVERRIDE);
}

/* Effective and permitted: `keep`; inheritable: nothing. */
static int caps_set(unsigned long long keep)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = (uint32_t)keep;
	data[1].effective = data[1].permitted = (uint32_t)(keep >> 32);
	return (int)syscall(SYS_capset, &hdr, data);
}

/* Ambient capabilities would survive an execve; none is wanted.  EINVAL:
 * a kernel before 4.3, which has none. */
static int clear_ambient(void)
{
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 && errno != EINVAL)
		return -1;
	return 0;
}

int privs_drop_capabilities(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];

	if (clear_ambient() == -1 || syscall(SYS_capget, &hdr, data) == -1)
		return -1;
	/* Nothing to drop (a worker that left root, one started without
	 * capabilities): then capset(2), which a service manager's filter
	 * may refuse, is not needed. */
	if ((data[0].permitted | data[1].permitted | data[0].inheritable | data[1].inheritable) !=
	        0 &&
	    caps_set(0) == -1)
		return -1;
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

/* The permitted set, as bits. */
static int caps_permitted(unsigned long long *have)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data) == -1)
		return -1;
	*have = (unsigned long long)data[1].permitted << 32 | data[0].permitted;
	return 0;
}

int privs_limit_master(void)
{
	unsigned long long keep = privs_master_caps(), have;

	/* Keep what is kept and still there: a root without some of them (in
	 * a container) cannot add it back. */
	if (caps_permitted(&have) == -1)
		return -1;
	keep &= have;

	/* The bounding set first, while CAP_SETPCAP is still effective;
	 * PR_CAPBSET_READ fails past the last capability the kernel has. */
	for (int c = 0; c < 64 && prctl(PR_CAPBSET_READ, c, 0, 0, 0) >= 0; c++)
		if (!(keep & CAP_BIT(c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) == -1)
			return -1;
	if (clear_ambient() == -1)
		return -1;
	return caps_set(keep);
}
