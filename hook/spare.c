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
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
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
 * Make .spare-<id> from release <id>, whose tree is tmpl->tree; tmpl gives
 * the repository, config, owner and threads.  Under the deploy lock.
 */
int
spare_make(int pathfd, int releasesfd, const char *id,
    const struct checkout_opts *tmpl, uid_t suid, gid_t sgid, char *err,
    size_t n)
{
	struct checkout_opts o = *tmpl;
	struct checkout_stats st;
	char hex[17], work[32], spare[RELEASE_IDLEN + 16];
	int relfd = -1, rootfd = -1, rc = -1;

	if (fs_random_hex(hex, 8) == -1) {
		snprintf(err, n, "random: %s", strerror(errno));
		return -1;
	}
	snprintf(work, sizeof(work), ".incoming-%s", hex);
	snprintf(spare, sizeof(spare), ".spare-%s", id);
	if ((relfd = openat(releasesfd, id, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1 ||
	    mkdirat(releasesfd, work, 0700) == -1) {
		snprintf(err, n, "release '%s': %s", id, strerror(errno));
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
	/* The next deploy trusts the spare to hold the whole release: after
	 * a power cut it must not have lost entries that the name survived. */
	if (syncfs(rootfd) == -1) {
		snprintf(err, n, "syncing '%s': %s", work, strerror(errno));
		goto out;
	}
	if (renameat(releasesfd, work, releasesfd, spare) == -1) {
		snprintf(err, n, "naming '%s': %s", spare, strerror(errno));
		goto out;
	}
	work[0] = '\0';
	rc = 0;
out:
	if (work[0] != '\0')
		(void)fs_remove_tree(releasesfd, work);
	if (rootfd != -1)
		close(rootfd);
	if (relfd != -1)
		close(relfd);
	return rc;
}
