/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * check.c - `redeploy check`: the config and the directories it names.
 *
 * Each problem is one line saying what to do; "configuration OK" and exit 0
 * only when there is none.  Checks: owner and group resolve, the deploy
 * path and releases/ exist, belong to the right user and cannot be written
 * by others or by the service user, modes are usable, the repository
 * opens; with an agent: the service user and group, authbind's permission
 * for the ready port, the token file, and the agent answering /health.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ids.h"
#include "log.h"
#include "redeploy.h"
#include "token.h"

struct check {
	const struct config *cfg;
	int	 problems;
	uid_t	 owner;		/* who should own what deploys create */
	uid_t	 svc_uid;	/* (uid_t)-1: no service user known */
	gid_t	 svc_gid;
	struct group *svc_grp;
};

static void
check_problem(struct check *ck, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
check_problem(struct check *ck, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_warnx("%s", line);
	ck->problems++;
}

/* Could the service user write to something with this owner and mode? */
static int
check_svc_writable(const struct check *ck, const struct stat *st)
{
	struct passwd *pw;
	char **m;

	if (ck->svc_uid == (uid_t)-1)
		return 0;
	if (st->st_uid == ck->svc_uid)
		return 1;
	if (!(st->st_mode & S_IWGRP))
		return 0;
	if (st->st_gid == ck->svc_gid)
		return 1;
	if ((pw = getpwuid(ck->svc_uid)) == NULL)
		return 0;
	{
		struct group *gr = getgrgid(st->st_gid);

		for (m = gr ? gr->gr_mem : NULL; m && *m; m++)
			if (strcmp(*m, pw->pw_name) == 0)
				return 1;
	}
	return 0;
}

static void
check_user(char *buf, size_t n, uid_t uid)
{
	struct passwd *pw = getpwuid(uid);

	if (pw != NULL)
		snprintf(buf, n, "%s", pw->pw_name);
	else
		snprintf(buf, n, "%ld", (long)uid);
}

static void
check_dir(struct check *ck, const char *what, const char *path, int required)
{
	struct stat st;

	if (lstat(path, &st) == -1) {
		if (required || errno != ENOENT)
			check_problem(ck, "%s '%s': %s%s", what, path,
			    strerror(errno), errno == ENOENT ?
			    " (create it, owned by the deploy user)" : "");
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		check_problem(ck, "%s '%s' is not a directory", what, path);
		return;
	}
	if (st.st_uid != ck->owner) {
		char has[64], want[64];

		check_user(has, sizeof(has), st.st_uid);
		check_user(want, sizeof(want), ck->owner);
		check_problem(ck, "%s '%s' is owned by %s, not by %s who deploys "
		    "(chown %s '%s')", what, path, has, want, want, path);
	}
	/* writable by others: safety_path says so, once */
	if (!(st.st_mode & (S_IWOTH | S_IWGRP)) && check_svc_writable(ck, &st))
		check_problem(ck, "%s '%s' is writable by the service user '%s' "
		    "(only shared/ may be)", what, path, ck->cfg->user);
}

/* Could uid (primary group gid) execute a file with this owner and mode? */
static int
check_can_exec(const struct stat *st, uid_t uid, gid_t gid)
{
	if (st->st_uid == uid)
		return (st->st_mode & S_IXUSR) != 0;
	if (st->st_gid == gid)
		return (st->st_mode & S_IXGRP) != 0;
	return (st->st_mode & S_IXOTH) != 0;
}

/*
 * The agent's side: the service's user and group, authbind's permission
 * for the ready port, the token file, and whether the agent answers.
 */
static void
check_agent(struct check *ck)
{
	const struct config *cfg = ck->cfg;
	struct client_reply r;
	struct stat st;
	char err[ERRLEN], byport[64], token[TOKEN_HEXLEN + 1];
	int port = cfg->ready_port;

	if (cfg->svc_group != NULL && ids_group(cfg->svc_group) == NULL)
		check_problem(ck, "[service] group '%s' is not a group on this "
		    "machine", cfg->svc_group);
	if (cfg->authbind) {
		if (access("/usr/bin/authbind", X_OK) == -1)
			check_problem(ck, "authbind = yes but /usr/bin/authbind "
			    "is missing (apt-get install authbind)");
		if (cfg->ready != READY_NONE && port > 0 && port < 1024) {
			/* authbind wants "!PORT" for 512-1023 */
			snprintf(byport, sizeof(byport), "/etc/authbind/byport/"
			    "%s%d", port >= 512 ? "!" : "", port);
			if (stat(byport, &st) == -1)
				check_problem(ck, "authbind has no '%s': the "
				    "service cannot bind port %d (touch it, "
				    "chown %s, chmod 0500)", byport, port,
				    cfg->user ? cfg->user : "the service user");
			else if (ck->svc_uid != (uid_t)-1 &&
			    !check_can_exec(&st, ck->svc_uid, ck->svc_gid))
				check_problem(ck, "'%s' is not executable by '%s': "
				    "the service cannot bind port %d (chown "
				    "%s '%s'; chmod 0500 '%s')", byport,
				    cfg->user, port, cfg->user, byport, byport);
		}
	}
	if (cfg->svc_listen.n > 0)
		log_info("note: restart = %s on sockets redeployd holds "
		    "(%zu, first '%s'); the service must take them from "
		    "LISTEN_FDS", cfg->restart == RESTART_OVERLAP ? "overlap" :
		    "stop-first", cfg->svc_listen.n, cfg->svc_listen.v[0]);
	else
		log_info("note: restart = classic: the service binds its port "
		    "itself, so every restart refuses connections for a "
		    "moment (set [service] listen to avoid that)");
	if (token_read(cfg->token_file, token, err, sizeof(err)) == -1) {
		check_problem(ck, "%s", err);
		return;
	}
	explicit_bzero(token, sizeof(token));
	if (client_call(cfg, "GET", "/health", 5, &r, err, sizeof(err)) == -1)
		check_problem(ck, "%s", err);
	else if (r.code != 200)
		check_problem(ck, "the agent on %s:%d answered /health with %ld",
		    cfg->listen_host, cfg->listen_port, r.code);
	client_reply_free(&r);
	/* current and the service must agree (see reconcile.c) */
	if (client_call(cfg, "GET", "/status", 5, &r, err, sizeof(err)) == 0 &&
	    r.code == 200 && reconcile_view(cfg, &r, err, sizeof(err)) == 1)
		check_problem(ck, "%s", err);
	client_reply_free(&r);
}

struct check_tree {
	const struct config *cfg;
	git_odb		*odb;
	unsigned long	 entries;
	unsigned long long bytes;
	char		 err[ERRLEN];
};

static int
check_tree_cb(const char *root, const git_tree_entry *e, void *payload)
{
	struct check_tree *ct = payload;
	const struct config *cfg = ct->cfg;
	git_object_t type;
	size_t size;
	const char *p;
	char path[4096];
	int depth = 1;

	/* root is "" or "a/b/": the entry is root + name */
	for (p = root; *p != '\0'; p++)
		depth += *p == '/';
	snprintf(path, sizeof(path), "%s%s", root, git_tree_entry_name(e));
	if (vet_is_shared(&cfg->shared, path))
		return 1;
	if (++ct->entries > (unsigned long)cfg->max_entries) {
		snprintf(ct->err, sizeof(ct->err), "the branch tip has more "
		    "than max_entries = %d files, links and directories: a "
		    "deploy would fail (raise it in '%s')", cfg->max_entries,
		    cfg->file);
		return -1;
	}
	if (depth > cfg->max_depth) {
		snprintf(ct->err, sizeof(ct->err), "'%s%s' in the branch tip is "
		    "%d deep, more than max_depth = %d: a deploy would fail "
		    "(raise it in '%s')", root, git_tree_entry_name(e), depth,
		    cfg->max_depth, cfg->file);
		return -1;
	}
	if (git_tree_entry_filemode(e) != GIT_FILEMODE_BLOB &&
	    git_tree_entry_filemode(e) != GIT_FILEMODE_BLOB_EXECUTABLE)
		return 0;
	if (git_odb_read_header(&size, &type, ct->odb,
	    git_tree_entry_id(e)) != 0)
		return 0;	/* the deploy says what is missing */
	ct->bytes += size;
	if (size > cfg->max_file) {
		snprintf(ct->err, sizeof(ct->err), "'%s%s' in the branch tip is "
		    "%zu bytes, more than max_file: a deploy would fail (raise "
		    "it in '%s')", root, git_tree_entry_name(e), size,
		    cfg->file);
		return -1;
	}
	if (ct->bytes > cfg->max_bytes) {
		snprintf(ct->err, sizeof(ct->err), "the files of the branch tip "
		    "add up to more than max_bytes: a deploy would fail (raise "
		    "it in '%s')", cfg->file);
		return -1;
	}
	return 0;
}

/* The limits of [deploy] against the branch tip, as a full deploy. */
static void
check_tree(struct check *ck, git_repository *repo, git_reference *ref)
{
	struct check_tree ct = { .cfg = ck->cfg };
	git_commit *c = NULL;
	git_tree *t = NULL;

	if (git_repository_odb(&ct.odb, repo) == 0 &&
	    git_commit_lookup(&c, repo, git_reference_target(ref)) == 0 &&
	    git_commit_tree(&t, c) == 0 &&
	    git_tree_walk(t, GIT_TREEWALK_PRE, check_tree_cb, &ct) != 0 &&
	    ct.err[0] != '\0')
		check_problem(ck, "%s", ct.err);
	git_tree_free(t);
	git_commit_free(c);
	git_odb_free(ct.odb);
}

/* What a deploy would refuse: the same functions, the same one line. */
static void
check_safety(struct check *ck)
{
	const struct config *cfg = ck->cfg;
	char err[ERRLEN];
	gid_t sgid = (gid_t)-1;
	size_t i;
	int fd, sfd;

	if (safety_path(cfg, ck->owner, err, sizeof(err)) == -1)
		check_problem(ck, "%s", err);
	if (cfg->repository != NULL &&
	    safety_repo(cfg, cfg->repository, err, sizeof(err)) == -1)
		check_problem(ck, "%s", err);
	if (geteuid() != 0 &&
	    safety_shared_group(cfg, &sgid, err, sizeof(err)) == -1)
		check_problem(ck, "%s", err);
	if ((fd = open(cfg->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return;
	if (deploy_current_kind(cfg, fd, err, sizeof(err)) == -1)
		check_problem(ck, "%s", err);
	if ((sfd = openat(fd, "shared", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) != -1) {
		for (i = 0; i < cfg->shared.n; i++) {
			struct stat st;

			/* ours and mendable: the next deploy mends it */
			if (sgid != (gid_t)-1 && fstatat(sfd, cfg->shared.v[i],
			    &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    st.st_uid == geteuid())
				continue;
			if (safety_shared_ok(cfg, sfd, cfg->shared.v[i], err,
			    sizeof(err)) == -1)
				check_problem(ck, "%s", err);
		}
		close(sfd);
	}
	close(fd);
}

int
check_run(const struct config *cfg)
{
	struct check ck = { .cfg = cfg, .svc_uid = (uid_t)-1,
	    .svc_gid = (gid_t)-1 };
	git_repository *repo = NULL;
	git_reference *ref = NULL;
	struct passwd *pw;
	struct group *gr;
	char err[ERRLEN], p[4096], refname[300];
	uid_t uid;
	gid_t gid;

	/* Who should own the releases: the configured owner, whoever asks;
	 * without one, whoever runs the hook (here: the caller). */
	uid = geteuid();
	if ((cfg->owner != NULL || geteuid() == 0) &&
	    deploy_resolve_owner(cfg, &uid, &gid, err, sizeof(err)) == -1) {
		check_problem(&ck, "%s", err);
		uid = geteuid();
	}
	ck.owner = uid;
	if (cfg->user != NULL) {
		if ((pw = ids_user(cfg->user)) == NULL)
			check_problem(&ck, "[service] user '%s' is not a user "
			    "on this machine (create it, or fix the name)",
			    cfg->user);
		else {
			ck.svc_uid = pw->pw_uid;
			ck.svc_gid = pw->pw_gid;
			if (cfg->svc_group != NULL &&
			    (gr = ids_group(cfg->svc_group)) != NULL)
				ck.svc_gid = gr->gr_gid;
			if (ck.svc_uid == ck.owner)
				check_problem(&ck, "[service] user '%s' owns the "
				    "releases: the service could change its own "
				    "code (use another [deploy] owner)",
				    cfg->user);
		}
	}
	if ((cfg->dir_mode & 0500) != 0500)
		check_problem(&ck, "dir_mode %04o lacks owner read and search "
		    "(0500)", (unsigned)cfg->dir_mode);
	if ((cfg->file_mode & 0400) != 0400)
		check_problem(&ck, "file_mode %04o lacks owner read (0400)",
		    (unsigned)cfg->file_mode);
	check_dir(&ck, "deploy path", cfg->path, 1);
	snprintf(p, sizeof(p), "%s/releases", cfg->path);
	check_dir(&ck, "releases directory", p, 0);
	check_safety(&ck);

	if (cfg->repository == NULL) {
		log_info("note: [deploy] repository is unset: the hook uses the "
		    "repository it runs in; 'deploy' and 'releases' by hand "
		    "need it");
	} else if (repo_open(&repo, cfg->repository, err, sizeof(err)) == -1) {
		check_problem(&ck, "%s", err);
	} else {
		snprintf(refname, sizeof(refname), "refs/heads/%s",
		    cfg->branch);
		if (git_reference_lookup(&ref, repo, refname) == 0 &&
		    git_reference_target(ref) != NULL)
			check_tree(&ck, repo, ref);
		else {
			if (branches_list(repo, p, sizeof(p)) > 0)
				check_problem(&ck, "[deploy] branch '%s' does "
				    "not exist in '%s', which has %s (fix "
				    "branch in '%s')", cfg->branch,
				    cfg->repository, p, cfg->file);
			else
				log_info("note: branch '%s' does not exist yet "
				    "in '%s' (the first push creates it)",
				    cfg->branch, cfg->repository);
		}
	}
	if (cfg->has_agent)
		check_agent(&ck);
	else if (reconcile_view(cfg, NULL, err, sizeof(err)) == 1)
		check_problem(&ck, "%s", err);
	git_reference_free(ref);
	git_repository_free(repo);
	if (ck.problems > 0)
		return EXIT_USAGE;
	printf("configuration OK\n");
	return 0;
}
