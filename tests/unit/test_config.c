/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the configuration: every key's default, valid values, wrong
 * types and ranges, the listen rules, and FILE:LINE in every message; each
 * case is loaded from a string and from a file, which must agree.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "ev.h"
#include "log.h"

#define STRING_NAME "string.conf"
#define LISTEN1     "listen = ( { address = \"127.0.0.1\"; port = 7007; } );\n"

struct fixture {
	char dir[64];
	char path[128]; /* dir/t.conf, rewritten by each case */
	struct config_env env;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	strcpy(f->dir, "/tmp/test_config.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/t.conf", f->dir);
	f->env.cpus = 3;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *out = fopen(path, "w");

	assert_non_null(out);
	assert_int_equal(fputs(text, out) >= 0, 1);
	assert_int_equal(fclose(out), 0);
}

/* All the errors as config_errors_print() writes them. */
static char *errors_text(const struct config_errors *errs)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	config_errors_print(errs, out);
	assert_int_equal(fclose(out), 0);
	return buf;
}

static int str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The config loaded from the string must be the one loaded from the file. */
static void assert_same_config(const struct config *a, const struct config *b)
{
	size_t i;

	assert_int_equal(a->workers, b->workers);
	assert_int_equal(a->workers_auto, b->workers_auto);
	assert_true(str_eq(a->backend, b->backend));
	assert_true(str_eq(a->user, b->user));
	assert_true(str_eq(a->group, b->group));
	assert_true(str_eq(a->pid_file, b->pid_file));
	assert_int_equal(a->max_connections, b->max_connections);
	assert_int_equal(a->idle_timeout, b->idle_timeout);
	assert_int_equal(a->shutdown_timeout, b->shutdown_timeout);
	assert_int_equal(a->max_pending, b->max_pending);
	assert_true(str_eq(a->log_target, b->log_target));
	assert_int_equal(a->log_level, b->log_level);
	assert_int_equal(a->nlisten, b->nlisten);
	for (i = 0; i < a->nlisten; i++) {
		assert_int_equal(a->listen[i].proto, b->listen[i].proto);
		assert_true(str_eq(a->listen[i].address, b->listen[i].address));
		assert_int_equal(a->listen[i].port, b->listen[i].port);
		assert_true(str_eq(a->listen[i].path, b->listen[i].path));
		assert_int_equal(a->listen[i].line, b->listen[i].line);
	}
}

/* Load `text` from a string and from a file; it must pass.  Free the result. */
static struct config *load_ok(void **state, const char *text)
{
	struct fixture *f = *state;
	struct config_errors errs = {0};
	struct config *cs, *cf;
	char *msgs;

	cs = config_load_string(text, STRING_NAME, &f->env, &errs);
	if (cs == NULL) {
		msgs = errors_text(&errs);
		print_error("unexpected errors for:\n%s---\n%s", text, msgs);
		free(msgs);
		config_errors_free(&errs);
		fail();
	}
	assert_int_equal(errs.n, 0);
	assert_string_equal(cs->file, STRING_NAME);

	write_file(f->path, text);
	cf = config_load_file(f->path, &f->env, &errs);
	assert_non_null(cf);
	assert_int_equal(errs.n, 0);
	assert_string_equal(cf->file, f->path);
	assert_same_config(cs, cf);
	config_free(cf);
	return cs;
}

/* Whether `errs` printed holds a line "NAME:LINE: ...MSG...". */
static int has_error(const char *printed, const char *name, int line, const char *msg)
{
	char prefix[256];
	const char *p, *eol;
	size_t plen;

	if (line > 0)
		snprintf(prefix, sizeof(prefix), "%s:%d: ", name, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", name);
	plen = strlen(prefix);
	for (p = printed; p != NULL && *p != '\0'; p = eol != NULL ? eol + 1 : NULL) {
		eol = strchr(p, '\n');
		if (strncmp(p, prefix, plen) != 0)
			continue;
		/* Look for msg within this line only. */
		const char *hit = strstr(p + plen, msg);
		if (hit != NULL && (eol == NULL || hit < eol))
			return 1;
	}
	return 0;
}

/*
 * Load `text` from a string and from a file: both must fail with `nerr`
 * errors, one of them at `line` (0: none) containing `msg`.
 */
static void expect_errors(void **state, const char *text, size_t nerr, int line, const char *msg)
{
	struct fixture *f = *state;
	struct config_errors errs = {0};
	const char *names[2] = {STRING_NAME, f->path};
	struct config *cfg;
	char *printed;
	int i, ok;

	write_file(f->path, text);
	for (i = 0; i < 2; i++) {
		if (i == 0)
			cfg = config_load_string(text, STRING_NAME, &f->env, &errs);
		else
			cfg = config_load_file(f->path, &f->env, &errs);
		printed = errors_text(&errs);
		ok = cfg == NULL && has_error(printed, names[i], line, msg) &&
		     (nerr == 0 || errs.n == nerr);
		if (!ok)
			print_error("for:\n%s---\nwanted %zu error(s), one \"%s:%d: ...%s...\"; "
			            "got:\n%s",
			            text, nerr, names[i], line, msg, printed);
		free(printed);
		config_free(cfg);
		config_errors_free(&errs);
		if (!ok)
			fail();
	}
}

/* One mistake, on `line`. */
static void expect_error(void **state, const char *text, int line, const char *msg)
{
	expect_errors(state, text, 1, line, msg);
}

/* `key = value` on line 1, then a valid listen: one error on line 1. */
static void expect_bad_value(void **state, const char *assignment, const char *msg)
{
	char text[512];

	snprintf(text, sizeof(text), "%s\n" LISTEN1, assignment);
	expect_error(state, text, 1, msg);
}

static struct config *load_value(void **state, const char *assignment)
{
	char text[512];

	snprintf(text, sizeof(text), "%s\n" LISTEN1, assignment);
	return load_ok(state, text);
}

static void test_defaults(void **state)
{
	struct config *cfg = load_ok(state, LISTEN1);

	assert_int_equal(cfg->workers, 3); /* env.cpus */
	assert_int_equal(cfg->workers_auto, 1);
	assert_string_equal(cfg->backend, "auto");
	assert_null(cfg->user);
	assert_null(cfg->group);
	assert_null(cfg->pid_file);
	assert_int_equal(cfg->max_connections, 10000);
	assert_int_equal(cfg->idle_timeout, 300);
	assert_int_equal(cfg->shutdown_timeout, 10);
	assert_int_equal(cfg->max_pending, 1048576);
	assert_string_equal(cfg->log_target, "stderr");
	assert_int_equal(cfg->log_level, LOG_LEVEL_INFO);
	assert_int_equal(cfg->nlisten, 1);
	assert_int_equal(cfg->listen[0].proto, LISTEN_TCP);
	assert_string_equal(cfg->listen[0].address, "127.0.0.1");
	assert_int_equal(cfg->listen[0].port, 7007);
	assert_null(cfg->listen[0].path);
	assert_int_equal(cfg->listen[0].line, 1);
	config_free(cfg);
}

static void test_workers(void **state)
{
	struct fixture *f = *state;
	struct config *cfg;

	cfg = load_value(state, "workers = 4;");
	assert_int_equal(cfg->workers, 4);
	assert_int_equal(cfg->workers_auto, 0);
	config_free(cfg);
	cfg = load_value(state, "workers = 1024;");
	assert_int_equal(cfg->workers, 1024);
	config_free(cfg);

	f->env.cpus = 5;
	cfg = load_value(state, "workers = \"auto\";");
	assert_int_equal(cfg->workers, 5);
	assert_int_equal(cfg->workers_auto, 1);
	config_free(cfg);
	/* A broken CPU count still gives one worker, a huge one the maximum. */
	f->env.cpus = 0;
	cfg = load_value(state, "workers = \"auto\";");
	assert_int_equal(cfg->workers, 1);
	config_free(cfg);
	f->env.cpus = 5000;
	cfg = load_value(state, "workers = \"auto\";");
	assert_int_equal(cfg->workers, 1024);
	config_free(cfg);

	expect_bad_value(state, "workers = 0;", "workers: 0 is out of range 1..1024");
	expect_bad_value(state, "workers = 1025;", "out of range");
	expect_bad_value(state, "workers = -1;", "out of range");
	expect_bad_value(state, "workers = \"many\";", "expected an integer or \"auto\"");
	expect_bad_value(state, "workers = 1.5;", "got a float");
	expect_bad_value(state, "workers = true;", "got a boolean");
}

/* Whether ev.c built backend `name`. */
static int backend_built(const char *name)
{
	for (size_t i = 0; ev_backend_name(i) != NULL; i++)
		if (strcmp(ev_backend_name(i), name) == 0)
			return 1;
	return 0;
}

/*
 * backend accepts "auto" and the backends ev.c built, nothing else.  Bug: -t
 * accepted a backend the build lacks, because config.c had its own list.
 */
static void test_backend(void **state)
{
	/* Every backend echod has, or may get, on any system. */
	static const char *const names[] = {"auto",   "epoll",   "poll",    "select",
	                                    "kqueue", "devpoll", "io_uring"};
	char text[64], built[160], msg[256];
	struct config *cfg;
	size_t i, len;

	len = (size_t)snprintf(built, sizeof(built), "\"auto\"");
	for (i = 0; ev_backend_name(i) != NULL; i++)
		len += (size_t)snprintf(built + len, sizeof(built) - len, ", \"%s\"",
		                        ev_backend_name(i));
	assert_true(len < sizeof(built));
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(text, sizeof(text), "backend = \"%s\";", names[i]);
		if (strcmp(names[i], "auto") == 0 || backend_built(names[i])) {
			cfg = load_value(state, text);
			assert_string_equal(cfg->backend, names[i]);
			config_free(cfg);
		} else {
			snprintf(msg, sizeof(msg), "backend: \"%s\" is not one of %s", names[i],
			         built);
			expect_bad_value(state, text, msg);
		}
	}
	expect_bad_value(state, "backend = 1;", "backend: expected a string, got an integer");
}

static void test_user_group(void **state)
{
	struct config *cfg = load_value(state, "user = \"_echod\"; group = \"nogroup\";");

	assert_string_equal(cfg->user, "_echod");
	assert_string_equal(cfg->group, "nogroup");
	config_free(cfg);
	expect_bad_value(state, "user = \"\";", "user: \"\": must not be empty");
	expect_bad_value(state, "group = \"\";", "group: \"\": must not be empty");
	expect_bad_value(state, "user = 0;", "user: expected a string");
	expect_bad_value(state, "group = 0;", "group: expected a string");
}

static void test_pid_file(void **state)
{
	struct config *cfg = load_value(state, "pid_file = \"/run/echod/echod.pid\";");

	assert_string_equal(cfg->pid_file, "/run/echod/echod.pid");
	config_free(cfg);
	expect_bad_value(state, "pid_file = \"echod.pid\";", "not an absolute path");
	expect_bad_value(state, "pid_file = true;", "pid_file: expected a string");
}

static void test_max_connections(void **state)
{
	struct config *cfg = load_value(state, "max_connections = 1;");

	assert_int_equal(cfg->max_connections, 1);
	config_free(cfg);
	cfg = load_value(state, "max_connections = 10000000;");
	assert_int_equal(cfg->max_connections, 10000000);
	config_free(cfg);
	expect_bad_value(state, "max_connections = 0;", "max_connections: 0 is out of range");
	expect_bad_value(state, "max_connections = 10000001;", "out of range 1..10000000");
	expect_bad_value(state, "max_connections = \"10\";", "expected an integer, got a string");
}

static void test_timeouts(void **state)
{
	struct config *cfg = load_value(state, "idle_timeout = 0; shutdown_timeout = 0;");

	assert_int_equal(cfg->idle_timeout, 0);
	assert_int_equal(cfg->shutdown_timeout, 0);
	config_free(cfg);
	cfg = load_value(state, "idle_timeout = 604800; shutdown_timeout = 3600;");
	assert_int_equal(cfg->idle_timeout, 604800);
	assert_int_equal(cfg->shutdown_timeout, 3600);
	config_free(cfg);
	expect_bad_value(state, "idle_timeout = 604801;", "idle_timeout: 604801 is out of range");
	expect_bad_value(state, "idle_timeout = -1;", "out of range 0..604800");
	expect_bad_value(state, "idle_timeout = \"5m\";", "expected an integer");
	expect_bad_value(state, "shutdown_timeout = 3601;", "shutdown_timeout: 3601 is out");
	expect_bad_value(state, "shutdown_timeout = -1;", "out of range 0..3600");
	expect_bad_value(state, "shutdown_timeout = 1.0;", "got a float");
}

static void test_max_pending(void **state)
{
	struct config *cfg = load_value(state, "max_pending = 4096;");

	assert_int_equal(cfg->max_pending, 4096);
	config_free(cfg);
	cfg = load_value(state, "max_pending = 1073741824;");
	assert_int_equal(cfg->max_pending, 1073741824);
	config_free(cfg);
	/* A 64-bit literal in range is fine. */
	cfg = load_value(state, "max_pending = 65536L;");
	assert_int_equal(cfg->max_pending, 65536);
	config_free(cfg);
	expect_bad_value(state, "max_pending = 4095;", "max_pending: 4095 is out of range");
	expect_bad_value(state, "max_pending = 1073741825;", "out of range 4096..1073741824");
	expect_bad_value(state, "max_pending = 4294967296L;", "4294967296 is out of range");
	expect_bad_value(state, "max_pending = \"1M\";", "expected an integer");
	/*
	 * libconfig 1.5 reads 4294971392 as 4096 (it keeps 32 bits): that
	 * must be an error, not a quietly tiny buffer.
	 */
	expect_bad_value(state, "max_pending = 4294971392;", "does not fit in 32 bits");
	expect_bad_value(state, "max_pending = 0x100001000;", "does not fit in 32 bits");
	expect_bad_value(state, "max_pending = 99999999999999999999L;", "does not fit in 64 bits");
	/* Big numbers in comments, strings and floats are not integers. */
	cfg = load_value(state, "# 99999999999\nuser = \"u99999999999\"; /* 88888888888 */");
	config_free(cfg);
}

static void test_log(void **state)
{
	static const char *const levels[] = {"error", "warning", "notice", "info", "debug"};
	char text[128];
	struct config *cfg;
	size_t i;

	cfg = load_value(state, "log = { target = \"syslog\"; };");
	assert_string_equal(cfg->log_target, "syslog");
	assert_int_equal(cfg->log_level, LOG_LEVEL_INFO);
	config_free(cfg);
	cfg = load_value(state, "log = { target = \"/var/log/echod.log\"; level = \"debug\"; };");
	assert_string_equal(cfg->log_target, "/var/log/echod.log");
	config_free(cfg);
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		snprintf(text, sizeof(text), "log = { level = \"%s\"; };", levels[i]);
		cfg = load_value(state, text);
		assert_int_equal(cfg->log_level, (int)i);
		config_free(cfg);
	}
	expect_bad_value(state, "log = { target = \"echod.log\"; };",
	                 "log.target: \"echod.log\": must be \"stderr\", \"syslog\" or an "
	                 "absolute path");
	expect_bad_value(state, "log = { target = 2; };", "log.target: expected a string");
	expect_bad_value(state, "log = { level = \"verbose\"; };",
	                 "log.level: \"verbose\" is not one of \"error\", \"warning\"");
	expect_bad_value(state, "log = { level = 3; };", "log.level: expected a string");
	expect_bad_value(state, "log = \"stderr\";", "log: expected a group, got a string");
	expect_error(state, "log = {\n  target = \"stderr\";\n  colour = \"red\";\n};\n" LISTEN1, 3,
	             "unknown key \"colour\" in log");
}

static void test_unknown_key(void **state)
{
	expect_error(state, LISTEN1 "\n\nworker = 2;\n", 4, "unknown key \"worker\"");
	/* A key of a section is not a top-level key. */
	expect_error(state, LISTEN1 "level = \"info\";\n", 2, "unknown key \"level\"");
	expect_error(state, "listen = (\n  { address = \"::1\";\n    port = 7; tls = true; }\n);\n",
	             3, "unknown key \"tls\" in listen");
}

static void test_listen_missing(void **state)
{
	expect_error(state, "workers = 1;\n", 0, "listen: missing");
	expect_error(state, "", 0, "listen: missing");
	expect_error(state, "workers = 1;\nlisten = ();\n", 2, "listen: empty");
	expect_error(state, "listen = 7;\n", 1,
	             "listen: expected a list of groups, got an integer");
	expect_error(state, "listen = [ 7 ];\n", 1, "listen: expected a group, got an integer");
	expect_error(state, "listen = {\n address = \"::1\"; port = 7; };\n", 1,
	             "expected a list of groups, got a group");
	expect_error(state, "listen = (\n  { port = 7; }\n);\n", 2, "needs an address");
	expect_error(state, "listen = (\n  { address = \"::\"; }\n);\n", 2, "needs a port");
}

static void test_listen_values(void **state)
{
	struct config *cfg;

	cfg = load_ok(state, "listen = (\n"
	                     "  { address = \"0.0.0.0\"; port = 7; },\n"
	                     "  { address = \"::\"; port = 65535; protocol = \"tcp\"; },\n"
	                     "  { address = \"0.0.0.0\"; port = 7; protocol = \"udp\"; },\n"
	                     "  { address = \"127.0.0.1\"; port = 0; },\n"
	                     "  { path = \"/run/echod/echod.sock\"; protocol = \"unix\"; }\n"
	                     ");\n");
	assert_int_equal(cfg->nlisten, 5);
	assert_int_equal(cfg->listen[1].proto, LISTEN_TCP);
	assert_int_equal(cfg->listen[1].port, 65535);
	assert_int_equal(cfg->listen[1].line, 3);
	assert_int_equal(cfg->listen[2].proto, LISTEN_UDP);
	assert_int_equal(cfg->listen[3].port, 0);
	assert_int_equal(cfg->listen[4].proto, LISTEN_UNIX);
	assert_string_equal(cfg->listen[4].path, "/run/echod/echod.sock");
	assert_null(cfg->listen[4].address);
	config_free(cfg);

	expect_error(state, "listen = (\n { address = \"localhost\"; port = 7; }\n);\n", 2,
	             "listen.address: \"localhost\": not a numeric IPv4 or IPv6 address");
	expect_error(state, "listen = ( { address = \"1.2.3.256\"; port = 7; } );\n", 1,
	             "not a numeric");
	expect_error(state, "listen = ( { address = 127; port = 7; } );\n", 1,
	             "listen.address: expected a string");
	expect_error(state, "listen = ( { address = \"::1\"; port = 65536; } );\n", 1,
	             "listen.port: 65536 is out of range 0..65535");
	expect_error(state, "listen = ( { address = \"::1\"; port = -1; } );\n", 1, "out of range");
	expect_error(state, "listen = ( { address = \"::1\"; port = \"7\"; } );\n", 1,
	             "listen.port: expected an integer, got a string");
	expect_error(state, "listen = ( { address = \"::1\"; port = 7; protocol = \"sctp\"; } );\n",
	             1, "listen.protocol: \"sctp\" is not one of \"tcp\", \"udp\", \"unix\"");
	expect_error(state, "listen = ( { path = \"echod.sock\"; } );\n", 1,
	             "listen.path: \"echod.sock\": not an absolute path");
	expect_error(
	    state,
	    "listen = ( { path = \"/tmp/"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"; } );\n",
	    1, "too long for a Unix socket path");
	expect_error(state, "listen = (\n { path = \"/run/e.sock\"; port = 7; }\n);\n", 2,
	             "a Unix socket entry (path) takes no address or port");
	expect_error(state,
	             "listen = (\n { path = \"/run/e.sock\";\n   protocol = \"tcp\"; }\n);\n", 3,
	             "protocol \"tcp\" does not go with path");
	expect_error(state, "listen = (\n { protocol = \"unix\"; }\n);\n", 2,
	             "protocol \"unix\" needs a path");
}

static void test_listen_duplicate(void **state)
{
	struct config *cfg;

	expect_error(state,
	             "listen = (\n"
	             "  { address = \"0.0.0.0\"; port = 7; },\n"
	             "  { address = \"0.0.0.0\"; port = 7; protocol = \"tcp\"; }\n"
	             ");\n",
	             3, "listen: tcp 0.0.0.0:7 is already at line 2");
	/* The same address written two ways. */
	expect_error(state,
	             "listen = (\n"
	             "  { address = \"::\"; port = 7; protocol = \"udp\"; },\n"
	             "  { address = \"0::0\"; port = 7; protocol = \"udp\"; }\n"
	             ");\n",
	             3, "listen: udp [0::0]:7 is already at line 2");
	expect_error(state,
	             "listen = (\n"
	             "  { path = \"/run/e.sock\"; },\n"
	             "  { address = \"::1\"; port = 7; },\n"
	             "  { path = \"/run/e.sock\"; }\n"
	             ");\n",
	             4, "listen: unix /run/e.sock is already at line 2");
	/* Not duplicates: TCP and UDP, two families, two ports, two ephemeral ports. */
	cfg = load_ok(state, "listen = (\n"
	                     "  { address = \"0.0.0.0\"; port = 7; },\n"
	                     "  { address = \"0.0.0.0\"; port = 7; protocol = \"udp\"; },\n"
	                     "  { address = \"::\"; port = 7; },\n"
	                     "  { address = \"0.0.0.0\"; port = 8; },\n"
	                     "  { address = \"127.0.0.1\"; port = 0; },\n"
	                     "  { address = \"127.0.0.1\"; port = 0; }\n"
	                     ");\n");
	assert_int_equal(cfg->nlisten, 6);
	config_free(cfg);
}

/*
 * One formatter names a listen entry, for config errors and for the
 * listener's log lines.  Bug: the listener had its own copy, whose 96-byte
 * buffer cut long Unix socket paths short.
 */
static void test_listen_name(void **state)
{
	struct listen_conf tcp = {.proto = LISTEN_TCP, .address = "127.0.0.1", .port = 7};
	struct listen_conf udp = {.proto = LISTEN_UDP, .address = "::1", .port = 65535};
	struct listen_conf unx = {.proto = LISTEN_UNIX};
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)], want[LISTEN_NAME_MAX + 8];
	char name[LISTEN_NAME_MAX], small[8];

	(void)state;
	assert_string_equal(listen_conf_name(&tcp, name, sizeof(name)), "tcp 127.0.0.1:7");
	assert_string_equal(listen_conf_name(&udp, name, sizeof(name)), "udp [::1]:65535");
	/* The longest path a Unix socket can have fits whole. */
	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	unx.path = path;
	snprintf(want, sizeof(want), "unix %s", path);
	assert_string_equal(listen_conf_name(&unx, name, sizeof(name)), want);
	/* A short buffer is cut, never overrun. */
	assert_string_equal(listen_conf_name(&tcp, small, sizeof(small)), "tcp 127");
}

static void test_syntax_error(void **state)
{
	expect_error(state, LISTEN1 "workers = 2\nbackend = ;\n", 3, "syntax error");
	expect_error(state, "workers = 2;\nworkers = 3;\n" LISTEN1, 2, "duplicate setting name");
}

static void test_multiple_errors(void **state)
{
	expect_errors(state,
	              "workers = 0;\n"
	              "backend = \"kqueue\";\n"
	              "listen = (\n"
	              "  { address = \"localhost\"; port = 70000; }\n"
	              ");\n"
	              "colour = \"blue\";\n",
	              5, 6, "unknown key \"colour\"");
}

static const char *testdata(void)
{
	static char dir[PATH_MAX];
	const char *env = getenv("ECHOD_TESTDATA");
	char *slash;

	if (env != NULL && *env != '\0')
		return env;
	/* Not run by make check: find the data next to this source file. */
	snprintf(dir, sizeof(dir), "%s", __FILE__);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		return "../data";
	snprintf(slash, sizeof(dir) - (size_t)(slash - dir), "/../data");
	return dir;
}

static void data_path(char *buf, size_t len, const char *rel)
{
	if ((size_t)snprintf(buf, len, "%s/%s", testdata(), rel) >= len || access(buf, R_OK) != 0) {
		print_error("cannot read %s; set ECHOD_TESTDATA to <srcdir>/tests/data\n", buf);
		fail();
	}
}

static struct config *load_data_file(void **state, const char *rel)
{
	struct fixture *f = *state;
	struct config_errors errs = {0};
	struct config *cfg;
	char path[PATH_MAX];
	char *msgs;

	data_path(path, sizeof(path), rel);
	cfg = config_load_file(path, &f->env, &errs);
	if (cfg == NULL) {
		msgs = errors_text(&errs);
		print_error("%s", msgs);
		free(msgs);
		config_errors_free(&errs);
		fail();
	}
	return cfg;
}

static void test_data_files(void **state)
{
	struct fixture *f = *state;
	struct config_errors errs = {0};
	struct config *cfg;
	char path[PATH_MAX], *printed;

	cfg = load_data_file(state, "config-unix.conf");
	assert_int_equal(cfg->nlisten, 3);
	assert_int_equal(cfg->listen[1].proto, LISTEN_UDP);
	assert_int_equal(cfg->listen[2].proto, LISTEN_UNIX);
	assert_int_equal(cfg->listen[2].line, 6);
	config_free(cfg);

	data_path(path, sizeof(path), "config-bad.conf");
	assert_null(config_load_file(path, &f->env, &errs));
	printed = errors_text(&errs);
	assert_int_equal(errs.n, 7);
	assert_true(has_error(printed, path, 2, "workers: 0 is out of range"));
	assert_true(has_error(printed, path, 3, "backend: \"kqueue\""));
	assert_true(has_error(printed, path, 4, "unknown key \"colour\""));
	assert_true(has_error(printed, path, 6, "log.level: expected a string"));
	assert_true(has_error(printed, path, 9, "listen.address: \"localhost\""));
	assert_true(has_error(printed, path, 10, "listen.port: 70000 is out of range"));
	assert_true(has_error(printed, path, 10, "listen.protocol: \"sctp\""));
	free(printed);
	config_errors_free(&errs);
}

static void test_missing_file(void **state)
{
	struct fixture *f = *state;
	struct config_errors errs = {0};
	char path[160], *printed;

	snprintf(path, sizeof(path), "%s/nonexistent.conf", f->dir);
	assert_null(config_load_file(path, &f->env, &errs));
	printed = errors_text(&errs);
	assert_true(has_error(printed, path, 0, "No such file"));
	free(printed);
	config_errors_free(&errs);
}

static void test_packaged(void **state)
{
	struct config *cfg;

	cfg = load_data_file(state, "../../etc/echod.conf");
	assert_int_equal(cfg->workers_auto, 1);
	assert_string_equal(cfg->user, "_echod");
	assert_string_equal(cfg->group, "_echod");
	assert_string_equal(cfg->pid_file, "/run/echod/echod.pid");
	assert_int_equal(cfg->nlisten, 3);
	assert_int_equal(cfg->listen[0].port, 7);
	assert_int_equal(cfg->listen[1].proto, LISTEN_TCP);
	assert_string_equal(cfg->listen[1].address, "::");
	assert_int_equal(cfg->listen[2].proto, LISTEN_UDP);
	config_free(cfg);

	cfg = load_data_file(state, "../../etc/echod-dev.conf");
	assert_int_equal(cfg->workers, 2);
	assert_int_equal(cfg->log_level, LOG_LEVEL_INFO);
	assert_null(cfg->user);
	assert_null(cfg->group);
	assert_null(cfg->pid_file);
	assert_int_equal(cfg->nlisten, 2);
	assert_string_equal(cfg->listen[0].address, "127.0.0.1");
	assert_int_equal(cfg->listen[0].port, 7007);
	assert_int_equal(cfg->listen[0].proto, LISTEN_TCP);
	assert_int_equal(cfg->listen[1].port, 7007);
	assert_int_equal(cfg->listen[1].proto, LISTEN_UDP);
	config_free(cfg);
}

static char *read_text(const char *path)
{
	FILE *in = fopen(path, "r");
	char *text = calloc(1, 65536);

	assert_non_null(in);
	assert_non_null(text);
	fread(text, 1, 65535, in);
	fclose(in);
	return text;
}

/*
 * Adding a key means a table row and a line in the packaged file: every key
 * appears there as "name = ", and a top-level or log key with a default
 * shows exactly that default.
 */
static void test_table_matches_packaged(void **state)
{
	char path[PATH_MAX], pattern[64], value[64];
	const struct config_key *k;
	const char *leaf, *p;
	char *text;
	size_t i, n;

	(void)state;
	data_path(path, sizeof(path), "../../etc/echod.conf");
	text = read_text(path);
	for (i = 0; i < config_nkeys; i++) {
		k = &config_keys[i];
		assert_non_null(k->help);
		assert_true(k->type != CONFIG_KEY_CHOICE || k->choice != NULL);
		assert_true(k->type != CONFIG_KEY_STRING || k->check != NULL);
		leaf = strrchr(k->name, '.') ? strrchr(k->name, '.') + 1 : k->name;
		snprintf(pattern, sizeof(pattern), "%s = ", leaf);
		p = strstr(text, pattern);
		if (p == NULL) {
			print_error("key %s is not in %s\n", k->name, path);
			fail();
		}
		if (k->def == NULL || strncmp(k->name, "listen.", 7) == 0)
			continue;
		/* The value: up to the ';', without quotes. */
		p += strlen(pattern);
		p += *p == '"';
		n = strcspn(p, "\";");
		assert_true(n < sizeof(value));
		memcpy(value, p, n);
		value[n] = '\0';
		if (strcmp(value, k->def) != 0) {
			print_error("%s: default %s, packaged file %s\n", k->name, k->def, value);
			fail();
		}
	}
	free(text);
}

/* config.c alone, without libconfig: a hand-made tree. */
static void test_from_value(void **state)
{
	struct fixture *f = *state;
	struct config_value entry_kv[2] = {
	    {.name = "address", .type = CONFIG_VALUE_STRING, .s = "::1", .line = 3},
	    {.name = "port", .type = CONFIG_VALUE_INT, .i = 9, .line = 3},
	};
	struct config_value entry = {
	    .type = CONFIG_VALUE_GROUP, .line = 3, .child = entry_kv, .nchild = 2};
	struct config_value top[2] = {
	    {.name = "workers", .type = CONFIG_VALUE_INT, .i = 6, .line = 1},
	    {.name = "listen", .type = CONFIG_VALUE_LIST, .line = 2, .child = &entry, .nchild = 1},
	};
	struct config_value root = {.type = CONFIG_VALUE_GROUP, .child = top, .nchild = 2};
	struct config_errors errs = {0};
	struct config *cfg;

	cfg = config_from_value(&root, "tree", &f->env, &errs);
	assert_non_null(cfg);
	assert_int_equal(cfg->workers, 6);
	assert_int_equal(cfg->listen[0].port, 9);
	assert_int_equal(cfg->listen[0].line, 3);
	config_free(cfg);

	/* An included file names itself in messages. */
	entry_kv[1].i = -9;
	entry_kv[1].file = "included.conf";
	assert_null(config_from_value(&root, "tree", &f->env, &errs));
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.v[0].file, "included.conf");
	assert_int_equal(errs.v[0].line, 3);
	config_errors_free(&errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_workers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_backend, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_user_group, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pid_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_max_connections, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeouts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_max_pending, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_log, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_listen_missing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_listen_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_listen_duplicate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_listen_name, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_syntax_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_multiple_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_data_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_packaged, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_table_matches_packaged, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_from_value, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
