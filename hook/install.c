/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * install.c - `redeploy install-hook [--pre-receive] REPO`: write
 * REPO/hooks/post-update, and with --pre-receive REPO/hooks/pre-receive.
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

/* Is hooks/NAME a hook we wrote? */
static int
install_ours(int hooksfd, const char *name)
{
	char *old = NULL;
	int ours;

	ours = fs_read_small(hooksfd, name, 65536, &old, NULL) == 0 &&
	    strstr(old, INSTALL_MARK) != NULL;
	free(old);
	return ours;
}

/* Write hooks/NAME running `SELF -c CONFIG hook ARGS`, unless another
 * program's hook is there already. */
static int
install_one(int hooksfd, const char *dir, const char *name,
    const char *self, const char *config_path, const char *args,
    const struct stat *owner)
{
	struct stat st;
	char script[3 * PATH_MAX], *old = NULL;
	int len, rc = EXIT_USAGE;

	len = snprintf(script, sizeof(script), "#!/bin/sh\n" INSTALL_MARK
	    ": deploys pushes to the configured branch\nexec '%s' -c '%s' "
	    "hook %s\n", self, config_path, args);
	if (len < 0 || (size_t)len >= sizeof(script)) {
		log_warnx("hook script too long");
		goto out;
	}
	if (fstatat(hooksfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (!S_ISREG(st.st_mode) || fs_read_small(hooksfd, name,
	    65536, &old, NULL) == -1 || strstr(old, INSTALL_MARK) == NULL)) {
		log_warnx("'%s/%s' exists and was not written by "
		    "redeploy: move it away, or add this line to it: "
		    "%s -c '%s' hook %s", dir, name, self, config_path, args);
		goto out;
	}
	/* The hook belongs to whoever owns the repository, never to root. */
	if (fs_write_atomic(hooksfd, name, script, (size_t)len, 0755,
	    geteuid() == 0 ? owner->st_uid : (uid_t)-1, owner->st_gid) == -1) {
		log_warn("writing '%s/%s'", dir, name);
		rc = EXIT_SYSTEM;
		goto out;
	}
	rc = 0;
out:
	free(old);
	return rc;
}

int
install_hook(const char *repo, const char *config_path, const char *self,
    int pre)
{
	git_repository *r = NULL;
	git_config *gc = NULL;
	struct stat st;
	char abs[PATH_MAX], file[PATH_MAX + 16];
	char err[ERRLEN];
	int hooksfd = -1, rc = EXIT_USAGE;

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
	snprintf(file, sizeof(file), "%s/hooks", abs);
	if (mkdir(file, 0755) == -1 && errno != EEXIST) {
		log_warn("creating '%s'", file);
		rc = EXIT_SYSTEM;
		goto out;
	}
	if ((hooksfd = open(file, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || stat(abs, &st) == -1) {
		log_warn("opening '%s'", file);
		rc = EXIT_SYSTEM;
		goto out;
	}
	/* pre-receive deploys; post-update puts the tip live if git failed
	 * a ref update after the deploy (and is the whole job without it) */
	if ((pre && (rc = install_one(hooksfd, file, "pre-receive", self,
	    config_path, "--pre-receive", &st)) != 0) ||
	    (rc = install_one(hooksfd, file, "post-update", self, config_path,
	    "\"$@\"", &st)) != 0)
		goto out;
	rc = EXIT_USAGE;
	if (!pre && install_ours(hooksfd, "pre-receive") &&
	    unlinkat(hooksfd, "pre-receive", 0) == -1) {
		log_warn("removing '%s/pre-receive'", file);
		rc = EXIT_SYSTEM;
		goto out;
	}
	snprintf(file, sizeof(file), "%s/config", abs);
	repo_init();
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
	log_info("installed '%s/%s' (config '%s'); "
	    "receive.fsckObjects=true", file, pre ? "pre-receive' and "
	    "'post-update" : "post-update", config_path);
	rc = 0;
out:
	if (hooksfd != -1)
		close(hooksfd);
	git_config_free(gc);
	git_repository_free(r);
	return rc;
}
