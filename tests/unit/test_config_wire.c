/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the config reader's wire format and of the reader child:
 * a config survives the trip key by key (the key table drives the check, so
 * a new key is covered without a change here), errors survive it, every
 * malformed or out-of-range answer is refused, and a reader that crashes,
 * exits, hangs or says nothing costs an error, never the caller.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "config.h"
#include "config_child.h"
#include "config_wire.h"

/* Every key set away from its default, two listen entries of each kind. */
static const char full_text[] = "workers = 7;\n"
                                "backend = \"poll\";\n"
                                "user = \"nobody\";\n"
                                "group = \"nogroup\";\n"
                                "pid_file = \"/run/x.pid\";\n"
                                "max_connections = 123;\n"
                                "idle_timeout = 0;\n"
                                "shutdown_timeout = 3;\n"
                                "max_pending = 65536;\n"
                                "drain_delay = 4;\n"
                                "udp_guard = false;\n"
                                "sandbox = false;\n"
                                "access = { allow = [ \"10.0.0.0/8\", \"2001:db8::/32\" ];\n"
                                "           deny = [ \"10.1.0.0/16\" ]; };\n"
                                "limits = { per_source_connections = 5; per_source_rate = 6;\n"
                                "           per_source_burst = 7; udp_per_source_rate = 8;\n"
                                "           source_prefix_v6 = 56; };\n"
                                "log = { target = \"/var/log/e.log\"; level = \"debug\"; };\n"
                                "listen = (\n"
                                "  { address = \"127.0.0.1\"; port = 7;\n"
                                "    proxy_protocol = { from = [ \"10.0.0.0/8\", \"::1\" ];\n"
                                "                       timeout = 9; };\n"
                                "    access = { deny = [ \"127.0.0.3\" ]; }; },\n"
                                "  { address = \"::1\"; port = 0; protocol = \"udp\"; },\n"
                                "  { address = \"fe80::1%lo\"; port = 7; },\n"
                                "  { path = \"/run/e.sock\"; mode = \"0600\"; owner = \"nobody\";\n"
                                "    group = \"nogroup\"; }\n"
                                ");\n";

static struct config *load_full(void)
{
	struct config_env env = {.cpus = 2};
	struct config_errors errs = {0};
	struct config *cfg = config_load_string(full_text, "full.conf", &env, &errs);

	if (cfg == NULL) {
		config_errors_print(&errs, stderr);
		fail();
	}
	config_errors_free(&errs);
	return cfg;
}

static void assert_field_equal(const struct config_key *k, const void *a, const void *b)
{
	const char *fa = (const char *)a + k->offset, *fb = (const char *)b + k->offset;

	switch (k->store) {
	case CONFIG_STORE_INT:
	case CONFIG_STORE_INDEX:
		assert_int_equal(*(const int *)(const void *)fa, *(const int *)(const void *)fb);
		break;
	case CONFIG_STORE_SIZE:
		assert_int_equal(*(const size_t *)(const void *)fa,
		                 *(const size_t *)(const void *)fb);
		break;
	case CONFIG_STORE_STRING: {
		const char *sa = *(char *const *)(const void *)fa;
		const char *sb = *(char *const *)(const void *)fb;
		assert_true((sa == NULL) == (sb == NULL));
		if (sa != NULL)
			assert_string_equal(sa, sb);
		break;
	}
	case CONFIG_STORE_CIDRS: {
		const struct cidr_list *la = (const void *)fa, *lb = (const void *)fb;
		assert_int_equal(la->n, lb->n);
		if (la->n > 0)
			assert_memory_equal(la->v, lb->v, la->n * sizeof(*la->v));
		break;
	}
	case CONFIG_STORE_ALLOW:
	case CONFIG_STORE_DENY:
		assert_true(acl_equal((const struct acl *)(const void *)fa,
		                      (const struct acl *)(const void *)fb));
		break;
	case CONFIG_STORE_NONE:
		break;
	}
}

static void assert_same(const struct config *a, const struct config *b)
{
	assert_string_equal(a->file, b->file);
	assert_int_equal(a->workers_auto, b->workers_auto);
	/* The lines of the keys checked at run time, for FILE:LINE then. */
	assert_int_equal(a->user_line, b->user_line);
	assert_int_equal(a->group_line, b->group_line);
	assert_int_equal(a->pid_file_line, b->pid_file_line);
	assert_true(a->user_line == 3 && a->group_line == 4 && a->pid_file_line == 5);
	assert_int_equal(a->nlisten, b->nlisten);
	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];
		if (strncmp(k->name, "listen.", 7) != 0) {
			assert_field_equal(k, a, b);
			continue;
		}
		for (size_t e = 0; e < a->nlisten; e++) {
			assert_int_equal(a->listen[e].line, b->listen[e].line);
			assert_field_equal(k, &a->listen[e], &b->listen[e]);
		}
	}
}

static void test_roundtrip(void **state)
{
	struct config_errors errs = {0};
	struct config *cfg = load_full(), *back;
	char *buf;
	size_t len;
	(void)state;

	assert_int_equal(config_wire_encode(cfg, NULL, &buf, &len), 0);
	assert_int_equal(config_wire_decode(buf, len, &back, &errs), 0);
	assert_non_null(back);
	assert_int_equal(errs.n, 0);
	assert_same(cfg, back);
	config_free(back);
	free(buf);
	config_free(cfg);
}

static void test_errors_roundtrip(void **state)
{
	struct config_errors errs = {0}, back = {0};
	struct config *cfg;
	char *buf;
	size_t len;
	(void)state;

	config_errors_add(&errs, "a.conf", 3, "workers: %d is out of range", 0);
	config_errors_add(&errs, "b.conf", 0, "not a regular file");
	assert_int_equal(config_wire_encode(NULL, &errs, &buf, &len), 0);
	assert_int_equal(config_wire_decode(buf, len, &cfg, &back), 0);
	assert_null(cfg);
	assert_int_equal(back.n, 2);
	assert_string_equal(back.v[0].file, "a.conf");
	assert_int_equal(back.v[0].line, 3);
	assert_string_equal(back.v[0].msg, "workers: 0 is out of range");
	assert_string_equal(back.v[1].msg, "not a regular file");
	free(buf);
	config_errors_free(&back);

	/* Past CONFIG_WIRE_ERRORS_MAX the rest are counted, not carried. */
	for (int i = 0; i < CONFIG_WIRE_ERRORS_MAX + 5; i++)
		config_errors_add(&errs, "c.conf", i + 1, "bad");
	assert_int_equal(config_wire_encode(NULL, &errs, &buf, &len), 0);
	assert_int_equal(config_wire_decode(buf, len, &cfg, &back), 0);
	assert_int_equal(back.n, CONFIG_WIRE_ERRORS_MAX + 1);
	assert_non_null(strstr(back.v[back.n - 1].msg, "and 7 more errors"));
	free(buf);
	config_errors_free(&back);
	config_errors_free(&errs);
}

/* Every proper prefix and every single-byte change of a valid answer:
 * refused, or (a change) decoded into a config the table accepts. */
static void test_malformed(void **state)
{
	struct config_errors errs = {0};
	struct config *cfg = load_full(), *back;
	char *buf;
	size_t len;
	(void)state;

	assert_int_equal(config_wire_encode(cfg, NULL, &buf, &len), 0);
	for (size_t n = 0; n < len; n++) {
		assert_int_equal(config_wire_decode(buf, n, &back, &errs), -1);
		assert_int_equal(errno, EBADMSG);
		assert_null(back);
		assert_int_equal(errs.n, 0);
	}
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			buf[i] ^= (char)(1 << bit);
			if (config_wire_decode(buf, len, &back, &errs) == 0) {
				assert_non_null(back);
				assert_true(back->workers >= 1 && back->workers <= 1024);
				assert_true(back->nlisten >= 1);
				config_free(back);
			}
			config_errors_free(&errs);
			buf[i] ^= (char)(1 << bit);
		}
	}
	/* Trailing bytes are refused too. */
	char *more = malloc(len + 1);
	assert_non_null(more);
	memcpy(more, buf, len);
	more[len] = 0;
	assert_int_equal(config_wire_decode(more, len + 1, &back, &errs), -1);
	free(more);
	free(buf);
	config_free(cfg);
}

/* Values that config.c would refuse are refused on the way back too. */
static void test_out_of_range(void **state)
{
	struct config_errors errs = {0};
	struct config *cfg = load_full(), *back;
	char *buf;
	size_t len;
	(void)state;

	cfg->workers = 5000;
	assert_int_equal(config_wire_encode(cfg, NULL, &buf, &len), 0);
	assert_int_equal(config_wire_decode(buf, len, &back, &errs), -1);
	free(buf);
	cfg->workers = 2;
	free(cfg->backend);
	cfg->backend = strdup("kqueue");
	assert_int_equal(config_wire_encode(cfg, NULL, &buf, &len), 0);
	assert_int_equal(config_wire_decode(buf, len, &back, &errs), -1);
	free(buf);
	free(cfg->backend);
	cfg->backend = strdup("auto");
	free(cfg->listen[0].address);
	cfg->listen[0].address = NULL;
	assert_int_equal(config_wire_encode(cfg, NULL, &buf, &len), 0);
	assert_int_equal(config_wire_decode(buf, len, &back, &errs), -1);
	free(buf);
	cfg->listen[0].address = strdup("localhost");
	assert_int_equal(config_wire_encode(cfg, NULL, &buf, &len), 0);
	assert_int_equal(config_wire_decode(buf, len, &back, &errs), -1);
	free(buf);
	free(cfg->listen[0].address);
	cfg->listen[0].address = strdup("127.0.0.1");
	/* proxy_protocol: a prefix with host bits, one too long, none at all */
	cfg->listen[0].proxy_from.v[0].addr[3] = 1;
	assert_int_equal(config_wire_encode(cfg, NULL, &buf, &len), 0);
	assert_int_equal(config_wire_decode(buf, len, &back, &errs), -1);
	free(buf);
	cfg->listen[0].proxy_from.v[0].addr[3] = 0;
	cfg->listen[0].proxy_from.v[0].prefix = 33;
	assert_int_equal(config_wire_encode(cfg, NULL, &buf, &len), 0);
	assert_int_equal(config_wire_decode(buf, len, &back, &errs), -1);
	free(buf);
	cfg->listen[0].proxy_from.v[0].prefix = 8;
	cfg->listen[0].proxy_from.n = 0;
	assert_int_equal(config_wire_encode(cfg, NULL, &buf, &len), 0);
	assert_int_equal(config_wire_decode(buf, len, &back, &errs), -1);
	free(buf);
	cfg->listen[0].proxy_from.n = 2;
	assert_int_equal(config_wire_encode(cfg, NULL, &buf, &len), 0);
	assert_int_equal(config_wire_decode(buf, len, &back, &errs), 0);
	config_free(back);
	free(buf);
	assert_int_equal(errs.n, 0);
	config_free(cfg);
}

/* ---- the reader child ---------------------------------------------------- */

static struct config *read_full(const char *path, const struct config_env *env,
                                struct config_errors *errs)
{
	(void)path;
	return config_load_string(full_text, "full.conf", env, errs);
}

static struct config *read_crash(const char *path, const struct config_env *env,
                                 struct config_errors *errs)
{
	(void)path;
	(void)env;
	(void)errs;
	raise(SIGSEGV);
	return NULL;
}

/* What libconfig's scanner does on an unreadable include. */
static struct config *read_exit(const char *path, const struct config_env *env,
                                struct config_errors *errs)
{
	(void)path;
	(void)env;
	(void)errs;
	_exit(2);
}

static struct config *read_hang(const char *path, const struct config_env *env,
                                struct config_errors *errs)
{
	(void)path;
	(void)env;
	(void)errs;
	for (;;)
		pause();
	return NULL;
}

/* An answer larger than the wire allows: the child cannot send it. */
static struct config *read_huge(const char *path, const struct config_env *env,
                                struct config_errors *errs)
{
	static char big[64 * 1024];
	(void)env;

	memset(big, 'x', sizeof(big) - 1);
	for (int i = 0; i < 200; i++)
		config_errors_add(errs, path, i, "%s", big);
	return NULL;
}

static char *child_error(const struct config_reader *r, int timeout_ms, uint64_t *took)
{
	struct config_env env = {.cpus = 1};
	struct config_errors errs = {0};
	char line[256];
	uint64_t t0 = clock_mono_ms();

	assert_null(config_child_load_with(r, "x.conf", &env, timeout_ms, &errs));
	*took = clock_mono_ms() - t0;
	assert_int_equal(errs.n, 1);
	config_error_format(&errs.v[0], line, sizeof(line));
	config_errors_free(&errs);
	return strdup(line);
}

static void test_child(void **state)
{
	struct config_env env = {.cpus = 2};
	struct config_errors errs = {0};
	struct config_reader r = {.load = read_full};
	uint64_t took;
	char *msg;
	(void)state;

	struct config *cfg = config_child_load_with(&r, "x.conf", &env, 5000, &errs);
	assert_non_null(cfg);
	assert_int_equal(cfg->workers, 7);
	assert_int_equal(cfg->nlisten, 4);
	config_free(cfg);

	r.load = read_crash;
	msg = child_error(&r, 5000, &took);
	assert_string_equal(msg, "x.conf: config reader killed by signal 11 (SIGSEGV)");
	free(msg);

	r.load = read_exit;
	msg = child_error(&r, 5000, &took);
	assert_string_equal(msg, "x.conf: config reader exited with status 2");
	free(msg);

	r.load = read_hang;
	msg = child_error(&r, 300, &took);
	assert_string_equal(msg, "x.conf: config reader took longer than 300 ms; killed it");
	assert_true(took >= 300 && took < 3000);
	free(msg);

	r.load = read_huge;
	msg = child_error(&r, 5000, &took);
	assert_string_equal(msg, "x.conf: config reader exited with status 1");
	free(msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip), cmocka_unit_test(test_errors_roundtrip),
	    cmocka_unit_test(test_malformed), cmocka_unit_test(test_out_of_range),
	    cmocka_unit_test(test_child),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
