/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * refs.c - what a hook invocation says was pushed.
 *
 * post-update passes the updated ref names as arguments; post-receive passes
 * "old new ref" lines on stdin.  Only the configured branch deploys; a
 * deletion of it is reported, everything else is ignored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redeploy.h"

static int
refs_add(struct refs *r, const char *ref, size_t len, int deleted)
{
	struct refs_update *v;

	if ((v = realloc(r->v, (r->n + 1) * sizeof(*v))) == NULL)
		return -1;
	r->v = v;
	if ((v[r->n].ref = strndup(ref, len)) == NULL)
		return -1;
	v[r->n].deleted = deleted;
	v[r->n].old[0] = v[r->n].new[0] = '\0';
	r->n++;
	return 0;
}

static void
refs_hex(char *dst, const char *src, size_t len)
{
	if (len > GIT_OID_HEXSZ)
		len = GIT_OID_HEXSZ;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

int
refs_from_args(struct refs *r, int argc, char **argv)
{
	int i;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < argc; i++)
		if (refs_add(r, argv[i], strlen(argv[i]), 0) == -1) {
			refs_free(r);
			return -1;
		}
	return 0;
}

static int
refs_is_zero(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != '0')
			return 0;
	return n > 0;
}

/* "OLD NEW REF" lines, as post-receive reads them. */
int
refs_from_lines(struct refs *r, const char *text, char *err, size_t n)
{
	const char *line = text, *end, *sp1, *sp2;
	size_t lineno = 0;

	memset(r, 0, sizeof(*r));
	while (*line != '\0') {
		lineno++;
		end = strchr(line, '\n');
		if (end == NULL)
			end = line + strlen(line);
		if (end == line) {
			line = *end ? end + 1 : end;
			continue;
		}
		sp1 = memchr(line, ' ', (size_t)(end - line));
		sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1)) : NULL;
		if (sp1 == NULL || sp2 == NULL || sp2 + 1 >= end) {
			snprintf(err, n, "stdin line %zu is not 'OLD NEW REF'",
			    lineno);
			refs_free(r);
			return -1;
		}
		if (refs_add(r, sp2 + 1, (size_t)(end - sp2 - 1),
		    refs_is_zero(sp1 + 1, (size_t)(sp2 - sp1 - 1))) == -1) {
			snprintf(err, n, "out of memory");
			refs_free(r);
			return -1;
		}
		refs_hex(r->v[r->n - 1].old, line, (size_t)(sp1 - line));
		refs_hex(r->v[r->n - 1].new, sp1 + 1, (size_t)(sp2 - sp1 - 1));
		line = *end ? end + 1 : end;
	}
	return 0;
}

enum refs_verdict
refs_judge(const struct refs *r, const char *branch_ref)
{
	enum refs_verdict v = REFS_IGNORE;
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->v[i].ref, branch_ref) == 0)
			v = r->v[i].deleted ? REFS_DELETED : REFS_DEPLOY;
	return v;
}

/* The last update of ref in r, or NULL. */
const struct refs_update *
refs_find(const struct refs *r, const char *ref)
{
	const struct refs_update *u = NULL;
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->v[i].ref, ref) == 0)
			u = &r->v[i];
	return u;
}

void
refs_free(struct refs *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->v[i].ref);
	free(r->v);
	memset(r, 0, sizeof(*r));
}
