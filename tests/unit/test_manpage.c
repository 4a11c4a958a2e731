/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The man pages against the code.  echod.conf(5) must have one entry in its
 * KEYS section for every row of config_keys[], naming the row's default,
 * range and choices, and no entry the table lacks; echod(8) must document
 * every option of echod's usage, with its long form, and every -s word with
 * the signal it sends.  A key or option added without its documentation
 * fails here.
 *
 * How a key is recognised: in the KEYS section, an item ".It Ic NAME ..."
 * documents NAME; an item nested in a list inside the item of key PARENT
 * documents PARENT.NAME (so "target" inside "log" is "log.target", as the
 * table spells it).  Items of any other form (".It Cm", ".It Qq", ...) are
 * values, not keys.  An item's text runs to the next item of its list or to
 * the end of that list, nested lists included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "control.h"
#include "signals.h"

#define MAX_DEPTH 8

/* A text file split into lines (NUL-terminated, without '\n'). */
struct text {
	char *buf;
	char **line;
	size_t n;
};

/* One ".It Ic" item of the KEYS section. */
struct item {
	char name[128]; /* "workers", "log.target", "listen.port" */
	size_t start;   /* the .It line */
	size_t end;     /* one past its last line */
};

struct keys {
	struct item *v;
	size_t n;
};

/* Read <srcdir>/rel, where ECHOD_TESTDATA is <srcdir>/tests/data. */
static void text_load(struct text *t, const char *rel)
{
	const char *data = getenv("ECHOD_TESTDATA");
	char path[4096];
	FILE *f;
	long len;
	size_t i, cap = 64;

	memset(t, 0, sizeof(*t));
	if (data == NULL)
		fail_msg("ECHOD_TESTDATA is not set (it should be <srcdir>/tests/data)");
	snprintf(path, sizeof(path), "%s/../../%s", data, rel);
	f = fopen(path, "r");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	assert_true(len >= 0);
	rewind(f);
	t->buf = malloc((size_t)len + 1);
	assert_non_null(t->buf);
	assert_int_equal(fread(t->buf, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	t->buf[len] = '\0';

	t->line = malloc(cap * sizeof(*t->line));
	assert_non_null(t->line);
	for (char *p = t->buf; *p != '\0';) {
		if (t->n == cap) {
			cap *= 2;
			t->line = realloc(t->line, cap * sizeof(*t->line));
			assert_non_null(t->line);
		}
		t->line[t->n++] = p;
		p += strcspn(p, "\n");
		if (*p == '\n')
			*p++ = '\0';
	}
	for (i = 0; i < t->n; i++)
		assert_non_null(t->line[i]);
}

static void text_free(struct text *t)
{
	free(t->line);
	free(t->buf);
	memset(t, 0, sizeof(*t));
}

/* Whether `line` is the request `req` (".It", ".Bl"...), alone or with args. */
static int is_request(const char *line, const char *req)
{
	size_t len = strlen(req);

	return strncmp(line, req, len) == 0 && (line[len] == '\0' || line[len] == ' ');
}

/* The lines [*begin, *end) of section `name` (".Sh NAME"); fails if absent. */
static void section(const struct text *t, const char *name, size_t *begin, size_t *end)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (is_request(t->line[i], ".Sh") && strcmp(t->line[i] + 4, name) == 0)
			break;
	if (i == t->n)
		fail_msg("no section .Sh %s", name);
	*begin = ++i;
	while (i < t->n && !is_request(t->line[i], ".Sh"))
		i++;
	*end = i;
}

static int word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* Whether `word` occurs in `line` not as part of a longer word. */
static int line_has_word(const char *line, const char *word)
{
	size_t len = strlen(word);

	for (const char *p = strstr(line, word); p != NULL; p = strstr(p + 1, word))
		if ((p == line || !word_char(p[-1])) && !word_char(p[len]))
			return 1;
	return 0;
}

static int lines_have_word(const struct text *t, size_t begin, size_t end, const char *word)
{
	for (size_t i = begin; i < end; i++)
		if (line_has_word(t->line[i], word))
			return 1;
	return 0;
}

/* Collect the ".It Ic" items of the KEYS section of echod.conf(5). */
static void keys_parse(const struct text *t, struct keys *k)
{
	long open[MAX_DEPTH]; /* per list depth: the open item, or -1 */
	size_t begin, end, i, cap = 32;
	int depth = 0;

	section(t, "KEYS", &begin, &end);
	k->n = 0;
	k->v = malloc(cap * sizeof(*k->v));
	assert_non_null(k->v);
	open[0] = -1;
	for (i = begin; i < end; i++) {
		const char *l = t->line[i];

		if (is_request(l, ".Bl")) {
			if (++depth == MAX_DEPTH)
				fail_msg("echod.conf.5:%zu: lists nested too deep", i + 1);
			open[depth] = -1;
		} else if (is_request(l, ".El") || is_request(l, ".It")) {
			if (depth == 0)
				fail_msg("echod.conf.5:%zu: %.3s outside a list", i + 1, l);
			if (open[depth] >= 0)
				k->v[open[depth]].end = i;
			open[depth] = -1;
			if (is_request(l, ".El")) {
				depth--;
				continue;
			}
			if (strncmp(l, ".It Ic ", 7) != 0)
				continue;
			if (k->n == cap) {
				cap *= 2;
				k->v = realloc(k->v, cap * sizeof(*k->v));
				assert_non_null(k->v);
			}
			struct item *it = &k->v[k->n];
			const char *parent = "";
			size_t len = strcspn(l + 7, " \t"), plen;

			for (int d = depth - 1; d > 0 && *parent == '\0'; d--)
				if (open[d] >= 0)
					parent = k->v[open[d]].name;
			plen = strlen(parent);
			if (plen + 1 + len >= sizeof(it->name))
				fail_msg("echod.conf.5:%zu: key name too long", i + 1);
			memcpy(it->name, parent, plen);
			if (plen > 0)
				it->name[plen++] = '.';
			memcpy(it->name + plen, l + 7, len);
			it->name[plen + len] = '\0';
			it->start = i;
			it->end = end;
			open[depth] = (long)k->n++;
		}
	}
	if (depth != 0)
		fail_msg("echod.conf.5: KEYS has a .Bl without its .El");
}

static const struct item *keys_find(const struct keys *k, const char *name, int *count)
{
	const struct item *found = NULL;

	*count = 0;
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->v[i].name, name) == 0) {
			found = &k->v[i];
			(*count)++;
		}
	return found;
}

/* Every key of the table has exactly one entry, with its default and range. */
static void test_conf_documents_every_key(void **state)
{
	struct text t;
	struct keys k;
	char num[32];
	int bad = 0, count;
	(void)state;

	text_load(&t, "man/echod.conf.5");
	keys_parse(&t, &k);
	assert_true(config_nkeys > 0);
	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *key = &config_keys[i];
		const struct item *it = keys_find(&k, key->name, &count);

		if (count != 1) {
			print_error("echod.conf.5: key \"%s\" has %d .It Ic entries in KEYS, "
			            "not 1\n",
			            key->name, count);
			bad++;
			continue;
		}
		if (key->def != NULL && !lines_have_word(&t, it->start, it->end, key->def)) {
			print_error("echod.conf.5: %s does not give its default %s\n", key->name,
			            key->def);
			bad++;
		}
		if (key->type == CONFIG_KEY_INT || key->type == CONFIG_KEY_INT_AUTO) {
			long long lim[2] = {key->min, key->max};

			for (int j = 0; j < 2; j++) {
				snprintf(num, sizeof(num), "%lld", lim[j]);
				if (!lines_have_word(&t, it->start, it->end, num)) {
					print_error("echod.conf.5: %s does not give its %s %s\n",
					            key->name, j == 0 ? "minimum" : "maximum", num);
					bad++;
				}
			}
		}
		if (key->type != CONFIG_KEY_CHOICE)
			continue;
		for (size_t j = 0; key->choice(j) != NULL; j++)
			if (!lines_have_word(&t, it->start, it->end, key->choice(j))) {
				print_error("echod.conf.5: %s does not name its choice %s\n",
				            key->name, key->choice(j));
				bad++;
			}
	}
	free(k.v);
	text_free(&t);
	if (bad > 0)
		fail_msg("%d problems in echod.conf.5 (see above)", bad);
}

/* The page documents no key that the table does not have. */
static void test_conf_documents_no_other_key(void **state)
{
	struct text t;
	struct keys k;
	int bad = 0;
	(void)state;

	text_load(&t, "man/echod.conf.5");
	keys_parse(&t, &k);
	assert_true(k.n > 0);
	for (size_t i = 0; i < k.n; i++) {
		size_t j;

		for (j = 0; j < config_nkeys; j++)
			if (strcmp(config_keys[j].name, k.v[i].name) == 0)
				break;
		if (j == config_nkeys) {
			print_error("echod.conf.5:%zu: documents key \"%s\", which config_keys[] "
			            "does not have\n",
			            k.v[i].start + 1, k.v[i].name);
			bad++;
		}
	}
	free(k.v);
	text_free(&t);
	if (bad > 0)
		fail_msg("%d keys in echod.conf.5 that echod does not know", bad);
}

/* The text between `open` (found after `from`) and `close`, as a new string. */
static char *source_between(const char *from, const char *open, const char *close)
{
	const char *p = strstr(from, open), *q;

	if (p == NULL)
		return NULL;
	p += strlen(open);
	q = strstr(p, close);
	return q != NULL ? strndup(p, (size_t)(q - p)) : NULL;
}

static const char *signal_name(int signo)
{
	static const struct {
		int signo;
		const char *name;
	} names[] = {
	    {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"}, {SIGTERM, "SIGTERM"},
	    {SIGUSR1, "SIGUSR1"}, {SIGUSR2, "SIGUSR2"}, {SIGCHLD, "SIGCHLD"},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].signo == signo)
			return names[i].name;
	return "an unnamed signal";
}

/* The .It line of OPTIONS that documents option `letter`, or NULL. */
static const char *option_item(const struct text *t, size_t begin, size_t end, char letter)
{
	char want[16];

	snprintf(want, sizeof(want), ".It Fl %c", letter);
	for (size_t i = begin; i < end; i++)
		if (strncmp(t->line[i], want, strlen(want)) == 0 &&
		    !word_char(t->line[i][strlen(want)]))
			return t->line[i];
	return NULL;
}

/*
 * echod(8) against src/echod.c: every option letter of the getopt string is
 * in SYNOPSIS and has an item in OPTIONS with its long form; OPTIONS has no
 * other option; every -s word of the usage is an item, and the signal that
 * signals_from_word() gives for it is an item of SIGNALS.
 */
static void test_echod8_documents_options(void **state)
{
	struct text man, src;
	size_t syn_b, syn_e, opt_b, opt_e, sig_b, sig_e;
	char *optstring, *longopts, *words, want[64];
	int bad = 0, nwords = 0;
	(void)state;

	text_load(&man, "man/echod.8");
	text_load(&src, "src/echod.c");
	section(&man, "SYNOPSIS", &syn_b, &syn_e);
	section(&man, "OPTIONS", &opt_b, &opt_e);
	section(&man, "SIGNALS", &sig_b, &sig_e);

	/* src.buf has NULs for newlines: rejoin it for the searches below. */
	for (size_t i = 1; i < src.n; i++)
		src.line[i][-1] = '\n';
	optstring = source_between(src.buf, "getopt_long(argc, argv, \"", "\"");
	longopts = source_between(src.buf, "longopts[] = {", "};");
	words = source_between(src.buf, "usage: echod ", "\\n");
	if (optstring == NULL || longopts == NULL || words == NULL)
		fail_msg("src/echod.c: cannot find the getopt string, longopts[] or the usage");
	assert_true(strlen(optstring) > 0);

	for (const char *o = optstring; *o != '\0'; o++) {
		if (*o == ':')
			continue;
		snprintf(want, sizeof(want), "Fl %c", *o);
		if (!lines_have_word(&man, syn_b, syn_e, want)) {
			print_error("echod.8: SYNOPSIS lacks -%c\n", *o);
			bad++;
		}
		if (option_item(&man, opt_b, opt_e, *o) == NULL) {
			print_error("echod.8: OPTIONS has no .It Fl %c\n", *o);
			bad++;
		}
	}
	/* Each {"name", has_arg, NULL, 'x'}: the item of -x names --name. */
	for (const char *p = strstr(longopts, "{\""); p != NULL; p = strstr(p + 1, "{\"")) {
		const char *q = strchr(p + 2, '"'), *c = strchr(p, '\'');
		const char *item;

		assert_non_null(q);
		assert_non_null(c);
		snprintf(want, sizeof(want), "Fl \\-%.*s", (int)(q - p - 2), p + 2);
		item = option_item(&man, opt_b, opt_e, c[1]);
		if (item != NULL && !line_has_word(item, want)) {
			print_error("echod.8: the item of -%c lacks %s\n", c[1], want);
			bad++;
		}
	}
	/* Options documented but not in the usage. */
	for (size_t i = opt_b; i < opt_e; i++) {
		const char *l = man.line[i];

		if (strncmp(l, ".It Fl ", 7) == 0 && strchr(optstring, l[7]) == NULL) {
			print_error("echod.8:%zu: documents -%c, which echod does not have\n",
			            i + 1, l[7]);
			bad++;
		}
	}
	/* "[-s reload|stop|quit|reopen]": each word, and the signal it sends. */
	char *s = strstr(words, "-s ");
	if (s == NULL || strchr(s, ']') == NULL)
		fail_msg("src/echod.c: the usage has no [-s WORD|...]");
	*strchr(s, ']') = '\0';
	for (char *w = strtok(s + 3, "|"); w != NULL; w = strtok(NULL, "|")) {
		int signo = signals_from_word(w);

		nwords++;
		snprintf(want, sizeof(want), ".It Cm %s", w);
		if (!lines_have_word(&man, opt_b, opt_e, want)) {
			print_error("echod.8: OPTIONS has no %s\n", want);
			bad++;
		}
		/* A word with no signal is one only the control socket knows. */
		if (signo == -1 && control_from_word(w) == -1) {
			print_error("usage names -s %s, which neither signals_from_word() nor "
			            "control_from_word() knows\n",
			            w);
			bad++;
		}
		if (signo == -1)
			continue;
		snprintf(want, sizeof(want), "Dv %s", signal_name(signo));
		int found = 0;
		for (size_t i = sig_b; i < sig_e && !found; i++)
			found = is_request(man.line[i], ".It") && line_has_word(man.line[i], want);
		if (!found) {
			print_error("echod.8: SIGNALS has no item for %s (-s %s)\n",
			            signal_name(signo), w);
			bad++;
		}
	}
	assert_true(nwords >= 4);

	free(optstring);
	free(longopts);
	free(words);
	text_free(&src);
	text_free(&man);
	if (bad > 0)
		fail_msg("%d problems in echod.8 (see above)", bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_conf_documents_every_key),
	    cmocka_unit_test(test_conf_documents_no_other_key),
	    cmocka_unit_test(test_echod8_documents_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
