/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * safety.c - setups a deploy refuses, and `check` explains, in one line
 * each with the command that mends them.
 *
 * - Paths others can write: every directory from / to the deploy path,
 *   and releases/, must be writable only by its owner (and root), and not
 *   owned by the service user; otherwise whoever else can write there can
 *   put their own release live.  A sticky directory (/tmp) is fine when
 *   what lies in it is root's or the deploy user's: others cannot rename
 *   or remove it.  (A releases/ of a previous [deploy] owner is fine: an
 *   owner change is the admin's.)
 * - Repositories others own, as git's safe.directory: the hook deploys
 *   from a repository owned by the user it runs as, unless [deploy]
 *   allow_other_owner = yes says that another owner is intended.
 * - Shared paths the service cannot write: shared/<p> must be writable by
 *   the service user.  Run as root, the hook gives them to that user; as
 *   another user it can give them only to a group it is in, the
 *   service's group, mode 2775 (INSTALL: adduser git www-data).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ids.h"
#include "redeploy.h"

static void
safety_user(char *buf, size_t n, uid_t uid)
{
	struct passwd *pw = getpwuid(uid);

	if (pw != NULL)
		snprintf(buf, n, "%s", pw->pw_name);
	else
		snprintf(buf, n, "%ld", (long)uid);
}

static int safety_svc(const struct config *, uid_t *, gid_t *);

/*
 * One directory: writable by no one but its owner, and not the service
 * user's.  A sticky one may be writable by others when the next component
 * (nextuid) is owned by root or owner.
 */
static int
safety_dir(const struct config *cfg, const char *path, const struct stat *st,
    uid_t owner, int has_next, uid_t nextuid, char *err, size_t n)
{
	char want[64];
	uid_t su;
	gid_t sg;

	if (safety_svc(cfg, &su, &sg) == 0 && st->st_uid == su &&
	    su != owner) {
		safety_user(want, sizeof(want), owner);
		snprintf(err, n, "'%s' is owned by the service user '%s', who "
		    "could replace what deploys below it (chown %s '%s')",
		    path, cfg->user, want, path);
		return -1;
	}
	if (!(st->st_mode & (S_IWGRP | S_IWOTH)))
		return 0;
	if ((st->st_mode & S_ISVTX) && has_next &&
	    (nextuid == 0 || nextuid == owner))
		return 0;
	snprintf(err, n, "'%s' is writable by %s, who could replace what "
	    "deploys below it (chmod %s '%s')", path,
	    (st->st_mode & S_IWOTH) ? "everyone" : "its group",
	    (st->st_mode & S_IWOTH) && (st->st_mode & S_IWGRP) ? "go-w" :
	    (st->st_mode & S_IWOTH) ? "o-w" : "g-w", path);
	return -1;
}

/* Every directory of an absolute path, from / down to the path itself. */
static int
safety_components(const struct config *cfg, const char *path, uid_t owner,
    char *err, size_t n)
{
	char dir[PATH_MAX], child[PATH_MAX];
	struct stat st, cst;
	size_t len = strlen(path), i, end, k;
	int has_child;

	if (len == 0 || len >= sizeof(dir) || path[0] != '/')
		return 0;
	for (i = 0; i < len; i++) {
		if (i > 0 && path[i] != '/')
			continue;
		end = i == 0 ? 1 : i;	/* "/", then each longer prefix */
		memcpy(dir, path, end);
		dir[end] = '\0';
		if (lstat(dir, &st) == -1)
			return 0;	/* missing: said elsewhere */
		if (!S_ISDIR(st.st_mode))
			continue;	/* a symlink: its directory counts */
		for (k = i + 1; k < len && path[k] != '/'; k++)
			;
		memcpy(child, path, k);
		child[k] = '\0';
		has_child = k > i + 1 && lstat(child, &cst) == 0;
		if (safety_dir(cfg, dir, &st, owner, has_child,
		    has_child ? cst.st_uid : 0, err, n) == -1)
			return -1;
	}
	if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
	    safety_dir(cfg, path, &st, owner, 0, 0, err, n) == -1)
		return -1;
	return 0;
}

int
safety_path(const struct config *cfg, uid_t owner, char *err, size_t n)
{
	char real[PATH_MAX], rel[PATH_MAX + 16];
	struct stat st;

	if (safety_components(cfg, cfg->path, owner, err, n) == -1)
		return -1;
	if (realpath(cfg->path, real) != NULL && strcmp(real, cfg->path) != 0 &&
	    safety_components(cfg, real, owner, err, n) == -1)
		return -1;
	snprintf(rel, sizeof(rel), "%s/releases", cfg->path);
	if (lstat(rel, &st) == 0 && S_ISDIR(st.st_mode) &&
	    safety_dir(cfg, rel, &st, owner, 0, 0, err, n) == -1)
		return -1;
	return 0;
}

int
safety_repo(const struct config *cfg, const char *repo_path, char *err,
    size_t n)
{
	struct stat st;
	char who[64], me[64];

	if (cfg->allow_other_owner || stat(repo_path, &st) == -1 ||
	    st.st_uid == geteuid())
		return 0;
	safety_user(who, sizeof(who), st.st_uid);
	safety_user(me, sizeof(me), geteuid());
	snprintf(err, n, "repository '%s' is owned by %s, not by %s who runs "
	    "this: deploy as %s, or set allow_other_owner = yes in [deploy] "
	    "of '%s' if that is intended (as git's safe.directory)", repo_path,
	    who, me, who, cfg->file);
	return -1;
}

/* The service's uid and gid, or -1 when no [service] user is named. */
static int
safety_svc(const struct config *cfg, uid_t *uid, gid_t *gid)
{
	struct passwd *pw;
	struct group *gr;

	if (cfg->user == NULL || (pw = ids_user(cfg->user)) == NULL)
		return -1;
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	if (cfg->svc_group != NULL && (gr = ids_group(cfg->svc_group)) != NULL)
		*gid = gr->gr_gid;
	return 0;
}

static int
safety_in_group(gid_t gid)
{
	gid_t list[NGROUPS_MAX];
	int i, n;

	if (getegid() == gid)
		return 1;
	if ((n = getgroups(NGROUPS_MAX, list)) < 0)
		return 0;
	for (i = 0; i < n; i++)
		if (list[i] == gid)
			return 1;
	return 0;
}

int
safety_shared_group(const struct config *cfg, gid_t *sgid, char *err,
    size_t n)
{
	struct group *gr;
	uid_t su;
	gid_t sg;
	char me[64];

	if (geteuid() == 0 || cfg->shared.n == 0 ||
	    safety_svc(cfg, &su, &sg) == -1 || su == geteuid())
		return 0;
	if (safety_in_group(sg)) {
		*sgid = sg;
		return 0;
	}
	gr = getgrgid(sg);
	safety_user(me, sizeof(me), geteuid());
	snprintf(err, n, "shared paths must be writable by the service user "
	    "'%s', but %s is not in its group '%s' and cannot give them to "
	    "it (as root: adduser %s %s)", cfg->user, me,
	    gr ? gr->gr_name : "?", me, gr ? gr->gr_name : "GROUP");
	return -1;
}

int
safety_shared_ok(const struct config *cfg, int sharedfd, const char *p,
    char *err, size_t n)
{
	struct stat st;
	uid_t su;
	gid_t sg;
	char dir[PATH_MAX];

	if (safety_svc(cfg, &su, &sg) == -1 ||
	    fstatat(sharedfd, p, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return 0;
	if ((st.st_uid == su && (st.st_mode & S_IWUSR)) ||
	    (st.st_gid == sg && (st.st_mode & S_IWGRP)) ||
	    (st.st_mode & S_IWOTH))
		return 0;
	snprintf(dir, sizeof(dir), "%s/shared/%s", cfg->path, p);
	snprintf(err, n, "shared path '%s' is not writable by the service "
	    "user '%s' (as root: chown %s '%s'; or chgrp %s '%s' && chmod "
	    "2775 '%s')", dir, cfg->user, cfg->user, dir,
	    getgrgid(sg) ? getgrgid(sg)->gr_name : "GROUP", dir, dir);
	return -1;
}
