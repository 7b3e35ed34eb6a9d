/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * restart.c - steps 6 and 7: the agent restarts the service, and the new
 * process must run the release just switched to (not "switched but still
 * old code").  Otherwise the release is marked failed, `current` goes back
 * to the previous release, which is restarted, and the pusher reads one
 * block: what failed, the service's last lines, how it ended.  A broken
 * release never stays live: with nothing to go back to, `current` goes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "redeploy.h"

static const char *
svc_mode(const struct config *cfg)
{
	if (cfg->svc_listen.n == 0)
		return "classic";
	return cfg->restart == RESTART_OVERLAP ? "overlap" : "stop-first";
}

/*
 * Ask the agent to restart; 0 when it runs release `id` now, -1 when the
 * agent could not be asked (the service is untouched), -2 when it tried.
 */
static int
restart_ask(const struct config *cfg, const char *id,
    struct client_reply *rep, char *why, size_t n)
{
	double timeout = cfg->stop_timeout + cfg->ready_timeout + 10;
	const char *got, *error;

	if (client_call(cfg, "POST", "/restart", timeout, rep, why, n) == -1)
		/* unreachable or refused: nothing restarted; a timeout or a
		 * dropped answer: it may have been, so count it as tried */
		return rep->code == -1 ? -1 : -2;
	got = client_str(rep, "release");
	error = client_str(rep, "error");
	if (rep->code == 200 && strcmp(got, id) == 0)
		return 0;
	if (rep->code == 200)
		/* "switched but still old code": the agent runs another tree */
		snprintf(why, n, "the agent restarted release '%s', not '%s' "
		    "(is its [deploy] path '%s'?)", got[0] ? got : "?", id,
		    cfg->path);
	else
		snprintf(why, n, "%s", error[0] ? error : "the agent answered "
		    "with an error");
	return -2;
}

/* Nothing good to go back to: remove `current`, and ask the agent to
 * restart into nothing, which stops what it runs (a broken release never
 * stays live, nor keeps being retried).  -1 when the agent answers that
 * it still runs something (an agent that cannot be reached has said why
 * already, and starts nothing without `current`). */
int
restart_none(const struct restart_site *c)
{
	struct client_reply rep;
	char why[ERRLEN];
	int asked;

	if (unlinkat(c->pathfd, "current", 0) == -1 && errno != ENOENT)
		log_warn("removing '%s/current'", c->cfg->path);
	else if (fsync(c->pathfd) == -1)
		log_warn("syncing '%s'", c->cfg->path);
	if (!c->cfg->has_agent)
		return 0;
	asked = restart_ask(c->cfg, "", &rep, why, sizeof(why));
	client_reply_free(&rep);
	if (asked == -1 || client_call(c->cfg, "GET", "/status", 10, &rep,
	    why, sizeof(why)) == -1 || rep.code != 200 || rep.json == NULL ||
	    strcmp(client_str(&rep, "state"), "stopped") == 0) {
		client_reply_free(&rep);
		return 0;
	}
	log_warnx("the agent did not stop the service: it is %s (release "
	    "%s)", client_str(&rep, "state"), client_str(&rep, "release"));
	client_reply_free(&rep);
	return -1;
}

/*
 * Steps 6-7: the agent restarts the service, and the new process must run
 * the release just switched to.  Otherwise: mark it failed, switch back to
 * the previous release and restart that; *result says how it ended.
 */
int
restart_verify(const struct restart_site *c, struct release *rel,
    const struct release *prev, const char **result, char *err, size_t n)
{
	const struct config *cfg = c->cfg;
	const char *name = strrchr(cfg->path, '/');
	struct client_reply rep;
	char why[ERRLEN], why2[ERRLEN];
	int asked, untouched;

	name = name && name[1] ? name + 1 : cfg->path;
	asked = restart_ask(cfg, rel->id, &rep, why, sizeof(why));
	crashpoint("restart");
	if (asked == 0) {
		log_info("%s ready in %.2f s (pid %lld, release %s)", name,
		    (double)client_int(&rep, "ready_ms") / 1000.0,
		    client_int(&rep, "pid"), rel->id);
		if (client_int(&rep, "drain_ms") >= 0)
			log_info("restart %s: the old process finished its "
			    "requests and exited in %.2f s; only release %s "
			    "serves now", client_str(&rep, "mode"),
			    (double)client_int(&rep, "drain_ms") / 1000.0,
			    rel->id);
		else if (strcmp(client_str(&rep, "mode"), "stop-first") == 0)
			log_info("restart stop-first: the old process was gone "
			    "before the new one started; connections waited "
			    "on the socket redeployd holds");
		else if (strcmp(client_str(&rep, "mode"), "classic") == 0)
			log_info("restart classic: the service binds its port "
			    "itself (with [service] listen no connection is "
			    "refused meanwhile)");
		client_print_log(&rep, 3);
		client_reply_free(&rep);
		return 0;
	}
	if (asked == -1)
		log_warnx("release %s was not started: %s", rel->id, why);
	else
		log_warnx("release %s failed: %s", rel->id, why);
	if (rep.json != NULL) {
		log_warnx("the service's last lines:");
		client_print_log(&rep, 10);
	}
	untouched = client_int(&rep, "untouched") == 1;
	client_reply_free(&rep);
	snprintf(err, n, "%s", why);
	/* An agent that was not reached says nothing of the release: it
	 * is not condemned, only the reason is kept for `releases`. */
	if (asked != -1)
		snprintf(rel->result, sizeof(rel->result), "failed");
	snprintf(rel->reason, sizeof(rel->reason), "%s%s", asked == -1 ?
	    "not started: " : "", why);
	if (release_meta_write(c->releasesfd, rel, c->uid, c->gid) == -1 ||
	    fsync(c->releasesfd) == -1)
		log_warn("marking release %s %s", rel->id, rel->result);
	*result = "failed";
	crashpoint("rollback");
	if (prev == NULL && c->prev_link[0] != '\0') {
		/* current was not one of our releases (an adopted site):
		 * put the link back as it was, never leave it gone */
		if (fs_symlink_atomic(c->pathfd, c->prev_link, "current",
		    c->uid, c->gid) == -1 || fsync(c->pathfd) == -1) {
			log_warn("putting back '%s/current'", cfg->path);
			return -1;
		}
		*result = "rolled-back";
		if (restart_ask(cfg, "", &rep, why2, sizeof(why2)) != -1 &&
		    rep.code == 200)
			log_warnx("'current' points at '%s' again, serving "
			    "again (pid %lld)", c->prev_link,
			    client_int(&rep, "pid"));
		else
			log_warnx("'current' points at '%s' again, but it did "
			    "not start either: %s", c->prev_link, why2);
		client_reply_free(&rep);
		return -1;
	}
	if (prev == NULL) {
		/* Nothing to go back to: a broken release never stays live. */
		if (restart_none(c) == 0)
			log_warnx("no earlier release to go back to: nothing "
			    "is live now; fix the cause and push again");
		else
			log_warnx("no earlier release to go back to: 'current' "
			    "is removed; fix the cause and push again");
		return -1;
	}
	if (release_switch(c->pathfd, prev->id, c->uid, c->gid) == -1) {
		log_warn("switching back to release %s", prev->id);
		return -1;
	}
	crashpoint("rolled-back");
	if (asked == -2 && untouched) {
		/* restart = overlap: the old process was never stopped. */
		log_warnx("rolled back to release %s; it never stopped serving "
		    "(restart %s: the new process failed beside it)", prev->id,
		    svc_mode(cfg));
		*result = "rolled-back";
		return -1;
	}
	if (asked == -1) {
		/* The agent never restarted anything: nothing to undo there. */
		log_warnx("rolled back to release %s; the service was not "
		    "restarted", prev->id);
		*result = "rolled-back";
		return -1;
	}
	if (restart_ask(cfg, prev->id, &rep, why2, sizeof(why2)) == 0) {
		log_warnx("rolled back to release %s, serving again (pid %lld); "
		    "the failed release stays in '%s/releases' for inspection",
		    prev->id, client_int(&rep, "pid"), cfg->path);
		*result = "rolled-back";
	} else
		log_warnx("rolled back to release %s, but it did not start "
		    "either: %s", prev->id, why2);
	client_reply_free(&rep);
	return -1;
}
