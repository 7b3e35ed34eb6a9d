/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * spare.c - a ready copy of the live release for the next deploy.
 *
 * After a deploy, the background child makes releases/.spare-<id>: the
 * release just made live again, as hard links (plus fresh symlinks and
 * shared links), in a 0700 directory nobody serves.  The next deploy
 * renames it into place and applies only the tree diff, so a one-file
 * change costs one file, not a link per file.  Nothing in it is ever
 * written through: changed files are unlinked and written as new inodes.
 * A spare that is not a directory, or not of the live release, is debris.
 *
 * Making it costs in proportion to the change, not to the tree: the
 * release that falls out of `keep` is renamed to the spare's work name
 * and brought to the live tree by the diff between the two commits, each
 * differing path unlinked and hard-linked anew from the live release.
 * That replaces one unlink per file (pruning) plus one link per file (a
 * fresh spare) by a few per changed path.  Only without a release to
 * recycle (the first deploys, keep not reached) is a spare linked whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "redeploy.h"

/* 1 when .spare-<live_id> became `incoming`, 0 when there is none. */
int
spare_take(int releasesfd, const char *live_id, const char *incoming)
{
	char spare[RELEASE_IDLEN + 16];
	struct stat st;

	snprintf(spare, sizeof(spare), ".spare-%s", live_id);
	if (fstatat(releasesfd, spare, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return fs_remove_tree(releasesfd, spare) == 0 ? 0 : -1;
	if (renameat(releasesfd, spare, releasesfd, incoming) == -1)
		return errno == ENOENT ? 0 : -1;
	return 1;
}

/*
 * Name the finished spare: the next deploy trusts it to hold the whole
 * release, so after a power cut it must not have lost entries that the
 * name survived.  Sync first, then rename.
 */
static int
spare_name(int releasesfd, int rootfd, const char *work, const char *spare,
    char *err, size_t n)
{
	if (syncfs(rootfd) == -1) {
		snprintf(err, n, "syncing '%s': %s", work, strerror(errno));
		return -1;
	}
	if (renameat(releasesfd, work, releasesfd, spare) == -1) {
		snprintf(err, n, "naming '%s': %s", spare, strerror(errno));
		return -1;
	}
	return 0;
}

/* The names both kinds of spare use, and release <id> opened as the base
 * to copy from: its fd, or -1 with err set. */
static int
spare_begin(int releasesfd, const char *id, char work[32],
    char spare[RELEASE_IDLEN + 16], char *err, size_t n)
{
	char hex[17];
	int relfd;

	if (fs_random_hex(hex, 8) == -1) {
		snprintf(err, n, "random: %s", strerror(errno));
		return -1;
	}
	snprintf(work, 32, ".incoming-%s", hex);
	snprintf(spare, RELEASE_IDLEN + 16, ".spare-%s", id);
	if ((relfd = openat(releasesfd, id, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		snprintf(err, n, "release '%s': %s", id, strerror(errno));
	return relfd;
}

/*
 * Make .spare-<id> from release <id>, whose tree is tmpl->tree; tmpl gives
 * the repository, config, owner and threads.  Under the deploy lock.
 */
int
spare_make(int pathfd, int releasesfd, const char *id,
    const struct checkout_opts *tmpl, uid_t suid, gid_t sgid, char *err,
    size_t n)
{
	struct checkout_opts o = *tmpl;
	struct checkout_stats st = { 0 };
	char work[32], spare[RELEASE_IDLEN + 16];
	int relfd, rootfd = -1, rc = -1;

	if ((relfd = spare_begin(releasesfd, id, work, spare, err, n)) == -1)
		return -1;
	if (mkdirat(releasesfd, work, 0700) == -1) {
		snprintf(err, n, "'%s': %s", work, strerror(errno));
		work[0] = '\0';
		goto out;
	}
	if ((rootfd = openat(releasesfd, work, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1 ||
	    (o.uid != (uid_t)-1 && fchown(rootfd, o.uid, o.gid) == -1)) {
		snprintf(err, n, "'%s': %s", work, strerror(errno));
		goto out;
	}
	o.base_tree = o.tree;
	o.base_fd = relfd;
	o.root_fd = rootfd;
	o.sync = 0;
	if (checkout_run(&o, &st, err, n) == -1 ||
	    checkout_shared(pathfd, rootfd, o.cfg, o.uid, o.gid, suid, sgid,
	    err, n) == -1)
		goto out;
	if (spare_name(releasesfd, rootfd, work, spare, err, n) == -1)
		goto out;
	work[0] = '\0';
	rc = 0;
out:
	links_free(&st.symlinks);
	if (work[0] != '\0')
		(void)fs_remove_tree(releasesfd, work);
	if (rootfd != -1)
		close(rootfd);
	if (relfd != -1)
		close(relfd);
	return rc;
}

/*
 * Turn `from` in releases/ (a release that pruning would remove, with its
 * metadata from_meta, or the spare of a release no longer live), whose
 * tree is old_tree, into .spare-<id> of release <id> (tree tmpl->tree).
 * From the rename on, `from` is gone: a kill leaves .incoming-* debris
 * (and maybe metadata alone), which the next deploy removes.
 */
int
spare_recycle(int pathfd, int releasesfd, const char *from,
    const char *from_meta, const git_oid *old_tree, const char *id,
    const struct checkout_opts *tmpl, uid_t suid, gid_t sgid, char *err,
    size_t n)
{
	struct checkout_opts o = *tmpl;
	struct checkout_stats st = { 0 };
	char work[32], spare[RELEASE_IDLEN + 16];
	int relfd, rootfd = -1, rc = -1;

	if ((relfd = spare_begin(releasesfd, id, work, spare, err, n)) == -1)
		return -1;
	if (renameat(releasesfd, from, releasesfd, work) == -1) {
		snprintf(err, n, "moving '%s': %s", from, strerror(errno));
		work[0] = '\0';
		goto out;
	}
	crashpoint("housekeeping");
	if (from_meta != NULL && unlinkat(releasesfd, from_meta, 0) == -1 &&
	    errno != ENOENT) {
		snprintf(err, n, "removing '%s': %s", from_meta,
		    strerror(errno));
		goto out;
	}
	if ((rootfd = openat(releasesfd, work, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1 || fchmod(rootfd, 0700) == -1) {
		snprintf(err, n, "'%s': %s", work, strerror(errno));
		goto out;
	}
	o.base_tree = old_tree;
	o.base_fd = relfd;
	o.root_fd = rootfd;
	o.sync = 1;
	o.recycle = 1;
	o.base_files = -1;
	o.base_entries = -1;
	if (checkout_run(&o, &st, err, n) == -1 ||
	    checkout_shared(pathfd, rootfd, o.cfg, o.uid, o.gid, suid, sgid,
	    err, n) == -1 ||
	    spare_name(releasesfd, rootfd, work, spare, err, n) == -1)
		goto out;
	work[0] = '\0';
	rc = 0;
out:
	links_free(&st.symlinks);
	if (work[0] != '\0')
		(void)fs_remove_tree(releasesfd, work);
	if (rootfd != -1)
		close(rootfd);
	close(relfd);
	return rc;
}

/* The tree of a release's commit, if the repository still has it. */
static int
spare_tree_of(git_repository *repo, const struct release *r, git_oid *tree)
{
	git_commit *c = NULL;
	git_oid oid;

	if (repo == NULL || git_oid_fromstr(&oid, r->commit) != 0 ||
	    git_commit_lookup(&c, repo, &oid) != 0)
		return -1;
	git_oid_cpy(tree, git_commit_tree_id(c));
	git_commit_free(c);
	return 0;
}

/*
 * After a deploy (or rollback) made `live` current: prune what `keep`
 * lets go and leave .spare-<live> ready for the next deploy, recycling the
 * newest release that pruning would remove (the nearest in history, so
 * the smallest diff) if it was built the same way.  Under the deploy lock.
 */
int
spare_prepare(int pathfd, int releasesfd, const struct release *live,
    const struct checkout_opts *tmpl, uid_t suid, gid_t sgid,
    size_t *pruned, char *err, size_t n)
{
	struct release_list l = { 0 };
	git_repository *repo = NULL;
	unsigned char *doomed = NULL;
	char spare[RELEASE_IDLEN + 16], stale[RELEASE_IDLEN + 16];
	char meta[RELEASE_IDLEN + 8];
	struct stat st;
	git_oid old_tree;
	size_t i, pick;
	int have_spare = 0, recyclable, rc = -1;

	*pruned = 0;
	err[0] = '\0';
	if (release_list(pathfd, &l) == -1) {
		snprintf(err, n, "listing releases: %s", strerror(errno));
		return -1;
	}
	if ((doomed = calloc(l.n + 1, 1)) == NULL) {
		snprintf(err, n, "out of memory");
		goto out;
	}
	(void)release_prune_plan(&l, tmpl->cfg->keep, doomed);
	snprintf(spare, sizeof(spare), ".spare-%s", live->id);
	if (fstatat(releasesfd, spare, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISDIR(st.st_mode))
			have_spare = 1;
		else
			(void)unlinkat(releasesfd, spare, 0);
	}
	repo_init();
	if (git_repository_open_bare(&repo, tmpl->repo_path) != 0)
		repo = NULL;
	/* With .gitattributes in use (attr.c) what a path holds depends on
	 * more than its blob, and the diff of two commits does not say which
	 * paths changed: the spare is then a fresh hard-link copy. */
	recyclable = strstr(live->build, " attrs=") == NULL;
	/* The spare of a release that is no longer live (after a rollback)
	 * holds that release's tree: the cheapest start of all. */
	for (i = 0; i < l.n; i++) {
		snprintf(stale, sizeof(stale), ".spare-%s", l.v[i].id);
		if (l.v[i].current || fstatat(releasesfd, stale, &st,
		    AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		if (!S_ISDIR(st.st_mode) || have_spare || !recyclable ||
		    strcmp(l.v[i].build, live->build) != 0 ||
		    spare_tree_of(repo, &l.v[i], &old_tree) == -1 ||
		    spare_recycle(pathfd, releasesfd, stale, NULL, &old_tree,
		    live->id, tmpl, suid, sgid, err, n) == -1)
			(void)fs_remove_tree(releasesfd, stale);
		else
			have_spare = 1;
	}
	for (pick = 0; !have_spare && recyclable && pick < l.n; pick++)
		if (doomed[pick] && strcmp(l.v[pick].id, live->id) != 0 &&
		    l.v[pick].build[0] != '\0' &&
		    strcmp(l.v[pick].build, live->build) == 0)
			break;
	if (!have_spare && recyclable && pick < l.n &&
	    spare_tree_of(repo, &l.v[pick], &old_tree) == 0) {
		snprintf(meta, sizeof(meta), "%s.meta", l.v[pick].id);
		if (spare_recycle(pathfd, releasesfd, l.v[pick].id, meta,
		    &old_tree, live->id, tmpl, suid, sgid, err, n) == 0)
			have_spare = 1;
		else
			log_warnx("recycling release %s into the next spare: "
			    "%s", l.v[pick].id, err);
		/* gone either way once it was renamed */
		if (fstatat(releasesfd, l.v[pick].id, &st,
		    AT_SYMLINK_NOFOLLOW) == -1) {
			(void)links_remove(releasesfd, l.v[pick].id);
			doomed[pick] = 0;
			(*pruned)++;
		}
	}
	err[0] = '\0';
	for (i = 0; i < l.n; i++) {
		if (!doomed[i])
			continue;
		if (release_remove(releasesfd, l.v[i].id) == -1) {
			snprintf(err, n, "removing release '%s': %s", l.v[i].id,
			    strerror(errno));
			goto out;
		}
		(*pruned)++;
	}
	if (!have_spare && spare_make(pathfd, releasesfd, live->id, tmpl, suid,
	    sgid, err, n) == -1)
		goto out;
	rc = 0;
out:
	git_repository_free(repo);
	free(doomed);
	release_list_free(&l);
	return rc;
}
