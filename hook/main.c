/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * main.c - redeploy: the git hook and the operator's command line.
 *
 * main parses arguments, finds and loads the config, then runs one command.
 * Exit codes: 0 ok or nothing to do, 1 deploy failed, 2 usage or config
 * error, 3 system error (doc/redeploy.1).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "log.h"
#include "redeploy.h"
#include "version.h"

extern char **environ;

static const char usage_text[] =
"usage: redeploy [-c CONFIG] COMMAND [ARGS]\n"
"\n"
"  hook [REF...]        run from a bare repository's post-update hook (REFs)\n"
"                       or post-receive hook (\"old new ref\" lines on stdin)\n"
"  hook --pre-receive   run from a pre-receive hook: deploy before the ref\n"
"                       moves; a failed deploy refuses the push\n"
"  deploy [REV]         deploy REV (default: the branch tip) by hand\n"
"  rollback [ID]        switch back to ID (default: the previous good\n"
"                       release) and restart\n"
"  releases             list releases, newest first; '*' marks current\n"
"  status [--json]      the agent's view of the service\n"
"  log [-n N]           the service's last N output lines (default 100)\n"
"  restart              ask the agent to restart the service, wait\n"
"  check                validate the config, directories and the agent\n"
"  install-hook [--pre-receive] REPO\n"
"                       write REPO/hooks/post-update (and with --pre-receive\n"
"                       REPO/hooks/pre-receive) calling this config\n"
"\n"
"  -c, --config FILE    config file (default: $REDEPLOY_CONFIG, the\n"
"                       repository's redeploy.config, " CONFIG_DEFAULT_PATH ")\n"
"  -h, --help           this help;  -V, --version  the version\n"
"\n"
"Exit status: 0 ok or nothing to do, 1 deploy failed, 2 usage or config\n"
"error, 3 system error.  See redeploy(1) and redeploy.ini(5).\n";

static void
usage(FILE *f)
{
	fputs(usage_text, f);
}

static void
main_bad_option(const char *arg)
{
	if (optopt == 'c')
		log_warnx("option '%s' needs a config file", arg);
	else
		log_warnx("unknown option '%s' (see 'redeploy --help')", arg);
}

/* GL_USER (gitolite) or the Unix user, made safe for key=value lines. */
static void
main_pusher(char *out, size_t n)
{
	const char *u = getenv("GL_USER");
	struct passwd *pw;
	size_t i;

	if (u == NULL || *u == '\0')
		u = (pw = getpwuid(getuid())) ? pw->pw_name : "unknown";
	for (i = 0; u[i] != '\0' && i + 1 < n; i++)
		out[i] = isalnum((unsigned char)u[i]) ||
		    strchr("._@+-", u[i]) ? u[i] : '_';
	out[i] = '\0';
}

/* Drop GIT_* from the environment once GIT_DIR has been read. */
static void
main_scrub_git_env(void)
{
	char **e, name[256];
	size_t len;
	int again = 1;

	while (again) {
		again = 0;
		for (e = environ; e && *e; e++) {
			if (strncmp(*e, "GIT_", 4) != 0)
				continue;
			len = strcspn(*e, "=");
			if (len >= sizeof(name))
				continue;
			memcpy(name, *e, len);
			name[len] = '\0';
			unsetenv(name);
			again = 1;
			break;
		}
	}
}

static int
main_load(struct config *cfg, const char *opt, const char *git_dir)
{
	char path[PATH_MAX], err[CONFIG_ERRLEN];
	const char *env = getenv("REDEPLOY_CONFIG");

	if (opt != NULL)
		snprintf(path, sizeof(path), "%s", opt);
	else if (env != NULL && *env != '\0')
		snprintf(path, sizeof(path), "%s", env);
	else if (git_dir == NULL ||
	    repo_config_path(git_dir, path, sizeof(path)) == -1)
		snprintf(path, sizeof(path), "%s", CONFIG_DEFAULT_PATH);
	if (config_load(cfg, path, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		log_event(LOG_ERR, "refused reason=\"config: %s\"", err);
		return -1;
	}
	log_settag(cfg->syslog_tag);
	return 0;
}

static int
main_same_repo(const struct config *cfg, const char *git_dir)
{
	char abs[PATH_MAX];

	if (cfg->repository == NULL)
		return 0;
	if (realpath(cfg->repository, abs) != NULL && strcmp(abs, git_dir) == 0)
		return 0;
	log_warnx("this hook runs in '%s' but [deploy] repository in '%s' is "
	    "'%s': install the hook in the right repository or fix the config",
	    git_dir, cfg->file, cfg->repository);
	return -1;
}

/*
 * Does the repository have BRANCH_REF, as a loose ref or in packed-refs?
 * Only a hint for a message: 0 sends the caller to libgit2 for the answer.
 */
static int
main_branch_known(const char *git_dir, const char *branch_ref)
{
	char path[PATH_MAX], *line = NULL;
	const char *sp;
	size_t cap = 0, n = strlen(branch_ref);
	ssize_t len;
	struct stat st;
	FILE *f;
	int found = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", git_dir,
	    branch_ref) < sizeof(path) && lstat(path, &st) == 0 &&
	    S_ISREG(st.st_mode))
		return 1;
	if ((size_t)snprintf(path, sizeof(path), "%s/packed-refs", git_dir) >=
	    sizeof(path) || (f = fopen(path, "re")) == NULL)
		return 0;
	/* lines are "<sha> <ref>\n" */
	while (!found && (len = getline(&line, &cap, f)) > 0) {
		sp = memchr(line, ' ', (size_t)len);
		found = sp != NULL && line[len - 1] == '\n' &&
		    (size_t)(line + len - 1 - (sp + 1)) == n &&
		    memcmp(sp + 1, branch_ref, n) == 0;
	}
	free(line);
	fclose(f);
	return found;
}

/* A pushed ref that does not deploy: say which one does, and whether the
 * repository has it at all (a typo in [deploy] branch). */
static void
main_ignoring(const struct config *cfg, const char *git_dir, const char *ref,
    const char *branch_ref)
{
	git_repository *repo = NULL;
	git_reference *r = NULL;
	char err[ERRLEN], have[300];

	/* The usual case needs no libgit2 (whose start costs more than the
	 * rest of such a run): the branch is there, as a file or packed. */
	if (main_branch_known(git_dir, branch_ref)) {
		log_info("ignoring %s: only branch '%s' deploys ([deploy] "
		    "branch in '%s')", ref, cfg->branch, cfg->file);
		return;
	}
	if (repo_open(&repo, git_dir, err, sizeof(err)) == 0 &&
	    git_reference_lookup(&r, repo, branch_ref) != 0 &&
	    branches_list(repo, have, sizeof(have)) > 0)
		log_info("ignoring %s: only branch '%s' deploys, and this "
		    "repository has no such branch (it has %s; fix [deploy] "
		    "branch in '%s')", ref, cfg->branch, have, cfg->file);
	else
		log_info("ignoring %s: only branch '%s' deploys ([deploy] "
		    "branch in '%s')", ref, cfg->branch, cfg->file);
	git_reference_free(r);
	git_repository_free(repo);
}

static int
cmd_hook(const char *cfgpath, int argc, char **argv)
{
	struct config cfg = { 0 };
	struct refs refs = { 0 };
	struct deploy_req req = { 0 };
	git_repository *repo = NULL;
	git_reference *ref = NULL;
	char git_dir[PATH_MAX], err[ERRLEN], branch_ref[300], pusher[64];
	char *text = NULL;
	size_t i;
	int rc = EXIT_USAGE, pre = 0;

	if (argc > 0 && strcmp(argv[0], "--pre-receive") == 0) {
		pre = 1;
		argc--;
		argv++;
	}
	if (argc > 0 && argv[0][0] == '-') {
		log_warnx("unknown option '%s' (see 'redeploy --help')",
		    argv[0]);
		return EXIT_USAGE;
	}
	if (repo_git_dir(git_dir, sizeof(git_dir), err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return EXIT_USAGE;
	}
	/* The one other GIT_* variable we take, and only in pre-receive. */
	if (pre && repo_set_quarantine(git_dir, getenv("GIT_QUARANTINE_PATH"),
	    err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return EXIT_USAGE;
	}
	main_scrub_git_env();
	if (main_load(&cfg, cfgpath, git_dir) == -1)
		return EXIT_USAGE;
	main_pusher(pusher, sizeof(pusher));
	if (main_same_repo(&cfg, git_dir) == -1)
		goto out;
	if (pre && argc > 0) {
		log_warnx("usage: redeploy hook --pre-receive (\"old new ref\" "
		    "lines on stdin)");
		goto out;
	}
	if (argc > 0)
		rc = refs_from_args(&refs, argc, argv);
	else if ((rc = fs_read_fd(STDIN_FILENO, 1 << 20, &text,
	    NULL)) == 0)
		rc = refs_from_lines(&refs, text, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "reading stdin: %s",
		    strerror(errno));
	if (rc == -1) {
		log_warnx("%s", err);
		rc = EXIT_USAGE;
		goto out;
	}
	snprintf(branch_ref, sizeof(branch_ref), "refs/heads/%s", cfg.branch);
	for (i = 0; i < refs.n; i++)
		if (strcmp(refs.v[i].ref, branch_ref) != 0)
			main_ignoring(&cfg, git_dir, refs.v[i].ref, branch_ref);
	rc = 0;
	req.cfg = &cfg;
	req.repo_path = git_dir;
	req.pusher = pusher;
	if (pre) {
		rc = prereceive_run(&cfg, git_dir, &refs, branch_ref, pusher);
		goto out;
	}
	switch (refs_judge(&refs, branch_ref)) {
	case REFS_IGNORE:
		deploy_reconcile(&req);
		goto out;
	case REFS_DEPLOY:
		/* post-update says nothing of deletions: look. */
		if (repo_open(&repo, git_dir, err, sizeof(err)) == 0 &&
		    git_reference_lookup(&ref, repo, branch_ref) != 0 &&
		    git_error_last() != NULL)
			break;
		req.cfg = &cfg;
		req.repo_path = git_dir;
		req.ref = branch_ref;
		req.pusher = pusher;
		git_reference_free(ref);
		git_repository_free(repo);
		repo = NULL;
		ref = NULL;
		rc = deploy_run(&req);
		goto out;
	case REFS_DELETED:
		break;
	}
	deploy_reconcile(&req);
	log_info("%s was deleted: nothing deployed, current release unchanged",
	    branch_ref);
	log_event(LOG_NOTICE, "deploy release=- ref=%s pusher=%s "
	    "result=ignored reason=\"branch deleted\"", branch_ref, pusher);
out:
	git_reference_free(ref);
	git_repository_free(repo);
	free(text);
	refs_free(&refs);
	config_free(&cfg);
	return rc;
}

static char *
main_copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src);
	return dst;
}

static int
main_repo_path(const struct config *cfg, char *out, size_t n)
{
	char err[ERRLEN];

	if (cfg->repository != NULL) {
		snprintf(out, n, "%s", cfg->repository);
		return 0;
	}
	if (getenv("GIT_DIR") != NULL &&
	    repo_git_dir(out, n, err, sizeof(err)) == 0)
		return 0;
	log_warnx("set [deploy] repository in '%s' to deploy by hand",
	    cfg->file);
	return -1;
}

static int
cmd_deploy(const char *cfgpath, int argc, char **argv)
{
	struct config cfg = { 0 };
	struct deploy_req req = { 0 };
	char repo[PATH_MAX], pusher[64];
	int rc = EXIT_USAGE;

	if (argc > 1) {
		log_warnx("usage: redeploy deploy [REV]");
		return EXIT_USAGE;
	}
	if (main_load(&cfg, cfgpath, NULL) == -1)
		return EXIT_USAGE;
	if (main_repo_path(&cfg, repo, sizeof(repo)) == -1)
		goto out;
	main_scrub_git_env();
	main_pusher(pusher, sizeof(pusher));
	req.cfg = &cfg;
	req.repo_path = repo;
	req.rev = argc == 1 ? argv[0] : NULL;
	req.ref = argc == 1 ? argv[0] : NULL;
	req.pusher = pusher;
	rc = deploy_run(&req);
out:
	config_free(&cfg);
	return rc;
}

static int
cmd_releases(const char *cfgpath, int argc, char **argv)
{
	struct config cfg = { 0 };
	struct release_list l = { 0 };
	struct tm tm;
	char when[32];
	time_t t;
	size_t i;
	int fd, rc = EXIT_USAGE;

	if (argc > 0) {
		log_warnx("usage: redeploy releases");
		return EXIT_USAGE;
	}
	if (main_load(&cfg, cfgpath, NULL) == -1)
		return EXIT_USAGE;
	if ((fd = open(cfg.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    release_list(fd, &l) == -1) {
		log_warn("listing releases in '%s'", cfg.path);
		rc = EXIT_SYSTEM;
		goto out;
	}
	if (l.n == 0)
		printf("no releases in '%s/releases' yet\n", cfg.path);
	for (i = 0; i < l.n; i++) {
		t = (time_t)l.v[i].time;
		if (l.v[i].time == 0 || gmtime_r(&t, &tm) == NULL ||
		    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
			snprintf(when, sizeof(when), "-");
		printf("%s %s  %.7s  %-8s  %-12s  %s%s%s\n",
		    l.v[i].current ? "*" : " ", l.v[i].id,
		    l.v[i].commit[0] ? l.v[i].commit : "-", l.v[i].result,
		    l.v[i].pusher[0] ? l.v[i].pusher : "-", when,
		    l.v[i].reason[0] ? "  " : "", l.v[i].reason);
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	release_list_free(&l);
	config_free(&cfg);
	return rc;
}

static int
cmd_check(const char *cfgpath, int argc, char **argv)
{
	struct config cfg = { 0 };
	int rc;

	if (argc > 0) {
		log_warnx("usage: redeploy check");
		return EXIT_USAGE;
	}
	if (main_load(&cfg, cfgpath, NULL) == -1)
		return EXIT_USAGE;
	rc = check_run(&cfg);
	config_free(&cfg);
	return rc;
}

static int
cmd_install_hook(const char *cfgpath, int argc, char **argv)
{
	struct config cfg = { 0 };
	char self[PATH_MAX];
	ssize_t n;
	int rc, pre = 0;

	if (argc == 2 && strcmp(argv[0], "--pre-receive") == 0) {
		pre = 1;
		argc--;
		argv++;
	}
	if (argc != 1 || argv[0][0] == '-') {
		log_warnx("usage: redeploy [-c CONFIG] install-hook "
		    "[--pre-receive] REPO");
		return EXIT_USAGE;
	}
	/* The hook must name a config that loads, by absolute path. */
	if (main_load(&cfg, cfgpath, NULL) == -1)
		return EXIT_USAGE;
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) == -1) {
		log_warn("finding this program's path");
		config_free(&cfg);
		return EXIT_SYSTEM;
	}
	self[n] = '\0';
	rc = install_hook(argv[0], cfg.file, self, pre);
	config_free(&cfg);
	return rc;
}

static int
cmd_status(const char *cfgpath, int argc, char **argv)
{
	struct config cfg = { 0 };
	int json = 0, rc;

	if (argc == 1 && strcmp(argv[0], "--json") == 0)
		json = 1;
	else if (argc > 0) {
		log_warnx("usage: redeploy status [--json]");
		return EXIT_USAGE;
	}
	if (main_load(&cfg, cfgpath, NULL) == -1)
		return EXIT_USAGE;
	rc = ops_status(&cfg, json);
	config_free(&cfg);
	return rc;
}

static int
cmd_log(const char *cfgpath, int argc, char **argv)
{
	struct config cfg = { 0 };
	long lines = 100;
	char *end;
	int rc;

	if (argc == 2 && strcmp(argv[0], "-n") == 0) {
		errno = 0;
		lines = strtol(argv[1], &end, 10);
		if (errno != 0 || *end != '\0' || lines < 1 || lines > 1000) {
			log_warnx("-n takes a number of lines from 1 to 1000");
			return EXIT_USAGE;
		}
	} else if (argc != 0) {
		log_warnx("usage: redeploy log [-n N]");
		return EXIT_USAGE;
	}
	if (main_load(&cfg, cfgpath, NULL) == -1)
		return EXIT_USAGE;
	rc = ops_log(&cfg, lines);
	config_free(&cfg);
	return rc;
}

static int
cmd_restart(const char *cfgpath, int argc, char **argv)
{
	struct config cfg = { 0 };
	int rc;

	if (argc > 0) {
		log_warnx("usage: redeploy restart");
		return EXIT_USAGE;
	}
	if (main_load(&cfg, cfgpath, NULL) == -1)
		return EXIT_USAGE;
	rc = ops_restart(&cfg);
	config_free(&cfg);
	return rc;
}

static int
cmd_rollback(const char *cfgpath, int argc, char **argv)
{
	struct config cfg = { 0 };
	struct deploy_req req = { 0 };
	char repo[PATH_MAX], pusher[64];
	int rc;

	if (argc > 1) {
		log_warnx("usage: redeploy rollback [ID]");
		return EXIT_USAGE;
	}
	if (main_load(&cfg, cfgpath, NULL) == -1)
		return EXIT_USAGE;
	main_pusher(pusher, sizeof(pusher));
	req.cfg = &cfg;
	req.repo_path = cfg.repository ? main_copy(repo, sizeof(repo),
	    cfg.repository) : NULL;
	req.pusher = pusher;
	rc = deploy_rollback(&req, argc == 1 ? argv[0] : NULL);
	config_free(&cfg);
	return rc;
}

static const struct {
	const char *name;
	int (*fn)(const char *, int, char **);
	const char *usage;
	int own_options;	/* takes options of its own after the name */
} commands[] = {
	{ "hook", cmd_hook, "hook [--pre-receive] [REF...]", 1 },
	{ "deploy", cmd_deploy, "deploy [REV]", 0 },
	{ "rollback", cmd_rollback, "rollback [ID]", 0 },
	{ "releases", cmd_releases, "releases", 0 },
	{ "status", cmd_status, "status [--json]", 1 },
	{ "log", cmd_log, "log [-n N]", 1 },
	{ "restart", cmd_restart, "restart", 0 },
	{ "check", cmd_check, "check", 0 },
	{ "install-hook", cmd_install_hook, "install-hook [--pre-receive] REPO",
	    1 },
};

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *cfgpath = NULL;
	size_t i;
	int ch, rc, rest, j;

	/* A pusher who hangs up must not kill a deploy half-way. */
	signal(SIGPIPE, SIG_IGN);
	opterr = 0;	/* our own one-line messages */
	log_init("redeploy", "redeploy", LOG_TO_STDERR | LOG_TO_SYSLOG,
	    LOG_USER);
	while ((ch = getopt_long(argc, argv, "+c:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cfgpath = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("redeploy %s (libgit2 %s)\n", REDEPLOY_VERSION,
			    LIBGIT2_VERSION);
			return 0;
		default:
			main_bad_option(argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			break;
	if (i == sizeof(commands) / sizeof(commands[0])) {
		log_warnx("unknown command '%s' (see 'redeploy --help')",
		    argv[0]);
		return EXIT_USAGE;
	}
	/* After the command: -c CONFIG and --help are ours, the rest the
	 * command's own (status --json, log -n N). */
	for (rest = 1, j = 1; j < argc; j++) {
		if ((strcmp(argv[j], "-c") == 0 ||
		    strcmp(argv[j], "--config") == 0) && j + 1 < argc)
			cfgpath = argv[++j];
		else if (strncmp(argv[j], "--config=", 9) == 0)
			cfgpath = argv[j] + 9;
		else if (strcmp(argv[j], "-h") == 0 ||
		    strcmp(argv[j], "--help") == 0) {
			printf("usage: redeploy [-c CONFIG] %s\n\n",
			    commands[i].usage);
			usage(stdout);
			return 0;
		} else if (argv[j][0] == '-' && argv[j][1] != '\0' &&
		    !commands[i].own_options) {
			main_bad_option(argv[j]);
			return EXIT_USAGE;
		} else
			argv[rest++] = argv[j];
	}
	argc = rest;
	optind = 1;
	/* libgit2 and libcurl start on first use (repo_init, client_call). */
	rc = commands[i].fn(cfgpath, argc - optind, argv + optind);
	client_cleanup();
	repo_shutdown();
	return rc;
}
