/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Reading echod.conf with libconfig, the only place that uses it: syntax
 * errors become "FILE:LINE: message", and the parsed tree is handed to
 * config.c as plain values for judging.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "config.h"

/* A config file is a few kilobytes; refuse to slurp something absurd. */
#define CONFIG_FILE_MAX ((size_t)1024 * 1024)

static void value_free(struct config_value *v)
{
	size_t i;

	for (i = 0; i < v->nchild; i++)
		value_free(&v->child[i]);
	free(v->child);
}

/* Copy libconfig's setting `s` into `v`; the strings stay libconfig's. */
static int value_from_setting(const config_setting_t *s, struct config_value *v)
{
	config_setting_t *elem;
	size_t i, n;

	memset(v, 0, sizeof(*v));
	v->name = config_setting_name(s);
	v->file = config_setting_source_file(s);
	v->line = config_setting_source_line(s);
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		v->type = CONFIG_VALUE_INT;
		v->i = config_setting_get_int64(s);
		return 0;
	case CONFIG_TYPE_FLOAT:
		v->type = CONFIG_VALUE_FLOAT;
		return 0;
	case CONFIG_TYPE_BOOL:
		v->type = CONFIG_VALUE_BOOL;
		v->i = config_setting_get_bool(s);
		return 0;
	case CONFIG_TYPE_STRING:
		v->type = CONFIG_VALUE_STRING;
		v->s = config_setting_get_string(s);
		return 0;
	case CONFIG_TYPE_GROUP:
		v->type = CONFIG_VALUE_GROUP;
		break;
	default: /* list or array: config.c wants groups in it anyway */
		v->type = CONFIG_VALUE_LIST;
		break;
	}
	n = (size_t)config_setting_length(s);
	if (n == 0)
		return 0;
	v->child = calloc(n, sizeof(*v->child));
	if (v->child == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		elem = config_setting_get_elem(s, (unsigned int)i);
		v->nchild++;
		if (elem == NULL || value_from_setting(elem, &v->child[i]) == -1)
			return -1;
	}
	return 0;
}

/*
 * libconfig 1.5 stores a decimal integer that does not fit in 32 bits
 * truncated, without a word: max_pending = 4294971392 would read as 4096.
 * So look at the integer literals ourselves and refuse those, asking for the
 * "L" suffix that makes them 64-bit.
 */
static void check_int_literal(const char *tok, size_t len, const char *file, int line,
                              struct config_errors *errs)
{
	char buf[64];
	int hex, is64;
	long long n;
	unsigned long long u;
	char *end;

	if (len >= sizeof(buf))
		goto too_big;
	memcpy(buf, tok, len);
	buf[len] = '\0';
	hex = strncmp(buf + (buf[0] == '-' || buf[0] == '+'), "0x", 2) == 0 ||
	      strncmp(buf + (buf[0] == '-' || buf[0] == '+'), "0X", 2) == 0;
	if (!hex && strpbrk(buf, ".eE") != NULL)
		return; /* a float: not our concern */
	is64 = len > 0 && buf[len - 1] == 'L';
	errno = 0;
	if (hex) {
		u = strtoull(buf, &end, 16);
		if (errno == ERANGE || (!is64 && u > 0xffffffffULL))
			goto too_big;
		return;
	}
	n = strtoll(buf, &end, 10);
	if (errno == ERANGE || (!is64 && (n < INT_MIN || n > INT_MAX)))
		goto too_big;
	return;
too_big:
	if (len > 0 && tok[len - 1] == 'L')
		config_errors_add(errs, file, line, "integer %.*s does not fit in 64 bits",
		                  (int)len, tok);
	else
		config_errors_add(errs, file, line,
		                  "integer %.*s does not fit in 32 bits; for a 64-bit integer "
		                  "write %.*sL (libconfig would truncate it)",
		                  (int)len, tok, (int)len, tok);
}

static void scan_int_literals(const char *text, const char *file, struct config_errors *errs)
{
	const char *p = text, *tok;
	int line = 1;

	while (*p != '\0') {
		if (*p == '\n') {
			line++;
			p++;
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			while (*p != '\0' && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			for (p += 2; *p != '\0' && !(p[0] == '*' && p[1] == '/'); p++)
				line += *p == '\n';
			p += *p != '\0' ? 2 : 0;
		} else if (*p == '"') {
			for (p++; *p != '\0' && *p != '"'; p++) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				line += *p == '\n';
			}
			p += *p != '\0';
		} else if (isalpha((unsigned char)*p) || *p == '_' || *p == '*' || *p == '@') {
			/* a name, true/false or @include: digits in it are no number */
			while (isalnum((unsigned char)*p) || (*p != '\0' && strchr("_*-@", *p)))
				p++;
		} else if (isdigit((unsigned char)*p) || *p == '.' ||
		           ((*p == '-' || *p == '+') && isdigit((unsigned char)p[1]))) {
			tok = p++;
			while (isalnum((unsigned char)*p) || *p == '.' ||
			       ((*p == '-' || *p == '+') && (p[-1] == 'e' || p[-1] == 'E') &&
			        !(tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X'))))
				p++;
			check_int_literal(tok, (size_t)(p - tok), file, line, errs);
		} else {
			p++;
		}
	}
}

/*
 * Move the errors of `from` to `errs`, leaving out those of file `name` on a
 * line where `wide` (may be NULL) found an oversized integer: what config.c
 * says about the truncated value is beside the point.
 */
static void errors_merge(struct config_errors *errs, struct config_errors *from,
                         const struct config_errors *wide, const char *name)
{
	struct config_error *e;
	size_t i, j;
	int dup;

	for (i = 0; i < from->n; i++) {
		e = &from->v[i];
		dup = 0;
		for (j = 0; wide != NULL && j < wide->n; j++)
			dup |= e->line == wide->v[j].line && strcmp(e->file, name) == 0;
		if (!dup && config_errors_add(errs, e->file, e->line, "%s", e->msg) == -1)
			break;
	}
	config_errors_free(from);
}

static struct config *load(const char *text, const char *name, const struct config_env *env,
                           struct config_errors *errs)
{
	struct config_errors wide = {0}, rest = {0};
	struct config_value root;
	struct config *cfg = NULL;
	config_t lc;

	memset(&root, 0, sizeof(root));
	config_init(&lc);
	if (config_read_string(&lc, text) != CONFIG_TRUE) {
		/* The file is NULL unless the error is in an @include'd one. */
		config_errors_add(errs, config_error_file(&lc) ? config_error_file(&lc) : name,
		                  config_error_line(&lc), "%s", config_error_text(&lc));
		goto fail;
	}
	if (value_from_setting(config_root_setting(&lc), &root) == -1) {
		config_errors_add(errs, name, 0, "out of memory");
		goto fail;
	}
	scan_int_literals(text, name, &wide);
	cfg = config_from_value(&root, name, env, &rest);
	if (wide.n > 0) {
		config_free(cfg);
		cfg = NULL;
	}
	errors_merge(errs, &rest, &wide, name);
	errors_merge(errs, &wide, NULL, name);
fail:
	value_free(&root);
	config_destroy(&lc);
	return cfg;
}

struct config *config_load_string(const char *text, const char *name, const struct config_env *env,
                                  struct config_errors *errs)
{
	return load(text, name, env, errs);
}

struct config *config_load_file(const char *path, const struct config_env *env,
                                struct config_errors *errs)
{
	struct config *cfg = NULL;
	char *text = NULL;
	size_t len;
	FILE *f;

	/* Read it ourselves: scan_int_literals() needs the text too. */
	f = fopen(path, "r");
	if (f == NULL) {
		config_errors_add(errs, path, 0, "%s", strerror(errno));
		return NULL;
	}
	text = malloc(CONFIG_FILE_MAX + 1);
	if (text == NULL) {
		config_errors_add(errs, path, 0, "out of memory");
		goto fail;
	}
	len = fread(text, 1, CONFIG_FILE_MAX + 1, f);
	if (ferror(f)) {
		config_errors_add(errs, path, 0, "%s", strerror(errno));
		goto fail;
	}
	if (len > CONFIG_FILE_MAX) {
		config_errors_add(errs, path, 0, "larger than %zu bytes", CONFIG_FILE_MAX);
		goto fail;
	}
	text[len] = '\0';
	if (strlen(text) != len) {
		config_errors_add(errs, path, 0, "contains a NUL byte");
		goto fail;
	}
	cfg = load(text, path, env, errs);
fail:
	free(text);
	fclose(f);
	return cfg;
}
