/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Counting the CPUs this process may use: the affinity mask (taskset, systemd
 * CPUAffinity=) capped by the cgroup v2 quota (docker --cpus, CPUQuota=), so
 * workers = "auto" does not start more workers than there is CPU time for.
 */
#include "acconfig.h" /* _GNU_SOURCE: sched_getaffinity, CPU_ALLOC */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpus.h"

#define CGROUP_ROOT "/sys/fs/cgroup"

int cpus_parse_cpu_max(const char *text)
{
	long long quota, period, n;
	char *end;

	while (*text == ' ')
		text++;
	if (strncmp(text, "max", 3) == 0 && (text[3] == ' ' || text[3] == '\n' || text[3] == '\0'))
		return 0;
	errno = 0;
	quota = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != ' ' || quota <= 0)
		return -1;
	text = end;
	period = strtoll(text, &end, 10);
	if (errno != 0 || end == text || (*end != '\n' && *end != '\0') || period <= 0)
		return -1;
	n = quota / period + (quota % period != 0);
	return n > INT_MAX ? INT_MAX : (int)n;
}

int cpus_parse_proc_cgroup(const char *text, char *buf, size_t len)
{
	const char *line, *path, *nl;
	size_t plen;

	for (line = text; line != NULL && *line != '\0'; line = nl != NULL ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (strncmp(line, "0::", 3) != 0)
			continue;
		path = line + 3;
		plen = nl != NULL ? (size_t)(nl - path) : strlen(path);
		if (plen == 0 || path[0] != '/' || plen >= len)
			return -1;
		memcpy(buf, path, plen);
		buf[plen] = '\0';
		/* Outside our cgroup namespace: what is under the root is not ours. */
		if (strstr(buf, "/..") != NULL)
			return -1;
		return 0;
	}
	return -1;
}

/* Read a small file into `buf` as a string.  Returns 0, or -1 with errno. */
static int read_small(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	do
		n = read(fd, buf, len - 1);
	while (n == -1 && errno == EINTR);
	close(fd);
	if (n == -1)
		return -1;
	buf[n] = '\0';
	return 0;
}

int cpus_cgroup_limit(const char *root, const char *path)
{
	char dir[PATH_MAX], file[PATH_MAX + sizeof("/cpu.max")], text[64];
	size_t rootlen = strlen(root), len;
	char *slash;
	int limit = 0, n;

	if ((size_t)snprintf(dir, sizeof(dir), "%s%s", root, path) >= sizeof(dir))
		return 0;
	for (;;) {
		len = strlen(dir);
		while (len > rootlen && dir[len - 1] == '/')
			dir[--len] = '\0';
		snprintf(file, sizeof(file), "%s/cpu.max", dir);
		if (read_small(file, text, sizeof(text)) == 0 &&
		    (n = cpus_parse_cpu_max(text)) > 0 && (limit == 0 || n < limit))
			limit = n;
		if (len <= rootlen)
			break;
		slash = strrchr(dir + rootlen, '/');
		if (slash == NULL)
			break;
		*slash = '\0';
	}
	return limit;
}

/* CPUs in our affinity mask, or -1.  The mask may be larger than cpu_set_t. */
static int affinity_count(void)
{
	cpu_set_t *set;
	size_t size;
	int ncpu, n;

	for (ncpu = CPU_SETSIZE; ncpu <= 1 << 20; ncpu *= 2) {
		set = CPU_ALLOC(ncpu);
		if (set == NULL)
			return -1;
		size = CPU_ALLOC_SIZE(ncpu);
		if (sched_getaffinity(0, size, set) == 0) {
			n = CPU_COUNT_S(size, set);
			CPU_FREE(set);
			return n;
		}
		CPU_FREE(set);
		if (errno != EINVAL)
			return -1;
	}
	return -1;
}

int cpus_available(void)
{
	char text[4096], path[PATH_MAX];
	long online;
	int n, limit;

	n = affinity_count();
	if (n < 1) {
		online = sysconf(_SC_NPROCESSORS_ONLN);
		n = online < 1 ? 1 : online > INT_MAX ? INT_MAX : (int)online;
	}
	if (read_small("/proc/self/cgroup", text, sizeof(text)) == 0 &&
	    cpus_parse_proc_cgroup(text, path, sizeof(path)) == 0) {
		limit = cpus_cgroup_limit(CGROUP_ROOT, path);
		if (limit > 0 && limit < n)
			n = limit;
	}
	return n < 1 ? 1 : n;
}
