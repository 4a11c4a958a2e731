/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the CPU count behind workers = "auto": cpu.max and
 * /proc/self/cgroup parsing, and the walk up a fake cgroup v2 tree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cpus.h"

/* The fake tree: root/a/b, each level with or without a cpu.max. */
struct tree {
	char root[64];
};

static const char *const tree_dirs[] = {"a", "a/b"};

static void tree_path(char *buf, size_t len, const struct tree *t, const char *rel)
{
	snprintf(buf, len, "%s%s%s", t->root, *rel != '\0' ? "/" : "", rel);
}

/* Write `text` to <root>/<rel>/cpu.max; NULL removes it. */
static void set_cpu_max(const struct tree *t, const char *rel, const char *text)
{
	char dir[128], path[160];
	FILE *out;

	tree_path(dir, sizeof(dir), t, rel);
	snprintf(path, sizeof(path), "%s/cpu.max", dir);
	if (text == NULL) {
		unlink(path);
		return;
	}
	out = fopen(path, "w");
	assert_non_null(out);
	fputs(text, out);
	assert_int_equal(fclose(out), 0);
}

static int setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));
	char path[128];
	size_t i;

	if (t == NULL)
		return -1;
	strcpy(t->root, "/tmp/test_cpus.XXXXXX");
	if (mkdtemp(t->root) == NULL) {
		free(t);
		return -1;
	}
	for (i = 0; i < sizeof(tree_dirs) / sizeof(tree_dirs[0]); i++) {
		tree_path(path, sizeof(path), t, tree_dirs[i]);
		if (mkdir(path, 0700) == -1)
			return -1;
	}
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tree *t = *state;
	char path[128];
	size_t i;

	set_cpu_max(t, "", NULL);
	for (i = sizeof(tree_dirs) / sizeof(tree_dirs[0]); i-- > 0;) {
		set_cpu_max(t, tree_dirs[i], NULL);
		tree_path(path, sizeof(path), t, tree_dirs[i]);
		rmdir(path);
	}
	rmdir(t->root);
	free(t);
	return 0;
}

static void test_parse_cpu_max(void **state)
{
	(void)state;
	assert_int_equal(cpus_parse_cpu_max("max 100000\n"), 0);
	assert_int_equal(cpus_parse_cpu_max("max"), 0);
	assert_int_equal(cpus_parse_cpu_max("100000 100000\n"), 1);
	assert_int_equal(cpus_parse_cpu_max("150000 100000\n"), 2);
	assert_int_equal(cpus_parse_cpu_max("200000 100000"), 2);
	assert_int_equal(cpus_parse_cpu_max("50000 100000\n"), 1);
	assert_int_equal(cpus_parse_cpu_max("1 100000\n"), 1);
	assert_int_equal(cpus_parse_cpu_max("1600000 100000\n"), 16);
	assert_int_equal(cpus_parse_cpu_max(""), -1);
	assert_int_equal(cpus_parse_cpu_max("maximum 100000"), -1);
	assert_int_equal(cpus_parse_cpu_max("150000"), -1);
	assert_int_equal(cpus_parse_cpu_max("150000 0"), -1);
	assert_int_equal(cpus_parse_cpu_max("-5 100000"), -1);
	assert_int_equal(cpus_parse_cpu_max("150000 100000x"), -1);
}

static void test_parse_proc_cgroup(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(
	    cpus_parse_proc_cgroup("0::/system.slice/echod.service\n", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/system.slice/echod.service");
	assert_int_equal(cpus_parse_proc_cgroup("0::/\n", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/");
	/* Hybrid hierarchy: v1 lines first. */
	assert_int_equal(
	    cpus_parse_proc_cgroup("12:cpu,cpuacct:/x\n1:name=systemd:/y\n0::/z", buf, sizeof(buf)),
	    0);
	assert_string_equal(buf, "/z");
	/* cgroup v1 only, escapes the namespace, or too long: no answer. */
	assert_int_equal(cpus_parse_proc_cgroup("12:cpu,cpuacct:/x\n", buf, sizeof(buf)), -1);
	assert_int_equal(cpus_parse_proc_cgroup("0::/../../x\n", buf, sizeof(buf)), -1);
	assert_int_equal(cpus_parse_proc_cgroup("0::/a/b\n", buf, 4), -1);
	assert_int_equal(cpus_parse_proc_cgroup("", buf, sizeof(buf)), -1);
}

static void test_cgroup_limit(void **state)
{
	struct tree *t = *state;

	/* No cpu.max anywhere (the real root cgroup has none). */
	assert_int_equal(cpus_cgroup_limit(t->root, "/a/b"), 0);
	set_cpu_max(t, "a/b", "max 100000\n");
	set_cpu_max(t, "a", "max 100000\n");
	assert_int_equal(cpus_cgroup_limit(t->root, "/a/b"), 0);
	/* A parent's quota binds its child. */
	set_cpu_max(t, "a", "250000 100000\n");
	assert_int_equal(cpus_cgroup_limit(t->root, "/a/b"), 3);
	assert_int_equal(cpus_cgroup_limit(t->root, "/a/b/"), 3);
	/* The smallest level wins, wherever it is. */
	set_cpu_max(t, "a/b", "150000 100000\n");
	assert_int_equal(cpus_cgroup_limit(t->root, "/a/b"), 2);
	set_cpu_max(t, "", "100000 100000\n");
	assert_int_equal(cpus_cgroup_limit(t->root, "/a/b"), 1);
	assert_int_equal(cpus_cgroup_limit(t->root, "/"), 1);
	/* A garbled file is ignored, not taken as a limit. */
	set_cpu_max(t, "", "garbage\n");
	assert_int_equal(cpus_cgroup_limit(t->root, "/a"), 3);
	/* A path that is not there: only the levels that exist count. */
	assert_int_equal(cpus_cgroup_limit(t->root, "/a/b/c/d"), 2);
}

static void test_available(void **state)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	int n = cpus_available();

	(void)state;
	assert_true(n >= 1);
	/* Affinity and quota only ever lower the count. */
	if (online > 0)
		assert_true(n <= online);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_cpu_max),
	    cmocka_unit_test(test_parse_proc_cgroup),
	    cmocka_unit_test_setup_teardown(test_cgroup_limit, setup, teardown),
	    cmocka_unit_test(test_available),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
