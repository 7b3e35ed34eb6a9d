/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * ops.c - the operator's commands that talk to the agent: status, log,
 * restart.  Each prints one readable answer (or the raw JSON with --json)
 * and exits 0, or says in one line what is wrong and exits 1 (the agent
 * failed to restart) or 3 (the agent cannot be reached).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "redeploy.h"

static const char *
ops_name(const struct config *cfg)
{
	const char *name = strrchr(cfg->path, '/');

	return name && name[1] ? name + 1 : cfg->path;
}

static void
ops_duration(char *buf, size_t n, double s)
{
	long t = (long)s;

	if (t < 60)
		snprintf(buf, n, "%.1f s", s);
	else if (t < 3600)
		snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
	else
		snprintf(buf, n, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
}

static int
ops_need_agent(const struct config *cfg)
{
	if (cfg->has_agent)
		return 0;
	log_warnx("'%s' has no [agent] section: there is no service to ask "
	    "(a static site)", cfg->file);
	return -1;
}

/* Anything but 200 from the agent is an error, said in one line. */
static int
ops_answered(struct client_reply *r, const char *path)
{
	if (r->code == 200)
		return 0;
	log_warnx("the agent answered %s with HTTP %ld (is something else "
	    "listening on that port?)", path, r->code);
	client_reply_free(r);
	return -1;
}

/* The service's lines for a terminal: its control bytes made visible
 * (an escape sequence in a log line is shown, not run). */
static void
ops_print_visible(const char *body)
{
	char line[4096], vis[4 * sizeof(line)];
	const char *p = body, *nl;
	size_t len;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		len = nl ? (size_t)(nl - p) : strlen(p);
		if (len >= sizeof(line))
			len = sizeof(line) - 1;
		memcpy(line, p, len);
		line[len] = '\0';
		logfmt_visible(vis, sizeof(vis), line);
		printf("%s\n", vis);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

/* "exit code 1" or "signal 15 (Terminated)": never both, never -1. */
static void
ops_exit(json_int_t code, json_int_t sig)
{
	if (sig > 0 && sig < 65)
		printf(", last exit: signal %lld (%s)", (long long)sig,
		    strsignal((int)sig));
	else
		printf(", last exit: code %lld", (long long)code);
}

/* [service] listen, as one line (cut to fit). */
static const char *
ops_listen_words(const struct config *cfg, char *buf, size_t n)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < cfg->svc_listen.n && off < n; i++)
		off += (size_t)snprintf(buf + off, n - off, "%s%s", i ? " " : "",
		    cfg->svc_listen.v[i]);
	return buf;
}

int
ops_status(const struct config *cfg, int json)
{
	struct client_reply r;
	char err[ERRLEN] = "", up[32], words[512];
	json_t *ex, *v;

	if (ops_need_agent(cfg) == -1)
		return EXIT_USAGE;
	if (client_call(cfg, "GET", "/status", 10, &r, err, sizeof(err)) == -1 ||
	    ops_answered(&r, "/status") == -1) {
		if (err[0] != '\0')
			log_warnx("%s", err);
		return EXIT_SYSTEM;
	}
	if (json || r.json == NULL) {
		printf("%s\n", r.body ? r.body : "");
		client_reply_free(&r);
		return 0;
	}
	v = json_object_get(r.json, "uptime");
	ops_duration(up, sizeof(up), json_is_number(v) ?
	    json_number_value(v) : 0);
	printf("%s: %s", ops_name(cfg), client_str(&r, "state"));
	if (client_int(&r, "pid") > 0)
		printf(", pid %lld, up %s", client_int(&r, "pid"), up);
	printf("\n  release  %s (commit %.7s)\n",
	    client_str(&r, "release")[0] ? client_str(&r, "release") : "-",
	    client_str(&r, "commit")[0] ? client_str(&r, "commit") : "-");
	printf("  restarts %lld", client_int(&r, "restarts"));
	ex = json_object_get(r.json, "last_exit");
	if (json_is_object(ex))
		ops_exit(json_integer_value(json_object_get(ex, "code")),
		    json_integer_value(json_object_get(ex, "signal")));
	printf("\n  restart  %s", client_str(&r, "mode")[0] ?
	    client_str(&r, "mode") : "classic");
	if (cfg->svc_listen.n > 0)
		printf(", sockets held by redeployd: %s",
		    ops_listen_words(cfg, words, sizeof(words)));
	if (client_int(&r, "old_pid") > 0)
		printf(", old process %lld still draining",
		    client_int(&r, "old_pid"));
	if (client_str(&r, "service_status")[0] != '\0')
		printf("\n  status   %s", client_str(&r, "service_status"));
	printf("\n  agent    pid %lld, version %s, %s:%d\n",
	    client_int(&r, "agent_pid"), client_str(&r, "version"),
	    cfg->listen_host, cfg->listen_port);
	if (client_str(&r, "error")[0] != '\0')
		printf("  error    %s\n", client_str(&r, "error"));
	if (reconcile_view(cfg, &r, err, sizeof(err)) == 1)
		printf("  warning  %s\n", err);
	client_reply_free(&r);
	return 0;
}

int
ops_log(const struct config *cfg, long lines)
{
	struct client_reply r;
	char err[ERRLEN] = "", path[64];

	if (ops_need_agent(cfg) == -1)
		return EXIT_USAGE;
	snprintf(path, sizeof(path), "/log?lines=%ld", lines);
	if (client_call(cfg, "GET", path, 10, &r, err, sizeof(err)) == -1 ||
	    ops_answered(&r, "/log") == -1) {
		if (err[0] != '\0')
			log_warnx("%s", err);
		return EXIT_SYSTEM;
	}
	ops_print_visible(r.body ? r.body : "");
	client_reply_free(&r);
	return 0;
}

int
ops_restart(const struct config *cfg)
{
	struct client_reply r;
	char err[ERRLEN];
	int rc = 0;

	if (ops_need_agent(cfg) == -1)
		return EXIT_USAGE;
	if (client_call(cfg, "POST", "/restart", cfg->stop_timeout +
	    cfg->ready_timeout + 10, &r, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return EXIT_SYSTEM;
	}
	if (r.code == 200) {
		log_info("%s ready in %.2f s (pid %lld, release %s)",
		    ops_name(cfg), (double)client_int(&r, "ready_ms") / 1000.0,
		    client_int(&r, "pid"), client_str(&r, "release"));
		if (client_int(&r, "drain_ms") >= 0)
			log_info("restart %s: the old process finished its "
			    "requests and exited in %.2f s",
			    client_str(&r, "mode"),
			    (double)client_int(&r, "drain_ms") / 1000.0);
		client_print_log(&r, 3);
	} else {
		log_warnx("restart failed: %s", client_str(&r, "error")[0] ?
		    client_str(&r, "error") : "the agent answered an error");
		client_print_log(&r, 10);
		rc = EXIT_DEPLOY;
	}
	client_reply_free(&r);
	return rc;
}
