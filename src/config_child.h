/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Reading the configuration in a short-lived child: libconfig and the
 * validation run there, and only the validated result comes back (see
 * config_wire.h).  Whatever the file does to the reader (exit, crash, hang,
 * a huge answer), the caller gets errors, in bounded time.
 */
#ifndef ECHOD_CONFIG_CHILD_H
#define ECHOD_CONFIG_CHILD_H

#include "config.h"

/* How long the reader may take before it is killed. */
#define CONFIG_CHILD_TIMEOUT_MS 5000

/*
 * config_load_file(path, env, errs), run in a child process that is killed
 * after timeout_ms.  Returns the config, or NULL with the errors appended to
 * errs: the file's own, or one "PATH: config reader ..." saying what became
 * of the reader.  The child is reaped before this returns; a SIGCHLD for it
 * may still arrive and finds nothing to reap.
 */
struct config *config_child_load(const char *path, const struct config_env *env, int timeout_ms,
                                 struct config_errors *errs);

/* What the child runs: config_load_file, or in tests a reader that crashes,
 * hangs or exits. */
struct config_reader {
	struct config *(*load)(const char *path, const struct config_env *env,
	                       struct config_errors *errs);
};

/* config_child_load() with `reader` in the child. */
struct config *config_child_load_with(const struct config_reader *reader, const char *path,
                                      const struct config_env *env, int timeout_ms,
                                      struct config_errors *errs);

#endif
