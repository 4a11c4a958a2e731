/* SPDX-License-Identifier: BSD-2-Clause */
/* Fuzz target: metrics.listen's "ADDRESS:PORT" | "unix:PATH" parser. */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

const char fuzz_name[] = "endpoint";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_endpoint ep;
	char *s = malloc(size + 1);

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (config_endpoint_parse(s, &ep) == NULL) {
		if (ep.proto == LISTEN_UNIX
		        ? ep.path[0] != '/'
		        : ep.port < 0 || ep.port > 65535 || ep.address[0] == '\0')
			abort();
	}
	free(s);
	return 0;
}
