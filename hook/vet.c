/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * vet.c - judge names and symlink targets that came from a push.
 *
 * A tree entry name is one path component: never empty, ".", "..", a name
 * with '/', or ".git" in any case.  Under `symlinks = inside` a symlink must
 * resolve inside the release.  It is resolved against the pushed tree itself,
 * following the tree's own symlinks as the kernel would, because a purely
 * lexical check is fooled by "d -> ." plus "e -> d/..".  A path that enters
 * a shared directory leaves the release's control: beyond it, no "..".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "redeploy.h"

#define VET_MAXHOPS	40

int
vet_name(const char *name)
{
	if (name[0] == '\0' || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0 || strchr(name, '/') != NULL ||
	    strcasecmp(name, ".git") == 0)
		return -1;
	return 0;
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
