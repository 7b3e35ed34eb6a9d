/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * fuzz_answer.c - libFuzzer target: the hook reading the agent's answers.
 * The input is the body; the first byte picks the HTTP status.  Both the
 * /status and the /restart readers run on it, with output to /dev/null.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "redeploy.h"

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init("fuzz_answer", "fuzz_answer", LOG_TO_SYSLOG, 0);
	if (freopen("/dev/null", "w", stdout) == NULL)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	struct client_reply r;

	if (size < 1)
		return 0;
	memset(&cfg, 0, sizeof(cfg));
	cfg.path = (char *)(uintptr_t)"/srv/site";
	cfg.listen_host = (char *)(uintptr_t)"127.0.0.1";
	cfg.listen_port = 8421;
	memset(&r, 0, sizeof(r));
	r.code = data[0] & 1 ? 200 : 503;
	if ((r.body = malloc(size)) == NULL)
		return 0;
	memcpy(r.body, data + 1, size - 1);
	r.body[size - 1] = '\0';
	client_reply_parse(&r);
	ops_status_print(&cfg, &r);
	(void)ops_restart_print(&cfg, &r);
	(void)client_str(&r, "release");
	(void)client_int(&r, "ready_ms");
	client_reply_free(&r);
	return 0;
}
