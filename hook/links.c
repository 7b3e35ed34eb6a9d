/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * links.c - the index of a release's symlinks, releases/<id>.links.
 *
 * An incremental deploy that adds, removes or retypes a directory or a
 * symlink must vet every symlink of the new tree again (an unchanged link
 * can escape through a changed one), but must not walk the whole tree to
 * find them.  So each release records its symlink paths (those checked
 * out: none under a shared path), NUL-terminated, one after another, and
 * the next release's list is that one minus what its diff removed plus
 * what it added.  A release without the file (made by an older version)
 * costs one walk of the tree, once.  The file sits beside <id>.meta,
 * outside the served tree, and goes with it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "redeploy.h"

#define LINKS_MAX	(64u << 20)

int
links_add(struct links *b, const char *path)
{
	size_t n = strlen(path) + 1;
	char *np;

	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;

		while (cap < b->len + n)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL)
			return -1;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, path, n);
	b->len += n;
	return 0;
}

int
links_append(struct links *dst, const struct links *src)
{
	size_t off;

	for (off = 0; off < src->len; off += strlen(src->p + off) + 1)
		if (links_add(dst, src->p + off) == -1)
			return -1;
	return 0;
}

void
links_free(struct links *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Is path one of the removed paths, or below one? */
static int
links_gone(const struct links *removed, const char *path)
{
	size_t off, n;

	for (off = 0; off < removed->len; off += n + 1) {
		const char *r = removed->p + off;

		n = strlen(r);
		if (strncmp(r, path, n) == 0 &&
		    (path[n] == '\0' || path[n] == '/'))
			return 1;
	}
	return 0;
}

/* out = base minus what removed takes away, plus added. */
int
links_merge(struct links *out, const struct links *base,
    const struct links *removed, const struct links *added)
{
	size_t off;

	memset(out, 0, sizeof(*out));
	for (off = 0; off < base->len; off += strlen(base->p + off) + 1)
		if (!links_gone(removed, base->p + off) &&
		    links_add(out, base->p + off) == -1)
			goto fail;
	if (links_append(out, added) == -1)
		goto fail;
	return 0;
fail:
	links_free(out);
	return -1;
}

/* 0 and the list, 1 when the release has none, -1 on error. */
int
links_read(int releasesfd, const char *id, struct links *out)
{
	char name[RELEASE_IDLEN + 8], *text = NULL;
	size_t len = 0;

	memset(out, 0, sizeof(*out));
	snprintf(name, sizeof(name), "%s.links", id);
	if (fs_read_small(releasesfd, name, LINKS_MAX, &text, &len) == -1)
		return errno == ENOENT ? 1 : -1;
	if (len > 0 && text[len - 1] != '\0') {	/* not ours: walk instead */
		free(text);
		return 1;
	}
	out->p = text;
	out->len = len;
	out->cap = len + 1;
	return 0;
}

int
links_write(int releasesfd, const char *id, const struct links *l,
    uid_t uid, gid_t gid)
{
	char name[RELEASE_IDLEN + 8];

	snprintf(name, sizeof(name), "%s.links", id);
	return fs_write_atomic(releasesfd, name, l->p ? l->p : "", l->len,
	    0644, uid, gid);
}

int
links_remove(int releasesfd, const char *id)
{
	char name[RELEASE_IDLEN + 8];

	snprintf(name, sizeof(name), "%s.links", id);
	return unlinkat(releasesfd, name, 0) == -1 && errno != ENOENT ? -1 : 0;
}
