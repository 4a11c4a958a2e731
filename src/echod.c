/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * echod: the command line.  Parses the options, loads the configuration and
 * hands over to the master, or answers -t, -s, -V and -h by itself.
 */
#include "acconfig.h"

#include <errno.h>
#include <signal.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "control_client.h"
#include "ev.h"
#include "exitcode.h"
#include "log.h"
#include "master.h"
#include "pidfile.h"
#include "signals.h"
#include "upgrade.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG SYSCONFDIR "/echod.conf"

static void usage(FILE *out)
{
	fprintf(out, "usage: echod [-c FILE] [-t] [-d] [-s reload|stop|quit|reopen|upgrade|status] "
	             "[-j] [-V] "
	             "[-h]\n"
	             "  -c, --config FILE  configuration file (default " DEFAULT_CONFIG ")\n"
	             "  -t, --test         check the configuration and exit\n"
	             "  -d, --daemon       detach from the terminal\n"
	             "  -s, --signal SIG   have the running master act (over control_socket,\n"
	             "                     else by signal), or print its status, and exit\n"
	             "  -j, --json         -s status: as one JSON object\n"
	             "  -V, --version      print the version and exit\n"
	             "  -h, --help         print this help and exit\n");
}

/* -V: "echod VERSION" (a first line scripts may rely on), then the backends
 * this build has, in the order backend = "auto" tries them. */
static void version(FILE *out)
{
	const char *name;

	fprintf(out, "echod %s\nbackends:", PACKAGE_VERSION);
	for (size_t i = 0; (name = ev_backend_name(i)) != NULL; i++)
		fprintf(out, " %s", name);
	fputc('\n', out);
}

/* Load the configuration, or print every error and return NULL. */
static struct config *load(const char *path)
{
	struct config_errors errs = {0};
	struct config *cfg = master_load_config(path, &errs);

	if (cfg == NULL)
		config_errors_print(&errs, stderr);
	config_errors_free(&errs);
	return cfg;
}

/* How long -s WORD waits for the master's answer over the control socket:
 * a stop for the workers to retire (shutdown_timeout and the master's
 * margins), a reload for the new generation to serve, an upgrade for the
 * new master to serve or for the master to give up on it (UPGRADE_READY_MS),
 * with a margin. */
static int answer_ms(const struct config *cfg, int cmd)
{
	if (cmd == CONTROL_STOP || cmd == CONTROL_QUIT)
		return (cfg->shutdown_timeout + 15) * 1000;
	if (cmd == CONTROL_UPGRADE)
		return UPGRADE_READY_MS + 15000;
	return cmd == CONTROL_RELOAD ? 60000 : 10000;
}

/*
 * -s WORD over cfg's control socket.  Returns the exit status, or -1 if no
 * master answers there (errno says why) so that the caller may fall back to
 * the signal.
 */
static int ask_master(const struct config *cfg, const char *word, int json)
{
	int cmd = control_from_word(word);
	char request[32];

	snprintf(request, sizeof(request), "%s%s", word, json ? " json" : "");
	switch (control_request(cfg->control_socket, request,
	                        cmd == CONTROL_STOP || cmd == CONTROL_QUIT, answer_ms(cfg, cmd),
	                        stdout, stderr)) {
	case CONTROL_OK:
		return EXIT_OK;
	case CONTROL_NO_MASTER:
		return -1;
	case CONTROL_FAILED:
	case CONTROL_LOST:
		break;
	}
	return EXIT_RUNTIME;
}

/* The name `kill -l` gives signo, for messages. */
static const char *signal_abbrev(int signo)
{
	switch (signo) {
	case SIGHUP:
		return "HUP";
	case SIGTERM:
		return "TERM";
	case SIGQUIT:
		return "QUIT";
	case SIGUSR1:
		return "USR1";
	case SIGUSR2:
		return "USR2";
	default:
		return "a signal";
	}
}

/*
 * -s WORD: signal the master named in cfg's pid_file; frees cfg.  Only a
 * process that holds the pid file's lock and has the file open is signalled
 * (pidfile_check), and never pid 1: a stale file may name anything.  Returns
 * the exit status: 1 with a message if no master runs.
 */
static int send_signal(struct config *cfg, const char *word)
{
	int signo = signals_from_word(word);
	int rc = EXIT_RUNTIME;
	pid_t pid;

	if (cfg->pid_file == NULL) {
		fprintf(stderr, "echod: %s sets no pid_file: cannot find the master\n", cfg->file);
		goto out;
	}
	switch (pidfile_check(cfg->pid_file, &pid)) {
	case PIDFILE_RUNNING:
		break;
	case PIDFILE_ABSENT:
		fprintf(stderr, "echod: no master runs (%s: %s)\n", cfg->pid_file, strerror(errno));
		goto out;
	case PIDFILE_STALE:
		if (pid > 0)
			fprintf(stderr,
			        "echod: no master runs: %s is stale (it names pid %ld, but no "
			        "process holds its lock); nothing signalled\n",
			        cfg->pid_file, (long)pid);
		else
			fprintf(stderr, "echod: no master runs: %s is stale; nothing signalled\n",
			        cfg->pid_file);
		goto out;
	case PIDFILE_FOREIGN:
		if (pid == 0)
			fprintf(stderr, "echod: %s is locked but names no pid; nothing signalled\n",
			        cfg->pid_file);
		else
			fprintf(stderr,
			        "echod: %s names pid %ld, which is not the master that holds "
			        "it; nothing signalled\n",
			        cfg->pid_file, (long)pid);
		goto out;
	case PIDFILE_ERROR:
		fprintf(stderr, "echod: cannot check %s: %s\n", cfg->pid_file, strerror(errno));
		goto out;
	}
	if (kill(pid, signo) == -1) {
		fprintf(stderr, "echod: cannot signal master %ld: %s\n", (long)pid,
		        strerror(errno));
		goto out;
	}
	printf("echod: sent %s to pid %ld; outcome in the log\n", signal_abbrev(signo), (long)pid);
	rc = EXIT_OK;
out:
	config_free(cfg);
	return rc;
}

/*
 * -s WORD: over cfg's control socket if it has one, where the outcome is
 * known; else, or if no master answers there (one started before the file
 * named the socket), by the signal.  A word with no signal (status) needs
 * the socket.  Frees cfg; returns the exit status.
 */
static int signal_master(struct config *cfg, const char *word, int json)
{
	if (cfg->control_socket != NULL) {
		int rc = ask_master(cfg, word, json);
		if (rc != -1) {
			config_free(cfg);
			return rc;
		}
		if (signals_from_word(word) != -1)
			fprintf(stderr, "echod: no master answers on %s (%s); signalling instead\n",
			        cfg->control_socket, strerror(errno));
	}
	if (signals_from_word(word) != -1)
		return send_signal(cfg, word);
	if (cfg->control_socket == NULL)
		fprintf(stderr, "echod: -s %s needs control_socket, which %s does not set\n", word,
		        cfg->file);
	else
		fprintf(stderr, "echod: no master answers on %s: %s\n", cfg->control_socket,
		        strerror(errno));
	config_free(cfg);
	return EXIT_RUNTIME;
}

/*
 * path made absolute against the current directory (a new string, or NULL
 * with errno): the master reads it again on every reload, and after -d its
 * current directory is /.  Symbolic links are kept, not resolved, so that a
 * link switched to another file is followed on the next reload.
 */
static char *absolute_path(const char *path)
{
	char *cwd, *abs;
	size_t len;

	if (path[0] == '/')
		return strdup(path);
	if ((cwd = getcwd(NULL, 0)) == NULL)
		return NULL;
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	len = strlen(cwd) + 1 + strlen(path) + 1;
	if ((abs = malloc(len)) != NULL)
		snprintf(abs, len, "%s%s%s", cwd, strcmp(cwd, "/") == 0 ? "" : "/", path);
	free(cwd);
	return abs;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'}, {"test", no_argument, NULL, 't'},
	    {"daemon", no_argument, NULL, 'd'},       {"signal", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},         {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	const char *path = DEFAULT_CONFIG;
	const char *signame = NULL;
	int test = 0, daemonize = 0, json = 0, path_given = 0, ch;

	while ((ch = getopt_long(argc, argv, "c:tds:jVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			/* optarg is never NULL for an option that requires an
			 * argument; the analyzer cannot know it. */
			path = optarg != NULL ? optarg : path;
			path_given = 1;
			break;
		case 't':
			test = 1;
			break;
		case 'd':
			daemonize = 1;
			break;
		case 's':
			signame = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'V':
			version(stdout);
			return EXIT_OK;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "echod: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (signame != NULL && signals_from_word(signame) == -1 &&
	    control_from_word(signame) == -1) {
		fprintf(
		    stderr,
		    "echod: unknown signal '%s' (reload, stop, quit, reopen, upgrade or status)\n",
		    signame);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (json && (signame == NULL || control_from_word(signame) != CONTROL_STATUS)) {
		fprintf(stderr, "echod: -j goes with -s status only\n");
		return EXIT_USAGE;
	}
	/* Before libconfig's terse "FILE: No such file or directory": which
	 * file was meant, and how to name another. */
	if (access(path, R_OK) == -1) {
		fprintf(stderr, "echod: cannot read %s: %s%s\n", path, strerror(errno),
		        path_given ? "" : " (the default; name another with -c FILE)");
		return EXIT_CONFIG;
	}
	if (test) {
		struct config *cfg = load(path);
		if (cfg == NULL)
			return EXIT_CONFIG;
		printf("%s: ok\n", path);
		config_free(cfg);
		return EXIT_OK;
	}

	char *abs = absolute_path(path);
	if (abs == NULL) {
		fprintf(stderr, "echod: %s: %s\n", path, strerror(errno));
		return EXIT_RUNTIME;
	}
	struct config *cfg = load(abs);
	int rc = EXIT_CONFIG;
	if (cfg != NULL)
		rc = signame != NULL ? signal_master(cfg, signame, json)
		                     : master_run(cfg, abs, daemonize);
	free(abs);
	return rc;
}
