/* SPDX-License-Identifier: BSD-2-Clause */
/* UDP flows behind struct bconn_ops. */
#ifndef ECHOD_CLIENT_DGRAM_H
#define ECHOD_CLIENT_DGRAM_H

#include "bconn.h"

extern const struct bconn_ops dgram_ops;

#endif
