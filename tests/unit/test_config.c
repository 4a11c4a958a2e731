/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the configuration.  Each key's range, choices, checked
 * strings, wrong types and default are tested from the key table itself
 * (test_table_*); by hand only what the table cannot say: "auto", number
 * syntax, the listen rules, FILE:LINE in every message.  Each case is loaded
 * from a string and from a file, which must agree.
 */
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "acl.h"
#include "cidr.h"
#include "clock.h"
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
	struct dirent *de;
	char path[PATH_MAX];
	DIR *d = opendir(f->dir);

	/* Include tests leave files, FIFOs and directories: one level deep. */
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", f->dir, de->d_name);
		if (unlink(path) == -1)
			rmdir(path);
	}
	if (d != NULL)
		closedir(d);
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

/* The key that k sits in ("log" for "log.level"), or NULL at the top. */
static const struct config_key *key_parent(const struct config_key *k)
{
	const char *dot = strrchr(k->name, '.');

	if (dot == NULL)
		return NULL;
	for (size_t i = 0; i < config_nkeys; i++)
		if (strlen(config_keys[i].name) == (size_t)(dot - k->name) &&
		    strncmp(config_keys[i].name, k->name, (size_t)(dot - k->name)) == 0)
			return &config_keys[i];
	fail_msg("key %s: no key %.*s in the table", k->name, (int)(dot - k->name), k->name);
	return NULL;
}

/* Whether k lives in a list entry, directly ("listen.port") or in a group
 * of one ("listen.proxy_protocol.timeout"). */
static int in_list(const struct config_key *k)
{
	for (const struct config_key *p = key_parent(k); p != NULL; p = key_parent(p))
		if (p->type == CONFIG_KEY_LIST)
			return 1;
	return 0;
}

/* Where k's value is stored: in cfg, or in list entry `entry` for a key of
 * a list entry. */
static const char *key_field_at(const struct config_key *k, const struct config *cfg, size_t entry)
{
	if (in_list(k)) {
		assert_true(entry < cfg->nlisten);
		return (const char *)&cfg->listen[entry] + k->offset;
	}
	return (const char *)cfg + k->offset;
}

static const char *key_field(const struct config_key *k, const struct config *cfg)
{
	return key_field_at(k, cfg, 0);
}

/*
 * The config loaded from the string must be the one loaded from the file:
 * every key of the table, in every listen entry, and what the table does
 * not describe.
 */
static void assert_same_config(const struct config *a, const struct config *b)
{
	const struct config_key *k;
	const char *fa, *fb;
	size_t i, e, n;

	assert_int_equal(a->workers_auto, b->workers_auto);
	assert_int_equal(a->nlisten, b->nlisten);
	for (e = 0; e < a->nlisten; e++)
		assert_int_equal(a->listen[e].line, b->listen[e].line);
	for (i = 0; i < config_nkeys; i++) {
		k = &config_keys[i];
		n = in_list(k) ? a->nlisten : 1;
		for (e = 0; e < n; e++) {
			fa = key_field_at(k, a, e);
			fb = key_field_at(k, b, e);
			switch (k->store) {
			case CONFIG_STORE_INT:
			case CONFIG_STORE_INDEX:
				assert_int_equal(*(const int *)(const void *)fa,
				                 *(const int *)(const void *)fb);
				break;
			case CONFIG_STORE_SIZE:
				assert_int_equal(*(const size_t *)(const void *)fa,
				                 *(const size_t *)(const void *)fb);
				break;
			case CONFIG_STORE_STRING:
				assert_true(str_eq(*(char *const *)(const void *)fa,
				                   *(char *const *)(const void *)fb));
				break;
			case CONFIG_STORE_CIDRS: {
				const struct cidr_list *la = (const void *)fa,
				                       *lb = (const void *)fb;
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

/*
 * ---- Every key, from the table ----
 *
 * The cases below are generated from config_keys[]: each key's type, range,
 * choices, check and store tell what it must accept, refuse (with which
 * message) and where the value lands.  A key added to the table is tested
 * with no change here; the hand-written tests further down keep only what
 * the table cannot say (cross-key rules, "auto", number syntax...).
 */

/* What a listen entry needs besides `leaf` = `value` to be complete. */
static const char *listen_rest(const char *leaf, const char *value)
{
	if (strcmp(leaf, "path") == 0)
		return "";
	/* The socket file's keys go with a path only. */
	if (strcmp(leaf, "mode") == 0 || strcmp(leaf, "owner") == 0 || strcmp(leaf, "group") == 0)
		return "path = \"/run/e.sock\"; ";
	if (strcmp(leaf, "protocol") == 0 && strcmp(value, "\"unix\"") == 0)
		return "path = \"/run/e.sock\"; ";
	if (strcmp(leaf, "address") == 0)
		return "port = 7007; ";
	if (strcmp(leaf, "port") == 0)
		return "address = \"127.0.0.1\"; ";
	return "address = \"127.0.0.1\"; port = 7007; ";
}

/* A config, valid but maybe for it, that sets k to `value` on line 1. */
static void key_text(char *buf, size_t len, const struct config_key *k, const char *value)
{
	const struct config_key *p = key_parent(k);
	const char *leaf = p != NULL ? k->name + strlen(p->name) + 1 : k->name;
	int n;

	/* A key of a group inside a listen entry: the group holds the other
	 * keys it needs (proxy_protocol needs from; access needs nothing). */
	if (p != NULL && p->type == CONFIG_KEY_GROUP && in_list(p)) {
		const char *gleaf = p->name + strlen(key_parent(p)->name) + 1;
		const char *from = strcmp(leaf, "from") == 0 || strcmp(gleaf, "proxy_protocol") != 0
		                       ? ""
		                       : "from = [ \"127.0.0.1\" ]; ";
		n = snprintf(buf, len, "listen = ( { %s%s = { %s%s = %s; }; } );\n",
		             listen_rest(gleaf, value), gleaf, from, leaf, value);
		assert_true(n > 0 && (size_t)n < len);
		return;
	}
	if (p == NULL && k->type == CONFIG_KEY_LIST)
		n = snprintf(buf, len, "%s = %s;\n", k->name, value);
	else if (p == NULL)
		n = snprintf(buf, len, "%s = %s;\n" LISTEN1, k->name, value);
	else if (p->type == CONFIG_KEY_GROUP)
		n = snprintf(buf, len, "%s = { %s = %s; };\n" LISTEN1, p->name, leaf, value);
	else
		n = snprintf(buf, len, "%s = ( { %s%s = %s; } );\n", p->name,
		             listen_rest(leaf, value), leaf, value);
	assert_true(n > 0 && (size_t)n < len);
}

static long long stored_int(const struct config_key *k, const struct config *cfg)
{
	const char *field = key_field(k, cfg);

	switch (k->store) {
	case CONFIG_STORE_INT:
	case CONFIG_STORE_INDEX:
		return *(const int *)(const void *)field;
	case CONFIG_STORE_SIZE:
		return (long long)*(const size_t *)(const void *)field;
	case CONFIG_STORE_STRING:
	case CONFIG_STORE_CIDRS:
	case CONFIG_STORE_ALLOW:
	case CONFIG_STORE_DENY:
	case CONFIG_STORE_NONE:
		break;
	}
	fail_msg("key %s does not store a number", k->name);
	return 0;
}

static const struct acl *stored_acl(const struct config_key *k, const struct config *cfg)
{
	if (k->store != CONFIG_STORE_ALLOW && k->store != CONFIG_STORE_DENY)
		fail_msg("key %s does not store an access list", k->name);
	return (const struct acl *)(const void *)key_field(k, cfg);
}

static const char *stored_string(const struct config_key *k, const struct config *cfg)
{
	if (k->store != CONFIG_STORE_STRING)
		fail_msg("key %s does not store a string", k->name);
	return *(char *const *)(const void *)key_field(k, cfg);
}

/* k = `value` must load, from a string and from a file. */
static struct config *key_ok(void **state, const struct config_key *k, const char *value)
{
	char text[512];

	key_text(text, sizeof(text), k, value);
	return load_ok(state, text);
}

/* k = `value` must fail with one error, on line 1, that contains `msg`. */
static void key_bad(void **state, const struct config_key *k, const char *value, const char *msg)
{
	char text[512];

	key_text(text, sizeof(text), k, value);
	expect_error(state, text, 1, msg);
}

/* An integer as libconfig reads it: L past 32 bits. */
static void int_text(char *buf, size_t len, long long v)
{
	snprintf(buf, len, "%lld%s", v, v < INT32_MIN || v > INT32_MAX ? "L" : "");
}

/* Every integer key takes its min and max and refuses min - 1 and max + 1. */
static void test_table_ints(void **state)
{
	char value[32], msg[160];
	const struct config_key *k;
	struct config *cfg;
	size_t i, tested = 0;

	for (i = 0; i < config_nkeys; i++) {
		k = &config_keys[i];
		if (k->type != CONFIG_KEY_INT && k->type != CONFIG_KEY_INT_AUTO)
			continue;
		assert_true(k->min <= k->max);
		for (int j = 0; j < 2; j++) {
			long long v = j == 0 ? k->min : k->max;

			int_text(value, sizeof(value), v);
			cfg = key_ok(state, k, value);
			assert_int_equal(stored_int(k, cfg), v);
			config_free(cfg);

			v = j == 0 ? k->min - 1 : k->max + 1;
			int_text(value, sizeof(value), v);
			snprintf(msg, sizeof(msg), "%s: %lld is out of range %lld..%lld", k->name,
			         v, k->min, k->max);
			key_bad(state, k, value, msg);
		}
		if (k->type == CONFIG_KEY_INT_AUTO) {
			config_free(key_ok(state, k, "\"auto\""));
			snprintf(msg, sizeof(msg),
			         "%s: expected an integer or \"auto\", got \"many\"", k->name);
			key_bad(state, k, "\"many\"", msg);
			key_bad(state, k, "\"AUTO\"", "got \"AUTO\"");
		}
		tested++;
	}
	assert_true(tested > 0);
}

/* Every choice key takes each of its choices, exactly so, and nothing else;
 * the message lists them all. */
static void test_table_choices(void **state)
{
	char value[64], list[256], msg[400];
	const struct config_key *k;
	const char *c;
	struct config *cfg;
	size_t i, j, len, tested = 0;

	for (i = 0; i < config_nkeys; i++) {
		k = &config_keys[i];
		if (k->type != CONFIG_KEY_CHOICE)
			continue;
		assert_non_null(k->choice);
		assert_non_null(k->choice(0));
		list[0] = '\0';
		for (j = 0, len = 0; (c = k->choice(j)) != NULL; j++) {
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s\"%s\"",
			                        j > 0 ? ", " : "", c);
			assert_true(len < sizeof(list));
			snprintf(value, sizeof(value), "\"%s\"", c);
			cfg = key_ok(state, k, value);
			if (k->store == CONFIG_STORE_INDEX)
				assert_int_equal(stored_int(k, cfg), j);
			else
				assert_string_equal(stored_string(k, cfg), c);
			config_free(cfg);
		}
		snprintf(msg, sizeof(msg), "%s: \"no-such-choice\" is not one of %s", k->name,
		         list);
		key_bad(state, k, "\"no-such-choice\"", msg);
		key_bad(state, k, "\"\"", "is not one of");
		/* Choices are matched exactly: case counts. */
		snprintf(value, sizeof(value), "\"%c%s\"", k->choice(0)[0] ^ 0x20,
		         k->choice(0) + 1);
		key_bad(state, k, value, "is not one of");
		tested++;
	}
	assert_true(tested > 0);
}

/*
 * Every string key stores what its check accepts and refuses the rest with
 * the check's reason.  The probes must find both for every key; what each
 * check accepts is tested by hand below.
 */
static void test_table_strings(void **state)
{
	static const char *const probes[] = {"",       "x", "/tmp/x", "127.0.0.1",     "::1", "a b",
	                                     "syslog", "/", "0640",   "127.0.0.1:9707"};
	char value[64], msg[256];
	const struct config_key *k;
	const char *why;
	struct config *cfg;
	size_t i, j, tested = 0;

	for (i = 0; i < config_nkeys; i++) {
		int accepted = 0, refused = 0;

		k = &config_keys[i];
		if (k->type != CONFIG_KEY_STRING)
			continue;
		assert_non_null(k->check);
		for (j = 0; j < sizeof(probes) / sizeof(probes[0]); j++) {
			snprintf(value, sizeof(value), "\"%s\"", probes[j]);
			if ((why = k->check(probes[j])) == NULL) {
				cfg = key_ok(state, k, value);
				assert_string_equal(stored_string(k, cfg), probes[j]);
				config_free(cfg);
				accepted++;
			} else {
				snprintf(msg, sizeof(msg), "%s: \"%s\": %s", k->name, probes[j],
				         why);
				key_bad(state, k, value, msg);
				refused++;
			}
		}
		if (accepted == 0 || refused == 0)
			fail_msg("key %s: the probes found %d accepted and %d refused strings; add "
			         "probes",
			         k->name, accepted, refused);
		tested++;
	}
	assert_true(tested > 0);
}

/* Every boolean key takes true and false, and stores 1 and 0. */
static void test_table_bools(void **state)
{
	const struct config_key *k;
	struct config *cfg;
	size_t i, tested = 0;

	for (i = 0; i < config_nkeys; i++) {
		k = &config_keys[i];
		if (k->type != CONFIG_KEY_BOOL)
			continue;
		cfg = key_ok(state, k, "true");
		assert_int_equal(stored_int(k, cfg), 1);
		config_free(cfg);
		cfg = key_ok(state, k, "false");
		assert_int_equal(stored_int(k, cfg), 0);
		config_free(cfg);
		tested++;
	}
	assert_true(tested > 0);
}

/*
 * Every list-of-prefixes key refuses a bad prefix or a non-string element
 * with the reason, on the element's own line.  One that makes an access
 * list stores each prefix as a rule of its kind (allow or deny) and takes
 * an empty list (no rule).
 */
static void test_table_cidrs(void **state)
{
	const struct config_key *k;
	struct config *cfg;
	char msg[256];
	const char *why = NULL;
	struct cidr c;
	size_t i, tested = 0;

	for (i = 0; i < config_nkeys; i++) {
		k = &config_keys[i];
		if (k->type != CONFIG_KEY_CIDRS)
			continue;
		assert_non_null(k->check);
		if (k->store == CONFIG_STORE_ALLOW || k->store == CONFIG_STORE_DENY) {
			cfg = key_ok(state, k, "[ \"10.0.0.0/8\", \"::1\", \"192.0.2.7\" ]");
			const struct acl *acl = stored_acl(k, cfg);
			assert_int_equal(acl->n, 3);
			assert_int_equal(acl->nallow, k->store == CONFIG_STORE_ALLOW ? 3 : 0);
			/* Finished: longest first within a family, IPv4 first. */
			assert_int_equal(acl->rules[0].net.prefix, 32);
			assert_int_equal(acl->rules[1].net.prefix, 8);
			assert_int_equal(acl->rules[2].net.prefix, 128);
			config_free(cfg);
			cfg = key_ok(state, k, "[ ]");
			assert_true(acl_empty(stored_acl(k, cfg)));
			config_free(cfg);
		}

		assert_int_equal(cidr_parse("10.0.0.0/33", &c, &why), -1);
		assert_non_null(why);
		snprintf(msg, sizeof(msg), "%s: \"10.0.0.0/33\": %s", k->name, why);
		key_bad(state, k, "[ \"10.0.0.0/33\" ]", msg);
		snprintf(msg, sizeof(msg), "%s: expected a string, got an integer", k->name);
		key_bad(state, k, "[ 10 ]", msg);
		tested++;
	}
	assert_true(tested > 0);
}

static const struct config_key *key_named(const char *name)
{
	for (size_t i = 0; i < config_nkeys; i++)
		if (strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	fail_msg("no key %s in the table", name);
	return NULL;
}

/* What each check accepts, said independently of the checks themselves. */
static void test_string_checks(void **state)
{
	static const struct {
		const char *key, *value;
		const char *why; /* NULL: accepted */
	} cases[] = {
	    {"user", "\"_echod\"", NULL},
	    {"user", "\"\"", "user: \"\": must not be empty"},
	    {"group", "\"nogroup\"", NULL},
	    {"group", "\"\"", "group: \"\": must not be empty"},
	    {"pid_file", "\"/run/echod/echod.pid\"", NULL},
	    {"pid_file", "\"echod.pid\"", "pid_file: \"echod.pid\": not an absolute path"},
	    {"listen.path", "\"/run/echod/echod.sock\"", NULL},
	    {"listen.path", "\"echod.sock\"", "listen.path: \"echod.sock\": not an absolute path"},
	    {"listen.address", "\"::\"", NULL},
	    {"listen.address", "\"0.0.0.0\"", NULL},
	    /* Link-local: with its interface, and only link-local with one. */
	    {"listen.address", "\"fe80::1%eth0\"", NULL},
	    {"listen.address", "\"FE80::a:b%2\"", NULL},
	    {"listen.address", "\"febf::1%lo\"", NULL},
	    {"listen.address", "\"fe80::1\"",
	     "listen.address: \"fe80::1\": a link-local address needs its interface"},
	    {"listen.address", "\"fe80::1%\"", "the %scope must be an interface name or index"},
	    {"listen.address", "\"fe80::1%a/b\"", "the %scope must be an interface name or index"},
	    {"listen.address", "\"fe80::1%abcdefghijklmnop\"",
	     "the %scope must be an interface name or index"},
	    {"listen.address", "\"fec0::1%eth0\"",
	     "only a link-local address (fe80::/10) takes a %scope"},
	    {"listen.address", "\"::1%lo\"", "only a link-local address"},
	    {"listen.address", "\"127.0.0.1%lo\"", "an IPv4 address takes no %scope"},
	    {"listen.address", "\"%eth0\"", "not a numeric IPv4 or IPv6 address"},
	    /* Octal, up to 0777. */
	    {"listen.mode", "\"0666\"", NULL},
	    {"listen.mode", "\"600\"", NULL},
	    {"listen.mode", "\"0\"", NULL},
	    {"listen.mode", "\"0777\"", NULL},
	    {"listen.mode", "\"1777\"", "listen.mode: \"1777\": above 0777"},
	    {"listen.mode", "\"0668\"", "not an octal mode such as \"0660\""},
	    {"listen.mode", "\"rw-rw-rw-\"", "not an octal mode"},
	    {"listen.mode", "\"00660\"", "not an octal mode"},
	    {"listen.mode", "\"-660\"", "not an octal mode"},
	    {"listen.owner", "\"_echod\"", NULL},
	    {"listen.owner", "\"0\"", NULL},
	    {"listen.owner", "\"\"", "listen.owner: \"\": must not be empty"},
	    {"listen.group", "\"staff\"", NULL},
	    {"listen.group", "\"\"", "listen.group: \"\": must not be empty"},
	    {"metrics.listen", "\"127.0.0.1:9707\"", NULL},
	    {"metrics.listen", "\"[::1]:0\"", NULL},
	    {"metrics.listen", "\"unix:/run/echod/metrics.sock\"", NULL},
	    {"metrics.listen", "\"unix:metrics.sock\"",
	     "metrics.listen: \"unix:metrics.sock\": not an absolute path"},
	    {"metrics.listen", "\"::1:9707\"",
	     "metrics.listen: \"::1:9707\": an IPv6 address goes in brackets"},
	    {"metrics.listen", "\"[127.0.0.1]:9707\"",
	     "metrics.listen: \"[127.0.0.1]:9707\": only an IPv6 address goes in brackets"},
	    {"metrics.listen", "\"localhost:9707\"",
	     "metrics.listen: \"localhost:9707\": not a numeric IPv4 or IPv6 address"},
	    {"metrics.listen", "\"127.0.0.1\"",
	     "metrics.listen: \"127.0.0.1\": not ADDRESS:PORT or unix:PATH"},
	    {"metrics.listen", "\"127.0.0.1:65536\"",
	     "metrics.listen: \"127.0.0.1:65536\": the port is not a number from 0 to 65535"},
	    {"metrics.listen", "\"127.0.0.1:\"",
	     "metrics.listen: \"127.0.0.1:\": no port after the colon"},
	    {"control_socket", "\"/run/echod/control.sock\"", NULL},
	    {"control_socket", "\"control.sock\"",
	     "control_socket: \"control.sock\": not an absolute path"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct config_key *k = key_named(cases[i].key);

		if (cases[i].why == NULL)
			config_free(key_ok(state, k, cases[i].value));
		else
			key_bad(state, k, cases[i].value, cases[i].why);
	}
}

/* Every key refuses a value of the wrong type, naming what it wanted. */
static void test_table_types(void **state)
{
	static const struct {
		const char *text;
		enum config_value_type type;
		const char *got;
	} probes[] = {
	    {"7", CONFIG_VALUE_INT, "an integer"},    {"1.5", CONFIG_VALUE_FLOAT, "a float"},
	    {"true", CONFIG_VALUE_BOOL, "a boolean"}, {"\"7\"", CONFIG_VALUE_STRING, "a string"},
	    {"{ }", CONFIG_VALUE_GROUP, "a group"},   {"( )", CONFIG_VALUE_LIST, "a list"},
	};
	char msg[160];
	const struct config_key *k;
	const char *want = NULL;
	size_t i, j;
	int takes = 0;

	for (i = 0; i < config_nkeys; i++) {
		k = &config_keys[i];
		for (j = 0; j < sizeof(probes) / sizeof(probes[0]); j++) {
			enum config_value_type t = probes[j].type;

			/* The value types each kind of key takes, and how it says so. */
			switch (k->type) {
			case CONFIG_KEY_INT:
				want = "an integer";
				takes = t == CONFIG_VALUE_INT;
				break;
			case CONFIG_KEY_INT_AUTO:
				want = "an integer or \"auto\"";
				takes = t == CONFIG_VALUE_INT || t == CONFIG_VALUE_STRING;
				break;
			case CONFIG_KEY_CHOICE:
			case CONFIG_KEY_STRING:
				want = "a string";
				takes = t == CONFIG_VALUE_STRING;
				break;
			case CONFIG_KEY_BOOL:
				want = "true or false";
				takes = t == CONFIG_VALUE_BOOL;
				break;
			case CONFIG_KEY_GROUP:
				want = "a group";
				takes = t == CONFIG_VALUE_GROUP;
				break;
			case CONFIG_KEY_LIST:
				want = "a list of groups";
				takes = t == CONFIG_VALUE_LIST;
				break;
			case CONFIG_KEY_CIDRS:
				want = "an array of addresses or prefixes";
				takes = t == CONFIG_VALUE_LIST;
				break;
			}
			if (takes)
				continue;
			snprintf(msg, sizeof(msg), "%s: expected %s, got %s", k->name, want,
			         probes[j].got);
			key_bad(state, k, probes[j].text, msg);
		}
	}
}

/* A key with a default has it when the file does not set it; the others,
 * outside listen entries, are unset. */
static void test_table_defaults(void **state)
{
	struct config *cfg = load_ok(state, LISTEN1);
	const struct config_key *k;
	const char *c;
	size_t i, j;

	for (i = 0; i < config_nkeys; i++) {
		k = &config_keys[i];
		if (k->type == CONFIG_KEY_GROUP || k->type == CONFIG_KEY_LIST)
			continue;
		if (k->type == CONFIG_KEY_CIDRS) {
			assert_null(k->def);
			assert_int_equal(
			    ((const struct cidr_list *)(const void *)key_field(k, cfg))->n, 0);
			continue;
		}
		if (k->def == NULL) {
			if (k->store == CONFIG_STORE_ALLOW || k->store == CONFIG_STORE_DENY)
				assert_true(acl_empty(stored_acl(k, cfg)));
			else if (!in_list(k))
				assert_null(stored_string(k, cfg));
			continue;
		}
		switch (k->type) {
		case CONFIG_KEY_INT:
		case CONFIG_KEY_INT_AUTO:
			/* "auto" is resolved: test_workers. */
			if (strcmp(k->def, "auto") != 0)
				assert_int_equal(stored_int(k, cfg), strtoll(k->def, NULL, 10));
			break;
		case CONFIG_KEY_CHOICE:
			for (j = 0; (c = k->choice(j)) != NULL && strcmp(c, k->def) != 0; j++)
				;
			assert_non_null(c);
			if (k->store == CONFIG_STORE_INDEX)
				assert_int_equal(stored_int(k, cfg), j);
			else
				assert_string_equal(stored_string(k, cfg), k->def);
			break;
		case CONFIG_KEY_STRING:
			assert_string_equal(stored_string(k, cfg), k->def);
			break;
		case CONFIG_KEY_BOOL:
			assert_int_equal(stored_int(k, cfg), strcmp(k->def, "true") == 0);
			break;
		case CONFIG_KEY_GROUP:
		case CONFIG_KEY_LIST:
		case CONFIG_KEY_CIDRS:
			break;
		}
	}
	config_free(cfg);
}

/* ---- What the table cannot say ---- */

/* What LISTEN1 gives, and workers = "auto" resolved from the environment. */
static void test_defaults(void **state)
{
	struct config *cfg = load_ok(state, LISTEN1);

	assert_int_equal(cfg->workers, 3); /* env.cpus */
	assert_int_equal(cfg->workers_auto, 1);
	assert_int_equal(cfg->nlisten, 1);
	assert_int_equal(cfg->listen[0].proto, LISTEN_TCP);
	assert_string_equal(cfg->listen[0].address, "127.0.0.1");
	assert_int_equal(cfg->listen[0].port, 7007);
	assert_null(cfg->listen[0].path);
	assert_int_equal(cfg->listen[0].line, 1);
	config_free(cfg);
}

/* "auto" is the CPUs this process may use, within the key's range. */
static void test_workers(void **state)
{
	struct fixture *f = *state;
	struct config *cfg;

	cfg = load_value(state, "workers = 4;");
	assert_int_equal(cfg->workers, 4);
	assert_int_equal(cfg->workers_auto, 0);
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
 * backend takes "auto" and exactly the backends ev.c built (test_table_choices
 * tries each).  Bug: -t accepted a backend the build lacks, because config.c
 * had its own list of names.
 */
static void test_backend(void **state)
{
	/* Backends echod has, or may get, on some system. */
	static const char *const names[] = {"epoll",  "poll",    "select",
	                                    "kqueue", "devpoll", "io_uring"};
	const struct config_key *k = key_named("backend");
	char text[64];
	size_t i;

	assert_int_equal(k->type, CONFIG_KEY_CHOICE);
	assert_string_equal(k->choice(0), "auto");
	for (i = 0; ev_backend_name(i) != NULL; i++)
		assert_string_equal(k->choice(i + 1), ev_backend_name(i));
	assert_null(k->choice(i + 1));
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (backend_built(names[i]))
			continue;
		snprintf(text, sizeof(text), "backend = \"%s\";", names[i]);
		expect_bad_value(state, text, "is not one of \"auto\"");
	}
}

/* How integers are written: 64-bit literals, and what does not fit. */
static void test_max_pending(void **state)
{
	struct config *cfg;

	/* A 64-bit literal in range is fine. */
	cfg = load_value(state, "max_pending = 65536L;");
	assert_int_equal(cfg->max_pending, 65536);
	config_free(cfg);
	expect_bad_value(state, "max_pending = 4294967296L;", "4294967296 is out of range");
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
	struct config *cfg;

	cfg = load_value(state, "log = { target = \"syslog\"; };");
	assert_string_equal(cfg->log_target, "syslog");
	assert_int_equal(cfg->log_level, LOG_LEVEL_INFO);
	config_free(cfg);
	cfg = load_value(state, "log = { target = \"/var/log/echod.log\"; level = \"debug\"; };");
	assert_string_equal(cfg->log_target, "/var/log/echod.log");
	assert_int_equal(cfg->log_level, LOG_LEVEL_DEBUG);
	config_free(cfg);
	cfg = load_value(state, "log = { target = \"stderr\"; };");
	assert_string_equal(cfg->log_target, "stderr");
	config_free(cfg);
	expect_bad_value(state, "log = { target = \"echod.log\"; };",
	                 "log.target: \"echod.log\": must be \"stderr\", \"syslog\" or an "
	                 "absolute path");
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

/* proxy_protocol: from is required and non-empty, each element a prefix
 * (errors at the element's line); only on TCP and UDP entries. */
static void test_proxy_protocol(void **state)
{
	struct config *cfg;

	cfg = load_ok(state,
	              "drain_delay = 5;\n"
	              "listen = (\n"
	              "  { address = \"127.0.0.1\"; port = 7;\n"
	              "    proxy_protocol = { from = [ \"127.0.0.1\", \"10.0.0.0/8\" ]; }; },\n"
	              "  { address = \"::\"; port = 7; protocol = \"udp\";\n"
	              "    proxy_protocol = { from = [ \"::1\" ]; timeout = 10; }; },\n"
	              "  { address = \"::1\"; port = 8; }\n"
	              ");\n");
	assert_int_equal(cfg->drain_delay, 5);
	assert_int_equal(cfg->listen[0].proxy, 1);
	assert_int_equal(cfg->listen[0].proxy_from.n, 2);
	assert_int_equal(cfg->listen[0].proxy_from.v[1].prefix, 8);
	assert_int_equal(cfg->listen[0].proxy_timeout, 3);
	assert_int_equal(cfg->listen[1].proxy, 1);
	assert_int_equal(cfg->listen[1].proxy_timeout, 10);
	assert_int_equal(cfg->listen[1].proxy_from.v[0].family, AF_INET6);
	assert_int_equal(cfg->listen[2].proxy, 0);
	assert_int_equal(cfg->listen[2].proxy_from.n, 0);
	config_free(cfg);

	expect_error(state,
	             "listen = (\n  { address = \"::1\"; port = 7;\n"
	             "    proxy_protocol = { from = [ ]; }; }\n);\n",
	             3, "listen.proxy_protocol.from: empty");
	expect_error(state,
	             "listen = (\n  { address = \"::1\"; port = 7;\n"
	             "    proxy_protocol = { timeout = 3; }; }\n);\n",
	             3, "proxy_protocol needs from");
	expect_error(state,
	             "listen = (\n  { address = \"::1\"; port = 7;\n"
	             "    proxy_protocol = { from = [ \"::1\",\n"
	             "      \"10.0.0.1/8\" ]; }; }\n);\n",
	             4, "\"10.0.0.1/8\": address has bits set past the prefix length");
	expect_error(state,
	             "listen = (\n  { path = \"/run/e.sock\";\n"
	             "    proxy_protocol = { from = [ \"::1\" ]; }; }\n);\n",
	             3, "proxy_protocol needs a TCP or UDP entry");
	expect_error(state,
	             "listen = (\n  { address = \"::1\"; port = 7;\n"
	             "    proxy_protocol = { from = [ 7 ]; }; }\n);\n",
	             3, "listen.proxy_protocol.from: expected a string, got an integer");
}

/* A listen list with one Unix socket whose path is `len` bytes long. */
static void long_path_text(char *buf, size_t size, size_t len)
{
	char path[256];

	assert_true(len < sizeof(path));
	memset(path, 'a', len);
	memcpy(path, "/tmp/", 5);
	path[len] = '\0';
	snprintf(buf, size, "listen = ( { path = \"%s\"; } );\n", path);
}

static void test_listen_values(void **state)
{
	struct config *cfg;
	char text[512];

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
	/* sun_path holds the path and its NUL. */
	long_path_text(text, sizeof(text), sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	config_free(load_ok(state, text));
	long_path_text(text, sizeof(text), sizeof(((struct sockaddr_un *)0)->sun_path));
	expect_error(state, text, 1, "too long for a Unix socket path");
	expect_error(state, "listen = (\n { path = \"/run/e.sock\"; port = 7; }\n);\n", 2,
	             "a Unix socket entry (path) takes no address or port");
	expect_error(state,
	             "listen = (\n { path = \"/run/e.sock\";\n   protocol = \"tcp\"; }\n);\n", 3,
	             "protocol \"tcp\" does not go with path");
	expect_error(state, "listen = (\n { protocol = \"unix\"; }\n);\n", 2,
	             "protocol \"unix\" needs a path");
}

/* A Unix socket file's mode, owner and group: stored as given, "0660" by
 * default, and refused on an entry without a path. */
static void test_listen_unix_file(void **state)
{
	struct config *cfg;

	cfg = load_ok(state, "listen = (\n"
	                     "  { path = \"/run/a.sock\"; },\n"
	                     "  { path = \"/run/b.sock\"; mode = \"0666\"; owner = \"nobody\";\n"
	                     "    group = \"1000\"; }\n"
	                     ");\n");
	assert_string_equal(cfg->listen[0].mode, "0660");
	assert_null(cfg->listen[0].owner);
	assert_null(cfg->listen[0].group);
	assert_string_equal(cfg->listen[1].mode, "0666");
	assert_string_equal(cfg->listen[1].owner, "nobody");
	assert_string_equal(cfg->listen[1].group, "1000");
	config_free(cfg);

	expect_error(
	    state, "listen = (\n { address = \"127.0.0.1\"; port = 7;\n   mode = \"0666\"; }\n);\n",
	    3, "listen: mode applies to a Unix socket (path) only");
	expect_errors(state,
	              "listen = (\n { address = \"::1\"; port = 7; protocol = \"udp\";\n"
	              "   owner = \"a\";\n   group = \"b\"; }\n);\n",
	              2, 4, "listen: group applies to a Unix socket (path) only");
}

static int fake_if_exists(const char *scope)
{
	return strcmp(scope, "eth0") == 0 || strcmp(scope, "2") == 0;
}

/* The interface of a link-local address must exist (config_env.if_exists,
 * pinned here); one address on two interfaces is two listeners. */
static void test_listen_link_local(void **state)
{
	struct fixture *f = *state;
	struct config *cfg;

	f->env.if_exists = fake_if_exists;
	cfg = load_ok(state, "listen = (\n"
	                     "  { address = \"fe80::1%eth0\"; port = 7; },\n"
	                     "  { address = \"fe80::1%2\"; port = 7; },\n"
	                     "  { address = \"fe80::1%eth0\"; port = 7; protocol = \"udp\"; }\n"
	                     ");\n");
	assert_string_equal(cfg->listen[0].address, "fe80::1%eth0");
	config_free(cfg);
	expect_error(state,
	             "workers = 1;\nlisten = ( { address = \"fe80::1%eth9\"; port = 7; } );\n", 2,
	             "listen: address \"fe80::1%eth9\": no network interface \"eth9\"");
	expect_error(state,
	             "listen = (\n"
	             "  { address = \"fe80::1%eth0\"; port = 7; },\n"
	             "  { address = \"fe80:0::1%eth0\"; port = 7; }\n"
	             ");\n",
	             3, "listen: tcp [fe80:0::1%eth0]:7 is already at line 2");
	/* Without a way to look, nothing is refused for the interface. */
	f->env.if_exists = NULL;
	config_free(load_ok(state, "listen = ( { address = \"fe80::1%eth9\"; port = 7; } );\n"));
}

/* The lines of the keys that are only checked at run time, for their
 * FILE:LINE messages then (an unknown user, a pid file that is locked). */
static void test_key_lines(void **state)
{
	struct config *cfg;

	cfg = load_ok(state, "workers = 1;\nuser = \"a\";\n\ngroup = \"b\";\n"
	                     "pid_file = \"/run/p.pid\";\n" LISTEN1);
	assert_int_equal(cfg->user_line, 2);
	assert_int_equal(cfg->group_line, 4);
	assert_int_equal(cfg->pid_file_line, 5);
	config_free(cfg);
	cfg = load_ok(state, LISTEN1);
	assert_int_equal(cfg->user_line, 0);
	config_free(cfg);
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

/* Write `text` to dir/name; its path goes to buf. */
static const char *dir_file(struct fixture *f, const char *name, const char *text, char *buf,
                            size_t len)
{
	snprintf(buf, len, "%s/%s", f->dir, name);
	if (text != NULL)
		write_file(buf, text);
	return buf;
}

/* Load f->path holding `text`, with "@DIR@" standing for the fixture's
 * directory; returns the config (or NULL) and the printed errors. */
static struct config *load_main(void **state, const char *text, char **printed)
{
	struct fixture *f = *state;
	struct config_errors errs = {0};
	char buf[4096];
	const char *at;
	size_t n = 0;

	while ((at = strstr(text, "@DIR@")) != NULL) {
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%.*s%s", (int)(at - text), text,
		                      f->dir);
		text = at + 5;
	}
	snprintf(buf + n, sizeof(buf) - n, "%s", text);
	write_file(f->path, buf);
	/* A FIFO or device must never block the reader: fail rather than hang. */
	alarm(10);
	struct config *cfg = config_load_file(f->path, &f->env, &errs);
	alarm(0);
	*printed = errors_text(&errs);
	config_errors_free(&errs);
	return cfg;
}

static void test_include_regular(void **state)
{
	struct fixture *f = *state;
	char inc[PATH_MAX], *printed;

	dir_file(f, "inc.conf", "workers = 2;\n", inc, sizeof(inc));
	struct config *cfg = load_main(state, "@include \"@DIR@/inc.conf\"\n" LISTEN1, &printed);
	assert_non_null(cfg);
	assert_int_equal(cfg->workers, 2);
	config_free(cfg);
	free(printed);
}

/* Bug: libconfig's scanner called exit(2) on an @include of a directory,
 * and blocked on a FIFO, inside the master. */
static void test_include_not_regular(void **state)
{
	struct fixture *f = *state;
	char sub[PATH_MAX], fifo[PATH_MAX], *printed;

	dir_file(f, "sub", NULL, sub, sizeof(sub));
	assert_int_equal(mkdir(sub, 0700), 0);
	struct config *cfg = load_main(state, LISTEN1 "@include \"@DIR@/sub\"\n", &printed);
	assert_null(cfg);
	if (!has_error(printed, f->path, 2, "not a regular file"))
		fail_msg("got: %s", printed);
	free(printed);

	dir_file(f, "fifo", NULL, fifo, sizeof(fifo));
	assert_int_equal(mkfifo(fifo, 0600), 0);
	cfg = load_main(state, LISTEN1 "\n@include \"@DIR@/fifo\"\n", &printed);
	assert_null(cfg);
	if (!has_error(printed, f->path, 3, "@include") ||
	    !has_error(printed, f->path, 3, "not a regular file"))
		fail_msg("got: %s", printed);
	free(printed);

	/* The main file itself, too. */
	struct config_errors errs = {0};
	alarm(10);
	assert_null(config_load_file(fifo, &f->env, &errs));
	alarm(0);
	printed = errors_text(&errs);
	assert_true(has_error(printed, fifo, 0, "not a regular file"));
	free(printed);
	config_errors_free(&errs);
}

/* Bug: the 32-bit check skipped included files ("workers = 4294967298;"
 * ran 2 workers), and a string with an escaped NUL passed. */
static void test_include_checked_alike(void **state)
{
	struct fixture *f = *state;
	char inc[PATH_MAX], *printed;

	dir_file(f, "wide.conf", "\nworkers = 4294967298;\n", inc, sizeof(inc));
	struct config *cfg = load_main(state, LISTEN1 "@include \"@DIR@/wide.conf\"\n", &printed);
	assert_null(cfg);
	if (!has_error(printed, inc, 2, "does not fit in 32 bits"))
		fail_msg("got: %s", printed);
	free(printed);

	dir_file(f, "nul.conf", "user = \"\\x00abc\";\n", inc, sizeof(inc));
	cfg = load_main(state, LISTEN1 "@include \"@DIR@/nul.conf\"\n", &printed);
	assert_null(cfg);
	if (!has_error(printed, inc, 1, "NUL"))
		fail_msg("got: %s", printed);
	free(printed);

	dir_file(f, "raw.conf", NULL, inc, sizeof(inc));
	FILE *out = fopen(inc, "w");
	assert_non_null(out);
	assert_int_equal(fwrite("user = \"a\0b\";\n", 1, 14, out), 14);
	assert_int_equal(fclose(out), 0);
	cfg = load_main(state, LISTEN1 "@include \"@DIR@/raw.conf\"\n", &printed);
	assert_null(cfg);
	if (!has_error(printed, f->path, 2, "contains a NUL byte"))
		fail_msg("got: %s", printed);
	free(printed);

	/* A name set in the main file and again in an included one. */
	dir_file(f, "dup.conf", "\n\nworkers = 3;\n", inc, sizeof(inc));
	cfg = load_main(state, "workers = 2;\n" LISTEN1 "@include \"@DIR@/dup.conf\"\n", &printed);
	assert_null(cfg);
	if (!has_error(printed, inc, 3, "duplicate setting name \"workers\""))
		fail_msg("got: %s", printed);
	free(printed);
}

static void test_nul_escape(void **state)
{
	expect_error(state, LISTEN1 "user = \"\\x00abc\";\n", 2, "NUL");
	expect_error(state, "listen = ( { path = \"/tmp/a\\x00b\"; } );\n", 1, "NUL");
	/* Other escapes are fine. */
	struct config *cfg = load_ok(state, LISTEN1 "user = \"a\\x41\\\\b\";\n");
	assert_string_equal(cfg->user, "aA\\b");
	config_free(cfg);
}

static void test_include_limits(void **state)
{
	struct fixture *f = *state;
	char inc[PATH_MAX], *printed;

	/* Including itself: stopped at the nesting limit, not looping. */
	dir_file(f, "self.conf", "@include \"self.conf\"\n", inc, sizeof(inc));
	assert_int_equal(chdir(f->dir), 0);
	struct config *cfg = load_main(state, LISTEN1 "@include \"self.conf\"\n", &printed);
	assert_int_equal(chdir("/"), 0);
	assert_null(cfg);
	if (strstr(printed, "nested deeper than") == NULL)
		fail_msg("got: %s", printed);
	free(printed);
}

/* Bug (found by fuzz_config_scan): a file that includes itself a few
 * times was read (fan-out)^10 times, the depth limit being per chain: four
 * self-includes took minutes and GiBs.  Now the reads are counted in all. */
static void test_include_fanout(void **state)
{
	struct fixture *f = *state;
	char inc[PATH_MAX], *printed;
	uint64_t t0 = clock_mono_ms();

	dir_file(f, "fan.conf",
	         "@include \"fan.conf\"\n@include \"fan.conf\"\n@include \"fan.conf\"\n"
	         "@include \"fan.conf\"\n",
	         inc, sizeof(inc));
	assert_int_equal(chdir(f->dir), 0);
	struct config *cfg = load_main(state, LISTEN1 "@include \"fan.conf\"\n", &printed);
	assert_int_equal(chdir("/"), 0);
	assert_null(cfg);
	if (strstr(printed, "more than 100 files included") == NULL)
		fail_msg("got: %s", printed);
	free(printed);
	assert_true(clock_mono_ms() - t0 < 5000);
}

/* Bug: a file of many distinct names took minutes in libconfig's
 * duplicate search. */
static void test_many_settings(void **state)
{
	size_t cap = 400 * 16 + sizeof(LISTEN1);
	char *text = malloc(cap);
	size_t n = 0;

	assert_non_null(text);
	n += (size_t)snprintf(text + n, cap - n, "%s", LISTEN1);
	for (int i = 0; i < 400; i++)
		n += (size_t)snprintf(text + n, cap - n, "k%d = 1;\n", i);
	/* listen is the first setting, k255 on line 257 the 257th */
	expect_error(state, text, 257, "more than 256 settings in one group");
	free(text);
}

/* Many listen entries that repeat: found by sorting, each reported. */
static void test_listen_many_duplicates(void **state)
{
	struct fixture *f = *state;
	struct config_errors errs = {0};
	size_t cap = 3000 * 48 + 32;
	char *text = malloc(cap);
	size_t n = 0;

	assert_non_null(text);
	n += (size_t)snprintf(text + n, cap - n, "listen = (\n");
	for (int i = 0; i < 3000; i++)
		n += (size_t)snprintf(text + n, cap - n,
		                      "{ address = \"127.0.0.%d\"; port = 7; },\n", i % 2 + 1);
	snprintf(text + n - 2, cap - n + 2, "\n);\n");
	assert_null(config_load_string(text, STRING_NAME, &f->env, &errs));
	assert_int_equal(errs.n, 2998);
	assert_int_equal(errs.v[0].line, 4);
	assert_non_null(strstr(errs.v[0].msg, "127.0.0.1:7 is already at line 2"));
	assert_int_equal(errs.v[1].line, 5);
	assert_non_null(strstr(errs.v[1].msg, "127.0.0.2:7 is already at line 3"));
	config_errors_free(&errs);
	free(text);
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
 * shows exactly that default.  The per-source limits are the exception: the
 * built-in defaults keep them off, and the packaged file sets what a public
 * echo service would use (it says why).
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
		if (k->def == NULL || strncmp(k->name, "listen.", 7) == 0 ||
		    strncmp(k->name, "limits.", 7) == 0)
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
	    cmocka_unit_test_setup_teardown(test_table_ints, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_table_choices, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_table_strings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_table_bools, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_table_cidrs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_string_checks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_table_types, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_table_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_workers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_backend, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_max_pending, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_log, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_proxy_protocol, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_listen_missing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_listen_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_listen_unix_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_listen_link_local, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_key_lines, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_listen_duplicate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_listen_name, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_syntax_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_multiple_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_data_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_packaged, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_table_matches_packaged, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_from_value, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_include_regular, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_include_not_regular, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_include_checked_alike, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nul_escape, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_include_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_include_fanout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_settings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_listen_many_duplicates, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
