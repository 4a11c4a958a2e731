/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A validator of the Prometheus text format 0.0.4, for the tests of
 * /metrics (see h_promtext_validate in harness.h): names, labels and their
 * escaping, one HELP and TYPE per family before its samples, families not
 * interleaved, counters named _total and never negative, histogram buckets
 * ascending, cumulative and ending in +Inf equal to _count.  promtool checks
 * the same and more where it is installed; this runs everywhere.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define MAX_FAMILIES 64

static int name_start(int c)
{
	return isalpha(c) || c == '_' || c == ':';
}

static int name_char(int c)
{
	return isalnum(c) || c == '_' || c == ':';
}

/* Skip a metric name at *p; 0 if there is none. */
static size_t scan_name(const char *p)
{
	size_t n = 0;

	if (!name_start((unsigned char)p[0]))
		return 0;
	while (name_char((unsigned char)p[n]))
		n++;
	return n;
}

struct family {
	char name[128];
	char type[16];
	int help, samples, closed;
};

struct validator {
	struct family f[MAX_FAMILIES];
	size_t n;
	struct family *cur;
	double last_le, last_bucket; /* histogram: previous bucket */
	int saw_inf;
};

static struct family *find(struct validator *v, const char *name, size_t len)
{
	for (size_t i = 0; i < v->n; i++)
		if (strlen(v->f[i].name) == len && strncmp(v->f[i].name, name, len) == 0)
			return &v->f[i];
	return NULL;
}

/* The family a sample name belongs to (a histogram's _bucket, _sum,
 * _count belong to the histogram). */
static struct family *family_of(struct validator *v, const char *name, size_t len)
{
	static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
	struct family *f = find(v, name, len);

	if (f != NULL)
		return f;
	for (size_t i = 0; i < 3; i++) {
		size_t sl = strlen(suffixes[i]);
		if (len > sl && strncmp(name + len - sl, suffixes[i], sl) == 0 &&
		    (f = find(v, name, len - sl)) != NULL && strcmp(f->type, "histogram") == 0)
			return f;
	}
	return NULL;
}

/* Check one sample line; the label "le" of a bucket is returned in *le. */
static void check_sample(struct validator *v, const char *line)
{
	size_t len = scan_name(line);
	const char *p = line + len;
	double le = -1;

	if (len == 0)
		fail_msg("no metric name: %s", line);
	struct family *f = family_of(v, line, len);
	if (f == NULL)
		fail_msg("sample before its # TYPE: %s", line);
	if (f->closed)
		fail_msg("family %s is interleaved with another: %s", f->name, line);
	if (v->cur != f) {
		if (v->cur != NULL)
			v->cur->closed = 1;
		v->cur = f;
		v->last_le = -1;
		v->last_bucket = 0;
		v->saw_inf = 0;
	}
	f->samples++;
	int is_bucket = strncmp(line + len - 7, "_bucket", 7) == 0 && len > 7;
	if (*p == '{') {
		p++;
		while (*p != '}') {
			size_t ln = 0;
			while (isalnum((unsigned char)p[ln]) || p[ln] == '_')
				ln++;
			if (ln == 0 || !(isalpha((unsigned char)*p) || *p == '_'))
				fail_msg("bad label name: %s", line);
			int is_le = ln == 2 && strncmp(p, "le", 2) == 0;
			p += ln;
			if (p[0] != '=' || p[1] != '"')
				fail_msg("label without =\"value\": %s", line);
			p += 2;
			const char *val = p;
			while (*p != '"') {
				if (*p == '\0' || *p == '\n')
					fail_msg("unterminated label value: %s", line);
				if (*p == '\\') {
					if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
						fail_msg("bad escape in a label value: %s", line);
					p++;
				}
				p++;
			}
			if (is_le)
				le = strncmp(val, "+Inf\"", 5) == 0 ? 1e300 : strtod(val, NULL);
			p++;
			if (*p == ',')
				p++;
			else if (*p != '}')
				fail_msg("labels not separated by commas: %s", line);
		}
		p++;
	}
	if (*p != ' ')
		fail_msg("no space before the value: %s", line);
	char *end;
	double value = strtod(p + 1, &end);
	if (end == p + 1 || *end != '\0')
		fail_msg("bad value: %s", line);
	if (strcmp(f->type, "counter") == 0 && value < 0)
		fail_msg("negative counter: %s", line);
	if (strcmp(f->type, "histogram") == 0 && is_bucket) {
		if (le <= v->last_le)
			fail_msg("buckets not ascending: %s", line);
		if (value < v->last_bucket)
			fail_msg("buckets not cumulative: %s", line);
		v->last_le = le;
		v->last_bucket = value;
		v->saw_inf |= le >= 1e300;
	}
	if (strcmp(f->type, "histogram") == 0 && len > 6 &&
	    strncmp(line + len - 6, "_count", 6) == 0) {
		if (!v->saw_inf)
			fail_msg("histogram %s has no +Inf bucket before _count", f->name);
		if (value != v->last_bucket)
			fail_msg("histogram %s: _count is not the +Inf bucket", f->name);
	}
}

/* Validate a whole page; returns the number of families. */
size_t h_promtext_validate(const char *page)
{
	struct validator v;
	char line[1024];

	memset(&v, 0, sizeof(v));
	assert_true(strlen(page) > 0);
	assert_int_equal(page[strlen(page) - 1], '\n');
	for (const char *p = page; *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t len = (size_t)(nl - p);
		assert_true(len < sizeof(line));
		memcpy(line, p, len);
		line[len] = '\0';
		p = nl + 1;
		if (strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0) {
			size_t n = scan_name(line + 7);
			if (n == 0 || line[7 + n] != ' ')
				fail_msg("bad comment: %s", line);
			struct family *f = find(&v, line + 7, n);
			if (f == NULL) {
				assert_true(v.n < MAX_FAMILIES);
				f = &v.f[v.n++];
				memcpy(f->name, line + 7, n);
				f->name[n] = '\0';
			}
			if (f->samples > 0)
				fail_msg("%s after the samples of %s", line, f->name);
			if (line[2] == 'H') {
				if (f->help++)
					fail_msg("two HELP for %s", f->name);
				continue;
			}
			if (f->type[0] != '\0')
				fail_msg("two TYPE for %s", f->name);
			snprintf(f->type, sizeof(f->type), "%s", line + 8 + n);
			if (strcmp(f->type, "counter") != 0 && strcmp(f->type, "gauge") != 0 &&
			    strcmp(f->type, "histogram") != 0)
				fail_msg("unknown type: %s", line);
			if (strcmp(f->type, "counter") == 0 &&
			    (n < 6 || strcmp(f->name + n - 6, "_total") != 0))
				fail_msg("counter %s is not named _total", f->name);
			continue;
		}
		if (line[0] == '#')
			fail_msg("stray comment: %s", line);
		check_sample(&v, line);
	}
	for (size_t i = 0; i < v.n; i++)
		if (v.f[i].samples == 0 || v.f[i].type[0] == '\0' || !v.f[i].help)
			fail_msg("family %s lacks HELP, TYPE or samples", v.f[i].name);
	return v.n;
}
