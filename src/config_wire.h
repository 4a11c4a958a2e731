/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A compact encoding of a loaded configuration (or of the errors that
 * refused it), for the config reader child to hand its result to the master
 * over a pipe.  Driven by the key table: a key added to config.c travels
 * without a change here.  The decoder treats its input as hostile (the child
 * ran a third-party parser on an operator's file): it checks every length,
 * and every value again against the key table.
 */
#ifndef ECHOD_CONFIG_WIRE_H
#define ECHOD_CONFIG_WIRE_H

#include <stddef.h>

#include "config.h"

/* Largest encoding accepted: far beyond any 1 MiB config file's. */
#define CONFIG_WIRE_MAX ((size_t)8 * 1024 * 1024)
/* Errors carried at most; the rest are counted in one last error. */
#define CONFIG_WIRE_ERRORS_MAX 1000

/*
 * Encode cfg (NULL: none) and errs into a new buffer *out of *len bytes
 * (the caller frees it).  Returns 0, or -1 with errno ENOMEM, or EMSGSIZE if
 * it would exceed CONFIG_WIRE_MAX.
 */
int config_wire_encode(const struct config *cfg, const struct config_errors *errs, char **out,
                       size_t *len);

/*
 * Decode len bytes of buf.  On success returns 0, sets *cfg to a new config
 * (or NULL if none was sent) and appends the errors sent to errs.  Returns
 * -1 with errno EBADMSG, *cfg NULL and errs unchanged, if buf is not an
 * encoding of a config that passes the key table's checks; ENOMEM if out of
 * memory.
 */
int config_wire_decode(const void *buf, size_t len, struct config **cfg,
                       struct config_errors *errs);

#endif
