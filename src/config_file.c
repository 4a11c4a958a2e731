/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Reading echod.conf with libconfig, the only place that uses it: syntax
 * errors become "FILE:LINE: message", and the parsed tree is handed to
 * config.c as plain values for judging.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libconfig.h>

#include "config.h"
#include "config_scan.h"

/* A config file is a few kilobytes; refuse to slurp something absurd
 * (the file and everything it includes, together). */
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

/* A (file, line) the pre-pass found wrong, for errors_merge(). */
struct spot {
	const char *file;
	int line;
};

static int spot_cmp(const void *a, const void *b)
{
	const struct spot *x = a, *y = b;
	int c = strcmp(x->file, y->file);

	return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

/*
 * Move the errors of `from` to `errs`, leaving out those at a (file, line)
 * where the pre-pass found something (`scan`, may be NULL): what config.c
 * says about a truncated integer or a cut string is beside the point.
 * O((n + m) log m): a file of 20k bad integers must not take seconds.
 */
static void errors_merge(struct config_errors *errs, struct config_errors *from,
                         const struct config_errors *scan)
{
	struct spot *spots = NULL;
	size_t nspots = 0;

	if (scan != NULL && scan->n > 0 && (spots = calloc(scan->n, sizeof(*spots))) != NULL) {
		for (size_t i = 0; i < scan->n; i++)
			spots[nspots++] = (struct spot){scan->v[i].file, scan->v[i].line};
		qsort(spots, nspots, sizeof(*spots), spot_cmp);
	}
	for (size_t i = 0; i < from->n; i++) {
		struct config_error *e = &from->v[i];
		struct spot key = {e->file, e->line};
		if (spots != NULL && bsearch(&key, spots, nspots, sizeof(*spots), spot_cmp) != NULL)
			continue;
		if (config_errors_add(errs, e->file, e->line, "%s", e->msg) == -1)
			break;
	}
	free(spots);
	config_errors_free(from);
}

/* What the reading of one file and its includes shares. */
struct reader {
	size_t total; /* bytes read so far, every file counted */
};

/*
 * Read the regular file at `path` whole, NUL-terminated, adding to
 * r->total.  Never blocks on a FIFO or a device: it is opened non-blocking
 * and refused unless fstat says it is a regular file.  On failure adds
 * "file:line: what" (what names path) and returns NULL.
 */
static char *read_file(struct reader *r, const char *path, const char *file, int line,
                       const char *what, size_t *lenp, struct config_errors *errs)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0, room;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

	if (fd == -1) {
		config_errors_add(errs, file, line, "%s%s", what, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		config_errors_add(errs, file, line, "%s%s", what, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		config_errors_add(errs, file, line, "%snot a regular file", what);
		goto fail;
	}
	room = CONFIG_FILE_MAX - r->total;
	if ((text = malloc(room + 2)) == NULL) {
		config_errors_add(errs, file, line, "%sout of memory", what);
		goto fail;
	}
	/* One byte more than allowed tells "too large" from "just fits". */
	while (len <= room && (n = read(fd, text + len, room + 1 - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			config_errors_add(errs, file, line, "%s%s", what, strerror(errno));
			goto fail;
		}
		len += (size_t)n;
	}
	if (len > room) {
		config_errors_add(errs, file, line, "%slarger than %zu bytes, includes counted",
		                  what, CONFIG_FILE_MAX);
		goto fail;
	}
	text[len] = '\0';
	if (strlen(text) != len) {
		config_errors_add(errs, file, line, "%scontains a NUL byte", what);
		goto fail;
	}
	r->total += len;
	close(fd);
	*lenp = len;
	return text;
fail:
	free(text);
	close(fd);
	return NULL;
}

static char *read_include(void *arg, const char *path, const char *file, int line, size_t *len,
                          struct config_errors *errs)
{
	char what[300];

	snprintf(what, sizeof(what), "@include \"%.250s\": ", path);
	return read_file(arg, path, file, line, what, len, errs);
}

static struct config *load(struct reader *r, const char *text, size_t len, const char *name,
                           const struct config_env *env, struct config_errors *errs)
{
	struct config_errors scan = {0}, rest = {0};
	struct config_scan_io io = {.include = read_include, .arg = r};
	struct config_value root;
	struct config *cfg = NULL;
	config_t lc;

	memset(&root, 0, sizeof(root));
	config_init(&lc);
	/* Before libconfig: it may exit, hang or take minutes on what the
	 * scan refuses. */
	if (config_scan(text, len, name, &io, &scan) == -1) {
		errors_merge(errs, &scan, NULL);
		goto fail;
	}
	if (config_read_string(&lc, text) != CONFIG_TRUE) {
		errors_merge(errs, &scan, NULL);
		/* The file is NULL unless the error is in an @include'd one. */
		config_errors_add(errs, config_error_file(&lc) ? config_error_file(&lc) : name,
		                  config_error_line(&lc), "%s", config_error_text(&lc));
		goto fail;
	}
	if (value_from_setting(config_root_setting(&lc), &root) == -1) {
		config_errors_add(errs, name, 0, "out of memory");
		goto fail;
	}
	cfg = config_from_value(&root, name, env, &rest);
	if (scan.n > 0) {
		config_free(cfg);
		cfg = NULL;
	}
	errors_merge(errs, &rest, &scan);
	errors_merge(errs, &scan, NULL);
fail:
	config_errors_free(&scan);
	value_free(&root);
	config_destroy(&lc);
	return cfg;
}

struct config *config_load_string(const char *text, const char *name, const struct config_env *env,
                                  struct config_errors *errs)
{
	struct reader r = {.total = strlen(text)};

	return load(&r, text, strlen(text), name, env, errs);
}

struct config *config_load_file(const char *path, const struct config_env *env,
                                struct config_errors *errs)
{
	struct reader r = {0};
	struct config *cfg;
	size_t len;
	/* Read it ourselves: config_scan() needs the text too. */
	char *text = read_file(&r, path, path, 0, "", &len, errs);

	if (text == NULL)
		return NULL;
	cfg = load(&r, text, len, path, env, errs);
	free(text);
	return cfg;
}
