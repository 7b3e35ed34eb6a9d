/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * test_links.c - unit tests for the symlink index (hook/links.c): the next
 * release's list is the base's minus what the diff removed (a link, or a
 * directory and everything below it) plus what it wrote.
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
fill(struct links *l, const char *const *v)
{
	memset(l, 0, sizeof(*l));
	for (; *v != NULL; v++)
		assert_int_equal(links_add(l, *v), 0);
}

/* The list as one string, paths joined by spaces. */
static void
flat(const struct links *l, char *buf, size_t n)
{
	size_t off, len = 0;

	buf[0] = '\0';
	for (off = 0; off < l->len; off += strlen(l->p + off) + 1)
		len += (size_t)snprintf(buf + len, n - len, "%s%s",
		    len ? " " : "", l->p + off);
}

static void
test_links_merge(void **state)
{
	static const char *const base[] = { "a", "d/x", "d/e/y", "dd/z",
	    "q", NULL };
	static const char *const removed[] = { "d", "q", NULL };
	static const char *const added[] = { "q", "n/w", NULL };
	struct links b, r, a, out;
	char s[256];

	fill(&b, base);
	fill(&r, removed);
	fill(&a, added);
	assert_int_equal(links_merge(&out, &b, &r, &a), 0);
	flat(&out, s, sizeof(s));
	/* d and all below it went, dd (a sibling with d as prefix) stays,
	 * q was replaced */
	assert_string_equal(s, "a dd/z q n/w");
	links_free(&out);
	links_free(&b);
	links_free(&r);
	links_free(&a);
}

static void
test_links_empty(void **state)
{
	struct links b = { 0 }, r = { 0 }, a = { 0 }, out;

	assert_int_equal(links_merge(&out, &b, &r, &a), 0);
	assert_int_equal(out.len, 0);
	links_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_links_merge),
		cmocka_unit_test(test_links_empty),
	};

	return cmocka_run_group_tests_name("links", tests, NULL, NULL);
}
