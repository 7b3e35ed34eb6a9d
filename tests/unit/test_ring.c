/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * test_ring.c - the service output ring: lines per stream, long lines
 * split, binary made printable, oldest lines dropped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "redeployd.h"

struct seen {
	int	 n;
	char	 last[RING_LINE_MAX + 1];
	enum ring_stream s;
};

static void
seen_cb(void *arg, enum ring_stream s, const char *line)
{
	struct seen *x = arg;

	x->n++;
	x->s = s;
	snprintf(x->last, sizeof(x->last), "%s", line);
}

static void
test_lines_and_streams(void **state)
{
	struct ring *r = ring_new(10);
	struct seen x = { 0 };

	ring_feed(r, RING_STDOUT, "one\ntw", 6, seen_cb, &x);
	assert_int_equal(x.n, 1);
	assert_string_equal(x.last, "one");
	/* stderr's partial line does not mix with stdout's */
	ring_feed(r, RING_STDERR, "err\n", 4, seen_cb, &x);
	assert_int_equal(x.s, RING_STDERR);
	ring_feed(r, RING_STDOUT, "o\r\n", 3, seen_cb, &x);
	assert_string_equal(x.last, "two");
	assert_int_equal(ring_count(r), 3);
	assert_string_equal(ring_line(r, 0), "two");
	assert_string_equal(ring_line(r, 2), "one");
	assert_null(ring_line(r, 3));
	/* a partial last line becomes a line at the end of the stream */
	ring_feed(r, RING_STDOUT, "tail", 4, seen_cb, &x);
	ring_flush(r, RING_STDOUT, seen_cb, &x);
	assert_string_equal(ring_line(r, 0), "tail");
	ring_free(r);
}

static void
test_binary_is_escaped(void **state)
{
	struct ring *r = ring_new(4);
	const char bin[] = { 'a', 0x00, 0x1b, '"', (char)0xff, 'b', '\n' };

	ring_feed(r, RING_STDOUT, bin, sizeof(bin), NULL, NULL);
	assert_string_equal(ring_line(r, 0), "a\\x00\\x1b\"\\xffb");
	ring_free(r);
}

static void
test_long_lines_split(void **state)
{
	struct ring *r = ring_new(8);
	char big[RING_LINE_MAX * 2 + 10];
	size_t i;

	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	ring_feed(r, RING_STDOUT, big, sizeof(big), NULL, NULL);
	assert_int_equal(ring_count(r), 3);
	assert_int_equal(strlen(ring_line(r, 2)), RING_LINE_MAX);
	assert_int_equal(strlen(ring_line(r, 1)), RING_LINE_MAX);
	assert_int_equal(strlen(ring_line(r, 0)), sizeof(big) - 1 -
	    2 * RING_LINE_MAX);
	/* an escape is never cut in half */
	for (i = 0; i < RING_LINE_MAX; i++)
		big[i] = 0x01;
	ring_feed(r, RING_STDOUT, big, RING_LINE_MAX, NULL, NULL);
	ring_flush(r, RING_STDOUT, NULL, NULL);
	for (i = 0; i < 2; i++)
		assert_int_equal(strlen(ring_line(r, i)) % 4, 0);
	ring_free(r);
}

static void
test_oldest_dropped(void **state)
{
	struct ring *r = ring_new(3);
	char line[16];
	int i;

	for (i = 0; i < 10; i++) {
		snprintf(line, sizeof(line), "l%d\n", i);
		ring_feed(r, RING_STDOUT, line, strlen(line), NULL, NULL);
	}
	assert_int_equal(ring_count(r), 3);
	assert_string_equal(ring_line(r, 0), "l9");
	assert_string_equal(ring_line(r, 2), "l7");
	ring_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_and_streams),
		cmocka_unit_test(test_binary_is_escaped),
		cmocka_unit_test(test_long_lines_split),
		cmocka_unit_test(test_oldest_dropped),
	};

	return cmocka_run_group_tests_name("ring", tests, NULL, NULL);
}
