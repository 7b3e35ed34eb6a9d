/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * reconcile.c - before a deploy or a rollback does anything, under the
 * deploy lock: make `current` name a release that finished, and, with an
 * agent, the release the service runs.
 *
 * A deploy records its progress in the new release's metadata: it is
 * written result=pending (with prev=, the release it replaces) before the
 * switch, and becomes deployed only once the service runs it; a rollback
 * marks it failed before switching back.  So a deploy killed at any step
 * leaves one of these, each healed here with one line saying so:
 *   current pending, the service runs it (or no agent): it finished; mark
 *     it deployed;
 *   current pending or deployed, the service runs another release: finish
 *     the step: restart into current and verify it (a failure rolls back);
 *   current failed (a rollback was cut short): switch back to the release
 *     it replaced, or the newest good one, and restart into that.
 * When the agent cannot be asked, nothing is changed on a guess.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "redeploy.h"

/* The good release to go back to from `cur`: its prev=, else the newest
 * deployed release older than it.  0 when found. */
static int
reconcile_target(int pathfd, const struct release *cur, struct release *out)
{
	struct release_list l;
	size_t i, at;
	int rc = -1;

	if (release_list(pathfd, &l) == -1)
		return -1;
	for (i = 0; cur->prev[0] != '\0' && i < l.n; i++)
		if (strcmp(l.v[i].id, cur->prev) == 0 &&
		    strcmp(l.v[i].result, "deployed") == 0) {
			*out = l.v[i];
			rc = 0;
			goto out;
		}
	for (at = 0; at < l.n && strcmp(l.v[at].id, cur->id) != 0; at++)
		;
	for (i = at < l.n ? at + 1 : 0; i < l.n; i++)
		if (strcmp(l.v[i].result, "deployed") == 0 &&
		    strcmp(l.v[i].id, cur->id) != 0) {
			*out = l.v[i];
			rc = 0;
			goto out;
		}
out:
	release_list_free(&l);
	return rc;
}

/* What the agent runs: 0 with release and state, -1 when it cannot say. */
static int
reconcile_agent(const struct config *cfg, char *rel, size_t reln, char *state,
    size_t staten)
{
	struct client_reply r;
	char err[ERRLEN];
	int rc = -1;

	if (client_call(cfg, "GET", "/status", 10, &r, err, sizeof(err)) == 0 &&
	    r.code == 200 && r.json != NULL) {
		snprintf(rel, reln, "%s", client_str(&r, "release"));
		snprintf(state, staten, "%s", client_str(&r, "state"));
		rc = 0;
	} else
		log_warnx("cannot ask the agent what it runs: %s",
		    err[0] ? err : "no answer");
	client_reply_free(&r);
	return rc;
}

static void
reconcile_mark(const struct restart_site *s, struct release *rel,
    const char *result)
{
	snprintf(rel->result, sizeof(rel->result), "%s", result);
	if (release_meta_write(s->releasesfd, rel, s->uid, s->gid) == -1 ||
	    fsync(s->releasesfd) == -1)
		log_warn("marking release %s %s", rel->id, result);
}

/* Restart into rel and verify it; on failure restart_verify marks it
 * failed and goes back to prev.  0 when rel runs. */
static int
reconcile_restart(const struct restart_site *s, struct release *rel,
    const struct release *prev)
{
	struct restart_site site = *s;
	char err[ERRLEN];
	const char *result = "deployed";

	site.prev_link[0] = '\0';
	if (restart_verify(&site, rel, prev, &result, err, sizeof(err)) == -1) {
		log_event(LOG_ERR, "reconcile release=%s commit=%s result=%s "
		    "reason=%s", rel->id, rel->commit, result, err);
		return -1;
	}
	reconcile_mark(s, rel, "deployed");
	log_event(LOG_NOTICE, "reconcile release=%s commit=%s result=deployed",
	    rel->id, rel->commit);
	return 0;
}

int
reconcile_run(const struct restart_site *s)
{
	const struct config *cfg = s->cfg;
	struct release cur, back;
	char id[RELEASE_IDLEN], runs[RELEASE_IDLEN + 64] = "", state[32] = "";
	int known = 0, agree, have_back;

	if (release_current(s->pathfd, id, sizeof(id)) != 0 ||
	    release_meta_read(s->releasesfd, id, &cur) == -1)
		return 0;	/* nothing live yet, or not one of ours */
	if (cfg->has_agent)
		known = reconcile_agent(cfg, runs, sizeof(runs), state,
		    sizeof(state)) == 0;
	agree = known && strcmp(runs, id) == 0 && strcmp(state, "ready") == 0;
	have_back = reconcile_target(s->pathfd, &cur, &back) == 0;

	if (strcmp(cur.result, "failed") == 0) {
		/* A rollback was cut short between marking and switching. */
		if (!have_back) {
			log_warnx("found release %s current but marked failed, "
			    "and no good release to go back to: removing "
			    "'current'%s", id, cfg->has_agent ? " and stopping "
			    "the service" : "");
			(void)restart_none(s);
			return -1;
		}
		log_warnx("found release %s current but marked failed (an "
		    "interrupted rollback): switching back to release %s",
		    id, back.id);
		if (release_switch(s->pathfd, back.id, s->uid, s->gid) == -1) {
			log_warn("switching '%s/current' to %s", cfg->path,
			    back.id);
			return -1;
		}
		if (!cfg->has_agent || !known || (strcmp(runs, back.id) == 0 &&
		    strcmp(state, "ready") == 0))
			return known || !cfg->has_agent ? 0 : -1;
		cur = back;
		have_back = reconcile_target(s->pathfd, &cur, &back) == 0;
		return reconcile_restart(s, &cur, have_back ? &back : NULL);
	}
	if (strcmp(cur.result, "pending") == 0) {
		if (!cfg->has_agent || agree) {
			log_warnx("found release %s current but unconfirmed "
			    "(an interrupted deploy)%s: marking it deployed", id,
			    cfg->has_agent ? "; the service runs it" : "");
			reconcile_mark(s, &cur, "deployed");
			return 0;
		}
		if (!known) {
			log_warnx("found release %s current but unconfirmed, "
			    "and the agent cannot say what it runs: left as "
			    "it is", id);
			return -1;
		}
		log_warnx("found release %s current but unconfirmed, the "
		    "service runs %s (%s): restarting into %s", id,
		    runs[0] ? runs : "nothing", state, id);
		return reconcile_restart(s, &cur, have_back ? &back : NULL);
	}
	if (strcmp(cur.result, "deployed") != 0 || !known || agree)
		return 0;
	if (strcmp(runs, id) == 0 && strcmp(state, "stopped") != 0)
		return 0;	/* its own crash: the agent restarts it */
	log_warnx("found release %s current, the service runs %s (%s): "
	    "restarting into %s", id, runs[0] ? runs : "nothing", state, id);
	return reconcile_restart(s, &cur, have_back ? &back : NULL);
}

/*
 * For `status` and `check`: does current disagree with itself or with the
 * agent's answer st (a /status reply)?  1 and a line in msg when so.
 */
int
reconcile_view(const struct config *cfg, const struct client_reply *st,
    char *msg, size_t n)
{
	struct release cur;
	char id[RELEASE_IDLEN];
	const char *runs;
	int pathfd, releasesfd = -1, rc = 0;

	if ((pathfd = open(cfg->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		return 0;
	if (release_current(pathfd, id, sizeof(id)) != 0 ||
	    (releasesfd = openat(pathfd, "releases", O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1 ||
	    release_meta_read(releasesfd, id, &cur) == -1)
		goto out;
	runs = st != NULL ? client_str(st, "release") : NULL;
	if (strcmp(cur.result, "deployed") != 0) {
		snprintf(msg, n, "current is release %s, marked %s (a deploy "
		    "or rollback under way, or an interrupted one): the next "
		    "deploy repairs it, or run 'redeploy deploy'", id,
		    cur.result);
		rc = 1;
	} else if (runs != NULL && strcmp(runs, id) != 0) {
		snprintf(msg, n, "current is release %s, but the service runs "
		    "%s: the next deploy repairs it, or run 'redeploy deploy'",
		    id, runs[0] ? runs : "nothing");
		rc = 1;
	}
out:
	if (releasesfd != -1)
		close(releasesfd);
	close(pathfd);
	return rc;
}
