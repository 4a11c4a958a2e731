/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * How many CPUs this process may use, for workers = "auto": its affinity
 * mask, capped by a cgroup v2 cpu.max quota.  The parsers are exposed so tests
 * can feed them a fake cgroup tree.
 */
#ifndef ECHOD_CPUS_H
#define ECHOD_CPUS_H

#include <stddef.h>

/* CPUs this process may run on, affinity and cgroup quota applied; >= 1. */
int cpus_available(void);

/*
 * The CPUs a cgroup v2 cpu.max text ("QUOTA PERIOD") allows: quota/period
 * rounded up, so "150000 100000" gives 2.  Returns 0 for "max" (no limit),
 * -1 if the text makes no sense.
 */
int cpus_parse_cpu_max(const char *text);

/*
 * Find the cgroup v2 entry ("0::/a/b") in the text of /proc/self/cgroup and
 * copy its path to `buf`.  Returns 0, or -1 if there is none (cgroup v1 only),
 * it escapes the namespace ("/.."), or it does not fit.
 */
int cpus_parse_proc_cgroup(const char *text, char *buf, size_t len);

/*
 * The smallest cpu.max limit from `root`/`path` up to `root` itself (a limit
 * on a parent binds its children).  Returns 0 if no level sets one.
 */
int cpus_cgroup_limit(const char *root, const char *path);

#endif
