/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A pure pre-pass over libconfig text, run before libconfig sees it: what
 * libconfig gets wrong or too slowly is checked here, in one linear pass over
 * the file and every file it @includes.  libconfig 1.5 truncates 32-bit
 * integers silently, cuts strings at an escaped NUL, exits the process when an
 * @include names a directory, blocks on a FIFO, and finds a duplicate name by
 * a linear search per setting (a file of 100k names takes minutes).
 */
#ifndef ECHOD_CONFIG_SCAN_H
#define ECHOD_CONFIG_SCAN_H

#include <stddef.h>

#include "config.h"

/* Most settings in one group: echod's groups have about ten keys, and
 * libconfig's duplicate search costs the square of a group's size. */
#define CONFIG_SCAN_GROUP_MAX 256
/* Deepest nesting of groups, lists and arrays. */
#define CONFIG_SCAN_DEPTH_MAX 32
/* Deepest nesting of @include (libconfig's own limit). */
#define CONFIG_SCAN_INCLUDE_MAX 10
/* Most @include read in all: a file that includes another twice, which
 * includes a third twice, and so on, would otherwise be read 2^10 times
 * (fuzz_config_scan found it: a few self-includes took minutes and GiBs). */
#define CONFIG_SCAN_INCLUDES_TOTAL_MAX 100

/*
 * How the scanner gets an included file's text: `path` as written after
 * @include, named in an error at `file`:`line`.  Returns the text
 * (NUL-terminated, *len bytes without the NUL; the scanner frees it), or
 * NULL after adding an error to errs: not a regular file, unreadable, too
 * large, NUL byte.  NULL as the function: every @include is an error.
 */
struct config_scan_io {
	char *(*include)(void *arg, const char *path, const char *file, int line, size_t *len,
	                 struct config_errors *errs);
	void *arg;
};

/*
 * Scan `text` (len bytes, NUL-terminated; `name` names it in messages) and,
 * through io, every file it includes.  Appends an error to errs for: an
 * integer literal that does not fit its width, a string with an escaped NUL
 * (\x00), an @include that cannot be read as a regular file, nests too
 * deep or is one too many, a name that repeats in its group, a group with more than
 * CONFIG_SCAN_GROUP_MAX settings, nesting deeper than CONFIG_SCAN_DEPTH_MAX.
 * Linear in the bytes scanned.  Returns 0 if libconfig may be given the text
 * (errors found so far, if any, are about values), or -1 if it must not be:
 * it would stop on a duplicate anyway, or exit, hang or take quadratic time.
 */
int config_scan(const char *text, size_t len, const char *name, const struct config_scan_io *io,
                struct config_errors *errs);

#endif
