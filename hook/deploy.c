/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * deploy.c - one deploy: lock, check out into releases/.incoming-*, link
 * shared paths, sync, name it, switch `current`, prune, report.
 *
 * Invariant: until the rename(2) of the `current` symlink nothing the site
 * serves has changed, and every failure path removes the partial release,
 * so a failed or killed deploy leaves `current` and the live files as they
 * were (a kill -9 leaves debris that the next deploy removes under the
 * lock).  The pusher gets progress lines on stderr and one line saying what
 * failed and what to do; syslog gets one key=value event per deploy.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "ids.h"
#include "log.h"
#include "redeploy.h"

static double
deploy_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/*
 * Who owns what a deploy creates: as root, [deploy] owner:group (never
 * root, lesson of files root left behind that the service cannot use);
 * otherwise the caller, uid (uid_t)-1 meaning "leave as created".
 */
int
deploy_owner(const struct config *cfg, uid_t *uid, gid_t *gid, char *err,
    size_t n)
{
	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (geteuid() != 0)
		return 0;
	return deploy_resolve_owner(cfg, uid, gid, err, n);
}

/* [deploy] owner and group as ids, whoever runs this. */
int
deploy_resolve_owner(const struct config *cfg, uid_t *uid, gid_t *gid,
    char *err, size_t n)
{
	struct passwd *pw;
	struct group *gr;

	if (cfg->owner == NULL) {
		snprintf(err, n, "running as root needs [deploy] owner in '%s' "
		    "(the user that owns releases; never root)", cfg->file);
		return -1;
	}
	if ((pw = ids_user(cfg->owner)) == NULL) {
		snprintf(err, n, "[deploy] owner '%s' is not a user on this "
		    "machine", cfg->owner);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, n, "[deploy] owner '%s' is root: releases must "
		    "not be owned by root", cfg->owner);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	if (cfg->group != NULL) {
		if ((gr = ids_group(cfg->group)) == NULL) {
			snprintf(err, n, "[deploy] group '%s' is not a group on "
			    "this machine", cfg->group);
			return -1;
		}
		*gid = gr->gr_gid;
	}
	return 0;
}

/* Who owns shared/ paths: the service user when we can give them away. */
static void
deploy_shared_owner(const struct config *cfg, uid_t uid, gid_t gid,
    uid_t *suid, gid_t *sgid)
{
	struct passwd *pw;
	struct group *gr;

	*suid = uid;
	*sgid = gid;
	if (geteuid() != 0 || cfg->user == NULL ||
	    (pw = ids_user(cfg->user)) == NULL)
		return;
	*suid = pw->pw_uid;
	*sgid = pw->pw_gid;
	if (cfg->svc_group != NULL && (gr = ids_group(cfg->svc_group)) != NULL)
		*sgid = gr->gr_gid;
}

/* What a release was built with; a base is reused only when it matches. */
static void
deploy_build_sig(const struct config *cfg, uid_t uid, gid_t gid, char *buf,
    size_t n)
{
	size_t i, len;

	/* vet=2: a base checked by older rules is not built on (vet.c) */
	len = (size_t)snprintf(buf, n, "vet=2 dir_mode=%04o file_mode=%04o "
	    "uid=%ld gid=%ld shared=", (unsigned)cfg->dir_mode,
	    (unsigned)cfg->file_mode,
	    uid == (uid_t)-1 ? (long)geteuid() : (long)uid,
	    gid == (gid_t)-1 ? (long)getegid() : (long)gid);
	for (i = 0; i < cfg->shared.n && len < n; i++)
		len += (size_t)snprintf(buf + len, n - len, "%s%s",
		    i ? ":" : "", cfg->shared.v[i]);
}

/* The free name for this release: <time>-<sha>, then -2, -3, ... */
static int
deploy_pick_id(int releasesfd, int64_t when, const char *hex, char *id,
    size_t n)
{
	char base[RELEASE_IDLEN], meta[RELEASE_IDLEN + 8];
	struct stat st;
	int i;

	if (release_make_id(base, sizeof(base), when, hex) == -1)
		return -1;
	for (i = 1; i < 1000; i++) {
		if (i == 1)
			snprintf(id, n, "%s", base);
		else
			snprintf(id, n, "%s-%d", base, i);
		snprintf(meta, sizeof(meta), "%s.meta", id);
		if (fstatat(releasesfd, id, &st, AT_SYMLINK_NOFOLLOW) == -1 &&
		    fstatat(releasesfd, meta, &st, AT_SYMLINK_NOFOLLOW) == -1)
			return 0;
	}
	errno = EEXIST;
	return -1;
}

static const char *
deploy_hint(int err)
{
	switch (err) {
	case ENOSPC:
	case EDQUOT:
		return "free space on that file system and push again";
	case EACCES:
	case EPERM:
		return "check ownership with 'redeploy check'";
	default:
		return "fix the cause and push again";
	}
}

struct deploy_ctx {
	const struct deploy_req *req;
	const struct config *cfg;
	git_repository	*repo;
	int		 pathfd, releasesfd, lockfd, rootfd, basefd;
	char		 incoming[64];
	uid_t		 uid, suid;
	gid_t		 gid, sgid;
	char		 err[ERRLEN];
	int		 syserr;	/* errno of the failure, for the hint */
	int		 spare_taken;	/* the live release's spare is used up */
	struct restart_site rs;		/* what restart_verify works on */
};

/* What restart_verify and reconcile_run work on, from the open site. */
static void
deploy_site(struct deploy_ctx *c)
{
	c->rs.cfg = c->cfg;
	c->rs.pathfd = c->pathfd;
	c->rs.releasesfd = c->releasesfd;
	c->rs.uid = c->uid;
	c->rs.gid = c->gid;
}

static int
deploy_fail(struct deploy_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Record "WHAT: strerror(errno)" as the reason the deploy failed. */
static int
deploy_fail(struct deploy_ctx *c, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	c->syserr = errno;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	len = strlen(c->err);
	snprintf(c->err + len, sizeof(c->err) - len, ": %s",
	    strerror(c->syserr));
	return -1;
}

static long
deploy_next_serial(int pathfd)
{
	struct release_list l;
	long serial = 0;

	if (release_list(pathfd, &l) == 0 && l.n > 0)
		serial = l.v[0].serial;
	release_list_free(&l);
	return serial + 1;
}

/* Steps 3-5: the tree into .incoming-*, shared links, sync, final name. */
static int
deploy_build(struct deploy_ctx *c, const git_oid *commit, git_tree *tree,
    const struct release *cur, struct release *rel,
    struct checkout_stats *st)
{
	const struct config *cfg = c->cfg;
	struct checkout_opts o;
	git_commit *basec = NULL;
	git_oid basetree;
	struct links base_links = { 0 };
	char hex[17], id[RELEASE_IDLEN];
	int have_base = 0, sync = 0, rc = -1;

	if (cur != NULL && strcmp(cur->build, rel->build) == 0 &&
	    git_oid_fromstr(&basetree, cur->commit) == 0 &&
	    git_commit_lookup(&basec, c->repo, &basetree) == 0) {
		git_oid_cpy(&basetree, git_commit_tree_id(basec));
		c->basefd = openat(c->releasesfd, cur->id, O_RDONLY |
		    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		have_base = c->basefd != -1;
	}
	if (fs_random_hex(hex, 8) == -1) {
		deploy_fail(c, "getting random bytes");
		goto out;
	}
	snprintf(c->incoming, sizeof(c->incoming), ".incoming-%s", hex);
	/* The spare already holds the live tree: apply only the diff. */
	if (have_base && (sync = spare_take(c->releasesfd, cur->id,
	    c->incoming)) == -1) {
		deploy_fail(c, "taking the spare of release '%s'", cur->id);
		goto out;
	}
	c->spare_taken = sync;
	if ((!sync && mkdirat(c->releasesfd, c->incoming, 0700) == -1) ||
	    (c->rootfd = openat(c->releasesfd, c->incoming, O_RDONLY |
	    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		deploy_fail(c, "creating a directory in '%s/releases'",
		    cfg->path);
		goto out;
	}

	memset(&o, 0, sizeof(o));
	o.repo_path = c->req->repo_path;
	o.cfg = cfg;
	o.tree = git_tree_id(tree);
	o.base_tree = have_base ? &basetree : NULL;
	o.base_fd = have_base && !sync ? c->basefd : -1;
	o.root_fd = c->rootfd;
	o.sync = sync;
	/* what the spare holds, counted at its deploy: the new count is
	 * that plus the diff */
	o.base_files = sync && cur->files > 0 ? cur->files : -1;
	o.base_entries = sync && cur->entries > 0 ? cur->entries : -1;
	/* and its symlinks: vetted again from the index, not a walk */
	if (sync && links_read(c->releasesfd, cur->id, &base_links) == 0)
		o.base_links = &base_links;
	o.uid = c->uid;
	o.gid = c->gid;
	o.threads = checkout_threads();
	o.commit = commit;
	o.attrs = strstr(rel->build, " attrs=") != NULL;
	if (checkout_run(&o, st, c->err, sizeof(c->err)) == -1 ||
	    checkout_shared(c->pathfd, c->rootfd, cfg, c->uid, c->gid,
	    c->suid, c->sgid, c->err, sizeof(c->err)) == -1) {
		c->syserr = errno;
		goto out;
	}
	if ((c->uid != (uid_t)-1 && fchown(c->rootfd, c->uid, c->gid) == -1) ||
	    fchmod(c->rootfd, cfg->dir_mode) == -1) {
		deploy_fail(c, "setting owner of '%s'", c->incoming);
		goto out;
	}
	/* Everything on disk, the root's owner and mode too, before the
	 * release gets a name. */
	if (syncfs(c->rootfd) == -1) {
		deploy_fail(c, "syncing '%s'", cfg->path);
		goto out;
	}

	rel->time = (int64_t)time(NULL);
	rel->files = (long)(st->written + st->linked);
	rel->entries = (long)st->entries;
	rel->serial = deploy_next_serial(c->pathfd);
	if (deploy_pick_id(c->releasesfd, rel->time, git_oid_tostr_s(commit),
	    id, sizeof(id)) == -1) {
		deploy_fail(c, "naming the release in '%s/releases'",
		    cfg->path);
		goto out;
	}
	snprintf(rel->id, sizeof(rel->id), "%s", id);
	/* Metadata first: a release never exists without it. */
	if (release_meta_write(c->releasesfd, rel, c->uid, c->gid) == -1) {
		deploy_fail(c, "writing metadata in '%s/releases'",
		    cfg->path);
		goto out;
	}
	if (st->symlinks_known && links_write(c->releasesfd, id, &st->symlinks,
	    c->uid, c->gid) == -1) {
		deploy_fail(c, "writing the symlink index in '%s/releases'",
		    cfg->path);
		goto out;
	}
	if (renameat(c->releasesfd, c->incoming, c->releasesfd, id) == -1 ||
	    fsync(c->releasesfd) == -1) {
		deploy_fail(c, "naming release '%s'", id);
		goto out;
	}
	c->incoming[0] = '\0';
	rc = 0;
out:
	links_free(&base_links);
	links_free(&st->symlinks);
	git_commit_free(basec);
	return rc;
}

static void
deploy_close(struct deploy_ctx *c)
{
	if (c->rootfd != -1)
		close(c->rootfd);
	if (c->basefd != -1)
		close(c->basefd);
	if (c->incoming[0] != '\0')
		(void)fs_remove_tree(c->releasesfd, c->incoming);
	if (c->releasesfd != -1)
		close(c->releasesfd);
	lock_release(c->lockfd);
	if (c->pathfd != -1)
		close(c->pathfd);
	git_repository_free(c->repo);
}

/*
 * Step 8, pruning and preparing the spare for the next deploy, runs after
 * the pusher has the answer: like `git gc --auto`, a detached child does it.  It holds the deploy lock through the
 * inherited open file description, so the next deploy waits for it.  It
 * closes stdio, or git would wait for it before ending the push.
 */
static void
deploy_housekeep(struct deploy_ctx *c, const struct release *rel,
    const git_oid *tree)
{
	struct checkout_opts o;
	git_oid commit;
	char err[ERRLEN];
	size_t pruned = 0;
	pid_t pid;

	pid = fork();
	if (pid > 0) {
		close(c->lockfd);	/* the child's copy keeps the lock */
		c->lockfd = -1;
		return;
	}
	if (pid == 0) {
		log_detach("redeploy", c->cfg->syslog_tag, LOG_USER);
	}
	if (pid == 0) {
		char what[RELEASE_IDLEN + 64];

		snprintf(what, sizeof(what), "housekeeping after release %s",
		    rel->id);
		lock_note(c->lockfd, what);
	}
	if (tree == NULL) {	/* no repository at hand: no spare */
		if (release_prune(c->pathfd, c->cfg->keep, &pruned) == -1)
			log_warn("pruning old releases in '%s/releases'",
			    c->cfg->path);
		goto done;
	}
	memset(&o, 0, sizeof(o));
	o.repo_path = c->req->repo_path;
	o.cfg = c->cfg;
	o.tree = tree;
	o.uid = c->uid;
	o.gid = c->gid;
	o.threads = checkout_threads();
	if (git_oid_fromstr(&commit, rel->commit) == 0) {
		o.commit = &commit;
		o.attrs = strstr(rel->build, " attrs=") != NULL;
	}
	/* The release that falls out of `keep` becomes the next spare. */
	if (spare_prepare(c->pathfd, c->releasesfd, rel, &o, c->suid, c->sgid,
	    &pruned, err, sizeof(err)) == -1)
		log_warnx("preparing the next deploy: %s", err);
done:
	if (pruned > 0 && pid == -1)
		log_info("removed %zu old release%s", pruned,
		    pruned == 1 ? "" : "s");
	if (pid == 0)
		_exit(0);	/* the parent reports and cleans up */
}

/* A failed deploy used up the spare: prepare it again, in the background. */
static void
deploy_respare(struct deploy_ctx *c, const struct release *live)
{
	git_commit *commit = NULL;
	git_oid oid;

	if (c->incoming[0] != '\0') {
		(void)fs_remove_tree(c->releasesfd, c->incoming);
		c->incoming[0] = '\0';
	}
	if (c->rootfd != -1) {
		close(c->rootfd);
		c->rootfd = -1;
	}
	if (git_oid_fromstr(&oid, live->commit) == 0 &&
	    git_commit_lookup(&commit, c->repo, &oid) == 0)
		deploy_housekeep(c, live, git_commit_tree_id(commit));
	git_commit_free(commit);
}

/*
 * Without the lock: is the branch tip the live release's commit?  current
 * and a release's metadata only ever change by rename(2), so what is read
 * is whole; a deploy under way finds out for itself under the lock.
 */
static int
deploy_tip_is_live(struct deploy_ctx *c, char *id, size_t n, char *short_sha)
{
	const struct config *cfg = c->cfg;
	struct release cur;
	git_repository *repo = NULL;
	git_oid tip;
	char ref[300], err[ERRLEN];
	int rfd = -1, live = 0;

	if (release_current(c->pathfd, id, n) == -1 ||
	    (rfd = openat(c->pathfd, "releases", O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1 ||
	    release_meta_read(rfd, id, &cur) == -1 ||
	    repo_open(&repo, c->req->repo_path, err, sizeof(err)) == -1)
		goto out;
	snprintf(ref, sizeof(ref), "refs/heads/%s", cfg->branch);
	if (strcmp(cur.result, "deployed") == 0 &&
	    git_reference_name_to_id(&tip, repo, ref) == 0 &&
	    strcmp(git_oid_tostr_s(&tip), cur.commit) == 0) {
		git_oid_tostr(short_sha, 8, &tip);
		live = 1;
	}
	git_error_clear();
out:
	if (rfd != -1)
		close(rfd);
	git_repository_free(repo);
	return live;
}

/*
 * "deploying NEW (REF) to PATH", naming the live commit it replaces, and
 * saying so when the branch went back (a force-push to an older commit)
 * or sideways (history rewritten): the event carries from= and to=.
 */
static void
deploy_say_what(git_repository *repo, const struct release *cur,
    const git_oid *to, const char *short_sha, const char *ref,
    const char *path)
{
	git_odb *odb = NULL;
	git_oid from;
	int known;

	/* In pre-receive the live commit may be another push's, still in
	 * its own quarantine; git_graph_descendant_of then fails (and
	 * libgit2 1.5 leaks on that path): name no relation. */
	known = cur != NULL && git_oid_fromstr(&from, cur->commit) == 0 &&
	    git_repository_odb(&odb, repo) == 0 && git_odb_exists(odb, &from);
	git_odb_free(odb);
	if (!known) {
		log_info("deploying %s (%s) to %s", short_sha, ref, path);
		return;
	}
	if (git_graph_descendant_of(repo, to, &from) == 1)
		log_info("deploying %s (%s) to %s, replacing %.7s", short_sha,
		    ref, path, cur->commit);
	else if (git_graph_descendant_of(repo, &from, to) == 1)
		log_info("deploying %s (%s) to %s, going back from %.7s to the "
		    "older %s (a force-push)", short_sha, ref, path,
		    cur->commit, short_sha);
	else
		log_info("deploying %s (%s) to %s, replacing %.7s, which it "
		    "does not descend from (history was rewritten)", short_sha,
		    ref, path, cur->commit);
}

/*
 * `current` must be a symlink or absent.  Anything else is refused with the
 * command that moves it away; a shared helper for check.c too.
 */
int
deploy_current_kind(const struct config *cfg, int pathfd, char *err,
    size_t n)
{
	struct stat st;

	if (fstatat(pathfd, "current", &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, n, "'%s/current': %s", cfg->path,
		    strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode))
		return 0;
	snprintf(err, n, "'%s/current' is %s, not a symlink: redeploy "
	    "replaces only its own link (move it away once: mv '%s/current' "
	    "'%s/current.old')", cfg->path, S_ISDIR(st.st_mode) ?
	    "a directory" : S_ISREG(st.st_mode) ? "a regular file" :
	    "a special file", cfg->path, cfg->path);
	return -1;
}

int
deploy_run(const struct deploy_req *req)
{
	const struct config *cfg = req->cfg;
	struct deploy_ctx c = { .req = req, .cfg = cfg, .pathfd = -1,
	    .releasesfd = -1, .lockfd = -1, .rootfd = -1, .basefd = -1 };
	struct release cur, rel;
	struct checkout_stats st = { 0 };
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	git_oid oid;
	char rev[300], short_sha[8], what[400], curid[RELEASE_IDLEN];
	char from[GIT_OID_HEXSZ + 1] = "-";
	const char *result;
	double t0 = deploy_now(), ms;
	int have_cur = 0, rc = EXIT_DEPLOY;

	memset(&rel, 0, sizeof(rel));
	if (deploy_owner(cfg, &c.uid, &c.gid, c.err, sizeof(c.err)) == -1) {
		rc = EXIT_USAGE;
		goto out;
	}
	deploy_shared_owner(cfg, c.uid, c.gid, &c.suid, &c.sgid);
	umask(022);
	/* Setups that would let someone else change what goes live. */
	if (safety_repo(cfg, req->repo_path, c.err, sizeof(c.err)) == -1 ||
	    safety_path(cfg, c.uid == (uid_t)-1 ? geteuid() : c.uid, c.err,
	    sizeof(c.err)) == -1 || (c.suid == (uid_t)-1 &&
	    safety_shared_group(cfg, &c.sgid, c.err, sizeof(c.err)) == -1)) {
		rc = EXIT_USAGE;
		goto out;
	}

	if ((c.pathfd = open(cfg->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		c.syserr = errno;
		snprintf(c.err, sizeof(c.err), "deploy path '%s': %s (create "
		    "it, owned by the repository's user)", cfg->path,
		    strerror(errno));
		rc = EXIT_SYSTEM;
		goto out;
	}
	/* The branch tip live already (a post-update run after pre-receive
	 * deployed it): say so without waiting behind housekeeping. */
	if (req->rev == NULL && deploy_tip_is_live(&c, curid, sizeof(curid),
	    short_sha)) {
		if (!req->settle)
			log_info("commit %s is already live (release %s): "
			    "nothing to do", short_sha, curid);
		rc = 0;
		goto out;
	}
	snprintf(what, sizeof(what), "the deploy of %s by %s", req->rev ? req->rev :
	    cfg->branch, req->pusher);
	if ((c.lockfd = lock_acquire(c.pathfd, what, c.uid, c.gid)) == -1) {
		deploy_fail(&c, "locking '%s/.lock'", cfg->path);
		rc = EXIT_SYSTEM;
		goto out;
	}
	if (mkdirat(c.pathfd, "releases", 0755) == 0 && c.uid != (uid_t)-1 &&
	    fchownat(c.pathfd, "releases", c.uid, c.gid, AT_SYMLINK_NOFOLLOW))
		log_warn("chown '%s/releases'", cfg->path);
	if ((c.releasesfd = openat(c.pathfd, "releases", O_RDONLY |
	    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		deploy_fail(&c, "opening '%s/releases'", cfg->path);
		rc = EXIT_SYSTEM;
		goto out;
	}
	t0 = deploy_now();	/* deploy work, not time spent waiting */
	deploy_site(&c);
	if (release_clean_debris(c.pathfd) == -1)
		log_warn("removing what an interrupted deploy left in '%s'",
		    cfg->path);
	(void)reconcile_run(&c.rs);

	if (repo_open(&c.repo, req->repo_path, c.err, sizeof(c.err)) == -1)
		goto out;
	/* Under the lock: a waiting push deploys the newest tip. */
	if (req->rev != NULL)
		snprintf(rev, sizeof(rev), "%s", req->rev);
	else
		snprintf(rev, sizeof(rev), "refs/heads/%s", cfg->branch);
	if (req->rev == NULL) {
		git_reference *r = NULL;

		if (git_reference_lookup(&r, c.repo, rev) != 0) {
			log_info("%s does not exist: nothing to deploy, "
			    "current release unchanged", rev);
			rc = 0;
			goto out;
		}
		git_reference_free(r);
	}
	/* pre-receive: git moves the ref only if it is still at "old"; a
	 * push that waited behind another one here would lose that race. */
	if (req->expect_old != NULL) {
		char bref[300], now[GIT_OID_HEXSZ + 1] = "";
		int absent = strspn(req->expect_old, "0") ==
		    strlen(req->expect_old);

		snprintf(bref, sizeof(bref), "refs/heads/%s", cfg->branch);
		if (git_reference_name_to_id(&oid, c.repo, bref) == 0)
			git_oid_tostr(now, sizeof(now), &oid);
		git_error_clear();
		if (absent ? now[0] != '\0' :
		    strcmp(now, req->expect_old) != 0) {
			snprintf(c.err, sizeof(c.err), "%s moved to %.7s while "
			    "this push waited for the deploy lock (another "
			    "push came first): fetch, merge and push again",
			    bref, now[0] ? now : "nothing");
			goto out;
		}
	}
	if (repo_resolve(c.repo, rev, &oid, c.err, sizeof(c.err)) == -1)
		goto out;
	git_oid_tostr(short_sha, sizeof(short_sha), &oid);
	if (git_commit_lookup(&commit, c.repo, &oid) != 0 ||
	    git_commit_tree(&tree, commit) != 0) {
		snprintf(c.err, sizeof(c.err), "reading commit %s: %s",
		    short_sha, git_error_last() ? git_error_last()->message :
		    "unknown error");
		goto out;
	}
	/* Only a symlink is ours to replace: a directory or file there is
	 * someone's site, refused before anything is built for it. */
	if (deploy_current_kind(cfg, c.pathfd, c.err, sizeof(c.err)) == -1)
		goto out;
	if (release_current(c.pathfd, curid, sizeof(curid)) == 0 &&
	    release_meta_read(c.releasesfd, curid, &cur) == 0)
		have_cur = 1;
	else {
		/* Not one of ours (or its metadata is gone): remember the
		 * link, so a failed restart can put it back. */
		ssize_t n = readlinkat(c.pathfd, "current", c.rs.prev_link,
		    sizeof(c.rs.prev_link) - 1);

		c.rs.prev_link[n > 0 ? n : 0] = '\0';
	}
	if (have_cur && strcmp(cur.commit, git_oid_tostr_s(&oid)) == 0 &&
	    strcmp(cur.result, "deployed") == 0) {
		if (!req->settle)
			log_info("commit %s is already live (release %s): "
			    "nothing to do", short_sha, cur.id);
		rc = 0;
		goto out;
	}

	snprintf(rel.commit, sizeof(rel.commit), "%s", git_oid_tostr_s(&oid));
	snprintf(rel.ref, sizeof(rel.ref), "%s", req->ref ? req->ref : rev);
	snprintf(rel.pusher, sizeof(rel.pusher), "%s", req->pusher);
	/* deployed only once the service runs it: see reconcile.c */
	snprintf(rel.result, sizeof(rel.result), "pending");
	if (have_cur)
		snprintf(rel.prev, sizeof(rel.prev), "%s", cur.id);
	deploy_build_sig(cfg, c.uid, c.gid, rel.build, sizeof(rel.build));
	/* .gitattributes in use: part of what a reusable base must match */
	{
		char asig[64];
		size_t blen = strlen(rel.build);

		if (attr_scan(c.repo, req->repo_path, &oid, asig, sizeof(asig),
		    c.err, sizeof(c.err)) == -1)
			goto out;
		if (asig[0] != '\0')
			snprintf(rel.build + blen, sizeof(rel.build) - blen,
			    " %s", asig);
	}
	if (have_cur)
		snprintf(from, sizeof(from), "%s", cur.commit);
	deploy_say_what(c.repo, have_cur ? &cur : NULL, &oid, short_sha,
	    rel.ref, cfg->path);
	if (deploy_build(&c, &oid, tree, have_cur ? &cur : NULL, &rel, &st) ==
	    -1)
		goto out;
	if (release_switch(c.pathfd, rel.id, c.uid, c.gid) == -1) {
		deploy_fail(&c, "switching '%s/current'", cfg->path);
		if (c.syserr == EISDIR)
			strncat(c.err, " ('current' is a directory: move it "
			    "away once)", sizeof(c.err) - strlen(c.err) - 1);
		/* never live: it must not look like a good release */
		snprintf(rel.result, sizeof(rel.result), "failed");
		if (release_meta_write(c.releasesfd, &rel, c.uid, c.gid) == -1)
			log_warn("marking release %s failed", rel.id);
		goto out;
	}
	ms = deploy_now() - t0;
	log_info("release %s live: %lu file%s (%lu written, %lu reused), "
	    "%.0f ms", rel.id, st.written + st.linked,
	    st.written + st.linked == 1 ? "" : "s", st.written, st.linked, ms);
	crashpoint("switched");
	result = "deployed";
	if (cfg->has_agent &&
	    restart_verify(&c.rs, &rel, have_cur ? &cur : NULL, &result,
	    c.err, sizeof(c.err)) == -1) {
		/* rolled back (or nothing to roll back to): say how it ends */
		log_event(LOG_ERR, "deploy release=%s commit=%s ref=%s pusher=%s "
		    "from=%s to=%s files=%lu ms=%.0f result=%s reason=%s",
		    rel.id, rel.commit, rel.ref, rel.pusher, from, rel.commit,
		    st.written + st.linked, deploy_now() - t0, result, c.err);
		c.err[0] = '\0';
		if (have_cur && strcmp(result, "rolled-back") == 0)
			deploy_respare(&c, &cur);
		rc = EXIT_DEPLOY;
		goto out;
	}
	snprintf(rel.result, sizeof(rel.result), "deployed");
	if (release_meta_write(c.releasesfd, &rel, c.uid, c.gid) == -1 ||
	    fsync(c.releasesfd) == -1)
		log_warn("marking release %s deployed", rel.id);
	log_event(LOG_NOTICE, "deploy release=%s commit=%s ref=%s pusher=%s "
	    "from=%s to=%s files=%lu written=%lu reused=%lu ms=%.0f result=%s",
	    rel.id, rel.commit, rel.ref, rel.pusher, from, rel.commit,
	    st.written + st.linked, st.written, st.linked, deploy_now() - t0,
	    result);
	deploy_housekeep(&c, &rel, git_tree_id(tree));
	rc = 0;
out:
	if (rc != 0 && c.spare_taken && have_cur && c.lockfd != -1)
		deploy_respare(&c, &cur);
	if (rc != 0 && c.err[0] != '\0') {
		log_warnx("deploy failed: %s; current release unchanged (%s)",
		    c.err, deploy_hint(c.syserr));
		log_event(LOG_ERR, "deploy release=- commit=%s ref=%s pusher=%s "
		    "from=%s to=%s ms=%.0f result=failed reason=%s",
		    rel.commit[0] ? rel.commit : "-", req->ref ? req->ref :
		    cfg->branch, req->pusher, from, rel.commit[0] ? rel.commit :
		    "-", deploy_now() - t0, c.err);
	}
	git_tree_free(tree);
	git_commit_free(commit);
	deploy_close(&c);
	return rc;
}

/*
 * A hook run that deploys nothing (another ref, a deletion) still heals an
 * interrupted deploy, when no deploy is running: one that is reconciles
 * by itself.
 */
void
deploy_reconcile(const struct deploy_req *req)
{
	const struct config *cfg = req->cfg;
	struct deploy_ctx c = { .req = req, .cfg = cfg, .pathfd = -1,
	    .releasesfd = -1, .lockfd = -1, .rootfd = -1, .basefd = -1 };
	struct release cur;
	char id[RELEASE_IDLEN];

	if ((c.pathfd = open(cfg->path, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 ||
	    faccessat(c.pathfd, "current", F_OK, AT_SYMLINK_NOFOLLOW) == -1 ||
	    (c.releasesfd = openat(c.pathfd, "releases", O_RDONLY |
	    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		goto out;
	/* The common case costs two small reads: current names a release
	 * that finished (a deploy marks it deployed only once the service
	 * runs it, and an agent that starts runs current), so there is
	 * nothing to heal and no need to ask the agent. */
	if (release_current(c.pathfd, id, sizeof(id)) == 0 &&
	    release_meta_read(c.releasesfd, id, &cur) == 0 &&
	    strcmp(cur.result, "deployed") == 0)
		goto out;
	if (deploy_owner(cfg, &c.uid, &c.gid, c.err, sizeof(c.err)) == -1 ||
	    (c.lockfd = lock_try(c.pathfd, "a check after a push",
	    c.uid, c.gid)) == -1)
		goto out;
	deploy_site(&c);
	(void)reconcile_run(&c.rs);
out:
	deploy_close(&c);
}

/* Which release a rollback goes to: ID, or the previous good one. */
static const struct release *
deploy_rollback_target(const struct release_list *l, const char *want,
    const struct release **cur, char *err, size_t n)
{
	size_t i, c = l->n;

	*cur = NULL;
	for (i = 0; i < l->n; i++)
		if (l->v[i].current) {
			c = i;
			*cur = &l->v[i];
		}
	if (want != NULL) {
		for (i = 0; i < l->n; i++)
			if (strcmp(l->v[i].id, want) == 0)
				break;
		if (i == l->n)
			snprintf(err, n, "no release '%s' (see 'redeploy "
			    "releases')", want);
		else if (i == c)
			snprintf(err, n, "release '%s' is live already", want);
		else
			return &l->v[i];
		return NULL;
	}
	for (i = c == l->n ? 0 : c + 1; i < l->n; i++)
		if (strcmp(l->v[i].result, "deployed") == 0)
			return &l->v[i];
	snprintf(err, n, "no earlier good release to roll back to (see "
	    "'redeploy releases')");
	return NULL;
}

/*
 * `redeploy rollback [ID]`: switch current to ID or the previous good
 * release under the deploy lock, restart, verify and report as a deploy
 * does (a target that does not start is marked failed and undone).
 */
int
deploy_rollback(const struct deploy_req *req, const char *want)
{
	const struct config *cfg = req->cfg;
	struct deploy_ctx c = { .req = req, .cfg = cfg, .pathfd = -1,
	    .releasesfd = -1, .lockfd = -1, .rootfd = -1, .basefd = -1 };
	struct release_list l = { 0 };
	const struct release *target, *cur;
	struct release rel;
	git_commit *commit = NULL;
	git_oid oid;
	const char *result = "deployed";
	char what[300];
	double t0;
	int rc = EXIT_DEPLOY;

	if (deploy_owner(cfg, &c.uid, &c.gid, c.err, sizeof(c.err)) == -1) {
		rc = EXIT_USAGE;
		goto out;
	}
	deploy_shared_owner(cfg, c.uid, c.gid, &c.suid, &c.sgid);
	if (safety_path(cfg, c.uid == (uid_t)-1 ? geteuid() : c.uid, c.err,
	    sizeof(c.err)) == -1) {
		rc = EXIT_USAGE;
		goto out;
	}
	/* the spare made afterwards links shared paths as a deploy does */
	if (c.suid == (uid_t)-1 &&
	    safety_shared_group(cfg, &c.sgid, c.err, sizeof(c.err)) == -1)
		c.err[0] = '\0';
	snprintf(what, sizeof(what), "a rollback by %s", req->pusher);
	if ((c.pathfd = open(cfg->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1 || (c.lockfd = lock_acquire(c.pathfd, what, c.uid, c.gid)) ==
	    -1) {
		deploy_fail(&c, "opening '%s'", cfg->path);
		rc = EXIT_SYSTEM;
		goto out;
	}
	if ((c.releasesfd = openat(c.pathfd, "releases", O_RDONLY |
	    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1 && errno == ENOENT) {
		snprintf(c.err, sizeof(c.err), "no releases in '%s/releases' "
		    "yet: nothing to roll back to (deploy first)", cfg->path);
		goto out;
	}
	if (c.releasesfd == -1 || release_list(c.pathfd, &l) == -1) {
		deploy_fail(&c, "opening '%s/releases'", cfg->path);
		rc = EXIT_SYSTEM;
		goto out;
	}
	t0 = deploy_now();
	deploy_site(&c);
	/* that may move current: list again */
	(void)reconcile_run(&c.rs);
	release_list_free(&l);
	if (release_list(c.pathfd, &l) == -1) {
		deploy_fail(&c, "listing '%s/releases'", cfg->path);
		rc = EXIT_SYSTEM;
		goto out;
	}
	if ((target = deploy_rollback_target(&l, want, &cur, c.err,
	    sizeof(c.err))) == NULL)
		goto out;
	if (strcmp(target->result, "deployed") != 0)
		log_info("note: release %s is marked %s", target->id,
		    target->result);
	rel = *target;
	if (deploy_current_kind(cfg, c.pathfd, c.err, sizeof(c.err)) == -1)
		goto out;
	if (release_switch(c.pathfd, rel.id, c.uid, c.gid) == -1) {
		deploy_fail(&c, "switching '%s/current'", cfg->path);
		goto out;
	}
	log_info("release %s live again (commit %.7s)", rel.id, rel.commit);
	if (cfg->has_agent && restart_verify(&c.rs, &rel, cur,
	    &result, c.err, sizeof(c.err)) == -1) {
		log_event(LOG_ERR, "rollback release=%s commit=%s pusher=%s "
		    "from=%s to=%s ms=%.0f result=%s reason=%s", rel.id,
		    rel.commit, req->pusher, cur && cur->commit[0] ?
		    cur->commit : "-", rel.commit, deploy_now() - t0, result,
		    c.err);
		c.err[0] = '\0';
		goto out;
	}
	snprintf(rel.result, sizeof(rel.result), "deployed");
	rel.reason[0] = '\0';
	if ((strcmp(target->result, "deployed") != 0 ||
	    target->reason[0] != '\0') && release_meta_write(c.releasesfd, &rel, c.uid, c.gid) == -1)
		log_warn("marking release %s deployed", rel.id);
	log_event(LOG_NOTICE, "rollback release=%s commit=%s pusher=%s "
	    "from=%s to=%s ms=%.0f result=deployed", rel.id, rel.commit,
	    req->pusher, cur && cur->commit[0] ? cur->commit : "-", rel.commit,
	    deploy_now() - t0);
	/* The spare of the release we left is of no use now (a deploy starts
	 * from the live one's): remove it, as a deploy's cleanup would. */
	if (release_clean_debris(c.pathfd) == -1)
		log_warn("removing the spare of the release left in '%s'",
		    cfg->path);
	if (req->repo_path != NULL &&
	    repo_open(&c.repo, req->repo_path, c.err, sizeof(c.err)) == 0 &&
	    git_oid_fromstr(&oid, rel.commit) == 0 &&
	    git_commit_lookup(&commit, c.repo, &oid) == 0)
		deploy_housekeep(&c, &rel, git_commit_tree_id(commit));
	else
		deploy_housekeep(&c, &rel, NULL);
	c.err[0] = '\0';
	rc = 0;
out:
	if (c.err[0] != '\0')
		log_warnx("rollback failed: %s", c.err);
	git_commit_free(commit);
	release_list_free(&l);
	deploy_close(&c);
	return rc;
}
