/* SPDX-License-Identifier: BSD-2-Clause */
/* Stream connections (TCP and Unix) behind struct bconn_ops. */
#ifndef ECHOD_CLIENT_STREAM_H
#define ECHOD_CLIENT_STREAM_H

#include "bconn.h"

extern const struct bconn_ops stream_ops;

#endif
