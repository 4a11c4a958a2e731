/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target: the configuration reader, from text (config_load_string,
 * the path echod -t, start-up and reload take) to a config or FILE:LINE
 * errors.  Besides not crashing, leaking or tripping UBSan, it must keep
 * its contract: a config and no error, or errors and no config, each error
 * naming the file; and a config it returns holds what validation promises.
 * Inputs that @include a file are left out: that is libconfig opening files,
 * not parsing, and it could block on a FIFO or a device.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "acl.h"
#include "config.h"

const char fuzz_name[] = "config";

/*
 * libconfig 1.5 (Debian 12) leaks its string token buffer (strbuf_append)
 * when a syntax error follows a string; fuzzing finds it within seconds.
 * It is libconfig's, not echod's: a rejected reload loses a few bytes in the
 * child that read the file.  LeakSanitizer asks for this list, under make
 * fuzz and in the ASan build's make check alike; any other leak still fails.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libconfig.so\n";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_env env = {.cpus = 4, .is_root = 0};
	struct config_errors errs = {0};
	struct cidr_addr probe = {.family = AF_INET, .b = {127, 0, 0, 2}};
	char buf[1024];
	char *text;

	/* A config file is a few kilobytes; the reader refuses a megabyte. */
	if (size > 65536 || (text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (strstr(text, "@include") != NULL) {
		free(text);
		return 0;
	}
	struct config *cfg = config_load_string(text, "fuzz.conf", &env, &errs);
	if ((cfg == NULL) == (errs.n == 0))
		abort();
	for (size_t i = 0; i < errs.n; i++) {
		if (errs.v[i].file == NULL || errs.v[i].msg == NULL || errs.v[i].line < 0)
			abort();
		config_error_format(&errs.v[i], buf, sizeof(buf));
	}
	if (cfg != NULL) {
		if (cfg->nlisten < 1 || cfg->workers < 1 || cfg->workers > 1024 ||
		    cfg->max_pending < 4096 || cfg->limits.source_prefix_v6 < 1 ||
		    cfg->limits.source_prefix_v6 > 128)
			abort();
		for (size_t i = 0; i < cfg->nlisten; i++) {
			const struct listen_conf *lc = &cfg->listen[i];
			if ((lc->proto == LISTEN_UNIX) != (lc->path != NULL) ||
			    (lc->proto != LISTEN_UNIX && lc->address == NULL))
				abort();
			listen_conf_name(lc, buf, sizeof(buf));
			(void)acl_check(config_listen_access(cfg, i), &probe);
		}
		(void)acl_check(&cfg->access, &probe);
	}
	config_free(cfg);
	config_errors_free(&errs);
	free(text);
	return 0;
}
