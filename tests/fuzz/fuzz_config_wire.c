/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target: config_wire_decode() on any bytes, as the master gets
 * them from the config reader child.  Whatever it accepts must be a config
 * the key table allows, and must encode again and decode to the same.
 *   clang -fsanitize=fuzzer,address,undefined -Isrc -I<build> ... (make fuzz)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "config.h"
#include "config_wire.h"

const char fuzz_name[] = "config_wire";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_errors errs = {0}, again = {0};
	struct config *cfg = NULL, *back = NULL;
	char *buf;
	size_t len;

	if (config_wire_decode(data, size, &cfg, &errs) == 0) {
		if (cfg != NULL && (cfg->workers < 1 || cfg->nlisten < 1))
			abort();
		if (config_wire_encode(cfg, &errs, &buf, &len) == 0) {
			if (config_wire_decode(buf, len, &back, &again) != 0 ||
			    (cfg == NULL) != (back == NULL) || again.n != errs.n)
				abort();
			free(buf);
		}
	}
	config_free(cfg);
	config_free(back);
	config_errors_free(&errs);
	config_errors_free(&again);
	return 0;
}
