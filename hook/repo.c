/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * repo.c - the bare repository, opened by explicit absolute path.
 *
 * Nothing from the environment is trusted beyond the hook's GIT_DIR, which
 * is made absolute once; libgit2 never sees the other GIT_* variables.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "redeploy.h"

static const char *
repo_giterr(void)
{
	const git_error *e = git_error_last();

	return e && e->message ? e->message : "unknown libgit2 error";
}

/* pre-receive: git's quarantine, added to every repository we open */
static char repo_quarantine[PATH_MAX];

/*
 * In a pre-receive hook the pushed objects are still in GIT_QUARANTINE_PATH
 * (git 2.11 and later).  Take exactly that directory, once it is known to be
 * a directory under the repository's own objects/, and nothing else from
 * the environment: every repo_open() adds it as an object alternate, in
 * memory only (nothing is written into the repository).
 */
int
repo_set_quarantine(const char *git_dir, const char *path, char *err,
    size_t n)
{
	char *abs = NULL, objects[PATH_MAX];
	struct stat st;
	size_t len;
	int rc = -1;

	if (path == NULL || *path == '\0') {
		repo_quarantine[0] = '\0';
		return 0;
	}
	len = (size_t)snprintf(objects, sizeof(objects), "%s/objects/",
	    git_dir);
	if ((abs = realpath(path, NULL)) == NULL || stat(abs, &st) == -1 ||
	    !S_ISDIR(st.st_mode)) {
		snprintf(err, n, "GIT_QUARANTINE_PATH '%s': %s", path,
		    strerror(errno ? errno : ENOTDIR));
		goto out;
	}
	if (len >= sizeof(objects) || strncmp(abs, objects, len) != 0 ||
	    strlen(abs) >= sizeof(repo_quarantine)) {
		snprintf(err, n, "GIT_QUARANTINE_PATH '%s' is not under '%s'",
		    path, objects);
		goto out;
	}
	snprintf(repo_quarantine, sizeof(repo_quarantine), "%s", abs);
	rc = 0;
out:
	free(abs);
	return rc;
}

/*
 * libgit2 is started on first use, not at program start: Debian's build
 * parses the whole CA bundle in git_libgit2_init() (about 5 ms), which a
 * hook run that deploys nothing, or `status`, has no use for.
 */
static int repo_started;

void
repo_init(void)
{
	if (repo_started)
		return;
	repo_started = 1;
	git_libgit2_init();
	/* Objects were checked on receive (receive.fsckObjects); rehashing
	 * every blob again costs a third of a full checkout. */
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
	/* Nobody's ~/.gitconfig or /etc/gitconfig steers a deploy. */
	git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_GLOBAL, "");
	git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_XDG, "");
	git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_SYSTEM, "");
}

void
repo_shutdown(void)
{
	if (!repo_started)
		return;
	repo_started = 0;
	git_libgit2_shutdown();
}

int
repo_open(git_repository **out, const char *path, char *err, size_t n)
{
	git_odb *odb = NULL;

	*out = NULL;
	repo_init();
	if (git_repository_open_bare(out, path) != 0) {
		snprintf(err, n, "cannot open repository '%s': %s", path,
		    repo_giterr());
		return -1;
	}
	if (repo_quarantine[0] != '\0' &&
	    (git_repository_odb(&odb, *out) != 0 ||
	    git_odb_add_disk_alternate(odb, repo_quarantine) != 0)) {
		snprintf(err, n, "reading the pushed objects in '%s': %s",
		    repo_quarantine, repo_giterr());
		git_odb_free(odb);
		git_repository_free(*out);
		*out = NULL;
		return -1;
	}
	git_odb_free(odb);
	return 0;
}

/* The hook's repository: GIT_DIR (often ".") made absolute. */
int
repo_git_dir(char *out, size_t n, char *err, size_t errlen)
{
	const char *gd = getenv("GIT_DIR");
	char *abs;

	if (gd == NULL || *gd == '\0') {
		snprintf(err, errlen, "GIT_DIR is not set: 'hook' runs from a "
		    "git hook (use 'redeploy deploy' by hand)");
		return -1;
	}
	if ((abs = realpath(gd, NULL)) == NULL) {
		snprintf(err, errlen, "GIT_DIR '%s': %s", gd, strerror(errno));
		return -1;
	}
	if ((size_t)snprintf(out, n, "%s", abs) >= n) {
		snprintf(err, errlen, "GIT_DIR '%s': path too long", gd);
		free(abs);
		return -1;
	}
	free(abs);
	return 0;
}

/* `git config redeploy.config` of the repository itself, if set. */
int
repo_config_path(const char *git_dir, char *out, size_t n)
{
	git_config *cfg = NULL;
	git_buf buf = { 0 };
	char file[PATH_MAX];
	int rc = -1;

	repo_init();
	if ((size_t)snprintf(file, sizeof(file), "%s/config", git_dir) >=
	    sizeof(file))
		return -1;
	if (git_config_open_ondisk(&cfg, file) != 0)
		return -1;
	if (git_config_get_string_buf(&buf, cfg, "redeploy.config") == 0 &&
	    (size_t)snprintf(out, n, "%s", buf.ptr) < n)
		rc = 0;
	git_buf_dispose(&buf);
	git_config_free(cfg);
	return rc;
}

int
repo_resolve(git_repository *repo, const char *rev, git_oid *commit,
    char *err, size_t n)
{
	git_object *obj = NULL, *peeled = NULL;
	int rc = -1;

	if (git_revparse_single(&obj, repo, rev) != 0) {
		snprintf(err, n, "unknown revision '%s': %s", rev,
		    repo_giterr());
		goto out;
	}
	if (git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) != 0) {
		snprintf(err, n, "'%s' is not a commit: %s", rev,
		    repo_giterr());
		goto out;
	}
	git_oid_cpy(commit, git_object_id(peeled));
	rc = 0;
out:
	git_object_free(peeled);
	git_object_free(obj);
	return rc;
}
