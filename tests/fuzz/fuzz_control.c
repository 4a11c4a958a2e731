/* SPDX-License-Identifier: BSD-2-Clause */
/* Fuzz target: a request line on the control socket (control_parse). */
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "fuzz.h"

const char fuzz_name[] = "control";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	enum control_cmd cmd;
	int json;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	if (control_parse(buf, size, &cmd, &json) == 0 &&
	    ((unsigned)cmd >= CONTROL_COUNT || (json && cmd != CONTROL_STATUS) ||
	     strncmp(buf, control_words[cmd], strlen(control_words[cmd])) != 0))
		abort();
	free(buf);
	return 0;
}
