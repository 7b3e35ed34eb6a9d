/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * tip.c - is the branch tip what is live?  `status` and `check` say so when
 * it is not, in either hook mode: after a failed post-update deploy the
 * branch has moved and the site has not; in pre-receive mode that lasts
 * only until a push settles.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "redeploy.h"

/* 1 and a line in msg when they differ; 0 when equal or unknowable. */
int
tip_differs(const struct config *cfg, char *msg, size_t n)
{
	git_repository *repo = NULL;
	struct release cur;
	git_oid tip;
	char err[ERRLEN], ref[300], id[RELEASE_IDLEN], hex[GIT_OID_HEXSZ + 1];
	int fd = -1, have_tip, have_live = 0, rc = 0;

	msg[0] = '\0';
	if (cfg->repository == NULL ||
	    repo_open(&repo, cfg->repository, err, sizeof(err)) == -1)
		return 0;
	snprintf(ref, sizeof(ref), "refs/heads/%s", cfg->branch);
	have_tip = git_reference_name_to_id(&tip, repo, ref) == 0;
	git_error_clear();
	if (have_tip)
		git_oid_tostr(hex, sizeof(hex), &tip);
	memset(&cur, 0, sizeof(cur));
	if ((fd = open(cfg->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1 &&
	    release_current(fd, id, sizeof(id)) == 0) {
		int rfd = openat(fd, "releases", O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);

		have_live = rfd != -1 && release_meta_read(rfd, id, &cur) == 0;
		if (rfd != -1)
			close(rfd);
	}
	if (have_tip && have_live && strcmp(hex, cur.commit) != 0)
		snprintf(msg, n, "branch %s is at %.7s; live is %.7s (release "
		    "%s): push again or run 'redeploy deploy'", cfg->branch,
		    hex, cur.commit, cur.id);
	else if (have_tip && !have_live)
		snprintf(msg, n, "branch %s is at %.7s; no release of ours is "
		    "live: push again or run 'redeploy deploy'", cfg->branch,
		    hex);
	else if (!have_tip && have_live)
		snprintf(msg, n, "branch %s does not exist; live is %.7s "
		    "(release %s)", cfg->branch, cur.commit, cur.id);
	rc = msg[0] != '\0';
	if (fd != -1)
		close(fd);
	git_repository_free(repo);
	return rc;
}
