/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * install.c - `redeploy install-hook REPO`: write REPO/hooks/post-update.
 *
 * The hook is a two-line sh script that execs this binary with the absolute
 * config path.  An existing post-update that we did not write is never
 * replaced (nothing is lost); ours is rewritten atomically.  The repository
 * also gets receive.fsckObjects=true, so git itself refuses malformed trees
 * before the hook runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "redeploy.h"

#define INSTALL_MARK	"# installed by redeploy install-hook"

static int
install_quotable(const char *s)
{
	return strchr(s, '\'') == NULL && strchr(s, '\n') == NULL;
}

static int
install_chown(const char *file, uid_t uid, gid_t gid)
{
	int fd, rc;

	if ((fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	rc = fchown(fd, uid, gid);
	close(fd);
	return rc;
}

int
install_hook(const char *repo, const char *config_path, const char *self)
{
	git_repository *r = NULL;
	git_config *gc = NULL;
	struct stat st;
	char abs[PATH_MAX], file[PATH_MAX + 16], script[3 * PATH_MAX];
	char err[ERRLEN], *old = NULL;
	int hooksfd = -1, len, rc = EXIT_USAGE;

	if (realpath(repo, abs) == NULL) {
		log_warnx("repository '%s': %s", repo, strerror(errno));
		return EXIT_USAGE;
	}
	if (repo_open(&r, abs, err, sizeof(err)) == -1 ||
	    !git_repository_is_bare(r)) {
		log_warnx("'%s' is not a bare repository%s%s", abs,
		    r ? "" : ": ", r ? "" : err);
		goto out;
	}
	if (!install_quotable(self) || !install_quotable(config_path)) {
		log_warnx("paths with quotes or newlines cannot go into a hook");
		goto out;
	}
	len = snprintf(script, sizeof(script), "#!/bin/sh\n" INSTALL_MARK
	    ": deploys pushes to the configured branch\nexec '%s' -c '%s' "
	    "hook \"$@\"\n", self, config_path);
	if (len < 0 || (size_t)len >= sizeof(script)) {
		log_warnx("hook script too long");
		goto out;
	}
	snprintf(file, sizeof(file), "%s/hooks", abs);
	if (mkdir(file, 0755) == -1 && errno != EEXIST) {
		log_warn("creating '%s'", file);
		rc = EXIT_SYSTEM;
		goto out;
	}
	if ((hooksfd = open(file, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || fstat(hooksfd, &st) == -1) {
		log_warn("opening '%s'", file);
		rc = EXIT_SYSTEM;
		goto out;
	}
	if (fstatat(hooksfd, "post-update", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (!S_ISREG(st.st_mode) || fs_read_small(hooksfd, "post-update",
	    65536, &old, NULL) == -1 || strstr(old, INSTALL_MARK) == NULL)) {
		log_warnx("'%s/post-update' exists and was not written by "
		    "redeploy: move it away, or add this line to it: "
		    "%s -c '%s' hook \"$@\"", file, self, config_path);
		goto out;
	}
	/* The hook belongs to whoever owns the repository, never to root. */
	if (stat(abs, &st) == -1 || fs_write_atomic(hooksfd, "post-update",
	    script, (size_t)len, 0755, geteuid() == 0 ? st.st_uid : (uid_t)-1,
	    st.st_gid) == -1) {
		log_warn("writing '%s/post-update'", file);
		rc = EXIT_SYSTEM;
		goto out;
	}
	snprintf(file, sizeof(file), "%s/config", abs);
	if (git_config_open_ondisk(&gc, file) != 0 ||
	    git_config_set_bool(gc, "receive.fsckObjects", 1) != 0) {
		log_warnx("setting receive.fsckObjects in '%s': %s", file,
		    git_error_last() ? git_error_last()->message : "unknown");
		rc = EXIT_SYSTEM;
		goto out;
	}
	/* libgit2 rewrote the file: as root, give it back to its owner. */
	if (geteuid() == 0 && install_chown(file, st.st_uid, st.st_gid) == -1) {
		log_warn("chown '%s'", file);
		rc = EXIT_SYSTEM;
		goto out;
	}
	snprintf(file, sizeof(file), "%s/hooks", abs);
	log_info("installed '%s/post-update' (config '%s'); "
	    "receive.fsckObjects=true", file, config_path);
	rc = 0;
out:
	free(old);
	if (hooksfd != -1)
		close(hooksfd);
	git_config_free(gc);
	git_repository_free(r);
	return rc;
}
