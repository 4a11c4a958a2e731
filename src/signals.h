/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The signals echod handles, in one table: each has a flag its handler sets
 * and, for the master's, the word `echod -s` uses.  Handlers only set flags;
 * the loops act on them.
 */
#ifndef ECHOD_SIGNALS_H
#define ECHOD_SIGNALS_H

#include <signal.h>

enum sig_flag {
	SIG_FLAG_CHILD,   /* CHLD: reap */
	SIG_FLAG_STOP,    /* TERM, INT: graceful stop */
	SIG_FLAG_QUIT,    /* QUIT: immediate stop */
	SIG_FLAG_RELOAD,  /* HUP */
	SIG_FLAG_REOPEN,  /* USR1 */
	SIG_FLAG_UPGRADE, /* USR2: binary upgrade */
	SIG_FLAG_COUNT,
};

/* Each flag counts the signals received since it was last taken. */
extern volatile sig_atomic_t sig_flags[SIG_FLAG_COUNT];

/*
 * Install the handlers and block the handled signals; *wait_mask receives
 * the caller's previous mask minus those, to be unblocked atomically in the
 * loop's wait.  Returns 0 or -1 with errno.
 */
int signals_install(sigset_t *wait_mask);

/* Read and clear a flag: the number of signals received (0: none). */
int signals_take(enum sig_flag flag);

/* The signal for an `-s` word ("reload", "stop", "quit", "reopen",
 * "upgrade"), or -1. */
int signals_from_word(const char *word);

#endif
