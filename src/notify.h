/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * systemd's readiness protocol (sd_notify), spoken directly: one datagram
 * to $NOTIFY_SOCKET per message.  Without NOTIFY_SOCKET it does nothing.
 */
#ifndef ECHOD_NOTIFY_H
#define ECHOD_NOTIFY_H

/*
 * Send "KEY=VALUE\n..." to the service manager.  Returns 1 if sent, 0 if no
 * manager listens (NOTIFY_SOCKET unset), -1 with errno on failure.
 */
int notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
