/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * test_answers.c - the hook reads the agent's JSON answers: numbers out
 * of range, of the wrong type or missing are bounded, never undefined.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "redeploy.h"

/* ops_status_print's stdout for BODY. */
static char *
status_text(const char *body)
{
	struct config cfg;
	struct client_reply r = { .code = 200 };
	static char out[4096];
	FILE *f;
	int saved;
	size_t n;

	memset(&cfg, 0, sizeof(cfg));
	cfg.path = (char *)(uintptr_t)"/srv/site";
	cfg.listen_host = (char *)(uintptr_t)"127.0.0.1";
	cfg.listen_port = 8421;
	r.body = strdup(body);
	client_reply_parse(&r);
	fflush(stdout);
	f = tmpfile();
	assert_non_null(f);
	saved = dup(STDOUT_FILENO);
	dup2(fileno(f), STDOUT_FILENO);
	ops_status_print(&cfg, &r);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	rewind(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	fclose(f);
	client_reply_free(&r);
	return out;
}

static void
test_uptime_bounded(void **state)
{
	/* a century at most, whatever the agent says */
	assert_non_null(strstr(status_text("{\"state\":\"ready\",\"pid\":7,"
	    "\"uptime\":1e30}"), "up 876000h00m"));
	assert_non_null(strstr(status_text("{\"state\":\"ready\",\"pid\":7,"
	    "\"uptime\":-5}"), "up 0.0 s"));
	assert_non_null(strstr(status_text("{\"state\":\"ready\",\"pid\":7,"
	    "\"uptime\":\"x\"}"), "up 0.0 s"));
	assert_non_null(strstr(status_text("{\"state\":\"ready\",\"pid\":7,"
	    "\"uptime\":3725.5}"), "up 1h02m"));
}

static void
test_ints_bounded(void **state)
{
	struct client_reply r = { .code = 200 };

	r.body = strdup("{\"pid\":-3,\"restarts\":99999999999999999999,"
	    "\"ready_ms\":1.5,\"agent_pid\":42}");
	client_reply_parse(&r);
	/* jansson refuses the huge integer: not JSON, nothing read */
	assert_null(r.json);
	client_reply_free(&r);
	r.body = strdup("{\"pid\":-3,\"restarts\":9007199254740993,"
	    "\"ready_ms\":1.5,\"agent_pid\":42}");
	client_reply_parse(&r);
	assert_non_null(r.json);
	assert_int_equal(client_int(&r, "pid"), -1);
	assert_int_equal(client_int(&r, "restarts"), -1);
	assert_int_equal(client_int(&r, "ready_ms"), -1);
	assert_int_equal(client_int(&r, "agent_pid"), 42);
	assert_int_equal(client_int(&r, "missing"), -1);
	client_reply_free(&r);
	/* a key twice is no answer of the agent's */
	r.body = strdup("{\"release\":\"a\",\"release\":\"b\"}");
	client_reply_parse(&r);
	assert_null(r.json);
	client_reply_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uptime_bounded),
		cmocka_unit_test(test_ints_bounded),
	};

	log_init("test", "test", LOG_TO_STDERR, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
