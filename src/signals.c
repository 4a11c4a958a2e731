/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Signal table and flag-setting handlers (OpenBSD style: a handler assigns
 * a volatile sig_atomic_t and returns; errno is untouched).
 */
#include "acconfig.h"

#include <string.h>

#include "signals.h"

volatile sig_atomic_t sig_flags[SIG_FLAG_COUNT];

static const struct {
	int signo;
	enum sig_flag flag;
	const char *word; /* for -s; NULL: not sent by hand */
} table[] = {
    {SIGCHLD, SIG_FLAG_CHILD, NULL},        {SIGTERM, SIG_FLAG_STOP, "stop"},
    {SIGINT, SIG_FLAG_STOP, NULL},          {SIGQUIT, SIG_FLAG_QUIT, "quit"},
    {SIGHUP, SIG_FLAG_RELOAD, "reload"},    {SIGUSR1, SIG_FLAG_REOPEN, "reopen"},
    {SIGUSR2, SIG_FLAG_UPGRADE, "upgrade"},
};
#define NSIGNALS (sizeof(table) / sizeof(table[0]))

static void on_signal(int signo)
{
	for (size_t i = 0; i < NSIGNALS; i++)
		if (table[i].signo == signo)
			sig_flags[table[i].flag]++;
}

int signals_install(sigset_t *wait_mask)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigfillset(&sa.sa_mask);
	sigemptyset(&block);
	for (size_t i = 0; i < NSIGNALS; i++) {
		if (sigaction(table[i].signo, &sa, NULL) == -1)
			return -1;
		sigaddset(&block, table[i].signo);
	}
	/* A peer that closes on us must give EPIPE, not kill the process. */
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &block, wait_mask) == -1)
		return -1;
	for (size_t i = 0; i < NSIGNALS; i++)
		sigdelset(wait_mask, table[i].signo);
	for (size_t i = 0; i < SIG_FLAG_COUNT; i++)
		sig_flags[i] = 0;
	return 0;
}

int signals_take(enum sig_flag flag)
{
	/* Handled signals are blocked outside the wait, so this cannot race
	 * with the handler. */
	int n = sig_flags[flag];
	sig_flags[flag] = 0;
	return n;
}

int signals_from_word(const char *word)
{
	for (size_t i = 0; i < NSIGNALS; i++)
		if (table[i].word != NULL && strcmp(table[i].word, word) == 0)
			return table[i].signo;
	return -1;
}
