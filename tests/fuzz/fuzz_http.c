/* SPDX-License-Identifier: BSD-2-Clause */
/* Fuzz target: an HTTP request head, as a scraper sends it (http_parse). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http.h"

const char fuzz_name[] = "http";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes: a read past them is caught. */
	char *buf = malloc(size ? size : 1);
	struct http_request req;
	int status;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	switch (http_parse(buf, size, &req, &status)) {
	case HTTP_DONE:
		if (status != 200 || req.path[0] != '/' || strlen(req.path) >= sizeof(req.path))
			abort();
		break;
	case HTTP_BAD:
		if (status != 400 && status != 405 && status != 414 && status != 505)
			abort();
		break;
	case HTTP_INCOMPLETE:
		break;
	}
	free(buf);
	return 0;
}
