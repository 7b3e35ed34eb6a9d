/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * redeploy.h - the hook program: one section per file.
 *
 * Exit codes (doc/redeploy.1): 0 ok or nothing to do, 1 deploy failed,
 * 2 usage or configuration error, 3 system error.
 */
#ifndef REDEPLOY_H
#define REDEPLOY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <git2.h>
#include <jansson.h>

#include "config.h"

#define EXIT_DEPLOY	1
#define EXIT_USAGE	2
#define EXIT_SYSTEM	3

#define ERRLEN		512
#define RELEASE_IDLEN	64

/* repo.c - the repository and where the config comes from */
void	repo_init(void);
void	repo_shutdown(void);
int	repo_open(git_repository **out, const char *path, char *err, size_t n);
int	repo_set_quarantine(const char *git_dir, const char *path, char *err,
	    size_t n);
int	repo_git_dir(char *out, size_t n, char *err, size_t errlen);
int	repo_config_path(const char *git_dir, char *out, size_t n);
int	repo_resolve(git_repository *repo, const char *rev, git_oid *commit,
	    char *err, size_t n);

/* branches.c - the branches a repository has, for messages */
int	branches_list(git_repository *repo, char *out, size_t n);

/* refs.c - what a hook invocation says was pushed */
enum refs_verdict {
	REFS_DEPLOY = 0,	/* the configured branch was updated */
	REFS_DELETED,		/* the configured branch was deleted */
	REFS_IGNORE		/* nothing for us */
};
struct refs_update {
	char	*ref;
	int	 deleted;	/* known deleted (post-receive new = 0...0) */
	char	 old[GIT_OID_HEXSZ + 1];	/* from "old new ref" lines */
	char	 new[GIT_OID_HEXSZ + 1];
};
struct refs {
	struct refs_update *v;
	size_t	 n;
};
int	refs_from_args(struct refs *r, int argc, char **argv);
int	refs_from_lines(struct refs *r, const char *text, char *err, size_t n);
enum refs_verdict refs_judge(const struct refs *r, const char *branch_ref);
const struct refs_update *refs_find(const struct refs *r, const char *ref);
void	refs_free(struct refs *r);

/* lock.c - one deploy at a time per path, a kernel lock on PATH/.lock */
int	lock_acquire(int pathfd, const char *what, uid_t uid, gid_t gid);
int	lock_try(int pathfd, const char *what, uid_t uid, gid_t gid);
void	lock_note(int fd, const char *what);
void	lock_release(int fd);

/* release.c - ids, metadata, listing, the current switch, pruning */
struct release {
	char	 id[RELEASE_IDLEN];
	char	 commit[GIT_OID_HEXSZ + 1];
	char	 ref[256];
	char	 pusher[64];
	char	 result[16];	/* pending | deployed | failed */
	char	 build[256];	/* modes and owner it was built with */
	char	 reason[256];	/* why it is failed or was not started */
	char	 prev[RELEASE_IDLEN];	/* current before it went live */
	int64_t	 time;
	long	 serial;	/* per path, increasing: orders releases */
	long	 files;
	long	 entries;	/* files, links and directories checked out */
	int	 current;
};
struct release_list {
	struct release *v;	/* newest first */
	size_t	 n;
};
int	release_id_valid(const char *id);
int	release_make_id(char *out, size_t n, int64_t when, const char *hex);
int	release_meta_format(const struct release *r, char *buf, size_t n);
int	release_meta_parse(struct release *r, const char *text);
int	release_meta_read(int releasesfd, const char *id, struct release *r);
int	release_meta_write(int releasesfd, const struct release *r, uid_t uid,
	    gid_t gid);
int	release_current(int pathfd, char *id, size_t n);
int	release_list(int pathfd, struct release_list *out);
void	release_list_free(struct release_list *l);
int	release_switch(int pathfd, const char *id, uid_t uid, gid_t gid);
int	release_prune_plan(const struct release_list *l, int keep,
	    unsigned char *doomed);
int	release_prune(int pathfd, int keep, size_t *removed);
int	release_remove(int releasesfd, const char *id);
int	release_clean_debris(int pathfd);

/* vet.c - names and symlink targets from a pushed tree */
int	vet_name(const char *name);
int	vet_entry(const char *name, unsigned int mode, char *why, size_t n);
int	vet_tree(const git_tree *tree, const char *rel, char *err, size_t n);
int	vet_symlink(git_repository *repo, const git_tree *root,
	    const char *linkpath, const char *target,
	    const struct config_list *shared, char *err, size_t n);
int	vet_is_shared(const struct config_list *shared, const char *path);
int	vet_under_shared(const struct config_list *shared, const char *path);
int	vet_shared_below(const struct config_list *shared, const char *path);

/* links.c - a release's symlink paths, releases/<id>.links */
struct links {
	char	*p;		/* NUL-terminated paths, one after another */
	size_t	 len, cap;
};
int	links_add(struct links *b, const char *path);
int	links_append(struct links *dst, const struct links *src);
void	links_free(struct links *b);
int	links_merge(struct links *out, const struct links *base,
	    const struct links *removed, const struct links *added);
int	links_read(int releasesfd, const char *id, struct links *out);
int	links_write(int releasesfd, const char *id, const struct links *l,
	    uid_t uid, gid_t gid);
int	links_remove(int releasesfd, const char *id);

/* checkout.c - write a commit's tree into a fresh directory */
struct checkout_stats {
	unsigned long	written;	/* files written from the object store */
	unsigned long	linked;		/* unchanged files reused (hard links) */
	unsigned long	dirs;
	unsigned long	links;		/* symlinks */
	unsigned long	removed;	/* files a sync removed */
	unsigned long	removed_entries; /* entries a sync removed */
	unsigned long	entries;	/* in the new tree; 0: not known */
	unsigned long long bytes;
	int		restructured;	/* a sync added, removed or retyped a
					 * directory, symlink or submodule */
	struct links	symlinks;	/* every symlink of the new tree, for
					 * <id>.links, when symlinks_known */
	int		symlinks_known;
};
struct checkout_opts {
	const char	*repo_path;	/* absolute path of the bare repository */
	const struct config *cfg;
	const git_oid	*tree;		/* what to write */
	const git_oid	*base_tree;	/* what base_fd holds, or NULL */
	int		 base_fd;	/* previous release to reuse, or -1 */
	int		 root_fd;	/* the empty directory to fill, or with
					 * sync, the one holding base_tree */
	int		 sync;		/* apply base_tree -> tree in root_fd */
	int		 recycle;	/* with sync: base_fd holds `tree` (a
					 * vetted release); changed files are
					 * hard links to it */
	long		 base_files;	/* with sync: files in base_tree, or -1 */
	long		 base_entries;	/* with sync: its entries, or -1 */
	const struct links *base_links;	/* with sync: base_tree's symlinks,
					 * or NULL (then the tree is walked) */
	uid_t		 uid;		/* (uid_t)-1: leave the caller's */
	gid_t		 gid;
	int		 threads;
	const git_oid	*commit;	/* whose attributes apply */
	int		 attrs;		/* attr_scan() found some in use */
};
int	checkout_threads(void);
int	checkout_run(const struct checkout_opts *o, struct checkout_stats *st,
	    char *err, size_t n);
int	checkout_shared(int pathfd, int root_fd, const struct config *cfg,
	    uid_t uid, gid_t gid, uid_t suid, gid_t sgid, char *err, size_t n);

/* attr.c - .gitattributes as git archive applies them */
#define ATTR_IGNORE	1u	/* export-ignore: leave it out */
#define ATTR_CONVERT	2u	/* text, eol, crlf, ident: filter it */
#define ATTR_SUBST	4u	/* export-subst: expand $Format:...$ */
struct attr;
int	attr_scan(git_repository *repo, const char *repo_path,
	    const git_oid *commit, char *sig, size_t n, char *err, size_t errn);
int	attr_open(struct attr **out, git_repository *repo,
	    const char *repo_path, const git_oid *commit, int root_fd,
	    char *err, size_t n);
void	attr_close(struct attr *a);
int	attr_path(struct attr *a, const char *path, int is_dir,
	    unsigned *flags, char *err, size_t n);
int	attr_content(struct attr *a, git_blob *blob, const char *path,
	    unsigned flags, const void **out, size_t *len, char **mem,
	    char *err, size_t n);

/* spare.c - a hard-link copy of the live release for the next deploy */
int	spare_take(int releasesfd, const char *live_id, const char *incoming);
int	spare_make(int pathfd, int releasesfd, const char *id,
	    const struct checkout_opts *tmpl, uid_t suid, gid_t sgid,
	    char *err, size_t n);
int	spare_recycle(int pathfd, int releasesfd, const char *from,
	    const char *from_meta, const git_oid *old_tree, const char *id,
	    const struct checkout_opts *tmpl, uid_t suid, gid_t sgid,
	    char *err, size_t n);
int	spare_prepare(int pathfd, int releasesfd, const struct release *live,
	    const struct checkout_opts *tmpl, uid_t suid, gid_t sgid,
	    size_t *pruned, char *err, size_t n);

/* restart.c - restart through the agent, verify, or roll back */
struct restart_site {
	const struct config *cfg;
	int	 pathfd, releasesfd;
	uid_t	 uid;
	gid_t	 gid;
	char	 prev_link[4096];	/* what current was, if not a release */
};
int	restart_none(const struct restart_site *site);
int	restart_verify(const struct restart_site *site, struct release *rel,
	    const struct release *prev, const char **result, char *err,
	    size_t n);

/* crashpoint.c - a testing aid: die at a named step */
void	crashpoint(const char *step);

/* deploy.c - lock, check out, switch, prune, report */
struct deploy_req {
	const struct config *cfg;
	const char	*repo_path;	/* absolute */
	const char	*rev;		/* NULL: the branch tip (read under lock) */
	const char	*ref;		/* what the pusher pushed, for metadata */
	const char	*pusher;
	const char	*expect_old;	/* pre-receive: the branch must still
					 * be here (0...0: absent) */
	int		 settle;	/* after a push: quiet when live */
};
int	deploy_run(const struct deploy_req *req);
int	deploy_rollback(const struct deploy_req *req, const char *id);
void	deploy_reconcile(const struct deploy_req *req);
int	deploy_owner(const struct config *cfg, uid_t *uid, gid_t *gid,
	    char *err, size_t n);
int	deploy_current_kind(const struct config *cfg, int pathfd, char *err,
	    size_t n);
int	deploy_resolve_owner(const struct config *cfg, uid_t *uid, gid_t *gid,
	    char *err, size_t n);

/* prereceive.c - deploy before git moves the ref */
int	prereceive_run(const struct config *cfg, const char *git_dir,
	    const struct refs *refs, const char *branch_ref,
	    const char *pusher);

/* client.c - requests to the agent */
struct client_reply {
	long	 code;		/* HTTP status; -1 when the agent surely did
				 * nothing (not reached, token refused) */
	char	*body;
	json_t	*json;		/* the body, when it is JSON */
};
int	client_call(const struct config *cfg, const char *method,
	    const char *path, double timeout, struct client_reply *out,
	    char *err, size_t n);
void	client_reply_free(struct client_reply *r);
void	client_reply_parse(struct client_reply *r);
#define CLIENT_INT_MAX	(1LL << 53)	/* larger: not a number we read */
void	client_cleanup(void);
const char *client_str(const struct client_reply *r, const char *key);
long long client_int(const struct client_reply *r, const char *key);
void	client_print_log(const struct client_reply *r, size_t max);

/* ops.c - status, log, restart */
int	ops_status(const struct config *cfg, int json);
int	ops_log(const struct config *cfg, long lines);
int	ops_restart(const struct config *cfg);
void	ops_status_print(const struct config *cfg,
	    const struct client_reply *r);
int	ops_restart_print(const struct config *cfg,
	    const struct client_reply *r);

/* reconcile.c - heal what a killed deploy or rollback left */
int	reconcile_run(const struct restart_site *site);
int	reconcile_view(const struct config *cfg,
	    const struct client_reply *st, char *msg, size_t n);

/* install.c */
int	install_hook(const char *repo, const char *config_path,
	    const char *self, int pre);

/* tip.c - the branch tip against what is live */
int	tip_differs(const struct config *cfg, char *msg, size_t n);

/* safety.c - setups refused, with the command that mends them */
int	safety_path(const struct config *cfg, uid_t owner, char *err,
	    size_t n);
int	safety_repo(const struct config *cfg, const char *repo_path,
	    char *err, size_t n);
int	safety_shared_group(const struct config *cfg, gid_t *sgid, char *err,
	    size_t n);
int	safety_shared_ok(const struct config *cfg, int sharedfd, const char *p,
	    char *err, size_t n);

/* check.c */
int	check_run(const struct config *cfg);

#endif
