/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * print.c - redeployd --print KEY: one resolved value of the config, as
 * the agent itself reads it (defaults applied, CRLF and comments handled by
 * the one loader), for the init script and for admins.  Nothing is checked
 * beyond loading: -n does that.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "redeployd.h"

/* Print the value of KEY on stdout; EXIT_USAGE for an unknown KEY. */
int
agent_print(const struct config *cfg, const char *key)
{
	const char *s = NULL;

	if (strcmp(key, "agent") == 0)
		s = cfg->has_service ? "yes" : "no";
	else if (strcmp(key, "file") == 0)
		s = cfg->file;
	else if (strcmp(key, "deploy.path") == 0)
		s = cfg->path;
	else if (strcmp(key, "agent.listen") == 0)
		s = cfg->listen;
	else if (strcmp(key, "agent.token_file") == 0)
		s = cfg->token_file;
	else if (strcmp(key, "service.stop_timeout") == 0) {
		printf("%g\n", cfg->stop_timeout);
		return 0;
	} else if (strcmp(key, "service.ready_timeout") == 0) {
		printf("%g\n", cfg->ready_timeout);
		return 0;
	} else {
		log_warnx("--print: unknown key '%s' (agent, file, deploy.path, "
		    "agent.listen, agent.token_file, service.stop_timeout, "
		    "service.ready_timeout)", key);
		return EXIT_USAGE;
	}
	printf("%s\n", s ? s : "");
	return 0;
}
