/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * test_logfmt.c - unit tests for the text of log lines: values escaped so
 * that nothing in them adds a field or a line, conversions of every kind,
 * long lines cut between fields, control bytes made visible.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "log.h"

static void ev(char *buf, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
ev(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)logfmt_event(buf, n, fmt, ap);
	va_end(ap);
}

static void
test_bare_and_quoted(void **state)
{
	char b[512];

	ev(b, sizeof(b), "deploy release=%s files=%lu ms=%.0f result=%s",
	    "20260101T000000Z-abc", 3UL, 12.4, "deployed");
	assert_string_equal(b, "deploy release=20260101T000000Z-abc files=3 "
	    "ms=12 result=deployed");
	ev(b, sizeof(b), "failed reason=%s", "a b");
	assert_string_equal(b, "failed reason=\"a b\"");
	ev(b, sizeof(b), "failed reason=%s", "");
	assert_string_equal(b, "failed reason=\"\"");
	ev(b, sizeof(b), "x k=%s", "a=b");
	assert_string_equal(b, "x k=\"a=b\"");
	ev(b, sizeof(b), "x k=%s", "q\"b\\s");
	assert_string_equal(b, "x k=\"q\\\"b\\\\s\"");
	ev(b, sizeof(b), "x k=%s", "l1\nl2\r\t\x1b[31m\x7f\xc3\xa9");
	assert_string_equal(b, "x k=\"l1\\nl2\\r\\t\\x1b[31m\\x7f\\xc3\\xa9\"");
}

static void
test_forged_fields_stay_one_value(void **state)
{
	char b[512];

	ev(b, sizeof(b), "deploy release=- reason=%s result=failed",
	    "x\" result=deployed release=20990101T000000Z-fake note=\"");
	assert_string_equal(b, "deploy release=- reason=\"x\\\" "
	    "result=deployed release=20990101T000000Z-fake note=\\\"\" "
	    "result=failed");
	assert_string_equal(strstr(b, "\" result=failed"), "\" result=failed");
}

static void
test_literal_and_mixed(void **state)
{
	char b[512];

	ev(b, sizeof(b), "started pid=%ld listen=%s:%d user=%s", 42L,
	    "127.0.0.1", 8421, "(caller)");
	assert_string_equal(b, "started pid=42 listen=127.0.0.1:8421 "
	    "user=(caller)");
	ev(b, sizeof(b), "kill pid=%d reason=\"still running %g s after %s\"",
	    7, 1.5, "Terminated");
	assert_string_equal(b, "kill pid=7 reason=\"still running 1.5 s "
	    "after Terminated\"");
	ev(b, sizeof(b), "refused reason=\"config: %s\"", "f.ini:3: bad");
	assert_string_equal(b, "refused reason=\"config: f.ini:3: bad\"");
	ev(b, sizeof(b), "stopped");
	assert_string_equal(b, "stopped");
	ev(b, sizeof(b), "restart requested peer=%s", "127.0.0.1");
	assert_string_equal(b, "restart requested=1 peer=127.0.0.1");
	ev(b, sizeof(b), "n a=%zu b=%lld c=%u d=%.7s e=%5.2f%%", (size_t)9,
	    -3LL, 4U, "0123456789", 3.14159);
	assert_string_equal(b, "n a=9 b=-3 c=4 d=0123456 e=\" 3.14%\"");
	ev(b, sizeof(b), "n a=%*d b=%.*s", 3, 5, 2, "xyz");
	assert_string_equal(b, "n a=\"  5\" b=xy");
}

static void
test_cut_between_fields(void **state)
{
	char b[40], big[200];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ev(b, sizeof(b), "deploy release=%s reason=%s result=%s", "r1", big,
	    "x");
	assert_true(strlen(b) < sizeof(b));
	assert_int_equal(strncmp(b, "deploy release=r1 reason=\"aaa", 29), 0);
	assert_string_equal(b + strlen(b) - 4, "...\"");
	memset(big, ' ', sizeof(big) - 1);
	ev(b, sizeof(b), "deploy release=%s reason=%s", "r1", big);
	assert_string_equal(b + strlen(b) - 4, "...\"");
	assert_int_equal(b[25], '"');
	/* an escape is never cut in half */
	memset(big, '\n', sizeof(big) - 1);
	ev(b, sizeof(b), "d reason=%s", big);
	assert_string_equal(b + strlen(b) - 6, "\\n...\"");
}

static void
test_visible(void **state)
{
	char b[256];

	logfmt_visible(b, sizeof(b), "a\nb\x1b[2Jc\td\x7f");
	assert_string_equal(b, "a\\nb\\x1b[2Jc\\td\\x7f");
	/* UTF-8 text passes; C1 controls, raw or encoded, do not */
	logfmt_visible(b, sizeof(b), "caf\xc3\xa9 \xc2\x9b" "1m \x9b \xff");
	assert_string_equal(b, "caf\xc3\xa9 \\xc2\\x9b1m \\x9b \\xff");
	logfmt_visible(b, 6, "abcdefgh");
	assert_string_equal(b, "abcde");
	logfmt_visible(b, 4, "a\x1b");
	assert_string_equal(b, "a");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bare_and_quoted),
		cmocka_unit_test(test_forged_fields_stay_one_value),
		cmocka_unit_test(test_literal_and_mixed),
		cmocka_unit_test(test_cut_between_fields),
		cmocka_unit_test(test_visible),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
