/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * attr.c - .gitattributes as `git archive` of the same commit applies them.
 *
 * Sources: the deployed commit's own .gitattributes files at every level
 * and the repository's info/attributes (and the repository's own config:
 * core.autocrlf, core.eol, core.attributesFile), never a global, XDG or
 * system file: main.c empties libgit2's search paths for those levels (the
 * GIT_ATTR_CHECK_NO_SYSTEM flag alone leaves ~/.gitconfig's
 * core.attributesFile and the XDG attributes file in force: checked with
 * libgit2 1.5.1) and every lookup passes GIT_ATTR_CHECK_NO_SYSTEM.  The
 * commit's .gitattributes come from an in-memory index of its tree set on
 * each writer's repository (GIT_ATTR_CHECK_INDEX_ONLY): the same files as
 * GIT_ATTR_CHECK_INCLUDE_COMMIT with attr_commit_id, but libgit2 then
 * checks a cached attribute file with one index search instead of a
 * commit, tree and path lookup per file and level, which made a 20,000-file
 * deploy three times slower.  A stray index file in the bare repository
 * counts for nothing.
 *
 * What a path gets, in git archive's order: export-ignore leaves it out;
 * text / eol / text=auto / crlf / ident convert it to the working-tree form
 * (libgit2's filter list, GIT_FILTER_TO_WORKTREE); then export-subst expands
 * $Format:...$.  A filter driver (filter=lfs ...) or working-tree-encoding
 * cannot be applied here: the deploy fails naming the path and the driver.
 *
 * libgit2 never matches "dir/" patterns in a bare repository (every path
 * is a file there); given a working directory it stat(2)s the path in it.
 * So directories are asked about, after they are created, through a second
 * handle on the repository whose working directory (in memory only) is
 * the release being written; it reads attributes from the commit and an
 * empty index alone.  Files and filters use the bare handle, so no
 * half-written file of the release is ever read as a .gitattributes.
 *
 * A libgit2 lookup costs some 60 us (mostly stat(2)s of info/attributes),
 * a second per 20,000 files, so files are asked about once per directory
 * and class: when every pattern of every source is a plain basename glob
 * (only '*' and '?' wildcards, no '/', no quoting), two files of one
 * directory that match the same set of patterns get the same answer from
 * libgit2, and the first answer serves the rest.  Any other pattern turns
 * this off and every file is asked about.
 *
 * attr_scan() decides once per deploy whether any of this is in use (when
 * not, the writer makes no lookup at all) and gives a signature that goes
 * into the release's build string: a release is reused for hard links only
 * when the signature matches, so a change of any .gitattributes, of
 * info/attributes or of those config keys rewrites every file.  With
 * export-subst in use the signature includes the commit (expanded files
 * depend on it), so such trees are always written in full.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <git2/sys/repository.h>

#include "fsutil.h"
#include "redeploy.h"

#define ATTR_N	8
#define ATTR_FLMAX	16	/* cached filter lists per writer */
#define ATTR_MAXPAT	64	/* basename patterns for the class cache */
#define ATTR_CLASSES	32	/* classes remembered per directory */
#define ATTR_SLOT(flags)	((int)((flags) >> 8) - 1)
static const char *attr_names[ATTR_N] = {
	"export-ignore", "export-subst", "filter", "working-tree-encoding",
	"text", "eol", "crlf", "ident"
};
enum { A_IGNORE, A_SUBST, A_FILTER, A_WTE, A_TEXT, A_EOL, A_CRLF, A_IDENT };

struct attr {
	git_repository	*repo;
	git_repository	*dirrepo;	/* opened on the first directory */
	const char	*repo_path;
	int		 root_fd;
	git_commit	*commit;
	git_oid		 commit_id;
	int		 convert_always;	/* core.autocrlf / core.eol set */
	git_index	*index;		/* the commit's tree */
	git_buf		 out;		/* the last filtered file */
	/* One filter list per distinct (text, eol, crlf, ident): loading
	 * one costs several attribute lookups, and paths with the same
	 * values get the same filters (only the content decides more). */
	struct {
		char		 key[160];
		git_filter_list	*fl;
		int		 loaded;
	} fl[ATTR_FLMAX];
	int		 nfl;
	/* the class cache (see the top of this file) */
	int		 classes;	/* every pattern is a basename glob */
	char		*pat[ATTR_MAXPAT];
	int		 npat;
	char		 cdir[4096];
	struct {
		uint64_t	 mask;
		unsigned	 flags;
	} cls[ATTR_CLASSES];
	int		 ncls;
};

struct attr_acc {
	char	*p;
	size_t	 len, cap;
	int	 failed;
};

static const char *
attr_giterr(void)
{
	const git_error *e = git_error_last();

	return e && e->message ? e->message : "unknown libgit2 error";
}

static void
attr_add(struct attr_acc *a, const void *data, size_t len)
{
	char *p;
	size_t cap;

	if (a->failed)
		return;
	if (a->len + len + 1 > a->cap) {
		cap = (a->len + len + 1) * 2;
		if ((p = realloc(a->p, cap)) == NULL) {
			a->failed = 1;
			return;
		}
		a->p = p;
		a->cap = cap;
	}
	memcpy(a->p + a->len, data, len);
	a->len += len;
	a->p[a->len] = '\0';
}

static void
attr_adds(struct attr_acc *a, const char *s)
{
	attr_add(a, s, strlen(s));
}

struct attr_walk {
	struct attr_acc	 acc;
	git_repository	*repo;
	int		 found, subst;
};

static int
attr_walk_cb(const char *root, const git_tree_entry *e, void *payload)
{
	struct attr_walk *w = payload;
	git_blob *blob = NULL;

	if (strcmp(git_tree_entry_name(e), ".gitattributes") != 0 ||
	    git_tree_entry_type(e) != GIT_OBJECT_BLOB)
		return 0;
	w->found = 1;
	attr_adds(&w->acc, root);
	attr_adds(&w->acc, ".gitattributes ");
	attr_adds(&w->acc, git_oid_tostr_s(git_tree_entry_id(e)));
	attr_adds(&w->acc, "\n");
	if (!w->subst && git_blob_lookup(&blob, w->repo,
	    git_tree_entry_id(e)) == 0) {
		w->subst = memmem(git_blob_rawcontent(blob),
		    (size_t)git_blob_rawsize(blob), "export-subst", 12) != NULL;
		git_blob_free(blob);
	}
	return w->acc.failed ? -1 : 0;
}

/*
 * Are attributes in use for this commit?  *sig becomes "" when not, else
 * "attrs=<hash>" over every attribute source (see the top of this file).
 */
int
attr_scan(git_repository *repo, const char *repo_path, const git_oid *commit,
    char *sig, size_t n, char *err, size_t errn)
{
	static const char *keys[] = { "core.autocrlf", "core.eol",
	    "core.attributesfile" };
	struct attr_walk w;
	git_commit *c = NULL;
	git_tree *tree = NULL;
	git_config *cfg = NULL;
	git_buf v = { 0 };
	git_oid h;
	char p[4096], *info = NULL;
	size_t infolen = 0, i;
	int infofd = -1, rc = -1;

	memset(&w, 0, sizeof(w));
	w.repo = repo;
	sig[0] = '\0';
	if (git_commit_lookup(&c, repo, commit) != 0 ||
	    git_commit_tree(&tree, c) != 0 ||
	    git_tree_walk(tree, GIT_TREEWALK_PRE, attr_walk_cb, &w) != 0) {
		snprintf(err, errn, "reading the tree for .gitattributes: %s",
		    w.acc.failed ? strerror(ENOMEM) : attr_giterr());
		goto out;
	}
	snprintf(p, sizeof(p), "%s/info", repo_path);
	if ((infofd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1 &&
	    fs_read_small(infofd, "attributes", 1 << 20, &info, &infolen) ==
	    0) {
		w.found = 1;
		attr_adds(&w.acc, "info/attributes\n");
		attr_add(&w.acc, info, infolen);
		if (memmem(info, infolen, "export-subst", 12) != NULL)
			w.subst = 1;
	}
	if (git_repository_config_snapshot(&cfg, repo) == 0)
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			if (git_config_get_string_buf(&v, cfg, keys[i]) != 0)
				continue;
			w.found = 1;
			attr_adds(&w.acc, keys[i]);
			attr_adds(&w.acc, "=");
			attr_adds(&w.acc, v.ptr);
			attr_adds(&w.acc, "\n");
			git_buf_dispose(&v);
		}
	git_error_clear();
	if (!w.found) {
		rc = 0;
		goto out;
	}
	if (w.subst)	/* expanded files depend on the commit itself */
		attr_adds(&w.acc, git_oid_tostr_s(commit));
	if (w.acc.failed) {
		snprintf(err, errn, "reading attributes: %s", strerror(ENOMEM));
		goto out;
	}
	if (git_odb_hash(&h, w.acc.p, w.acc.len, GIT_OBJECT_BLOB) != 0) {
		snprintf(err, errn, "hashing attributes: %s", attr_giterr());
		goto out;
	}
	snprintf(sig, n, "attrs=%.16s", git_oid_tostr_s(&h));
	rc = 0;
out:
	if (infofd != -1)
		close(infofd);
	free(w.acc.p);
	free(info);
	git_buf_dispose(&v);
	git_config_free(cfg);
	git_tree_free(tree);
	git_commit_free(c);
	return rc;
}

/* Take the patterns of one attributes file for the class cache. */
static void
attr_patterns(struct attr *a, const char *text, size_t len)
{
	const char *p = text, *end = text + len, *e, *t;
	size_t plen;
	int i;

	while (a->classes && p < end) {
		e = memchr(p, '\n', (size_t)(end - p));
		if (e == NULL)
			e = end;
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		for (t = p; t < e && *t != ' ' && *t != '\t' && *t != '\r'; t++)
			;
		plen = (size_t)(t - p);
		if (plen == 0 || *p == '#' || (plen > 6 &&
		    memcmp(p, "[attr]", 6) == 0)) {
			p = e + 1;
			continue;
		}
		if (*p == '"' || *p == '!' || memchr(p, '[', plen) ||
		    memchr(p, '\\', plen) || memchr(p, '\0', plen) ||
		    (memchr(p, '/', plen) && (memchr(p, '/', plen) !=
		    p + plen - 1))) {
			a->classes = 0;	/* not a plain basename glob */
			break;
		}
		if (p[plen - 1] == '/') {	/* directories only: no file */
			p = e + 1;
			continue;
		}
		for (i = 0; i < a->npat; i++)
			if (strlen(a->pat[i]) == plen &&
			    memcmp(a->pat[i], p, plen) == 0)
				break;
		if (i == a->npat) {
			if (a->npat == ATTR_MAXPAT ||
			    (a->pat[a->npat] = strndup(p, plen)) == NULL) {
				a->classes = 0;
				break;
			}
			a->npat++;
		}
		p = e + 1;
	}
}

/* Every attribute source of the commit, for the class cache. */
static void
attr_collect(struct attr *a)
{
	const git_index_entry *ie;
	git_blob *blob = NULL;
	char p[4096], *info = NULL;
	size_t i, n = git_index_entrycount(a->index), len, infolen;
	int fd;

	a->classes = 1;
	for (i = 0; i < n && a->classes; i++) {
		ie = git_index_get_byindex(a->index, i);
		len = strlen(ie->path);
		if (len < 14 || strcmp(ie->path + len - 14, ".gitattributes") ||
		    (len > 14 && ie->path[len - 15] != '/'))
			continue;
		if (git_blob_lookup(&blob, a->repo, &ie->id) != 0) {
			a->classes = 0;
			break;
		}
		attr_patterns(a, git_blob_rawcontent(blob),
		    (size_t)git_blob_rawsize(blob));
		git_blob_free(blob);
		blob = NULL;
	}
	snprintf(p, sizeof(p), "%s/info", a->repo_path);
	if ((fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		if (fs_read_small(fd, "attributes", 1 << 20, &info,
		    &infolen) == 0)
			attr_patterns(a, info, infolen);
		else if (errno != ENOENT)
			a->classes = 0;
		close(fd);
	}
	free(info);
	git_error_clear();
}

int
attr_open(struct attr **out, git_repository *repo, const char *repo_path,
    const git_oid *commit, int root_fd, char *err, size_t n)
{
	struct attr *a;
	git_index *idx = NULL;
	git_tree *tree = NULL;
	git_config *cfg = NULL;
	git_buf v = { 0 };

	*out = NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		snprintf(err, n, "out of memory");
		return -1;
	}
	a->repo = repo;
	git_oid_cpy(&a->commit_id, commit);
	if (git_commit_lookup(&a->commit, repo, commit) != 0 ||
	    git_commit_tree(&tree, a->commit) != 0 ||
	    git_index_new(&idx) != 0 || git_index_read_tree(idx, tree) != 0) {
		snprintf(err, n, "reading commit %.7s for attributes: %s",
		    git_oid_tostr_s(commit), attr_giterr());
		git_index_free(idx);
		git_tree_free(tree);
		attr_close(a);
		return -1;
	}
	git_tree_free(tree);
	git_repository_set_index(repo, idx);
	a->index = idx;
	a->repo_path = repo_path;
	a->root_fd = root_fd;
	attr_collect(a);
	if (git_repository_config_snapshot(&cfg, repo) == 0) {
		if (git_config_get_string_buf(&v, cfg, "core.autocrlf") == 0 ||
		    git_config_get_string_buf(&v, cfg, "core.eol") == 0)
			a->convert_always = 1;
		git_buf_dispose(&v);
		git_config_free(cfg);
	}
	git_error_clear();
	*out = a;
	return 0;
}

void
attr_close(struct attr *a)
{
	if (a == NULL)
		return;
	git_commit_free(a->commit);
	git_repository_free(a->dirrepo);
	git_index_free(a->index);
	git_buf_dispose(&a->out);
	while (a->nfl > 0)
		git_filter_list_free(a->fl[--a->nfl].fl);
	while (a->npat > 0)
		free(a->pat[--a->npat]);
	free(a);
}

static int
attr_dirrepo(struct attr *a, char *err, size_t n)
{
	char wd[64];

	if (a->dirrepo != NULL)
		return 0;
	if (repo_open(&a->dirrepo, a->repo_path, err, n) == -1)
		return -1;
	snprintf(wd, sizeof(wd), "/proc/self/fd/%d", a->root_fd);
	if (git_repository_set_workdir(a->dirrepo, wd, 0) != 0) {
		snprintf(err, n, "attributes of directories: %s",
		    attr_giterr());
		git_repository_free(a->dirrepo);
		a->dirrepo = NULL;
		return -1;
	}
	git_repository_set_index(a->dirrepo, a->index);
	return 0;
}

/* The filter-list slot for these values, plus one; 0 when none is free. */
static unsigned
attr_slot(struct attr *a, const char **v)
{
	char key[sizeof(a->fl[0].key)];
	size_t len = 0;
	int i;

	for (i = A_TEXT; i <= A_IDENT; i++) {
		const char *s = GIT_ATTR_IS_UNSPECIFIED(v[i]) ? "\x01u" :
		    GIT_ATTR_IS_TRUE(v[i]) ? "\x01t" :
		    GIT_ATTR_IS_FALSE(v[i]) ? "\x01f" : v[i];
		int w = snprintf(key + len, sizeof(key) - len, "%s\x1f", s);

		if (w < 0 || (size_t)w >= sizeof(key) - len)
			return 0;	/* too long to cache: load per file */
		len += (size_t)w;
	}
	for (i = 0; i < a->nfl; i++)
		if (strcmp(a->fl[i].key, key) == 0)
			return (unsigned)i + 1;
	if (a->nfl == ATTR_FLMAX)
		return 0;
	memcpy(a->fl[a->nfl].key, key, len + 1);
	a->fl[a->nfl].fl = NULL;
	a->fl[a->nfl].loaded = 0;
	return (unsigned)++a->nfl;
}

static int attr_lookup(struct attr *, const char *, int, unsigned *, char *,
    size_t);

/*
 * What to do with PATH: 0 and *flags (ATTR_IGNORE, ATTR_CONVERT,
 * ATTR_SUBST), or -1 with the reason in err (a driver we cannot apply).
 */
int
attr_path(struct attr *a, const char *path, int is_dir, unsigned *flags,
    char *err, size_t n)
{
	const char *base = strrchr(path, '/');
	size_t dlen = base ? (size_t)(base - path) : 0;
	uint64_t mask = 0;
	int i;

	base = base ? base + 1 : path;
	if (!is_dir && a->classes && dlen < sizeof(a->cdir)) {
		if (strncmp(a->cdir, path, dlen) != 0 ||
		    a->cdir[dlen] != '\0') {
			memcpy(a->cdir, path, dlen);
			a->cdir[dlen] = '\0';
			a->ncls = 0;
		}
		for (i = 0; i < a->npat; i++)
			if (fnmatch(a->pat[i], base, 0) == 0)
				mask |= (uint64_t)1 << i;
		for (i = 0; i < a->ncls; i++)
			if (a->cls[i].mask == mask) {
				*flags = a->cls[i].flags;
				return 0;
			}
	}
	if (attr_lookup(a, path, is_dir, flags, err, n) == -1)
		return -1;
	if (!is_dir && a->classes && dlen < sizeof(a->cdir) &&
	    a->ncls < ATTR_CLASSES) {
		a->cls[a->ncls].mask = mask;
		a->cls[a->ncls].flags = *flags;
		a->ncls++;
	}
	return 0;
}

/* attr_path() without the class cache: ask libgit2. */
static int
attr_lookup(struct attr *a, const char *path, int is_dir, unsigned *flags,
    char *err, size_t n)
{
	git_attr_options opts;
	const char *v[ATTR_N];

	memset(&opts, 0, sizeof(opts));
	opts.version = GIT_ATTR_OPTIONS_VERSION;
	*flags = 0;
	opts.flags = GIT_ATTR_CHECK_INDEX_ONLY | GIT_ATTR_CHECK_NO_SYSTEM;
	if (is_dir && attr_dirrepo(a, err, n) == -1)
		return -1;
	if (git_attr_get_many_ext(v, is_dir ? a->dirrepo : a->repo, &opts,
	    path, ATTR_N, attr_names) != 0) {
		snprintf(err, n, "reading the attributes of '%s': %s", path,
		    attr_giterr());
		return -1;
	}
	if (GIT_ATTR_IS_TRUE(v[A_IGNORE])) {
		*flags = ATTR_IGNORE;
		return 0;
	}
	if (is_dir)
		return 0;
	if (git_attr_value(v[A_FILTER]) == GIT_ATTR_VALUE_STRING) {
		if (strcmp(v[A_FILTER], "lfs") == 0)
			snprintf(err, n, "'%s' is a Git LFS pointer (filter=lfs): "
			    "redeploy cannot fetch LFS content; commit the file "
			    "itself, or remove filter=lfs from .gitattributes",
			    path);
		else
			snprintf(err, n, "'%s' needs the filter driver '%s' "
			    "(filter=%s), which redeploy cannot run; remove "
			    "filter=%s from .gitattributes", path, v[A_FILTER],
			    v[A_FILTER], v[A_FILTER]);
		return -1;
	}
	if (git_attr_value(v[A_WTE]) == GIT_ATTR_VALUE_STRING) {
		snprintf(err, n, "'%s' has working-tree-encoding=%s, which "
		    "redeploy cannot apply; remove it from .gitattributes",
		    path, v[A_WTE]);
		return -1;
	}
	if (GIT_ATTR_IS_TRUE(v[A_SUBST]))
		*flags |= ATTR_SUBST;
	/* To the working tree git only ever turns LF into CRLF and expands
	 * $Id$: without eol=crlf, ident or core.autocrlf/core.eol there is
	 * nothing to convert (text, text=auto, eol=lf, binary...). */
	if (a->convert_always || GIT_ATTR_IS_TRUE(v[A_IDENT]) ||
	    (git_attr_value(v[A_EOL]) == GIT_ATTR_VALUE_STRING &&
	    strcmp(v[A_EOL], "crlf") == 0))
		*flags |= ATTR_CONVERT;
	if (*flags & ATTR_CONVERT)
		*flags |= attr_slot(a, v) << 8;
	return 0;
}

/* %ad-style dates in the commit's own time zone, as git prints them. */
static void
attr_date(struct attr_acc *o, const git_signature *s, char how)
{
	static const char *wday[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char *mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	char buf[64];
	struct tm tm;
	time_t t = (time_t)s->when.time + (time_t)s->when.offset * 60;
	int off = s->when.offset < 0 ? -s->when.offset : s->when.offset;
	char sign = s->when.offset < 0 ? '-' : '+';

	if (how == 't') {
		snprintf(buf, sizeof(buf), "%lld", (long long)s->when.time);
		attr_adds(o, buf);
		return;
	}
	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	switch (how) {
	case 'i':
		snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d "
		    "%c%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		    tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 60, off % 60);
		break;
	case 'I':
		snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d"
		    "%c%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
		    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, sign,
		    off / 60, off % 60);
		break;
	case 'D':
		snprintf(buf, sizeof(buf), "%s, %d %s %d %02d:%02d:%02d "
		    "%c%02d%02d", wday[tm.tm_wday % 7], tm.tm_mday,
		    mon[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, sign, off / 60, off % 60);
		break;
	default:	/* 'd': git's default format */
		snprintf(buf, sizeof(buf), "%s %s %d %02d:%02d:%02d %d "
		    "%c%02d%02d", wday[tm.tm_wday % 7], mon[tm.tm_mon % 12],
		    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		    tm.tm_year + 1900, sign, off / 60, off % 60);
		break;
	}
	attr_adds(o, buf);
}

static int
attr_short(struct attr_acc *o, git_repository *repo, const git_oid *id)
{
	git_object *obj = NULL;
	git_buf b = { 0 };
	int rc = -1;

	if (git_object_lookup(&obj, repo, id, GIT_OBJECT_ANY) == 0 &&
	    git_object_short_id(&b, obj) == 0) {
		attr_add(o, b.ptr, b.size);
		rc = 0;
	}
	git_buf_dispose(&b);
	git_object_free(obj);
	return rc;
}

/* One placeholder after '%'; the number of bytes it took, 0 if unknown. */
static size_t
attr_placeholder(struct attr *a, struct attr_acc *o, const char *f,
    size_t len)
{
	const git_signature *s;
	unsigned i, np;

	if (len == 0)
		return 0;
	switch (f[0]) {
	case '%':
		attr_adds(o, "%");
		return 1;
	case 'n':
		attr_adds(o, "\n");
		return 1;
	case 'H':
		attr_adds(o, git_oid_tostr_s(&a->commit_id));
		return 1;
	case 'h':
		return attr_short(o, a->repo, &a->commit_id) == 0 ? 1 : 0;
	case 'T':
		attr_adds(o, git_oid_tostr_s(git_commit_tree_id(a->commit)));
		return 1;
	case 't':
		return attr_short(o, a->repo, git_commit_tree_id(a->commit)) ==
		    0 ? 1 : 0;
	case 'P':
	case 'p':
		np = git_commit_parentcount(a->commit);
		for (i = 0; i < np; i++) {
			if (i > 0)
				attr_adds(o, " ");
			if (f[0] == 'P')
				attr_adds(o, git_oid_tostr_s(
				    git_commit_parent_id(a->commit, i)));
			else if (attr_short(o, a->repo,
			    git_commit_parent_id(a->commit, i)) == -1)
				return 0;
		}
		return 1;
	case 's':
		attr_adds(o, git_commit_summary(a->commit) ?
		    git_commit_summary(a->commit) : "");
		return 1;
	case 'a':
	case 'c':
		if (len < 2)
			return 0;
		s = f[0] == 'a' ? git_commit_author(a->commit) :
		    git_commit_committer(a->commit);
		switch (f[1]) {
		case 'n':
			attr_adds(o, s->name);
			return 2;
		case 'e':
			attr_adds(o, s->email);
			return 2;
		case 'd':
		case 'D':
		case 'i':
		case 'I':
		case 't':
			attr_date(o, s, f[1]);
			return 2;
		}
		return 0;
	}
	return 0;
}

/* $Format:...$ as git archive expands it (archive.c format_subst). */
static int
attr_subst(struct attr *a, const char *src, size_t len, struct attr_acc *o,
    const char *path, char *err, size_t n)
{
	const char *b, *c, *f;
	size_t used, flen;

	for (;;) {
		if ((b = memmem(src, len, "$Format:", 8)) == NULL)
			break;
		if ((c = memchr(b + 8, '$', (size_t)(src + len - b - 8))) ==
		    NULL)
			break;
		attr_add(o, src, (size_t)(b - src));
		for (f = b + 8; f < c; ) {
			if (*f != '%') {
				attr_add(o, f++, 1);
				continue;
			}
			flen = (size_t)(c - f - 1);
			if ((used = attr_placeholder(a, o, f + 1, flen)) == 0) {
				snprintf(err, n, "'%s' (export-subst) uses "
				    "placeholder '%%%.*s', which redeploy does "
				    "not expand (it knows %%H %%h %%T %%t %%P "
				    "%%p %%s %%n %%%% and %%a/%%c with n e d D "
				    "i I t)", path, flen ? 1 : 0, f + 1);
				return -1;
			}
			f += 1 + used;
		}
		len -= (size_t)(c + 1 - src);
		src = c + 1;
	}
	attr_add(o, src, len);
	return 0;
}

/*
 * The bytes to write for BLOB at PATH, given attr_path()'s flags: *out
 * points into the blob, or at *mem (to free) when converted.
 */
int
attr_content(struct attr *a, git_blob *blob, const char *path,
    unsigned flags, const void **out, size_t *len, char **mem, char *err,
    size_t n)
{
	git_filter_options fo;
	git_filter_list *fl = NULL, *own = NULL;
	struct attr_acc o = { 0 };
	int slot = ATTR_SLOT(flags);
	const char *src;
	size_t srclen;
	int rc = -1;

	memset(&fo, 0, sizeof(fo));
	fo.version = GIT_FILTER_OPTIONS_VERSION;
	*mem = NULL;
	*out = git_blob_rawcontent(blob);
	*len = (size_t)git_blob_rawsize(blob);
	git_buf_dispose(&a->out);
	if (flags & ATTR_CONVERT) {
		/* attributes from the index of the commit's tree (bare: no
		 * working directory source), as in attr_path() */
		fo.flags = GIT_FILTER_NO_SYSTEM_ATTRIBUTES;
		if (slot >= 0 && a->fl[slot].loaded)
			fl = a->fl[slot].fl;
		else if (git_filter_list_load_ext(&fl, a->repo, blob, path,
		    GIT_FILTER_TO_WORKTREE, &fo) == 0) {
			if (slot >= 0) {
				a->fl[slot].fl = fl;
				a->fl[slot].loaded = 1;
			} else
				own = fl;
		} else {
			snprintf(err, n, "converting '%s' to its working-tree "
			    "form: %s", path, attr_giterr());
			goto out;
		}
		if (fl != NULL && git_filter_list_apply_to_blob(&a->out, fl,
		    blob) != 0) {
			snprintf(err, n, "converting '%s' to its working-tree "
			    "form: %s", path, attr_giterr());
			goto out;
		}
	}
	src = fl != NULL ? a->out.ptr : *out;
	srclen = fl != NULL ? a->out.size : *len;
	if (flags & ATTR_SUBST) {
		if (attr_subst(a, src, srclen, &o, path, err, n) == -1)
			goto out;
		if (o.failed) {
			snprintf(err, n, "expanding '%s': %s", path,
			    strerror(ENOMEM));
			goto out;
		}
		*mem = o.p ? o.p : strdup("");
		o.p = NULL;
		*len = o.len;
	} else if (fl != NULL) {
		*out = src;	/* valid until the next call */
		*len = srclen;
	}
	if (*mem != NULL)
		*out = *mem;
	rc = 0;
out:
	free(o.p);
	git_filter_list_free(own);
	return rc;
}
