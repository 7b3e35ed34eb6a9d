/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * branches.c - the branches a repository has, for messages that say what
 * exists when [deploy] branch names a branch that does not ("mastre").
 */
#include <stdio.h>
#include <string.h>

#include "redeploy.h"

/*
 * The local branch names, quoted and comma-separated ("'master', 'dev'"),
 * into out; at most a few, then "...".  Returns how many there are, 0 when
 * none, -1 when they cannot be listed.
 */
int
branches_list(git_repository *repo, char *out, size_t n)
{
	git_branch_iterator *it = NULL;
	git_reference *ref = NULL;
	git_branch_t type;
	const char *name;
	size_t len = 0;
	int count = 0;

	if (n > 0)
		out[0] = '\0';
	if (git_branch_iterator_new(&it, repo, GIT_BRANCH_LOCAL) != 0)
		return -1;
	while (git_branch_next(&ref, &type, it) == 0) {
		if (git_branch_name(&name, ref) == 0) {
			if (count < 8 && len < n)
				len += (size_t)snprintf(out + len, n - len,
				    "%s'%s'", count ? ", " : "", name);
			else if (count == 8 && len < n)
				len += (size_t)snprintf(out + len, n - len,
				    ", ...");
			count++;
		}
		git_reference_free(ref);
		ref = NULL;
	}
	git_branch_iterator_free(it);
	return count;
}
