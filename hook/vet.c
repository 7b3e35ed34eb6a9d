/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * vet.c - judge names and symlink targets that came from a push.
 *
 * A tree is judged by itself, whichever path writes it (a full checkout, a
 * first deploy, or the diff applied to the spare), so that one commit gets
 * one verdict: every entry name is one path component that git's fsck and
 * libgit2's path validation accept with every protection on (core.protectNTFS
 * and core.protectHFS whatever the repository says: a release can be
 * served or copied where those names mean ".git"), every mode is one git
 * writes, no name appears twice and the entries are in git's order.
 * Under `symlinks = inside` a symlink must
 * resolve inside the release.  It is resolved against the pushed tree itself,
 * following the tree's own symlinks as the kernel would, because a purely
 * lexical check is fooled by "d -> ." plus "e -> d/..".  A path that enters
 * a shared directory leaves the release's control: beyond it, no "..".
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "redeploy.h"

#define VET_MAXHOPS	40

/*
 * The next character of name as HFS+ compares it: UTF-8 decoded, the code
 * points HFS+ ignores skipped.  0 at the end, -1 for bytes that are not
 * UTF-8 (they match nothing).
 */
static long
vet_hfs_next(const unsigned char **p)
{
	const unsigned char *s;
	long c;
	int more, i;

	for (;;) {
		s = *p;
		if (s[0] == '\0')
			return 0;
		if (s[0] < 0x80) {
			c = s[0];
			more = 0;
		} else if ((s[0] & 0xe0) == 0xc0) {
			c = s[0] & 0x1f;
			more = 1;
		} else if ((s[0] & 0xf0) == 0xe0) {
			c = s[0] & 0x0f;
			more = 2;
		} else if ((s[0] & 0xf8) == 0xf0) {
			c = s[0] & 0x07;
			more = 3;
		} else
			return -1;
		for (i = 1; i <= more; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return -1;
			c = (c << 6) | (s[i] & 0x3f);
		}
		*p = s + more + 1;
		if ((c >= 0x200c && c <= 0x200f) || (c >= 0x202a &&
		    c <= 0x202e) || (c >= 0x206a && c <= 0x206f) || c == 0xfeff)
			continue;
		return c;
	}
}

/* ".<word>" as HFS+ sees it: case folded, ignorable code points gone. */
static int
vet_hfs_dot(const char *name, const char *word)
{
	const unsigned char *p = (const unsigned char *)name;
	long c;

	if (vet_hfs_next(&p) != '.')
		return 0;
	for (; *word != '\0'; word++) {
		c = vet_hfs_next(&p);
		if (c < 0 || c > 127 || tolower((int)c) != *word)
			return 0;
	}
	return vet_hfs_next(&p) == 0;
}

/* Only dots and spaces from s on: NTFS drops them at the end of a name. */
static int
vet_ntfs_tail(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == ':' || *s == '\\')
			return 1;	/* a stream, or a separator there */
		if (*s != '.' && *s != ' ')
			return 0;
	}
	return 1;
}

/*
 * ".<word>" as NTFS sees it: with dots and spaces after it, an alternate
 * data stream (".git::$INDEX_ALLOCATION") or a backslash; or its 8.3 short
 * name: the first six characters and ~1..~4 ("git~1", "GITMOD~1"), or the
 * hashed fallback ("gi7eba~N").
 */
static int
vet_ntfs_dot(const char *name, const char *word, const char *shortpfx)
{
	size_t wlen = strlen(word), i;
	int tilde = 0;

	if (name[0] == '.' && strncasecmp(name + 1, word, wlen) == 0 &&
	    vet_ntfs_tail(name + 1 + wlen))
		return 1;
	if (wlen >= 6 && strncasecmp(name, word, 6) == 0 && name[6] == '~' &&
	    name[7] >= '1' && name[7] <= '4' && vet_ntfs_tail(name + 8))
		return 1;
	if (wlen < 6)	/* ".git": its short name is "git~1" */
		return strncasecmp(name, word, wlen) == 0 &&
		    name[wlen] == '~' && name[wlen + 1] == '1' &&
		    vet_ntfs_tail(name + wlen + 2);
	for (i = 0; i < 8; i++) {
		if (name[i] == '\0')
			return 0;
		if (tilde) {
			if (name[i] < '0' || name[i] > '9')
				return 0;
		} else if (name[i] == '~') {
			if (name[i + 1] < '1' || name[i + 1] > '9')
				return 0;
			tilde = 1;
		} else if (i >= 6 || (unsigned char)name[i] > 127 ||
		    tolower((unsigned char)name[i]) != shortpfx[i])
			return 0;
	}
	return tilde && vet_ntfs_tail(name + i);
}

/* Is name, on some file system git protects, a spelling of ".<word>"? */
static int
vet_is_dot(const char *name, const char *word, const char *shortpfx)
{
	return vet_hfs_dot(name, word) || vet_ntfs_dot(name, word, shortpfx);
}

int
vet_name(const char *name)
{
	if (name[0] == '\0' || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0 || strchr(name, '/') != NULL ||
	    vet_is_dot(name, "git", ""))
		return -1;
	return 0;
}

/*
 * One entry: its name (vet_name), its mode (one git writes: 100644,
 * 100755, 120000, 40000, 160000; libgit2 would quietly read 100664 as
 * 100644), and no symlink named as .gitmodules, .gitattributes or
 * .gitignore, which git and libgit2 refuse to follow.
 */
int
vet_entry(const char *name, unsigned int mode, char *why, size_t n)
{
	static const struct {
		const char *word, *shortpfx;
	} dotfiles[] = {
		{ "gitmodules", "gi7eba" },
		{ "gitattributes", "gi7d29" },
		{ "gitignore", "gi250a" },
	};
	size_t i;

	if (vet_name(name) == -1) {
		snprintf(why, n, "an entry named '%s' (git refuses it: it is "
		    "or could mean '.git', or is not one path component)",
		    name);
		return -1;
	}
	switch (mode) {
	case 0100644:
	case 0100755:
	case 0040000:
	case 0160000:
		return 0;
	case 0120000:
		for (i = 0; i < sizeof(dotfiles) / sizeof(dotfiles[0]); i++)
			if (vet_is_dot(name, dotfiles[i].word,
			    dotfiles[i].shortpfx)) {
				snprintf(why, n, "'%s' is a symlink (git "
				    "refuses a symlinked .%s)", name,
				    dotfiles[i].word);
				return -1;
			}
		return 0;
	default:
		snprintf(why, n, "'%s' has mode %06o, which git does not "
		    "write (git fsck: badFilemode)", name, mode);
		return -1;
	}
}

/* git's order of tree entries: by name, a tree as if its name ended "/". */
static int
vet_order(const char *a, unsigned int ma, const char *b, unsigned int mb)
{
	size_t la = strlen(a), lb = strlen(b), l = la < lb ? la : lb;
	int c = memcmp(a, b, l);
	unsigned char ca, cb;

	if (c != 0)
		return c;
	ca = la > l ? (unsigned char)a[l] : (ma == 0040000 ? '/' : '\0');
	cb = lb > l ? (unsigned char)b[l] : (mb == 0040000 ? '/' : '\0');
	return ca < cb ? -1 : ca > cb;
}

static int
vet_strcmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Judge one tree object (at rel, for the message): every entry, no name
 * twice ("a" the file and "a" the directory count as one name), git's
 * order.  The verdict depends on the object alone.
 */
int
vet_tree(const git_tree *tree, const char *rel, char *err, size_t n)
{
	size_t i, count = git_tree_entrycount(tree);
	const git_tree_entry *e, *prev = NULL;
	const char **names = NULL;
	char why[ERRLEN];
	int rc = -1;

	for (i = 0; i < count; i++) {
		e = git_tree_entry_byindex(tree, i);
		if (vet_entry(git_tree_entry_name(e),
		    (unsigned)git_tree_entry_filemode_raw(e), why,
		    sizeof(why)) == -1) {
			snprintf(err, n, "the tree '%s' has %s", rel[0] ? rel :
			    "/", why);
			return -1;
		}
		if (prev != NULL && vet_order(git_tree_entry_name(prev),
		    (unsigned)git_tree_entry_filemode_raw(prev),
		    git_tree_entry_name(e),
		    (unsigned)git_tree_entry_filemode_raw(e)) >= 0)
			goto unsorted;
		prev = e;
	}
	/* in order, a duplicate can still hide: "a", "a.b", "a/" */
	if (count > 1) {
		if ((names = calloc(count, sizeof(*names))) == NULL) {
			snprintf(err, n, "out of memory");
			return -1;
		}
		for (i = 0; i < count; i++)
			names[i] = git_tree_entry_name(
			    git_tree_entry_byindex(tree, i));
		qsort(names, count, sizeof(*names), vet_strcmp);
		for (i = 1; i < count; i++)
			if (strcmp(names[i - 1], names[i]) == 0) {
				snprintf(err, n, "the tree '%s' has two "
				    "entries named '%s' (git fsck: "
				    "duplicateEntries)", rel[0] ? rel : "/",
				    names[i]);
				goto out;
			}
	}
	rc = 0;
	goto out;
unsorted:
	if (strcmp(git_tree_entry_name(prev), git_tree_entry_name(e)) == 0)
		snprintf(err, n, "the tree '%s' has two entries named '%s' "
		    "(git fsck: duplicateEntries)", rel[0] ? rel : "/",
		    git_tree_entry_name(e));
	else
		snprintf(err, n, "the tree '%s' is not sorted as git sorts it "
		    "('%s' before '%s'; git fsck: treeNotSorted)",
		    rel[0] ? rel : "/", git_tree_entry_name(prev),
		    git_tree_entry_name(e));
out:
	free(names);
	return rc;
}

static int
vet_prefix(const char *prefix, const char *path)
{
	size_t n = strlen(prefix);

	return strncmp(prefix, path, n) == 0 &&
	    (path[n] == '\0' || path[n] == '/');
}

int
vet_is_shared(const struct config_list *shared, const char *path)
{
	size_t i;

	for (i = 0; i < shared->n; i++)
		if (strcmp(shared->v[i], path) == 0)
			return 1;
	return 0;
}

/* Is path a shared path or below one? */
int
vet_under_shared(const struct config_list *shared, const char *path)
{
	size_t i;

	for (i = 0; i < shared->n; i++)
		if (vet_prefix(shared->v[i], path))
			return 1;
	return 0;
}

/* Does a shared path lie strictly below path ("tmp" for "tmp/cache")? */
int
vet_shared_below(const struct config_list *shared, const char *path)
{
	size_t i, n = strlen(path);

	for (i = 0; i < shared->n; i++)
		if (strlen(shared->v[i]) > n && vet_prefix(path, shared->v[i]))
			return 1;
	return 0;
}

struct vet_path {
	char	 buf[4096];
	size_t	 len;
	int	 depth;
};

static int
vet_push(struct vet_path *p, const char *c, size_t n)
{
	if (p->len + n + 2 > sizeof(p->buf))
		return -1;
	if (p->len > 0)
		p->buf[p->len++] = '/';
	memcpy(p->buf + p->len, c, n);
	p->len += n;
	p->buf[p->len] = '\0';
	p->depth++;
	return 0;
}

static void
vet_pop(struct vet_path *p)
{
	char *s = memrchr(p->buf, '/', p->len);

	p->len = s ? (size_t)(s - p->buf) : 0;
	p->buf[p->len] = '\0';
	p->depth--;
}

/*
 * The work list: components still to walk, kept as one string that is
 * rebuilt when a symlink's target is spliced in front of the rest.
 */
int
vet_symlink(git_repository *repo, const git_tree *root, const char *linkpath,
    const char *target, const struct config_list *shared, char *err, size_t n)
{
	struct vet_path cur = { .len = 0, .depth = 0 };
	git_tree_entry *e = NULL;
	git_blob *blob = NULL;
	char *rest = NULL, *next;
	const char *slash, *c, *after;
	size_t clen;
	int hops = 0, exists = 1, inshared = 0, rc = -1;

	cur.buf[0] = '\0';
	if (target[0] == '\0' || target[0] == '/') {
		snprintf(err, n, "symlink '%s' -> '%s' %s", linkpath, target,
		    target[0] ? "is absolute" : "is empty");
		return -1;
	}
	/* Start in the directory holding the link. */
	if ((slash = strrchr(linkpath, '/')) != NULL &&
	    vet_push(&cur, linkpath, (size_t)(slash - linkpath)) == -1)
		goto toolong;
	cur.depth = 0;
	for (c = linkpath; slash && c <= slash; c++)
		cur.depth += (*c == '/');
	if ((rest = strdup(target)) == NULL)
		goto oom;
	c = rest;
	while (*c != '\0') {
		slash = strchr(c, '/');
		clen = slash ? (size_t)(slash - c) : strlen(c);
		after = slash ? slash + 1 : c + clen;
		if (clen == 0 || (clen == 1 && c[0] == '.')) {
			c = after;
			continue;
		}
		if (clen == 2 && c[0] == '.' && c[1] == '.') {
			if (inshared || cur.depth == 0)
				goto escape;
			vet_pop(&cur);
			c = after;
			continue;
		}
		if (vet_push(&cur, c, clen) == -1)
			goto toolong;
		c = after;
		if (inshared)
			continue;
		/* On disk a shared path is a link out of the release, whether
		 * or not its parents are in the tree. */
		if (vet_under_shared(shared, cur.buf)) {
			inshared = 1;
			continue;
		}
		if (!exists)
			continue;
		if (git_tree_entry_bypath(&e, root, cur.buf) != 0) {
			exists = 0;	/* nothing below it exists either */
			continue;
		}
		if (git_tree_entry_filemode(e) == GIT_FILEMODE_LINK) {
			const char *t;
			size_t tlen, restlen = strlen(c);

			if (++hops > VET_MAXHOPS) {
				snprintf(err, n, "symlink '%s' -> '%s' loops",
				    linkpath, target);
				goto out;
			}
			if (git_blob_lookup(&blob, repo,
			    git_tree_entry_id(e)) != 0)
				goto gitfail;
			t = git_blob_rawcontent(blob);
			tlen = (size_t)git_blob_rawsize(blob);
			if (tlen == 0 || t[0] == '/' || memchr(t, '\0', tlen))
				goto escape;
			vet_pop(&cur);
			if ((next = malloc(tlen + restlen + 2)) == NULL)
				goto oom;
			memcpy(next, t, tlen);
			next[tlen] = '/';
			memcpy(next + tlen + 1, c, restlen + 1);
			free(rest);
			rest = next;
			c = rest;
			git_blob_free(blob);
			blob = NULL;
		}
		git_tree_entry_free(e);
		e = NULL;
	}
	rc = 0;
	goto out;
escape:
	snprintf(err, n, "symlink '%s' -> '%s' points outside the release "
	    "(set symlinks = any to allow it)", linkpath, target);
	goto out;
toolong:
	snprintf(err, n, "symlink '%s' -> '%s' resolves to a path too long",
	    linkpath, target);
	goto out;
oom:
	snprintf(err, n, "out of memory vetting symlink '%s'", linkpath);
	goto out;
gitfail:
	snprintf(err, n, "reading symlink '%s': %s", linkpath,
	    git_error_last() ? git_error_last()->message : "unknown error");
out:
	git_blob_free(blob);
	git_tree_entry_free(e);
	free(rest);
	return rc;
}
