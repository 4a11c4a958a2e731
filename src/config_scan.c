/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The pre-pass over libconfig text (see config_scan.h): a tokenizer that
 * knows just enough of the grammar to follow groups, lists and arrays, see
 * setting names, integer literals, strings and @include lines.  Names go into
 * one hash table keyed by (group, name), so duplicates are found in linear
 * time whatever the file's size.  Syntax errors are not its business:
 * libconfig reports those.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config_scan.h"

/* A seen setting name; `name` points into a text that outlives the scan. */
struct scan_name {
	const char *name;
	size_t len;
	unsigned group;
	const char *file;
	int line;
};

struct scan_frame {
	char kind;      /* '{' group, '(' list, '[' array */
	unsigned group; /* for '{': its id */
};

struct scan {
	const struct config_scan_io *io;
	struct config_errors *errs;
	int fatal; /* libconfig must not see the text */
	int stop;  /* nothing more to learn: too deep, or out of memory */
	struct scan_frame stack[CONFIG_SCAN_DEPTH_MAX];
	int depth;
	unsigned ngroups;      /* ids handed out; 0 is the top level */
	size_t *counts;        /* settings per group id */
	size_t counts_cap;     /* entries in counts */
	struct scan_name *tab; /* open addressing; name NULL: free slot */
	size_t tab_cap;        /* a power of two */
	size_t tab_n;
	char **keep; /* included texts and their names, freed at the end */
	size_t nkeep;
	size_t keep_cap;
	int includes;      /* current @include depth */
	unsigned included; /* @include read in all */
};

static void *scan_fail_oom(struct scan *s, const char *file)
{
	config_errors_add(s->errs, file, 0, "out of memory");
	s->fatal = s->stop = 1;
	return NULL;
}

static int keep(struct scan *s, char *p)
{
	if (s->nkeep == s->keep_cap) {
		size_t cap = s->keep_cap ? s->keep_cap * 2 : 16;
		char **k = realloc(s->keep, cap * sizeof(*k));
		if (k == NULL) {
			free(p);
			return -1;
		}
		s->keep = k;
		s->keep_cap = cap;
	}
	s->keep[s->nkeep++] = p;
	return 0;
}

static uint64_t name_hash(const char *name, size_t len, unsigned group)
{
	uint64_t h = 14695981039346656037ULL ^ group;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

/* The slot of (name, group): the entry holding it, or the free one to use. */
static struct scan_name *name_slot(struct scan_name *tab, size_t cap, const char *name, size_t len,
                                   unsigned group)
{
	size_t i = (size_t)name_hash(name, len, group) & (cap - 1);

	while (tab[i].name != NULL &&
	       !(tab[i].group == group && tab[i].len == len && memcmp(tab[i].name, name, len) == 0))
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static int tab_grow(struct scan *s)
{
	size_t cap = s->tab_cap ? s->tab_cap * 2 : 64;
	struct scan_name *tab = calloc(cap, sizeof(*tab));

	if (tab == NULL)
		return -1;
	for (size_t i = 0; i < s->tab_cap; i++)
		if (s->tab[i].name != NULL)
			*name_slot(tab, cap, s->tab[i].name, s->tab[i].len, s->tab[i].group) =
			    s->tab[i];
	free(s->tab);
	s->tab = tab;
	s->tab_cap = cap;
	return 0;
}

/* The group settings are added to now: the innermost open group. */
static unsigned current_group(const struct scan *s, int *in_group)
{
	if (s->depth == 0) {
		*in_group = 1;
		return 0;
	}
	*in_group = s->stack[s->depth - 1].kind == '{';
	return s->stack[s->depth - 1].group;
}

static void add_setting(struct scan *s, const char *name, size_t len, const char *file, int line)
{
	int in_group;
	unsigned g = current_group(s, &in_group);

	if (!in_group)
		return; /* a name inside a list: libconfig's syntax error */
	if (++s->counts[g] > CONFIG_SCAN_GROUP_MAX) {
		if (s->counts[g] == CONFIG_SCAN_GROUP_MAX + 1)
			config_errors_add(s->errs, file, line,
			                  "more than %d settings in one group; echod has far "
			                  "fewer keys",
			                  CONFIG_SCAN_GROUP_MAX);
		s->fatal = 1;
		return;
	}
	if (s->tab_n * 2 >= s->tab_cap && tab_grow(s) == -1) {
		scan_fail_oom(s, file);
		return;
	}
	struct scan_name *slot = name_slot(s->tab, s->tab_cap, name, len, g);
	if (slot->name != NULL) {
		config_errors_add(s->errs, file, line,
		                  "duplicate setting name \"%.*s\" (first at %s:%d)", (int)len,
		                  name, slot->file, slot->line);
		s->fatal = 1;
		return;
	}
	*slot =
	    (struct scan_name){.name = name, .len = len, .group = g, .file = file, .line = line};
	s->tab_n++;
}

static int open_container(struct scan *s, char kind, const char *file, int line)
{
	if (s->depth == CONFIG_SCAN_DEPTH_MAX) {
		config_errors_add(s->errs, file, line, "nested deeper than %d levels",
		                  CONFIG_SCAN_DEPTH_MAX);
		s->fatal = s->stop = 1;
		return -1;
	}
	s->stack[s->depth].kind = kind;
	s->stack[s->depth].group = 0;
	if (kind == '{') {
		if (s->ngroups + 1 >= s->counts_cap) {
			size_t cap = s->counts_cap * 2;
			size_t *c = realloc(s->counts, cap * sizeof(*c));
			if (c == NULL) {
				scan_fail_oom(s, file);
				return -1;
			}
			memset(c + s->counts_cap, 0, (cap - s->counts_cap) * sizeof(*c));
			s->counts = c;
			s->counts_cap = cap;
		}
		s->stack[s->depth].group = ++s->ngroups;
	}
	s->depth++;
	return 0;
}

/*
 * libconfig 1.5 keeps integers in 32 bits unless the literal ends in "L", and
 * truncates a wider decimal one without a word: max_pending = 4294971392
 * would read as 4096.  So refuse those, asking for the suffix.
 */
static void check_int_literal(struct scan *s, const char *tok, size_t len, const char *file,
                              int line)
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
		config_errors_add(s->errs, file, line, "integer %.*s does not fit in 64 bits",
		                  (int)len, tok);
	else
		config_errors_add(s->errs, file, line,
		                  "integer %.*s does not fit in 32 bits; for a 64-bit integer "
		                  "write %.*sL (libconfig would truncate it)",
		                  (int)len, tok, (int)len, tok);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The character a backslash and `e` stand for in a string. */
static char unescape(char e)
{
	switch (e) {
	case 'n':
		return '\n';
	case 't':
		return '\t';
	case 'r':
		return '\r';
	case 'f':
		return '\f';
	default:
		return e;
	}
}

/*
 * A string literal from its opening quote; returns the end (past the closing
 * quote).  If out is not NULL, the decoded bytes go there (at most cap - 1,
 * NUL-terminated) for an @include name.
 */
static const char *scan_string(struct scan *s, const char *p, const char *file, int *line,
                               char *out, size_t cap)
{
	size_t n = 0;

	for (p++; *p != '\0' && *p != '"'; p++) {
		char c = *p;
		if (*p == '\n')
			++*line;
		if (*p == '\\' && p[1] != '\0') {
			p++;
			c = unescape(*p);
			if (*p == 'x' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
				c = (char)(unsigned char)(hexval(p[1]) * 16 + hexval(p[2]));
				p += 2;
				if (c == '\0')
					config_errors_add(s->errs, file, *line,
					                  "string contains \\x00: a NUL byte "
					                  "would cut it short");
			}
		}
		if (out != NULL && n + 1 < cap && c != '\0')
			out[n++] = c;
	}
	if (out != NULL)
		out[n] = '\0';
	return *p == '"' ? p + 1 : p;
}

static void scan_text(struct scan *s, const char *text, const char *file);

/* "@include" at p: scan the file it names in place. */
static const char *scan_include(struct scan *s, const char *p, const char *file, int *line)
{
	char path[4096];
	size_t len;
	int at = *line;

	p += strlen("@include");
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '"')
		return p; /* libconfig's syntax error */
	p = scan_string(s, p, file, line, path, sizeof(path));
	if (s->includes == CONFIG_SCAN_INCLUDE_MAX) {
		config_errors_add(s->errs, file, at, "@include \"%s\": nested deeper than %d files",
		                  path, CONFIG_SCAN_INCLUDE_MAX);
		s->fatal = 1;
		return p;
	}
	if (s->included == CONFIG_SCAN_INCLUDES_TOTAL_MAX) {
		config_errors_add(s->errs, file, at, "@include \"%s\": more than %d files included",
		                  path, CONFIG_SCAN_INCLUDES_TOTAL_MAX);
		s->fatal = s->stop = 1;
		return p;
	}
	char *text = s->io != NULL && s->io->include != NULL
	                 ? s->io->include(s->io->arg, path, file, at, &len, s->errs)
	                 : NULL;
	if (text == NULL) {
		if (s->io == NULL || s->io->include == NULL)
			config_errors_add(s->errs, file, at, "@include \"%s\": not allowed here",
			                  path);
		s->fatal = 1;
		return p;
	}
	/* keep() frees what it cannot keep */
	char *name = strdup(path);
	if (name == NULL || keep(s, name) == -1) {
		free(text);
		scan_fail_oom(s, file);
		return p;
	}
	if (keep(s, text) == -1) {
		scan_fail_oom(s, file);
		return p;
	}
	s->includes++;
	s->included++;
	scan_text(s, text, name);
	s->includes--;
	return p;
}

static int is_name_start(char c)
{
	return isalpha((unsigned char)c) || c == '*';
}

static int is_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '*';
}

static void scan_text(struct scan *s, const char *text, const char *file)
{
	const char *p = text, *tok, *name = NULL;
	size_t name_len = 0;
	int line = 1, name_line = 0;

	while (*p != '\0' && !s->stop) {
		if (*p == '\n') {
			line++;
			p++;
		} else if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\f') {
			p++; /* keeps a pending name */
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			while (*p != '\0' && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			for (p += 2; *p != '\0' && !(p[0] == '*' && p[1] == '/'); p++)
				line += *p == '\n';
			p += *p != '\0' ? 2 : 0;
		} else if (*p == '"') {
			p = scan_string(s, p, file, &line, NULL, 0);
			name = NULL;
		} else if (strncmp(p, "@include", 8) == 0) {
			p = scan_include(s, p, file, &line);
			name = NULL;
		} else if (is_name_start(*p)) {
			/* a setting's name if "=" or ":" follows; else true/false */
			name = p;
			name_line = line;
			while (is_name_char(*p))
				p++;
			name_len = (size_t)(p - name);
		} else if (isdigit((unsigned char)*p) || *p == '.' ||
		           ((*p == '-' || *p == '+') && isdigit((unsigned char)p[1]))) {
			tok = p++;
			while (isalnum((unsigned char)*p) || *p == '.' ||
			       ((*p == '-' || *p == '+') && (p[-1] == 'e' || p[-1] == 'E') &&
			        !(tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X'))))
				p++;
			check_int_literal(s, tok, (size_t)(p - tok), file, line);
			name = NULL;
		} else {
			if ((*p == '=' || *p == ':') && name != NULL)
				add_setting(s, name, name_len, file, name_line);
			else if ((*p == '{' || *p == '(' || *p == '[') &&
			         open_container(s, *p, file, line) == -1)
				return;
			else if ((*p == '}' || *p == ')' || *p == ']') && s->depth > 0)
				s->depth--;
			name = NULL;
			p++;
		}
	}
}

int config_scan(const char *text, size_t len, const char *name, const struct config_scan_io *io,
                struct config_errors *errs)
{
	struct scan s = {.io = io, .errs = errs};
	(void)len;

	s.counts_cap = 64;
	s.counts = calloc(s.counts_cap, sizeof(*s.counts));
	if (s.counts == NULL)
		scan_fail_oom(&s, name);
	else
		scan_text(&s, text, name);
	free(s.counts);
	free(s.tab);
	for (size_t i = 0; i < s.nkeep; i++)
		free(s.keep[i]);
	free(s.keep);
	return s.fatal ? -1 : 0;
}
