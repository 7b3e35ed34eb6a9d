/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * prereceive.c - `redeploy hook --pre-receive`: deploy before git moves
 * the ref, so that a failed deploy refuses the push.
 *
 * git runs the pre-receive hook with the pushed objects still in its
 * quarantine (repo.c adds exactly that directory as an in-memory object
 * alternate) and "old new ref" lines on stdin.  Only the configured branch
 * deploys.  Rules, so that once pushes settle live == branch tip:
 * - Deleting the branch is refused: the site would stay on a commit that
 *   no ref names.  A non-fast-forward that the repository refuses
 *   (receive.denyNonFastForwards) deploys nothing; git refuses it.
 * - Under the deploy lock the branch must still be at "old" (deploy.c):
 *   a push that waited behind another one for the lock would lose the ref
 *   update to it, so it is refused before anything changes.
 * - git may still fail the ref update after a successful deploy (an
 *   `update` hook or gitolite's rules refuse it, the pusher hung up and
 *   receive-pack died, a disk error).  The post-update hook that install-
 *   hook puts beside this one deploys the tip when it differs from what is
 *   live, but git runs it only when some ref moved; so a detached watcher
 *   also waits for receive-pack to end and then does the same.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "redeploy.h"

static int
pre_is_zero(const char *hex)
{
	return strspn(hex, "0") == strlen(hex) && hex[0] != '\0';
}

/* The receive-pack process above us (a gitolite driver may sit between). */
static pid_t
pre_receive_pack(void)
{
	char file[64], *buf = NULL, *p;
	pid_t pid = getppid(), up;
	size_t len, i;
	int depth, fd;

	for (depth = 0; depth < 4 && pid > 1; depth++) {
		snprintf(file, sizeof(file), "/proc/%ld/cmdline", (long)pid);
		free(buf);
		buf = NULL;
		if ((fd = open(file, O_RDONLY | O_CLOEXEC)) == -1 ||
		    fs_read_fd(fd, 65536, &buf, &len) == -1) {
			if (fd != -1)
				close(fd);
			break;
		}
		close(fd);
		for (i = 0; i < len; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		if (strstr(buf, "receive-pack") != NULL) {
			free(buf);
			return pid;
		}
		snprintf(file, sizeof(file), "/proc/%ld/stat", (long)pid);
		free(buf);
		buf = NULL;
		if ((fd = open(file, O_RDONLY | O_CLOEXEC)) == -1 ||
		    fs_read_fd(fd, 4096, &buf, &len) == -1) {
			if (fd != -1)
				close(fd);
			break;
		}
		close(fd);
		/* "pid (comm) state ppid ...": comm may hold anything */
		if ((p = strrchr(buf, ')')) == NULL ||
		    sscanf(p + 1, " %*c %d", &up) != 1)
			break;
		pid = up;
	}
	free(buf);
	return getppid();
}

static void
pre_wait_gone(pid_t pid)
{
	struct pollfd pfd;
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	long fd = syscall(SYS_pidfd_open, pid, 0);
	int i;

	if (fd >= 0) {
		pfd.fd = (int)fd;
		pfd.events = POLLIN;
		while (poll(&pfd, 1, 3600 * 1000) == -1 && errno == EINTR)
			;
		close((int)fd);
		return;
	}
	/* no pidfd: look every 50 ms, for an hour at most */
	for (i = 0; i < 72000 && kill(pid, 0) == 0; i++)
		nanosleep(&ts, NULL);
}

/*
 * After a successful deploy: a detached child waits for receive-pack to
 * end, then deploys the branch tip if it is not what is live.
 */
static void
pre_watch(const struct config *cfg, const char *git_dir, const char *pusher)
{
	struct deploy_req req = { 0 };
	char err[ERRLEN];
	pid_t rp = pre_receive_pack(), pid;

	if ((pid = fork()) != 0) {
		if (pid == -1)
			log_warn("cannot watch the end of the push");
		return;
	}
	log_detach("redeploy", cfg->syslog_tag, LOG_USER);
	pre_wait_gone(rp);
	(void)repo_set_quarantine(git_dir, NULL, err, sizeof(err));
	req.cfg = cfg;
	req.repo_path = git_dir;
	req.pusher = pusher;
	req.settle = 1;
	_exit(deploy_run(&req));
}

static int
pre_nonff_denied(const char *git_dir, const struct refs_update *u)
{
	git_repository *repo = NULL;
	git_config *gc = NULL;
	git_oid o, n;
	char err[ERRLEN];
	int deny = 0, rc = 0;

	if (pre_is_zero(u->old) || git_oid_fromstr(&o, u->old) != 0 ||
	    git_oid_fromstr(&n, u->new) != 0 || git_oid_equal(&o, &n))
		return 0;
	if (repo_open(&repo, git_dir, err, sizeof(err)) == -1)
		return 0;	/* the deploy reports it */
	if (git_repository_config_snapshot(&gc, repo) == 0 &&
	    git_config_get_bool(&deny, gc, "receive.denynonfastforwards") ==
	    0 && deny && git_graph_descendant_of(repo, &n, &o) != 1)
		rc = 1;
	git_error_clear();
	git_config_free(gc);
	git_repository_free(repo);
	return rc;
}

int
prereceive_run(const struct config *cfg, const char *git_dir,
    const struct refs *refs, const char *branch_ref, const char *pusher)
{
	const struct refs_update *u = refs_find(refs, branch_ref);
	struct deploy_req req = { 0 };
	char live[RELEASE_IDLEN];
	int fd, rc;

	if (u == NULL)
		return 0;
	if (pre_is_zero(u->new)) {
		live[0] = '\0';
		if ((fd = open(cfg->path, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC)) != -1) {
			if (release_current(fd, live, sizeof(live)) == -1)
				live[0] = '\0';
			close(fd);
		}
		log_warnx("refusing to delete %s: it is the deployed branch%s%s"
		    "%s (the site would stay on a commit no ref names); push "
		    "the commit you want live instead, or change [deploy] "
		    "branch first", branch_ref, live[0] ? " (release " : "",
		    live, live[0] ? " is live)" : "");
		log_event(LOG_NOTICE, "deploy release=- ref=%s pusher=%s "
		    "result=refused reason=\"branch deletion\"", branch_ref,
		    pusher);
		return EXIT_DEPLOY;
	}
	if (strlen(u->new) != GIT_OID_HEXSZ ||
	    strlen(u->old) != GIT_OID_HEXSZ) {
		log_warnx("stdin line for %s is not 'OLD NEW REF'", branch_ref);
		return EXIT_USAGE;
	}
	if (pre_nonff_denied(git_dir, u)) {
		log_info("%s: %.7s is not a fast-forward of %.7s and "
		    "receive.denyNonFastForwards is set: git refuses it, "
		    "nothing deployed", branch_ref, u->new, u->old);
		return 0;
	}
	req.cfg = cfg;
	req.repo_path = git_dir;
	req.rev = u->new;
	req.expect_old = u->old;
	req.ref = branch_ref;
	req.pusher = pusher;
	rc = deploy_run(&req);
	if (rc == 0)
		pre_watch(cfg, git_dir, pusher);
	return rc;
}
