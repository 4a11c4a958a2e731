/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target: pidfile_parse() on any bytes, as `echod -s` and a second
 * master read them from a pid file anyone with write access may have edited.
 * What it accepts must be a pid from 1 to INT_MAX that prints back to the
 * same text.
 *   clang -fsanitize=fuzzer,address,undefined -Isrc -I<build> ... (make fuzz)
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pidfile.h"

const char fuzz_name[] = "pidfile";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pid_t pid = pidfile_parse((const char *)data, size);
	char text[32];

	if (pid == -1)
		return 0;
	if (pid < 1)
		abort();
	int n = snprintf(text, sizeof(text), "%ld", (long)pid);
	/* The input is those digits, with or without one newline. */
	if ((size_t)n != size - (size > 0 && data[size - 1] == '\n') ||
	    memcmp(text, data, (size_t)n) != 0)
		abort();
	return 0;
}
