/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * test_httpcheck.c - the raw request target the endpoint accepts: no
 * control byte, raw or %-escaped, no space, nothing over the limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "redeployd.h"

static void
test_uri(void **state)
{
	char big[3000];

	assert_int_equal(httpcheck_uri("/restart", 2048), 0);
	assert_int_equal(httpcheck_uri("/log?lines=20", 2048), 0);
	assert_int_equal(httpcheck_uri("/a%41%2f%7e", 2048), 0);
	assert_int_equal(httpcheck_uri("/restart%00junk", 2048), 400);
	assert_int_equal(httpcheck_uri("/restart%0d%0a", 2048), 400);
	assert_int_equal(httpcheck_uri("/x%1F", 2048), 400);
	assert_int_equal(httpcheck_uri("/x%7f", 2048), 400);
	assert_int_equal(httpcheck_uri("/x%7F", 2048), 400);
	assert_int_equal(httpcheck_uri("/a b", 2048), 400);
	assert_int_equal(httpcheck_uri("/a\tb", 2048), 400);
	assert_int_equal(httpcheck_uri("/a\x01", 2048), 400);
	assert_int_equal(httpcheck_uri("/\xc3\xa9", 2048), 400);
	assert_int_equal(httpcheck_uri("/x%", 2048), 0);
	memset(big, 'a', sizeof(big) - 1);
	big[0] = '/';
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(httpcheck_uri(big, 2048), 414);
	big[2048] = '\0';
	assert_int_equal(httpcheck_uri(big, 2048), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uri),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
