/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * checkout.c - write a commit's tree into a fresh release directory.
 *
 * We read the tree and blobs with libgit2 and write the files ourselves
 * rather than through git_checkout_tree(): that gives exact modes whatever
 * the umask, ownership by fd, O_EXCL|O_NOFOLLOW creation, symlinks vetted
 * before they exist, and no index anywhere.  Rules:
 * - The release directory is 0700 until the caller opens it up, so nobody
 *   sees or races into a half-written tree.
 * - A file whose path, mode and blob are unchanged since the previous
 *   release is a hard link to it (the incremental deploy); every changed
 *   file is a new inode.  Nothing ever writes through an existing inode.
 * - Directories are a work queue served by a few threads, each with its
 *   own git_repository (libgit2 objects are not shared across threads).
 * - A pushed tree is bounded ([deploy] max_bytes, max_file, max_entries,
 *   max_depth): each entry is counted before it is made and each blob's
 *   size is read from its header before it is inflated, so a huge blob is
 *   never read into memory and a huge tree stops at the limit.  Loose
 *   blobs are streamed; packed ones (libgit2 1.5 cannot stream them) are
 *   read whole, which max_file bounds.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "redeploy.h"

#define CO_MAXTHREADS	8
#define CO_MAXLINK	4096
#define CO_CHUNK	65536	/* one read of a streamed blob */

struct co_task {
	struct co_task	*next;
	git_oid		 tree;
	git_oid		 base;
	int		 has_base;
	int		 sync;		/* the directory holds base already */
	char		 rel[];		/* "" for the release root */
};

struct co {
	const struct checkout_opts *o;
	mode_t		 dmode, fmode, xmode;
	mode_t		 umask;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct co_task	*head;
	int		 active;	/* tasks queued or being worked on */
	int		 failed;
	int		 errnum;	/* errno of the failure, if any */
	char		 err[ERRLEN];
	atomic_ulong	 entries;	/* made by this checkout */
	atomic_ullong	 bytes;		/* of file content written */
};

struct co_worker {
	struct co	*co;
	git_repository	*repo;
	git_tree	*root;		/* for resolving symlinks */
	struct attr	*attr;		/* NULL: no attributes in use */
	struct checkout_stats st;
	struct links	 added;		/* symlinks written */
	struct links	 removed;	/* links and directories a sync removed */
	pthread_t	 tid;
	char		 err[ERRLEN];
};

static const char *
co_giterr(void)
{
	const git_error *e = git_error_last();

	return e && e->message ? e->message : "unknown libgit2 error";
}

static int
co_push(struct co *co, const char *rel, const git_oid *tree,
    const git_oid *base, int sync)
{
	struct co_task *t;
	size_t len = strlen(rel);

	if ((t = malloc(sizeof(*t) + len + 1)) == NULL)
		return -1;
	memcpy(t->rel, rel, len + 1);
	if (tree != NULL)
		git_oid_cpy(&t->tree, tree);
	else
		memset(&t->tree, 0, sizeof(t->tree));
	t->has_base = base != NULL;
	t->sync = sync;
	if (base != NULL)
		git_oid_cpy(&t->base, base);
	pthread_mutex_lock(&co->mu);
	t->next = co->head;
	co->head = t;
	co->active++;
	pthread_cond_signal(&co->cv);
	pthread_mutex_unlock(&co->mu);
	return 0;
}

static int
co_own(struct co *co, int fd, mode_t mode)
{
	const struct checkout_opts *o = co->o;

	if (o->uid != (uid_t)-1 && fchown(fd, o->uid, o->gid) == -1)
		return -1;
	return fchmod(fd, mode);
}

/* "100M", "2G": a limit as the config would say it. */
static void
co_size(char *buf, size_t n, unsigned long long v)
{
	static const char units[] = "KMGT";
	int i = -1;

	while (i < 3 && v >= 1024 && v % 1024 == 0) {
		v /= 1024;
		i++;
	}
	if (i < 0)
		snprintf(buf, n, "%llu", v);
	else
		snprintf(buf, n, "%llu%c", v, units[i]);
}

/* One more entry at path: within max_entries and max_depth? */
static int
co_limit_entry(struct co_worker *w, const char *path)
{
	const struct config *cfg = w->co->o->cfg;
	unsigned long n = atomic_fetch_add(&w->co->entries, 1) + 1;
	int depth = 1;
	const char *p;

	for (p = path; *p != '\0'; p++)
		depth += *p == '/';
	if (depth > cfg->max_depth) {
		snprintf(w->err, sizeof(w->err), "'%s' is %d directories "
		    "deep, more than max_depth = %d allows (raise it in "
		    "'%s' or flatten the tree)", path, depth, cfg->max_depth,
		    cfg->file);
		errno = EFBIG;
		return -1;
	}
	if (n > (unsigned long)cfg->max_entries) {
		snprintf(w->err, sizeof(w->err), "the tree has more than "
		    "max_entries = %d files, links and directories (at '%s'; "
		    "raise it in '%s' or deploy less)", cfg->max_entries,
		    path, cfg->file);
		errno = EFBIG;
		return -1;
	}
	return 0;
}

/* A blob of size bytes is to be written: within max_file and max_bytes? */
static int
co_limit_blob(struct co_worker *w, const char *path, unsigned long long size)
{
	const struct config *cfg = w->co->o->cfg;
	unsigned long long total;
	char lim[32];

	if (size > cfg->max_file) {
		co_size(lim, sizeof(lim), cfg->max_file);
		snprintf(w->err, sizeof(w->err), "'%s' is %llu bytes, more than "
		    "max_file = %s allows (raise it in '%s' or keep the file "
		    "out of the branch)", path, size, lim, cfg->file);
		errno = EFBIG;
		return -1;
	}
	total = atomic_fetch_add(&w->co->bytes, size) + size;
	if (total > cfg->max_bytes) {
		co_size(lim, sizeof(lim), cfg->max_bytes);
		snprintf(w->err, sizeof(w->err), "the files to write add up to "
		    "more than max_bytes = %s (at '%s'; raise it in '%s' or "
		    "deploy less)", lim, path, cfg->file);
		errno = EFBIG;
		return -1;
	}
	return 0;
}

/* Copy a loose blob to fd through a stream: never all of it in memory.
 * 1 when written, 0 when the object cannot be streamed (packed). */
static int
co_stream_blob(git_odb *odb, const git_oid *oid, int fd, size_t size)
{
	git_odb_stream *s = NULL;
	git_object_t type;
	char *buf = NULL;
	size_t len, done = 0;
	int n, rc = -1;

	if (git_odb_open_rstream(&s, &len, &type, odb, oid) != 0)
		return 0;
	if (type != GIT_OBJECT_BLOB || len != size ||
	    (buf = malloc(CO_CHUNK)) == NULL) {
		errno = type != GIT_OBJECT_BLOB || len != size ? EIO : ENOMEM;
		goto out;
	}
	while (done < size) {
		if ((n = git_odb_stream_read(s, buf, CO_CHUNK)) <= 0 ||
		    (size_t)n > size - done) {
			errno = EIO;
			goto out;
		}
		if (fs_write_all(fd, buf, (size_t)n) == -1)
			goto out;
		done += (size_t)n;
	}
	rc = 1;
out:
	free(buf);
	git_odb_stream_free(s);
	return rc;
}

static int
co_write_blob(struct co_worker *w, int dirfd, const char *name,
    const git_oid *oid, mode_t mode, const char *path, unsigned aflags)
{
	struct co *co = w->co;
	git_blob *blob = NULL;
	git_odb *odb = NULL;
	git_object_t type;
	const void *data;
	char *mem = NULL;
	size_t size;
	int fd = -1, rc = -1, streamed = 0;

	/* The size from the header, before anything is inflated. */
	if (git_repository_odb(&odb, w->repo) != 0 ||
	    git_odb_read_header(&size, &type, odb, oid) != 0) {
		snprintf(w->err, sizeof(w->err), "reading '%s': %s", path,
		    co_giterr());
		goto out;
	}
	if (co_limit_blob(w, path, size) == -1)
		goto out;
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, mode);
	if (fd != -1 && aflags != 0) {
		/* converted or expanded (attr.c): the whole blob in memory */
		if (git_blob_lookup(&blob, w->repo, oid) != 0) {
			snprintf(w->err, sizeof(w->err), "reading '%s': %s",
			    path, co_giterr());
			goto out;
		}
		if (attr_content(w->attr, blob, path, aflags, &data, &size,
		    &mem, w->err, sizeof(w->err)) == -1)
			goto out;
		streamed = fs_write_all(fd, data, size) == -1 ? -1 : 1;
	} else if (fd != -1 &&
	    (streamed = co_stream_blob(odb, oid, fd, size)) == 0) {
		if (git_blob_lookup(&blob, w->repo, oid) != 0) {
			snprintf(w->err, sizeof(w->err), "reading '%s': %s",
			    path, co_giterr());
			goto out;
		}
		if ((size_t)git_blob_rawsize(blob) != size) {
			errno = EIO;
			streamed = -1;
		} else if (fs_write_all(fd, git_blob_rawcontent(blob),
		    size) == -1)
			streamed = -1;
	}
	if (fd == -1 || streamed == -1 ||
	    (co->o->uid != (uid_t)-1 && fchown(fd, co->o->uid, co->o->gid)) ||
	    ((mode & co->umask) && fchmod(fd, mode) == -1)) {
		snprintf(w->err, sizeof(w->err), "writing '%s': %s", path,
		    errno == EEXIST ? "duplicate entry in the tree" :
		    strerror(errno));
		goto out;
	}
	if (close(fd) == -1) {
		fd = -1;
		snprintf(w->err, sizeof(w->err), "writing '%s': %s", path,
		    strerror(errno));
		goto out;
	}
	fd = -1;
	w->st.written++;
	w->st.bytes += size;
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	free(mem);
	git_blob_free(blob);
	git_odb_free(odb);
	return rc;
}

/* A symlink's target from the tree, vetted under `symlinks = inside`. */
static int
co_link_target(struct co_worker *w, const git_oid *oid, const char *path,
    char *target, size_t n)
{
	const struct config *cfg = w->co->o->cfg;
	git_blob *blob = NULL;
	size_t size;
	int rc = -1;

	if (git_blob_lookup(&blob, w->repo, oid) != 0) {
		snprintf(w->err, sizeof(w->err), "reading symlink '%s': %s",
		    path, co_giterr());
		return -1;
	}
	size = (size_t)git_blob_rawsize(blob);
	if (size == 0 || size >= n ||
	    memchr(git_blob_rawcontent(blob), '\0', size) != NULL) {
		snprintf(w->err, sizeof(w->err), "symlink '%s' has an invalid "
		    "target", path);
		goto out;
	}
	memcpy(target, git_blob_rawcontent(blob), size);
	target[size] = '\0';
	if (cfg->symlinks == SYMLINKS_INSIDE &&
	    vet_symlink(w->repo, w->root, path, target, &cfg->shared, w->err,
	    sizeof(w->err)) == -1)
		goto out;
	rc = 0;
out:
	git_blob_free(blob);
	return rc;
}

static int
co_symlink(struct co_worker *w, int dirfd, const char *name,
    const git_oid *oid, const char *path)
{
	struct co *co = w->co;
	char target[CO_MAXLINK];

	if (co_link_target(w, oid, path, target, sizeof(target)) == -1)
		return -1;
	if (symlinkat(target, dirfd, name) == -1 ||
	    (co->o->uid != (uid_t)-1 && fchownat(dirfd, name, co->o->uid,
	    co->o->gid, AT_SYMLINK_NOFOLLOW) == -1)) {
		snprintf(w->err, sizeof(w->err), "creating symlink '%s': %s",
		    path, errno == EEXIST ? "duplicate entry in the tree" :
		    strerror(errno));
		return -1;
	}
	if (links_add(&w->added, path) == -1) {
		snprintf(w->err, sizeof(w->err), "out of memory");
		return -1;
	}
	w->st.links++;
	return 0;
}

/* A directory, for a subtree or an (empty) submodule. */
static int
co_mkdir(struct co_worker *w, int dirfd, const char *name, const char *path)
{
	if (mkdirat(dirfd, name, 0700) == -1) {
		snprintf(w->err, sizeof(w->err), "creating '%s': %s", path,
		    errno == EEXIST ? "duplicate entry in the tree" :
		    strerror(errno));
		return -1;
	}
	w->st.dirs++;
	return 0;
}

/*
 * After mkdir: 1 when the directory is export-ignore (it is removed
 * again), 0 when it stays, -1 on error (w->err set).
 */
static int
co_dir_ignored(struct co_worker *w, int dirfd, const char *name,
    const char *path)
{
	unsigned aflags;

	w->err[0] = '\0';
	if (w->attr == NULL)
		return 0;
	if (attr_path(w->attr, path, 1, &aflags, w->err, sizeof(w->err)) == -1)
		return -1;
	if (!(aflags & ATTR_IGNORE))
		return 0;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) == -1) {
		snprintf(w->err, sizeof(w->err), "removing '%s': %s", path,
		    strerror(errno));
		return -1;
	}
	return 1;
}

/*
 * Does the tree hold nothing but trees, down to the bottom?  git archive
 * writes a directory only for a file, link or submodule below it, so such
 * a tree makes no directory in a release either.  1 yes, 0 no, -1 error.
 */
static int
co_tree_empty(git_repository *repo, const git_oid *id, int depth)
{
	git_tree *t = NULL;
	size_t i, count;
	int rc = 1;

	if (depth <= 0)
		return 0;	/* too deep: let the depth limit say so */
	if (git_tree_lookup(&t, repo, id) != 0)
		return -1;
	count = git_tree_entrycount(t);
	for (i = 0; i < count && rc == 1; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(t, i);

		if (git_tree_entry_filemode(e) != GIT_FILEMODE_TREE)
			rc = 0;
		else
			rc = co_tree_empty(repo, git_tree_entry_id(e),
			    depth - 1);
	}
	git_tree_free(t);
	return rc;
}

/* Can this file be a hard link to the same file of the previous release? */
static int
co_unchanged(const git_tree *base, const git_tree_entry *e)
{
	const git_tree_entry *be;

	if (base == NULL ||
	    (be = git_tree_entry_byname(base, git_tree_entry_name(e))) == NULL)
		return 0;
	return git_tree_entry_filemode(be) == git_tree_entry_filemode(e) &&
	    git_oid_equal(git_tree_entry_id(be), git_tree_entry_id(e));
}

static int
co_entry(struct co_worker *w, int dirfd, int basefd, const git_tree *base,
    const git_tree_entry *e, const char *path)
{
	struct co *co = w->co;
	const struct config *cfg = co->o->cfg;
	const char *name = git_tree_entry_name(e);
	const git_tree_entry *be;
	git_filemode_t mode = git_tree_entry_filemode(e);
	unsigned aflags = 0;

	if (vet_is_shared(&cfg->shared, path))
		return 0;	/* replaced by a link into shared/ */
	if (co_limit_entry(w, path) == -1)
		return -1;
	/* A file is asked about before it exists, a directory after
	 * (attr.c: libgit2 stats the path to tell "dir/" patterns). */
	if (w->attr != NULL && mode != GIT_FILEMODE_TREE &&
	    mode != GIT_FILEMODE_COMMIT) {
		if (attr_path(w->attr, path, 0, &aflags, w->err,
		    sizeof(w->err)) == -1)
			return -1;
		if (aflags & ATTR_IGNORE)
			return 0;
	}
	if (mode != GIT_FILEMODE_TREE && vet_shared_below(&cfg->shared, path)) {
		snprintf(w->err, sizeof(w->err), "'%s' is a file in the tree "
		    "but a shared path lies below it", path);
		return -1;
	}
	switch (mode) {
	case GIT_FILEMODE_TREE:
		switch (co_tree_empty(w->repo, git_tree_entry_id(e),
		    cfg->max_depth)) {
		case 1:
			return 0;	/* as git archive: no directory */
		case -1:
			snprintf(w->err, sizeof(w->err), "reading tree '%s': "
			    "%s", path, co_giterr());
			return -1;
		}
		/* In a sync, a directory made only to hold a shared link
		 * (tmp/ of tmp/cache) is there already: fill it. */
		if (mkdirat(dirfd, name, 0700) == -1 && !(errno == EEXIST &&
		    vet_shared_below(&cfg->shared, path))) {
			snprintf(w->err, sizeof(w->err), "creating '%s': %s",
			    path, errno == EEXIST ? "duplicate entry in the "
			    "tree" : strerror(errno));
			return -1;
		}
		if (co_dir_ignored(w, dirfd, name, path) != 0)
			return w->err[0] ? -1 : 0;
		w->st.dirs++;
		be = base ? git_tree_entry_byname(base, name) : NULL;
		if (be != NULL && git_tree_entry_filemode(be) != GIT_FILEMODE_TREE)
			be = NULL;
		if (co_push(co, path, git_tree_entry_id(e),
		    be ? git_tree_entry_id(be) : NULL, 0) == -1) {
			snprintf(w->err, sizeof(w->err), "out of memory");
			return -1;
		}
		return 0;
	case GIT_FILEMODE_BLOB:
	case GIT_FILEMODE_BLOB_EXECUTABLE:
		if (basefd != -1 && co_unchanged(base, e)) {
			if (linkat(basefd, name, dirfd, name, 0) == 0) {
				w->st.linked++;
				return 0;
			}
			if (errno == EEXIST) {
				snprintf(w->err, sizeof(w->err), "writing '%s': "
				    "duplicate entry in the tree", path);
				return -1;
			}
			/* gone, or too many links: write it afresh */
		}
		return co_write_blob(w, dirfd, name, git_tree_entry_id(e),
		    mode == GIT_FILEMODE_BLOB ? co->fmode : co->xmode, path,
		    aflags);
	case GIT_FILEMODE_LINK:
		return co_symlink(w, dirfd, name, git_tree_entry_id(e), path);
	case GIT_FILEMODE_COMMIT:
		/* A submodule: an empty directory, as git checks it out. */
		if (co_mkdir(w, dirfd, name, path) == -1)
			return -1;
		if (co_dir_ignored(w, dirfd, name, path) != 0)
			return w->err[0] ? -1 : 0;
		return co_push(co, path, NULL, NULL, 0) == 0 ? 0 : -1;
	default:
		snprintf(w->err, sizeof(w->err), "'%s' has an unknown mode %o",
		    path, (unsigned)mode);
		return -1;
	}
}

static int co_sync_dir(struct co_worker *, const struct co_task *, int);

static int
co_dir(struct co_worker *w, const struct co_task *t)
{
	struct co *co = w->co;
	const struct checkout_opts *o = co->o;
	git_tree *tree = NULL, *base = NULL;
	char path[4096];
	size_t i, count, rlen = strlen(t->rel);
	int dirfd = -1, basefd = -1, rc = -1;

	if ((dirfd = fs_open_beneath(o->root_fd, t->rel)) == -1) {
		snprintf(w->err, sizeof(w->err), "opening '%s': %s", t->rel,
		    strerror(errno));
		goto out;
	}
	if (git_oid_is_zero(&t->tree)) {	/* an empty submodule dir */
		rc = co_own(co, dirfd, co->dmode);
		goto out;
	}
	if (t->sync) {
		rc = co_sync_dir(w, t, dirfd);
		goto out;
	}
	if (git_tree_lookup(&tree, w->repo, &t->tree) != 0) {
		snprintf(w->err, sizeof(w->err), "reading tree '%s': %s",
		    t->rel[0] ? t->rel : "/", co_giterr());
		goto out;
	}
	if (vet_tree(tree, t->rel, w->err, sizeof(w->err)) == -1)
		goto out;
	if (t->has_base && o->base_fd != -1 &&
	    git_tree_lookup(&base, w->repo, &t->base) == 0)
		basefd = fs_open_beneath(o->base_fd, t->rel);
	count = git_tree_entrycount(tree);
	for (i = 0; i < count; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(tree, i);
		const char *name = git_tree_entry_name(e);

		if (vet_name(name) == -1) {
			snprintf(w->err, sizeof(w->err), "the tree has an "
			    "entry '%s%s%s' that must not be checked out",
			    t->rel, rlen ? "/" : "", name);
			goto out;
		}
		if ((size_t)snprintf(path, sizeof(path), "%s%s%s", t->rel,
		    rlen ? "/" : "", name) >= sizeof(path)) {
			snprintf(w->err, sizeof(w->err), "path too long in "
			    "'%s'", t->rel);
			goto out;
		}
		if (co_entry(w, dirfd, basefd, basefd != -1 ? base : NULL, e,
		    path) == -1)
			goto out;
	}
	/* The root stays 0700 until the caller has finished. */
	if (rlen > 0 && co_own(co, dirfd, co->dmode) == -1) {
		snprintf(w->err, sizeof(w->err), "setting mode of '%s': %s",
		    t->rel, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	git_tree_free(base);
	git_tree_free(tree);
	if (basefd != -1)
		close(basefd);
	if (dirfd != -1)
		close(dirfd);
	return rc;
}

static int
co_same(const git_tree_entry *a, const git_tree_entry *b)
{
	return git_tree_entry_filemode(a) == git_tree_entry_filemode(b) &&
	    git_oid_equal(git_tree_entry_id(a), git_tree_entry_id(b));
}

static int
co_walked(git_filemode_t m)
{
	return m == GIT_FILEMODE_TREE || m == GIT_FILEMODE_LINK ||
	    m == GIT_FILEMODE_COMMIT;
}

/*
 * Can replacing entry oe by e (either NULL: added, removed) change where a
 * symlink elsewhere in the tree resolves?  vet_symlink walks directories
 * and follows symlinks; a file, whatever its content, ends a path the same
 * way a missing entry does.  So only directories, symlinks and submodules
 * that appear, go or change type (or target) matter.
 */
static int
co_restructures(const git_tree_entry *oe, const git_tree_entry *e)
{
	git_filemode_t a = oe ? git_tree_entry_filemode(oe) : GIT_FILEMODE_BLOB;
	git_filemode_t b = e ? git_tree_entry_filemode(e) : GIT_FILEMODE_BLOB;

	if (a == GIT_FILEMODE_TREE && b == GIT_FILEMODE_TREE)
		return 0;
	return co_walked(a) || co_walked(b);
}

struct co_count {
	const struct config *cfg;
	const char	*base;		/* path of the subtree walked */
	unsigned long	 files;
	unsigned long	 entries;
};

static int
co_count_cb(const char *root, const git_tree_entry *e, void *payload)
{
	struct co_count *cc = payload;
	char path[4096];

	if (cc->cfg->shared.n > 0) {
		snprintf(path, sizeof(path), "%s/%s%s", cc->base, root,
		    git_tree_entry_name(e));
		if (vet_is_shared(&cc->cfg->shared, path))
			return 1;
	}
	cc->entries++;
	switch (git_tree_entry_filemode(e)) {
	case GIT_FILEMODE_BLOB:
	case GIT_FILEMODE_BLOB_EXECUTABLE:
		cc->files++;
		return 0;
	default:
		return 0;
	}
}

/* How many files a sync takes away with old entry oe (a walk of what is
 * removed only), so that the new count is the old one plus the diff. */
static int
co_count_removed(struct co_worker *w, const git_tree_entry *oe,
    const char *path)
{
	struct co_count cc = { w->co->o->cfg, path, 0, 0 };
	git_tree *sub = NULL;

	w->st.removed_entries++;
	switch (git_tree_entry_filemode(oe)) {
	case GIT_FILEMODE_BLOB:
	case GIT_FILEMODE_BLOB_EXECUTABLE:
		w->st.removed++;
		return 0;
	case GIT_FILEMODE_TREE:
		break;
	default:
		return 0;
	}
	if (git_tree_lookup(&sub, w->repo, git_tree_entry_id(oe)) != 0 ||
	    git_tree_walk(sub, GIT_TREEWALK_PRE, co_count_cb, &cc) != 0) {
		snprintf(w->err, sizeof(w->err), "reading tree '%s': %s", path,
		    co_giterr());
		git_tree_free(sub);
		return -1;
	}
	git_tree_free(sub);
	w->st.removed += cc.files;
	w->st.removed_entries += cc.entries;
	return 0;
}

/*
 * Bring a directory that holds the base tree to the new tree: remove what
 * went away or changed, write what is new or changed as new inodes, and
 * recurse only into subtrees whose ids differ.  Unchanged files stay hard
 * links shared with the live release; nothing is written through them.
 * When recycling an old release into the spare, base_fd is the release
 * that holds the new tree: what changed is a hard link to it, not a write.
 */
static int
co_sync_dir(struct co_worker *w, const struct co_task *t, int dirfd)
{
	struct co *co = w->co;
	const struct config *cfg = co->o->cfg;
	git_tree *tree = NULL, *old = NULL;
	const git_tree_entry *e, *oe;
	struct stat dst;
	char path[4096];
	size_t i, rlen = strlen(t->rel);
	int linkfd = -1, rc = -1;

	if (git_tree_lookup(&tree, w->repo, &t->tree) != 0 ||
	    git_tree_lookup(&old, w->repo, &t->base) != 0) {
		snprintf(w->err, sizeof(w->err), "reading tree '%s': %s",
		    rlen ? t->rel : "/", co_giterr());
		goto out;
	}
	/* the same verdict as a full checkout: see vet.c */
	if (vet_tree(tree, t->rel, w->err, sizeof(w->err)) == -1)
		goto out;
	if (co->o->recycle && co->o->base_fd != -1)
		linkfd = fs_open_beneath(co->o->base_fd, t->rel);
	for (i = 0; i < git_tree_entrycount(old); i++) {
		oe = git_tree_entry_byindex(old, i);
		e = git_tree_entry_byname(tree, git_tree_entry_name(oe));
		if (e != NULL && (co_same(e, oe) ||
		    (git_tree_entry_filemode(e) == GIT_FILEMODE_TREE &&
		    git_tree_entry_filemode(oe) == GIT_FILEMODE_TREE)))
			continue;
		snprintf(path, sizeof(path), "%s%s%s", t->rel, rlen ? "/" : "",
		    git_tree_entry_name(oe));
		if (vet_is_shared(&cfg->shared, path))
			continue;
		if (co_restructures(oe, e))
			w->st.restructured = 1;
		if (co_count_removed(w, oe, path) == -1)
			goto out;
		if ((git_tree_entry_filemode(oe) == GIT_FILEMODE_LINK ||
		    git_tree_entry_filemode(oe) == GIT_FILEMODE_TREE) &&
		    links_add(&w->removed, path) == -1) {
			snprintf(w->err, sizeof(w->err), "out of memory");
			goto out;
		}
		if (fs_remove_tree(dirfd, git_tree_entry_name(oe)) == -1 &&
		    !(errno == ENOENT && w->attr != NULL)) {
			snprintf(w->err, sizeof(w->err), "removing '%s': %s",
			    path, strerror(errno));
			goto out;
		}
	}
	for (i = 0; i < git_tree_entrycount(tree); i++) {
		e = git_tree_entry_byindex(tree, i);
		if (vet_name(git_tree_entry_name(e)) == -1) {
			snprintf(w->err, sizeof(w->err), "the tree has an "
			    "entry '%s%s%s' that must not be checked out",
			    t->rel, rlen ? "/" : "", git_tree_entry_name(e));
			goto out;
		}
		if ((size_t)snprintf(path, sizeof(path), "%s%s%s", t->rel,
		    rlen ? "/" : "", git_tree_entry_name(e)) >= sizeof(path)) {
			snprintf(w->err, sizeof(w->err), "path too long in "
			    "'%s'", t->rel);
			goto out;
		}
		oe = git_tree_entry_byname(old, git_tree_entry_name(e));
		if (oe != NULL && co_same(e, oe))
			continue;
		if (oe != NULL &&
		    git_tree_entry_filemode(e) == GIT_FILEMODE_TREE &&
		    git_tree_entry_filemode(oe) == GIT_FILEMODE_TREE) {
			if (vet_is_shared(&cfg->shared, path))
				continue;
			/* emptied (only trees left): no directory, as in a
			 * full checkout; unless a shared link lives below */
			if (!vet_shared_below(&cfg->shared, path) &&
			    co_tree_empty(w->repo, git_tree_entry_id(e),
			    cfg->max_depth) == 1) {
				if (fs_remove_tree(dirfd,
				    git_tree_entry_name(e)) == -1 &&
				    errno != ENOENT) {
					snprintf(w->err, sizeof(w->err),
					    "removing '%s': %s", path,
					    strerror(errno));
					goto out;
				}
				continue;
			}
			/* was empty, so not on disk: write it afresh */
			if (co_tree_empty(w->repo, git_tree_entry_id(oe),
			    cfg->max_depth) == 1 &&
			    !vet_shared_below(&cfg->shared, path)) {
				if (co_entry(w, dirfd, -1, NULL, e, path) == -1)
					goto out;
				continue;
			}
			/* same attributes as the base: absent = ignored */
			if (w->attr != NULL && fstatat(dirfd,
			    git_tree_entry_name(e), &dst, AT_SYMLINK_NOFOLLOW) ==
			    -1 && errno == ENOENT)
				continue;
			if (co_push(co, path, git_tree_entry_id(e),
			    git_tree_entry_id(oe), 1) == -1) {
				snprintf(w->err, sizeof(w->err), "out of memory");
				goto out;
			}
			continue;
		}
		if (co_restructures(oe, e))
			w->st.restructured = 1;
		if (co_entry(w, dirfd, linkfd, linkfd != -1 ? tree : NULL, e,
		    path) == -1)
			goto out;
	}
	rc = 0;
out:
	if (linkfd != -1)
		close(linkfd);
	git_tree_free(old);
	git_tree_free(tree);
	return rc;
}

static void *
co_worker_main(void *arg)
{
	struct co_worker *w = arg;
	struct co *co = w->co;
	struct co_task *t;
	int rc, saved;

	pthread_mutex_lock(&co->mu);
	for (;;) {
		while (co->head == NULL && co->active > 0 && !co->failed)
			pthread_cond_wait(&co->cv, &co->mu);
		if (co->failed || co->head == NULL)
			break;
		t = co->head;
		co->head = t->next;
		pthread_mutex_unlock(&co->mu);
		rc = co_dir(w, t);
		saved = errno;
		free(t);
		pthread_mutex_lock(&co->mu);
		if (rc == -1 && !co->failed) {
			co->failed = 1;
			co->errnum = saved;
			snprintf(co->err, sizeof(co->err), "%s", w->err);
		}
		if (--co->active == 0 || co->failed)
			pthread_cond_broadcast(&co->cv);
	}
	pthread_mutex_unlock(&co->mu);
	return NULL;
}

static int
co_worker_open(struct co_worker *w, const struct checkout_opts *o)
{
	if (repo_open(&w->repo, o->repo_path, w->err, sizeof(w->err)) == -1)
		return -1;
	if (git_tree_lookup(&w->root, w->repo, o->tree) != 0) {
		snprintf(w->err, sizeof(w->err), "reading the repository: %s",
		    co_giterr());
		return -1;
	}
	if (o->attrs && o->commit != NULL &&
	    attr_open(&w->attr, w->repo, o->repo_path, o->commit, o->root_fd, w->err,
	    sizeof(w->err)) == -1)
		return -1;
	return 0;
}

static void
co_worker_close(struct co_worker *w)
{
	attr_close(w->attr);
	git_tree_free(w->root);
	git_repository_free(w->repo);
}

struct co_walk {
	struct co_worker *w;
	unsigned long	 files;
	unsigned long	 entries;
	struct links	*links;		/* every symlink met */
};

/* After a sync that added, removed or retyped a directory or symlink,
 * every symlink of the new tree is vetted again: a link that did not
 * change can escape through one that did ("d -> ." next to an unchanged
 * "e -> d/.."). */
static int
co_walk_cb(const char *root, const git_tree_entry *e, void *payload)
{
	struct co_walk *cw = payload;
	const struct config *cfg = cw->w->co->o->cfg;
	char path[4096], target[CO_MAXLINK];
	struct stat st;
	unsigned aflags = 0;

	snprintf(path, sizeof(path), "%s%s", root, git_tree_entry_name(e));
	if (vet_is_shared(&cfg->shared, path))
		return 1;
	/* the whole new tree, not only what the sync wrote */
	if (++cw->entries > (unsigned long)cfg->max_entries) {
		snprintf(cw->w->err, sizeof(cw->w->err), "the tree has more "
		    "than max_entries = %d files, links and directories (at "
		    "'%s'; raise it in '%s' or deploy less)", cfg->max_entries,
		    path, cfg->file);
		errno = EFBIG;
		return -1;
	}
	if (cw->w->attr != NULL) {
		/* what export-ignore left out is not in the release */
		if (git_tree_entry_filemode(e) == GIT_FILEMODE_TREE)
			return fstatat(cw->w->co->o->root_fd, path, &st,
			    AT_SYMLINK_NOFOLLOW) == -1 && errno == ENOENT;
		/* files are only counted: no lookup for them */
		if (git_tree_entry_filemode(e) == GIT_FILEMODE_LINK &&
		    attr_path(cw->w->attr, path, 0, &aflags, cw->w->err,
		    sizeof(cw->w->err)) == -1)
			return -1;
		if (git_tree_entry_filemode(e) == GIT_FILEMODE_LINK &&
		    (aflags & ATTR_IGNORE))
			return 0;
	}
	switch (git_tree_entry_filemode(e)) {
	case GIT_FILEMODE_BLOB:
	case GIT_FILEMODE_BLOB_EXECUTABLE:
		cw->files++;
		return 0;
	case GIT_FILEMODE_LINK:
		if (links_add(cw->links, path) == -1) {
			snprintf(cw->w->err, sizeof(cw->w->err), "out of memory");
			return -1;
		}
		return co_link_target(cw->w, git_tree_entry_id(e), path, target,
		    sizeof(target));
	default:
		return 0;
	}
}

/* Vet again a symlink of the new tree, found by its path. */
static int
co_vet_path(struct co_worker *w, const char *path)
{
	git_tree_entry *e = NULL;
	char target[CO_MAXLINK];
	int rc;

	if (git_tree_entry_bypath(&e, w->root, path) != 0 ||
	    git_tree_entry_filemode(e) != GIT_FILEMODE_LINK) {
		git_tree_entry_free(e);
		return -2;	/* the index is wrong: walk instead */
	}
	rc = co_link_target(w, git_tree_entry_id(e), path, target,
	    sizeof(target));
	git_tree_entry_free(e);
	return rc;
}

/*
 * After a sync: every symlink of the new tree, vetted again when the diff
 * could have moved one (restructured), from the base's index and the diff
 * when there is one, else by walking the tree; and the file count.
 */
static int
co_after_sync(const struct checkout_opts *o, struct co_worker *w, int nw,
    int restructured, unsigned long made, struct checkout_stats *st,
    char *err, size_t n)
{
	const struct config *cfg = o->cfg;
	struct links all_added = { 0 }, all_removed = { 0 };
	unsigned long removed = 0, gone = 0;
	size_t off;
	int i, v = 0, rc = -1;

	for (i = 0; i < nw; i++) {
		removed += w[i].st.removed;
		gone += w[i].st.removed_entries;
	}
	if (o->base_links != NULL && o->base_files >= 0 &&
	    o->base_entries >= 0) {
		/* the whole new tree is bounded, not only what was made */
		st->entries = (unsigned long)o->base_entries + made > gone ?
		    (unsigned long)o->base_entries + made - gone : 0;
		if (st->entries > (unsigned long)cfg->max_entries) {
			snprintf(err, n, "the tree has more than max_entries = "
			    "%d files, links and directories (raise it in "
			    "'%s' or deploy less)", cfg->max_entries,
			    cfg->file);
			errno = EFBIG;
			goto out;
		}
		for (i = 0; i < nw; i++)
			if (links_append(&all_added, &w[i].added) == -1 ||
			    links_append(&all_removed, &w[i].removed) == -1)
				goto oom;
		if (links_merge(&st->symlinks, o->base_links, &all_removed,
		    &all_added) == -1)
			goto oom;
		st->symlinks_known = 1;
		w[0].err[0] = '\0';
		for (off = 0; restructured && off < st->symlinks.len;
		    off += strlen(st->symlinks.p + off) + 1)
			if ((v = co_vet_path(&w[0], st->symlinks.p + off)) < 0)
				break;
		if (v == -1) {
			snprintf(err, n, "%s", w[0].err);
			goto out;
		}
		st->linked = (unsigned long)o->base_files > removed ?
		    (unsigned long)o->base_files - removed : 0;
	}
	if (o->base_links == NULL || o->base_files < 0 ||
	    o->base_entries < 0 || v == -2) {
		struct co_walk cw = { &w[0], 0, 0, &st->symlinks };

		links_free(&st->symlinks);
		w[0].err[0] = '\0';
		if (git_tree_walk(w[0].root, GIT_TREEWALK_PRE, co_walk_cb,
		    &cw) != 0) {
			snprintf(err, n, "%s", w[0].err[0] ? w[0].err :
			    co_giterr());
			goto out;
		}
		st->symlinks_known = 1;
		st->entries = cw.entries;
		/* unchanged files are still links to the live release */
		for (i = 0; i < nw; i++)
			cw.files -= w[i].st.written < cw.files ?
			    w[i].st.written : cw.files;
		st->linked = cw.files;
	}
	rc = 0;
	goto out;
oom:
	snprintf(err, n, "out of memory");
out:
	links_free(&all_added);
	links_free(&all_removed);
	return rc;
}

/* Writers for a checkout: one per core, a few at most. */
int
checkout_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 4 ? 4 : (int)n;
}

int
checkout_run(const struct checkout_opts *o, struct checkout_stats *st,
    char *err, size_t n)
{
	struct co co;
	struct co_worker w[CO_MAXTHREADS];
	struct co_task *t;
	int i, nthreads, started = 0, restructured = 0, rc = -1;
	mode_t rx;

	memset(&co, 0, sizeof(co));
	memset(w, 0, sizeof(w));
	memset(st, 0, sizeof(*st));
	co.o = o;
	co.dmode = o->cfg->dir_mode;
	co.fmode = o->cfg->file_mode;
	/* Executables get +x wherever file_mode grants read. */
	rx = o->cfg->file_mode & 0444;
	co.xmode = o->cfg->file_mode | (rx >> 2);
	co.umask = umask(0);
	umask(co.umask);
	pthread_mutex_init(&co.mu, NULL);
	pthread_cond_init(&co.cv, NULL);
	nthreads = o->threads < 1 ? 1 : o->threads;
	if (nthreads > CO_MAXTHREADS)
		nthreads = CO_MAXTHREADS;

	for (i = 0; i < nthreads; i++) {
		w[i].co = &co;
		if (co_worker_open(&w[i], o) == -1) {
			snprintf(err, n, "%s", w[i].err);
			goto out;
		}
	}
	if (co_push(&co, "", o->tree, o->base_tree, o->sync) == -1) {
		snprintf(err, n, "out of memory");
		goto out;
	}
	for (i = 1; i < nthreads; i++) {
		if (pthread_create(&w[i].tid, NULL, co_worker_main, &w[i]) != 0)
			break;
		started++;
	}
	co_worker_main(&w[0]);
	for (i = 1; i <= started; i++)
		pthread_join(w[i].tid, NULL);
	if (co.failed) {
		snprintf(err, n, "%s", co.err);
		goto out;
	}
	for (i = 0; i < nthreads; i++)
		restructured |= w[i].st.restructured;
	/* A sync of files only cannot change where any symlink resolves:
	 * the count is the base's plus the diff, the links the base's, and
	 * nothing is walked.  A full checkout met every link. */
	if (o->recycle)
		;
	else if (!o->sync) {
		for (i = 0; i < nthreads; i++)
			if (links_append(&st->symlinks, &w[i].added) == -1) {
				snprintf(err, n, "out of memory");
				goto out;
			}
		st->symlinks_known = 1;
		st->entries = atomic_load(&co.entries);
	} else if (co_after_sync(o, w, nthreads, restructured,
	    atomic_load(&co.entries), st, err, n) == -1)
		goto out;
	rc = 0;
out:
	while ((t = co.head) != NULL) {
		co.head = t->next;
		free(t);
	}
	for (i = 0; i < nthreads; i++) {
		st->written += w[i].st.written;
		st->linked += w[i].st.linked;
		st->dirs += w[i].st.dirs;
		st->links += w[i].st.links;
		st->removed += w[i].st.removed;
		st->removed_entries += w[i].st.removed_entries;
		st->restructured |= w[i].st.restructured;
		st->bytes += w[i].st.bytes;
		links_free(&w[i].added);
		links_free(&w[i].removed);
		co_worker_close(&w[i]);
	}
	pthread_cond_destroy(&co.cv);
	pthread_mutex_destroy(&co.mu);
	if (rc == -1) {
		links_free(&st->symlinks);
		st->symlinks_known = 0;
		errno = co.errnum;
	}
	return rc;
}

/* Is name in dirfd already a link to target (a sync kept it)? */
static int
checkout_link_is(int dirfd, const char *name, const char *target)
{
	char buf[4096];
	ssize_t n;

	if (errno != EEXIST)
		return 0;
	n = readlinkat(dirfd, name, buf, sizeof(buf) - 1);
	if (n < 0)
		return errno = EEXIST, 0;
	buf[n] = '\0';
	if (strcmp(buf, target) != 0)
		return errno = EEXIST, 0;
	return 1;
}

/*
 * Replace each shared path in the release by a relative link to
 * PATH/shared/<p>, creating that directory (setgid 2775, owned by the
 * service user when known) if it is missing.
 */
int
checkout_shared(int pathfd, int root_fd, const struct config *cfg, uid_t uid,
    gid_t gid, uid_t suid, gid_t sgid, char *err, size_t n)
{
	char parent[4096], target[4096];
	struct stat st;
	const char *p, *base;
	size_t i, k, depth, plen;
	int sfd = -1, fd = -1, pfd = -1, rc = -1;

	if (cfg->shared.n == 0)
		return 0;
	if ((sfd = fs_mkdir_beneath(pathfd, "shared", cfg->dir_mode, uid,
	    gid)) == -1) {
		snprintf(err, n, "creating '%s/shared': %s", cfg->path,
		    strerror(errno));
		goto out;
	}
	for (i = 0; i < cfg->shared.n; i++) {
		p = cfg->shared.v[i];
		if ((fd = fs_mkdir_beneath(sfd, p, 02775, suid, sgid)) == -1) {
			snprintf(err, n, "creating '%s/shared/%s': %s%s",
			    cfg->path, p, strerror(errno), errno == ELOOP ?
			    " (a symlink is in the way: remove it)" : "");
			goto out;
		}
		/* Not root: ours, given to the service's group (2775). */
		if (suid == (uid_t)-1 && sgid != (gid_t)-1 &&
		    fstat(fd, &st) == 0 && st.st_uid == geteuid() &&
		    (st.st_gid != sgid || (st.st_mode & 07777) != 02775) &&
		    (fchown(fd, (uid_t)-1, sgid) == -1 ||
		    fchmod(fd, 02775) == -1)) {
			snprintf(err, n, "giving '%s/shared/%s' to the service's "
			    "group: %s", cfg->path, p, strerror(errno));
			goto out;
		}
		close(fd);
		fd = -1;
		if (safety_shared_ok(cfg, sfd, p, err, n) == -1) {
			errno = EACCES;
			goto out;
		}
		base = strrchr(p, '/');
		plen = base ? (size_t)(base - p) : 0;
		base = base ? base + 1 : p;
		memcpy(parent, p, plen);
		parent[plen] = '\0';
		for (depth = 1, k = 0; p[k]; k++)
			depth += p[k] == '/';
		target[0] = '\0';
		for (k = 0; k < depth + 1; k++)
			strncat(target, "../", sizeof(target) - strlen(target) - 1);
		strncat(target, "shared/", sizeof(target) - strlen(target) - 1);
		strncat(target, p, sizeof(target) - strlen(target) - 1);
		if ((pfd = fs_mkdir_beneath(root_fd, parent, cfg->dir_mode, uid,
		    gid)) == -1 || (symlinkat(target, pfd, base) == -1 &&
		    !checkout_link_is(pfd, base, target)) ||
		    (uid != (uid_t)-1 && fchownat(pfd, base, uid, gid,
		    AT_SYMLINK_NOFOLLOW) == -1)) {
			snprintf(err, n, "linking shared path '%s': %s", p,
			    strerror(errno));
			goto out;
		}
		close(pfd);
		pfd = -1;
	}
	rc = 0;
out:
	if (pfd != -1)
		close(pfd);
	if (fd != -1)
		close(fd);
	if (sfd != -1)
		close(sfd);
	return rc;
}
