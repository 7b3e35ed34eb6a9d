/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * main.c - redeployd: supervise the web service; the loopback endpoint.
 *
 * Order: arguments; config (-n stops here); as root, resolve the service
 * user and the token group; a fresh token file; the stale service group of
 * an agent that died is stopped; bind loopback; daemonize unless -f; drop
 * to the service user for good (verified); then one event loop.
 * Exit codes: 0 stopped by SIGTERM/SIGINT, 2 usage or config, 3 system.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <unistd.h>

#include "ids.h"
#include "log.h"
#include "redeployd.h"
#include "token.h"
#include "version.h"


static const char usage_text[] =
"usage: redeployd [-c CONFIG] [-f] [-n] [-v] [-p KEY]\n"
"\n"
"Runs the [service] command of CONFIG in <path>/current as the service\n"
"user and restarts it on POST /restart to the [agent] listen address.\n"
"\n"
"  -c, --config FILE   config (default: $REDEPLOY_CONFIG, " CONFIG_DEFAULT_PATH ")\n"
"  -f, --foreground    stay in the foreground, log to stderr too\n"
"                      (the default when not started as root)\n"
"  -n, --check         check the config, print \"configuration OK\", exit\n"
"  -v, --verbose       debug lines\n"
"  -p, --print KEY     print one value of the config as loaded, exit\n"
"                      (agent, agent.listen, agent.token_file, ...)\n"
"  -h, --help / -V, --version\n"
"\n"
"Signals: TERM, INT stop the service and exit 0; HUP re-reads the config\n"
"(the next restart applies it).  See redeployd(8).\n";

struct agent {
	struct loop	*loop;
	struct svc	*svc;
	struct http	*http;
	struct config	 cfg[2];	/* the live one and a reload */
	struct sockets	 socks;		/* [service] listen, held for life */
	int		 live;
	const char	*cfgpath;
	int		 sigfd;
};

static void
agent_stopped(void *arg)
{
	struct agent *a = arg;

	loop_stop(a->loop);
}

static void
agent_reload(struct agent *a)
{
	struct config *next = &a->cfg[!a->live], *cur = &a->cfg[a->live];
	char err[CONFIG_ERRLEN];

	config_free(next);
	if (config_load(next, a->cfgpath, err, sizeof(err)) == -1) {
		log_event(LOG_ERR, "reload config=%s result=refused "
		    "reason=\"%s; keeping the running config\"", a->cfgpath,
		    err);
		return;
	}
	if (!next->has_service || strcmp(next->listen, cur->listen) != 0 ||
	    strcmp(next->token_file, cur->token_file) != 0 ||
	    (cur->user && (!next->user || strcmp(cur->user, next->user))))
		log_event(LOG_WARNING, "reload config=%s result=partial "
		    "reason=\"listen, token_file and user need a restart of "
		    "redeployd; the rest applies at the next restart\"",
		    a->cfgpath);
	if (next->has_service && !sockets_same(&a->socks, next))
		log_event(LOG_WARNING, "reload config=%s result=partial "
		    "reason=\"[service] listen changed; redeployd keeps the "
		    "sockets it holds (%s) until it is restarted\"", a->cfgpath,
		    a->socks.n ? a->socks.listen : "none");
	if (next->has_service && (next->svc_listen.n > 0) !=
	    (a->socks.n > 0)) {
		log_event(LOG_ERR, "reload config=%s result=refused "
		    "reason=\"[service] listen cannot be added or removed "
		    "without a restart of redeployd; keeping the running "
		    "config\"", a->cfgpath);
		config_free(next);
		return;
	}
	if (!next->has_service) {
		config_free(next);
		return;
	}
	svc_set_config(a->svc, next);
	http_set_config(a->http, next);
	a->live = !a->live;
	config_free(cur);
	log_event(LOG_NOTICE, "reloaded config=%s", a->cfgpath);
}

static void
agent_signal(void *arg, uint32_t events)
{
	struct agent *a = arg;
	struct signalfd_siginfo si;

	while (read(a->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			svc_reap(a->svc);
			break;
		case SIGHUP:
			agent_reload(a);
			break;
		case SIGTERM:
		case SIGINT:
			log_event(LOG_NOTICE, "stopping signal=%s",
			    strsignal((int)si.ssi_signo));
			svc_shutdown(a->svc, agent_stopped, a);
			break;
		}
	}
}

/* Not root: the service runs as us, so [service] user must be us. */
static int
agent_self(const struct config *cfg, char *home, size_t n)
{
	struct passwd *pw;
	const char *h = getenv("HOME");

	/* by id: the config may name the user by number */
	pw = cfg->user ? ids_user(cfg->user) : NULL;
	if (cfg->user != NULL && (pw == NULL || pw->pw_uid != getuid())) {
		pw = getpwuid(getuid());
		log_warnx("[service] user '%s' needs redeployd to start as root "
		    "(or unset it to run the service as '%s')", cfg->user,
		    pw ? pw->pw_name : "this user");
		return -1;
	}
	pw = getpwuid(getuid());
	snprintf(home, n, "%s", h ? h : pw ? pw->pw_dir : "/");
	return 0;
}

static int
agent_token_gid(const struct config *cfg, gid_t *gid)
{
	const char *name = cfg->token_group ? cfg->token_group : cfg->group;
	struct group *gr;

	*gid = getgid();
	if (name == NULL)
		return 0;
	if ((gr = ids_group(name)) == NULL) {
		log_warnx("token_group '%s' is not a group on this machine",
		    name);
		return -1;
	}
	*gid = gr->gr_gid;
	return 0;
}

static int
agent_daemonize(void)
{
	pid_t pid;
	int fd;

	if ((pid = fork()) == -1)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() == -1)
		return -1;
	if ((pid = fork()) == -1)
		return -1;
	if (pid > 0)
		_exit(0);
	if (chdir("/") == -1)
		return -1;
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "check", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "print", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	struct agent a = { .sigfd = -1 };
	struct privdrop pd = { .uid = (uid_t)-1, .gid = (gid_t)-1 };
	struct config *cfg = &a.cfg[0];
	char err[ERRLEN], token[TOKEN_HEXLEN + 1], home[256], pidpath[PATH_MAX];
	char tokpath[PATH_MAX];
	const char *env = getenv("REDEPLOY_CONFIG"), *printkey = NULL;
	int ch, fg = 0, check = 0, verbose = 0, root = geteuid() == 0;
	int lfd = -1, pidfd = -1, port = 0, rc = EXIT_SYSTEM, pid_fresh;
	gid_t tgid = (gid_t)-1;
	sigset_t set;
	struct rlimit core;

	/* The token lives in this process: no core file, no ptrace or
	 * /proc/PID/mem by the same user, in every mode (root or not).  Not
	 * being dumpable is what guards it (also from a core_pattern pipe,
	 * which ignores the limit); the soft limit of 0 is a second word.
	 * The hard limit stays, so the service gets back the limit we had. */
	if (getrlimit(RLIMIT_CORE, &core) == -1)
		core = (struct rlimit){ 0, 0 };
	(void)setrlimit(RLIMIT_CORE, &(struct rlimit){ 0, core.rlim_max });
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* fds 0-2 must be taken, or a later open (the locked pid file)
	 * lands there and daemonizing's dup2 of /dev/null drops it. */
	while ((ch = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1 && ch < 3)
		(void)fcntl(ch, F_SETFD, 0);
	if (ch > 2)
		close(ch);
	/* Whatever our starter left open (a root-owned file, a pipe) must
	 * not follow us across the privilege drop into the service. */
	(void)syscall(SYS_close_range, 3U, ~0U, 0U);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "c:fnvhVp:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			a.cfgpath = optarg;
			break;
		case 'f':
			fg = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'p':
			printkey = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("redeployd %s\n", REDEPLOY_VERSION);
			return 0;
		default:
			if (optopt == 'c')
				fprintf(stderr, "redeployd: option '%s' needs "
				    "a config file (redeployd -c FILE)\n",
				    argv[optind - 1]);
			else
				fprintf(stderr, "redeployd: unknown option "
				    "'%s' (see 'redeployd --help')\n",
				    argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "redeployd: unexpected argument '%s'\n",
		    argv[optind]);
		return EXIT_USAGE;
	}
	if (!root)
		fg = 1;
	/* Startup errors reach whoever started us; once detached, syslog. */
	log_init("redeployd", "redeployd", LOG_TO_STDERR | LOG_TO_SYSLOG |
	    LOG_MIRROR, LOG_DAEMON);
	log_setverbose(verbose);
	if (a.cfgpath == NULL)
		a.cfgpath = env && *env ? env : CONFIG_DEFAULT_PATH;
	if (config_load(cfg, a.cfgpath, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return EXIT_USAGE;
	}
	if (printkey) {
		rc = agent_print(cfg, printkey);
		goto out;
	}
	if (!cfg->has_service) {
		log_warnx("'%s' has no [agent] and [service]: nothing to "
		    "supervise (a static site needs no agent)", cfg->file);
		rc = EXIT_USAGE;
		goto out;
	}
	if (cfg->authbind && access("/usr/bin/authbind", X_OK) == -1) {
		log_warnx("authbind = yes but /usr/bin/authbind is missing "
		    "(apt-get install authbind)");
		rc = EXIT_USAGE;
		goto out;
	}
	if (root) {
		if (privdrop_resolve(cfg->user, cfg->svc_group, &pd, err,
		    sizeof(err)) == -1 || agent_token_gid(cfg, &tgid) == -1) {
			if (pd.uid == (uid_t)-1 && err[0])
				log_warnx("%s: %s", cfg->file, err);
			rc = EXIT_USAGE;
			goto out;
		}
		snprintf(home, sizeof(home), "%s", pd.home);
	} else if (agent_self(cfg, home, sizeof(home)) == -1) {
		rc = EXIT_USAGE;
		goto out;
	}
	if (startcheck_command(cfg, root ? pd.uid : getuid(), root ? pd.gid :
	    getgid(), err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		rc = EXIT_USAGE;
		goto out;
	}
	if (authbind_diagnose(cfg, root ? pd.uid : getuid(), root ? pd.gid :
	    getgid(), err, sizeof(err)) == -1)
		log_warnx("%s", err);
	/* Nothing is created in a directory others can write; -n says so
	 * too, or it would pass a config that cannot start. */
	if (token_check_dir(cfg->token_file, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		if (check)
			rc = EXIT_USAGE;
		goto out;
	}
	if (check) {
		printf("configuration OK\n");
		rc = 0;
		goto out;
	}
	snprintf(tokpath, sizeof(tokpath), "%s", cfg->token_file);
	snprintf(pidpath, sizeof(pidpath), "%s.service.pid", tokpath);
	pid_fresh = access(pidpath, F_OK) == -1 && errno == ENOENT;
	if ((pidfd = pidfile_open(pidpath, root ? pd.uid : (uid_t)-1,
	    root ? pd.gid : (gid_t)-1, err, sizeof(err))) == -1) {
		log_warnx("%s", err);
		goto out;
	}
	/* Our port before our token: an agent that cannot listen leaves no
	 * fresh token (nor a pid file it made) behind. */
	if ((lfd = http_listen(cfg, &port, err, sizeof(err))) == -1) {
		log_warnx("%s", err);
		if (pid_fresh)
			(void)unlink(pidpath);
		goto out;
	}
	if (token_generate(token) == -1 ||
	    token_write(cfg->token_file, token, root ? tgid : (gid_t)-1, err,
	    sizeof(err)) == -1) {
		log_warnx("%s", err[0] ? err : "cannot make a token");
		goto out;
	}
	err[0] = '\0';
	switch (pidfile_reap_stale(pidfd, cfg->stop_timeout, err,
	    sizeof(err))) {
	case 1:
		log_event(LOG_WARNING, "stale reason=%s", err);
		break;
	case -1:	/* the port may still be taken: say so, go on */
		log_warnx("%s", err[0] ? err : "cannot stop the old service");
		break;
	}
	/* The service's public sockets, bound while we are root. */
	if (cfg->svc_listen.n > 0 && sockets_open(&a.socks, cfg, root ?
	    pd.uid : (uid_t)-1, root ? pd.gid : (gid_t)-1, err,
	    sizeof(err)) == -1) {
		log_warnx("%s", err);
		goto out;
	}
	if (!fg) {
		if (agent_daemonize() == -1) {
			log_warn("daemonize");
			goto out;
		}
		log_init("redeployd", "redeployd", LOG_TO_SYSLOG, LOG_DAEMON);
	}
	if (root && privdrop_apply(&pd, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		goto out;
	}

	/* Orphans of the service come to us, not to init, so that a stop
	 * can find and end every process the service started. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1) {
		log_warn("PR_SET_CHILD_SUBREAPER");
		goto out;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* An inherited SIG_IGN for SIGCHLD would make the kernel reap the
	 * service itself, and the loop would never see it exit. */
	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1 ||
	    (a.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1 ||
	    (a.loop = loop_new()) == NULL ||
	    loop_add(a.loop, a.sigfd, EPOLLIN, agent_signal, &a) == -1 ||
	    (a.svc = svc_new(a.loop, cfg, home, pidfd)) == NULL) {
		log_warn("starting the event loop");
		goto out;
	}
	svc_set_sockets(a.svc, &a.socks);
	svc_set_core_limit(a.svc, &core);
	if ((a.http = http_new(a.loop, lfd, token, a.svc, cfg, err,
	    sizeof(err))) == NULL) {
		log_warnx("%s", err);
		goto out;
	}
	lfd = -1;	/* libmicrohttpd owns it now */
	explicit_bzero(token, sizeof(token));
	log_event(LOG_NOTICE, "started pid=%ld listen=%s:%d user=%s mode=%s "
	    "sockets=%zu config=%s", (long)getpid(), cfg->listen_host, port,
	    root ? pd.name : "(caller)", svc_mode_name(cfg), a.socks.n,
	    cfg->file);
	svc_boot(a.svc);
	if (loop_run(a.loop) == -1) {
		log_warn("event loop");
		goto out;
	}
	/* A stopped agent leaves no token to trust and no group to reap.
	 * In a root-owned directory (systemd's RuntimeDirectory) the dropped
	 * agent cannot unlink: the pid file is empty by now and the next
	 * start writes a fresh token. */
	if (unlink(tokpath) == -1 && errno != ENOENT && errno != EACCES)
		log_warn("removing '%s'", tokpath);
	if (unlink(pidpath) == -1 && errno != ENOENT && errno != EACCES)
		log_warn("removing '%s'", pidpath);
	log_event(LOG_NOTICE, "stopped");
	rc = 0;
out:
	explicit_bzero(token, sizeof(token));
	/* Waiters first: MHD must not stop with suspended connections. */
	svc_free(a.svc);
	http_free(a.http);
	loop_free(a.loop);
	if (a.sigfd != -1)
		close(a.sigfd);
	if (lfd != -1)
		close(lfd);
	if (pidfd != -1)
		close(pidfd);
	sockets_close(&a.socks);
	config_free(&a.cfg[0]);
	config_free(&a.cfg[1]);
	return rc;
}
