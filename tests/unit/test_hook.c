/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * test_hook.c - unit tests for the hook's pure logic: release ids and
 * metadata, the prune plan, what a hook invocation says was pushed, and
 * which tree entry names may be checked out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "redeploy.h"

static void
test_release_id(void **state)
{
	char id[RELEASE_IDLEN];

	assert_int_equal(release_make_id(id, sizeof(id), 1700000000,
	    "1a2b3c4d5e6f"), 0);
	assert_string_equal(id, "20231114T221320Z-1a2b3c4");
	assert_true(release_id_valid(id));
	assert_true(release_id_valid("20231114T221320Z-1a2b3c4-2"));
	assert_true(release_id_valid("20231114T221320Z-1a2b3c4-17"));
	assert_false(release_id_valid("20231114T221320Z-1a2b3c4-"));
	assert_false(release_id_valid("20231114T221320Z-1A2B3C4"));
	assert_false(release_id_valid("20231114T221320Z-1a2b3c"));
	assert_false(release_id_valid(".incoming-abc"));
	assert_false(release_id_valid("20231114T221320Z-1a2b3c4.meta"));
	assert_false(release_id_valid("../../etc"));
	assert_false(release_id_valid(""));
	/* too small a buffer fails instead of truncating */
	assert_int_equal(release_make_id(id, 10, 1700000000, "1a2b3c4"), -1);
	assert_int_equal(release_make_id(id, sizeof(id), 1700000000, "1a2"),
	    -1);
}

static void
test_release_meta_roundtrip(void **state)
{
	struct release r, back;
	char buf[4096];

	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "20231114T221320Z-1a2b3c4");
	snprintf(r.commit, sizeof(r.commit), "%s",
	    "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b");
	snprintf(r.ref, sizeof(r.ref), "refs/heads/master");
	snprintf(r.pusher, sizeof(r.pusher), "alice");
	snprintf(r.result, sizeof(r.result), "deployed");
	snprintf(r.build, sizeof(r.build), "dir_mode=0755 file_mode=0644");
	r.time = 1700000000;
	r.files = 20000;
	assert_true(release_meta_format(&r, buf, sizeof(buf)) > 0);
	memset(&back, 0, sizeof(back));
	assert_int_equal(release_meta_parse(&back, buf), 0);
	assert_string_equal(back.commit, r.commit);
	assert_string_equal(back.ref, r.ref);
	assert_string_equal(back.pusher, r.pusher);
	assert_string_equal(back.result, r.result);
	assert_string_equal(back.build, r.build);
	assert_int_equal(back.time, r.time);
	assert_int_equal(back.files, r.files);
	/* a truncated buffer is an error, not a partial file */
	assert_int_equal(release_meta_format(&r, buf, 40), -1);
	/* metadata without a full commit id is not a release */
	memset(&back, 0, sizeof(back));
	assert_int_equal(release_meta_parse(&back, "commit=1a2b\n"), -1);
	memset(&back, 0, sizeof(back));
	assert_int_equal(release_meta_parse(&back, "garbage\n\n=x\n"), -1);
}

static struct release_list
mklist(const char *spec)
{
	static struct release v[32];
	struct release_list l = { v, 0 };
	size_t i;

	/* one char per release, newest first: d deployed, f failed,
	 * upper case = current */
	memset(v, 0, sizeof(v));
	for (i = 0; spec[i] != '\0'; i++) {
		snprintf(v[i].id, sizeof(v[i].id), "r%02zu", i);
		snprintf(v[i].result, sizeof(v[i].result), "%s",
		    (spec[i] | 0x20) == 'd' ? "deployed" : "failed");
		v[i].current = spec[i] >= 'A' && spec[i] <= 'Z';
	}
	l.n = i;
	return l;
}

static const char *
plan(const char *spec, int keep)
{
	static char out[33];
	unsigned char doomed[32];
	struct release_list l = mklist(spec);
	size_t i;

	release_prune_plan(&l, keep, doomed);
	for (i = 0; i < l.n; i++)
		out[i] = doomed[i] ? 'x' : '.';
	out[i] = '\0';
	return out;
}

static void
test_prune_plan(void **state)
{
	/* keep = 2 after 6 deploys: current + 2 */
	assert_string_equal(plan("Dddddd", 2), "...xxx");
	/* keep = 0 still keeps the previous good release */
	assert_string_equal(plan("Dddd", 0), "..xx");
	/* failed releases do not count towards keep */
	assert_string_equal(plan("fDfddd", 2), ".....x");
	/* after a rollback, the newer releases count, the rollback target
	 * (previous good) is kept on top */
	assert_string_equal(plan("ddDddd", 1), ".x..xx");
	/* never prune current, even when it is the oldest */
	assert_string_equal(plan("dddD", 0), "xxx.");
	/* no current (never switched): keep the newest good ones */
	assert_string_equal(plan("dddd", 2), "..xx");
	/* many failed: at most keep of them stay */
	assert_string_equal(plan("ffffD", 2), "..xx.");
	/* keep = 0: the newest failed one stays for inspection (redeploy(1)) */
	assert_string_equal(plan("fD", 0), "..");
	assert_string_equal(plan("fDfd", 0), "..x.");
}

static void
test_refs_lines(void **state)
{
	struct refs r;
	char err[128];

	assert_int_equal(refs_from_lines(&r, "0000 1111 refs/heads/other\n"
	    "2222 3333 refs/heads/master\n", err, sizeof(err)), 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(refs_judge(&r, "refs/heads/master"), REFS_DEPLOY);
	refs_free(&r);
	assert_int_equal(refs_from_lines(&r, "2222 0000000000 refs/heads/"
	    "master\n", err, sizeof(err)), 0);
	assert_int_equal(refs_judge(&r, "refs/heads/master"), REFS_DELETED);
	refs_free(&r);
	assert_int_equal(refs_from_lines(&r, "1 2 refs/tags/v1\n", err,
	    sizeof(err)), 0);
	assert_int_equal(refs_judge(&r, "refs/heads/master"), REFS_IGNORE);
	refs_free(&r);
	/* no newline at the end, blank lines */
	assert_int_equal(refs_from_lines(&r, "\n1 2 refs/heads/master", err,
	    sizeof(err)), 0);
	assert_int_equal(r.n, 1);
	refs_free(&r);
	assert_int_equal(refs_from_lines(&r, "garbage\n", err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "line 1"));
	/* a prefix is not the branch */
	assert_int_equal(refs_from_lines(&r, "1 2 refs/heads/master2\n", err,
	    sizeof(err)), 0);
	assert_int_equal(refs_judge(&r, "refs/heads/master"), REFS_IGNORE);
	refs_free(&r);
}

static void
test_refs_args(void **state)
{
	char *argv[] = { "refs/tags/v1", "refs/heads/master" };
	struct refs r;

	assert_int_equal(refs_from_args(&r, 2, argv), 0);
	assert_int_equal(refs_judge(&r, "refs/heads/master"), REFS_DEPLOY);
	assert_int_equal(refs_judge(&r, "refs/heads/main"), REFS_IGNORE);
	refs_free(&r);
}

static void
test_vet_name(void **state)
{
	assert_int_equal(vet_name("index.html"), 0);
	assert_int_equal(vet_name(".gitignore"), 0);
	assert_int_equal(vet_name("..."), 0);
	assert_int_equal(vet_name(""), -1);
	assert_int_equal(vet_name("."), -1);
	assert_int_equal(vet_name(".."), -1);
	assert_int_equal(vet_name(".git"), -1);
	assert_int_equal(vet_name(".GIT"), -1);
	assert_int_equal(vet_name(".Git"), -1);
	assert_int_equal(vet_name("a/b"), -1);
	/* what git's fsck and libgit2 refuse whatever protectNTFS/HFS say */
	assert_int_equal(vet_name(".git."), -1);
	assert_int_equal(vet_name(".git. . "), -1);
	assert_int_equal(vet_name(".git "), -1);
	assert_int_equal(vet_name("git~1"), -1);
	assert_int_equal(vet_name("GIT~1"), -1);
	assert_int_equal(vet_name("GIT~1.."), -1);
	assert_int_equal(vet_name(".git::$INDEX_ALLOCATION"), -1);
	assert_int_equal(vet_name(".git\\foo"), -1);
	assert_int_equal(vet_name(".g\xe2\x80\x8cit"), -1);	/* U+200C */
	assert_int_equal(vet_name(".GI\xef\xbb\xbfT"), -1);	/* U+FEFF */
	assert_int_equal(vet_name("git~2"), 0);
	assert_int_equal(vet_name(".gitx"), 0);
	assert_int_equal(vet_name("git~1x"), 0);
	assert_int_equal(vet_name(".g\xc3\xafit"), 0);	/* a real letter */
	assert_int_equal(vet_name("\xff.git"), 0);
}

static void
test_vet_entry(void **state)
{
	char why[256];

	assert_int_equal(vet_entry("a", 0100644, why, sizeof(why)), 0);
	assert_int_equal(vet_entry("a", 0100755, why, sizeof(why)), 0);
	assert_int_equal(vet_entry("a", 0040000, why, sizeof(why)), 0);
	assert_int_equal(vet_entry("a", 0120000, why, sizeof(why)), 0);
	assert_int_equal(vet_entry("a", 0160000, why, sizeof(why)), 0);
	assert_int_equal(vet_entry("a", 0100664, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "100664"));
	assert_int_equal(vet_entry("a", 0100600, why, sizeof(why)), -1);
	assert_int_equal(vet_entry("a", 0060000, why, sizeof(why)), -1);
	assert_int_equal(vet_entry("git~1", 0040000, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "git~1"));
	/* symlinked dot files git reads */
	assert_int_equal(vet_entry(".gitmodules", 0120000, why, sizeof(why)),
	    -1);
	assert_int_equal(vet_entry("GITMOD~1", 0120000, why, sizeof(why)), -1);
	assert_int_equal(vet_entry("gi7eba~3", 0120000, why, sizeof(why)), -1);
	assert_int_equal(vet_entry(".gitattributes ", 0120000, why,
	    sizeof(why)), -1);
	assert_int_equal(vet_entry(".GitIgnore", 0120000, why, sizeof(why)),
	    -1);
	assert_int_equal(vet_entry(".gitmodules", 0100644, why, sizeof(why)),
	    0);
	assert_int_equal(vet_entry("gitmodules", 0120000, why, sizeof(why)), 0);
}

static void
test_vet_shared(void **state)
{
	char *v[] = { "log", "tmp/cache", NULL };
	struct config_list s = { v, 2 };

	assert_true(vet_is_shared(&s, "log"));
	assert_true(vet_is_shared(&s, "tmp/cache"));
	assert_false(vet_is_shared(&s, "tmp"));
	assert_false(vet_is_shared(&s, "logs"));
	assert_true(vet_under_shared(&s, "log/app.log"));
	assert_true(vet_under_shared(&s, "tmp/cache"));
	assert_false(vet_under_shared(&s, "tmp/cached"));
	assert_false(vet_under_shared(&s, "tmp"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_release_id),
		cmocka_unit_test(test_release_meta_roundtrip),
		cmocka_unit_test(test_prune_plan),
		cmocka_unit_test(test_refs_lines),
		cmocka_unit_test(test_refs_args),
		cmocka_unit_test(test_vet_name),
		cmocka_unit_test(test_vet_entry),
		cmocka_unit_test(test_vet_shared),
	};

	return cmocka_run_group_tests_name("hook", tests, NULL, NULL);
}
