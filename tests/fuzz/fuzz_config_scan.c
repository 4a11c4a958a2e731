/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target: config_scan(), the pre-pass over libconfig text, on any
 * bytes.  An @include reads the same input again (so nesting, duplicates
 * across files and the depth limit are reached), never a real file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "config.h"
#include "config_scan.h"

/* The reader's own corpus: the pre-pass sees the same files first. */
const char fuzz_name[] = "config";

struct input {
	const uint8_t *data;
	size_t size;
};

static char *copy(const struct input *in, size_t *len)
{
	char *text = malloc(in->size + 1);

	if (text == NULL)
		return NULL;
	memcpy(text, in->data, in->size);
	text[in->size] = '\0';
	*len = strlen(text);
	return text;
}

static char *include_self(void *arg, const char *path, const char *file, int line, size_t *len,
                          struct config_errors *errs)
{
	(void)path;
	(void)file;
	(void)line;
	(void)errs;
	return copy(arg, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	struct config_scan_io io = {.include = include_self, .arg = &in};
	struct config_errors errs = {0};
	size_t len;
	char *text = copy(&in, &len);

	if (text == NULL)
		return 0;
	config_scan(text, len, "fuzz.conf", &io, &errs);
	config_errors_free(&errs);
	free(text);
	return 0;
}
