/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * supervise.c - the service as an explicit state machine.
 *
 *   stopped --restart--> starting --ready--> ready
 *   starting|ready --exit--> backoff --delay--> starting
 *   any with a process --restart/shutdown--> stopping --all gone--> ...
 *
 * A "start" (struct svc_proc) is one forked process and everything it
 * starts (tree.c).  The agent is a child subreaper, so orphans of the
 * service are reparented to it, not to init: at a stop every member of the
 * start is signalled, and when the leader exits every member left is
 * killed and the start counts as gone only when none is left.
 *
 * restart = stop-first (and the classic service that binds its own port):
 * the old start must be gone, every process of it, before the new one is
 * forked, so nothing of the old one can hold the port or answer the probe.
 * restart = overlap (held sockets only): the new start is forked beside
 * the old one, which keeps serving on the same sockets; the new one must
 * prove itself (a READY=1 from one of its own processes, or an http answer
 * from a connection one of its processes accepted, see probe.c); only then
 * does the old one get stop_signal, and the restart is answered when the
 * old start is gone.  If the new start fails, it is stopped and the old
 * one was never touched.
 *
 * Rules: the service is forked only from the loop's thread; between fork
 * and exec only async-signal-safe calls; each start leads its own session
 * and process group; every exit is reaped (no zombies).  Restart requests
 * coalesce: one in flight, one batch queued, every waiter answered.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "redeployd.h"

#define SVC_PATH	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define SVC_AUTHBIND	"/usr/bin/authbind"
#define SVC_MAXENV	72
#define SVC_GONE_POLL	0.005	/* seconds between looks for leftovers */
#define SVC_GONE_MAX	5.0	/* then say so, and carry on */
#define SVC_READ_TURN	(64 * 1024)	/* of output per loop turn and pipe */
#define SVC_READ_LAST	(1024 * 1024)	/* read after the leader exited */

struct svc_waiter {
	struct svc_waiter *next;
	svc_done_cb	 cb;
	void		*arg;
};

struct svc;

enum proc_state { PROC_STARTING, PROC_READY, PROC_STOPPING, PROC_GONE };

struct svc_proc {
	struct svc	*svc;
	enum proc_state	 st;
	pid_t		 pid;		/* the leader; 0 once reaped */
	pid_t		 shown;		/* the pid for logs, kept after */
	struct tree	 tree;
	double		 started, ready_at, stop_at, gone_since;
	size_t		 mark;		/* the ring's lines when it started */
	int		 out[2];	/* read ends of stdout, stderr */
	struct ring	*lines;		/* assembles this start's lines */
	long		 serial;	/* s->starts when it started */
	struct notify	*notify;
	struct probe	*probe;
	struct loop_timer ready_timer, kill_timer, gone_timer, drain_timer;
	int		 side;		/* of each held socket pair */
	int		 status;	/* wait status of the leader */
	int		 killed;	/* SIGKILL sent to what was left */
	char		 release[64], commit[48];
	char		 text[128];	/* STATUS= */
	void		(*gone)(struct svc *, struct svc_proc *);
};

struct svc {
	struct loop	*loop;
	const struct config *cfg;
	const struct sockets *socks;
	struct rlimit	 core;		/* the service's core limit */
	int		 has_core;
	char		 home[256];
	uid_t		 uid;
	int		 pidfd;
	struct ring	*ring;		/* every start's lines: GET /log */
	struct ring	*fresh;		/* the newest start's: /restart */

	enum svc_state	 state;
	struct svc_proc	*live;		/* the start the state is about */
	struct svc_proc	*old;		/* overlap: the one still serving */
	long		 starts;
	int		 has_exit, exit_code, exit_signal;
	double		 delay;		/* the next backoff */
	double		 drain_ms;	/* the last overlap's old-one stop */
	size_t		 mark;		/* the ring when the last start began */
	int		 untouched;	/* the last failure left the old one */
	int		 side;		/* of the held pairs: the serving one */
	char		 release[64], commit[48], error[256];
	struct loop_timer backoff_timer;

	int		 start_after_stop;
	struct svc_waiter *current, *queued;	/* restart batches */
	int		 in_flight;
	void		(*shutdown_done)(void *);
	void		*shutdown_arg;
};

static void svc_start(struct svc *s);
static void svc_proc_stop(struct svc *s, struct svc_proc *p);
static void svc_gone_check(void *arg);
static void svc_live_gone(struct svc *s, struct svc_proc *p);

const char *
svc_state_name(enum svc_state st)
{
	static const char *names[] = { "stopped", "starting", "ready",
	    "stopping", "backoff", "failed" };

	return (size_t)st < sizeof(names) / sizeof(names[0]) ? names[st] :
	    "unknown";
}

const char *
svc_mode_name(const struct config *cfg)
{
	if (cfg->svc_listen.n == 0)
		return "classic";
	return cfg->restart == RESTART_OVERLAP ? "overlap" : "stop-first";
}

struct svc *
svc_new(struct loop *l, const struct config *cfg, const char *home,
    int pidfd)
{
	struct svc *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if ((s->ring = ring_new(RING_LINES)) == NULL ||
	    (s->fresh = ring_new(RING_LINES)) == NULL) {
		ring_free(s->ring);
		free(s);
		return NULL;
	}
	s->loop = l;
	s->cfg = cfg;
	snprintf(s->home, sizeof(s->home), "%s", home);
	s->pidfd = pidfd;
	s->uid = getuid();
	s->delay = cfg->restart_delay;
	return s;
}

void
svc_set_sockets(struct svc *s, const struct sockets *ss)
{
	s->socks = ss;
}

/* The core limit the agent was started with, the service's again. */
void
svc_set_core_limit(struct svc *s, const struct rlimit *rl)
{
	s->core = *rl;
	s->has_core = 1;
}

static void
svc_answer(struct svc_waiter **batch, const struct svc_result *res)
{
	struct svc_waiter *w;

	while ((w = *batch) != NULL) {
		*batch = w->next;
		w->cb(w->arg, res);
		free(w);
	}
}

/* Every waiter, in flight or queued, gets this failure now. */
static void
svc_fail_all(struct svc *s, const char *why)
{
	struct svc_result res = { .ok = 0 };

	snprintf(res.error, sizeof(res.error), "%s", why);
	s->in_flight = 0;
	svc_answer(&s->current, &res);
	svc_answer(&s->queued, &res);
}

static void
svc_pipe_close(struct svc *s, struct svc_proc *p, int i)
{
	if (p->out[i] == -1)
		return;
	loop_del(s->loop, p->out[i]);
	close(p->out[i]);
	p->out[i] = -1;
}

static void
svc_proc_free(struct svc *s, struct svc_proc *p)
{
	if (p == NULL)
		return;
	probe_cancel(p->probe);
	notify_close(p->notify);
	loop_timer_cancel(s->loop, &p->ready_timer);
	loop_timer_cancel(s->loop, &p->kill_timer);
	loop_timer_cancel(s->loop, &p->gone_timer);
	loop_timer_cancel(s->loop, &p->drain_timer);
	svc_pipe_close(s, p, 0);
	svc_pipe_close(s, p, 1);
	ring_free(p->lines);
	free(p);
}

void
svc_free(struct svc *s)
{
	if (s == NULL)
		return;
	svc_fail_all(s, "the agent is stopping");
	svc_proc_free(s, s->live);
	svc_proc_free(s, s->old);
	ring_free(s->ring);
	ring_free(s->fresh);
	free(s);
}

void
svc_set_config(struct svc *s, const struct config *cfg)
{
	s->cfg = cfg;
}

const struct ring *
svc_ring(const struct svc *s)
{
	return s->ring;
}

/* The lines of the newest start only: what a restart answer shows. */
const struct ring *
svc_fresh_ring(const struct svc *s)
{
	return s->fresh;
}

void
svc_status(const struct svc *s, struct svc_status *st)
{
	const struct svc_proc *p = s->live;

	memset(st, 0, sizeof(*st));
	st->state = s->state;
	st->pid = p != NULL ? p->pid : 0;
	st->uptime = p != NULL && p->pid > 0 ? loop_now() - p->started : 0;
	st->restarts = s->starts > 1 ? s->starts - 1 : 0;
	st->has_exit = s->has_exit;
	st->exit_code = s->exit_code;
	st->exit_signal = s->exit_signal;
	st->old_pid = s->old != NULL ? s->old->pid : 0;
	snprintf(st->mode, sizeof(st->mode), "%s", svc_mode_name(s->cfg));
	snprintf(st->text, sizeof(st->text), "%s", p ? p->text : "");
	snprintf(st->release, sizeof(st->release), "%s", s->release);
	snprintf(st->commit, sizeof(st->commit), "%s", s->commit);
	snprintf(st->error, sizeof(st->error), "%s", s->error);
}

/* The batch in s->current is now in flight. */
static void
svc_begin(struct svc *s)
{
	s->in_flight = 1;
	s->untouched = 0;
	s->drain_ms = -1;
	if (s->live != NULL && s->live->st == PROC_READY &&
	    s->cfg->svc_listen.n > 0 && s->cfg->restart == RESTART_OVERLAP &&
	    s->old == NULL) {
		/* Beside the old one, which serves on until the new is ready. */
		s->old = s->live;
		s->live = NULL;
		svc_start(s);
		return;
	}
	if (s->live != NULL) {
		s->start_after_stop = 1;
		s->state = SVC_STOPPING;
		s->live->gone = svc_live_gone;
		svc_proc_stop(s, s->live);
	} else if (s->old == NULL)
		svc_start(s);
	else
		s->start_after_stop = 1;	/* the old one is on its way */
}

/* A restart finished: answer its batch, then start the queued one. */
static void
svc_finish(struct svc *s, int ok)
{
	struct svc_result res;
	struct svc_proc *p = s->live;

	if (!s->in_flight)
		return;
	memset(&res, 0, sizeof(res));
	res.ok = ok;
	res.pid = p != NULL ? p->pid : 0;
	res.mark = p != NULL && !s->untouched ? p->mark : s->mark;
	res.ready_ms = ok && p != NULL ? (long)((p->ready_at - p->started) *
	    1000.0 + 0.5) : 0;
	res.drain_ms = s->drain_ms >= 0 ? (long)(s->drain_ms + 0.5) : -1;
	res.untouched = s->untouched;
	snprintf(res.mode, sizeof(res.mode), "%s", svc_mode_name(s->cfg));
	snprintf(res.release, sizeof(res.release), "%s", s->release);
	snprintf(res.commit, sizeof(res.commit), "%s", s->commit);
	snprintf(res.error, sizeof(res.error), "%s", s->error);
	s->in_flight = 0;
	svc_answer(&s->current, &res);
	if (s->queued != NULL && s->shutdown_done == NULL) {
		s->current = s->queued;
		s->queued = NULL;
		svc_begin(s);
	}
}

/* --- output ------------------------------------------------------------- */

struct svc_out {
	struct svc	*s;
	struct svc_proc	*p;
};

static void
svc_line(void *arg, enum ring_stream st, const char *line)
{
	struct svc_proc *p = arg;
	struct svc *s = p->svc;
	char tag[96];

	snprintf(tag, sizeof(tag), "%s[%ld]", s->cfg->log_tag,
	    (long)p->shown);
	log_tagged(tag, st == RING_STDERR ? LOG_ERR : LOG_INFO, "%s", line);
	/* Whole lines: two starts that write at once do not mix. */
	ring_feed(s->ring, st, line, strlen(line), NULL, NULL);
	ring_feed(s->ring, st, "\n", 1, NULL, NULL);
	if (p->serial == s->starts) {
		ring_feed(s->fresh, st, line, strlen(line), NULL, NULL);
		ring_feed(s->fresh, st, "\n", 1, NULL, NULL);
	}
}

/* At most `max` bytes (0: no limit), so that a service that floods its
 * output cannot starve the endpoint: the pipe stays readable and the loop
 * comes back to it after a turn of everything else. */
static void
svc_read(struct svc_proc *p, int i, size_t max)
{
	struct svc *s = p->svc;
	char buf[8192];
	size_t got = 0;
	ssize_t n;

	for (;;) {
		if (max > 0 && got >= max)
			return;
		n = read(p->out[i], buf, sizeof(buf));
		if (n > 0) {
			got += (size_t)n;
			ring_feed(p->lines, (enum ring_stream)i, buf, (size_t)n,
			    svc_line, p);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		ring_flush(p->lines, (enum ring_stream)i, svc_line, p);
		svc_pipe_close(s, p, i);
		return;
	}
}

static void
svc_stdout(void *arg, uint32_t events)
{
	svc_read(arg, 0, SVC_READ_TURN);
}

static void
svc_stderr(void *arg, uint32_t events)
{
	svc_read(arg, 1, SVC_READ_TURN);
}

/* --- start -------------------------------------------------------------- */

/* The live release: <path>/current resolved now, and its commit. */
static int
svc_release(struct svc *s, char *dir, size_t n)
{
	char cur[PATH_MAX], meta[PATH_MAX + 16], *text = NULL, *c;
	const char *base;

	snprintf(cur, sizeof(cur), "%s/current", s->cfg->path);
	if (realpath(cur, dir) == NULL) {
		snprintf(s->error, sizeof(s->error), errno == ENOENT ?
		    "no release is live yet in '%s' (deploy one first)" :
		    "cannot resolve '%s/current'", s->cfg->path);
		return -1;
	}
	base = strrchr(dir, '/');
	snprintf(s->release, sizeof(s->release), "%s", base ? base + 1 : dir);
	s->commit[0] = '\0';
	snprintf(meta, sizeof(meta), "%s.meta", dir);
	if (fs_read_small(AT_FDCWD, meta, 4096, &text, NULL) == 0) {
		c = strstr(text, "commit=");
		if (c != NULL && (c == text || c[-1] == '\n'))
			snprintf(s->commit, sizeof(s->commit), "%.40s", c + 7);
		free(text);
	}
	(void)n;
	return 0;
}

/* Writable paths live in shared/, made by the service user, 2775. */
static void
svc_shared(struct svc *s)
{
	size_t i;
	int pfd, fd;

	if (s->cfg->shared.n == 0)
		return;
	if ((pfd = open(s->cfg->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		return;
	for (i = 0; i < s->cfg->shared.n; i++) {
		char rel[PATH_MAX];

		snprintf(rel, sizeof(rel), "shared/%s", s->cfg->shared.v[i]);
		if ((fd = fs_mkdir_beneath(pfd, rel, 02775, (uid_t)-1,
		    (gid_t)-1)) == -1)
			log_warn("shared path '%s/%s'", s->cfg->path, rel);
		else
			close(fd);
	}
	close(pfd);
}

/* Did the service say the port was taken?  Then it binds it itself. */
static int
svc_said_inuse(const struct svc *s, size_t mark)
{
	size_t back, n = ring_total(s->fresh) - mark;

	if (n > ring_count(s->fresh))
		n = ring_count(s->fresh);
	for (back = 0; back < n; back++)
		if (strstr(ring_line(s->fresh, back), "ddress already in use")
		    != NULL || strstr(ring_line(s->fresh, back), "EADDRINUSE"))
			return 1;
	return 0;
}

/* Why a start exited before it was ready, in words an operator can use. */
static void
svc_exit_error(struct svc *s, const struct svc_proc *p)
{
	size_t mark = p != NULL ? p->mark : s->mark;
	int held = s->cfg->svc_listen.n > 0, inuse = svc_said_inuse(s, mark);
	int code = p ? (WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -1) :
	    s->exit_code;
	int sig = p ? (WIFSIGNALED(p->status) ? WTERMSIG(p->status) : 0) :
	    s->exit_signal;
	const char *why = held && inuse ? ": the address is in use because "
	    "redeployd holds it; the service must take the socket from "
	    "LISTEN_FDS instead of binding it (gunicorn, uWSGI and Twisted "
	    "do)" : !held && inuse ? ": the address is in use (is an old "
	    "copy still running outside redeployd?)" : "";

	if (sig != 0)
		snprintf(s->error, sizeof(s->error), "killed by signal %d (%s) "
		    "before it was ready%s", sig, strsignal(sig), why);
	else
		snprintf(s->error, sizeof(s->error), "exited with code %d "
		    "before it was ready%s", code, why);
}

static void
svc_timeout_error(struct svc *s, const struct svc_proc *p)
{
	const struct config *cfg = s->cfg;

	if (cfg->ready == READY_NOTIFY)
		snprintf(s->error, sizeof(s->error), "not ready within %g s: "
		    "no READY=1 from the service over NOTIFY_SOCKET (does it "
		    "speak sd_notify? gunicorn does; or use ready = "
		    "http://...)", cfg->ready_timeout);
	else if (cfg->svc_listen.n > 0)
		snprintf(s->error, sizeof(s->error), "not ready within %g s: "
		    "the service did not accept on the socket redeployd holds: "
		    "does it read LISTEN_FDS? gunicorn, uWSGI and Twisted do "
		    "(and 'command' must exec it, so that LISTEN_PID is its "
		    "pid)", cfg->ready_timeout);
	else if (probe_error(p->probe)[0] != '\0')
		snprintf(s->error, sizeof(s->error), "not ready within %g s "
		    "(last probe: %s)", cfg->ready_timeout,
		    probe_error(p->probe));
	else
		snprintf(s->error, sizeof(s->error), "not ready within %g s "
		    "(%s)", cfg->ready_timeout, "check 'ready' in the config "
		    "and the log");
}

/* Which side of the held socket pairs gets new connections, and which
 * the probe's. */
static void
svc_steer(struct svc *s, int serve, int probe)
{
	if (s->socks == NULL || s->cfg->svc_listen.n == 0 ||
	    !sockets_paired(s->socks))
		return;
	if (sockets_steer(s->socks, serve, probe) == -1)
		log_warn("steering connections between the held sockets");
}

static int
svc_port(const struct svc *s)
{
	size_t i;

	for (i = 0; s->socks != NULL && i < s->socks->n; i++)
		if (s->socks->alt[i] != -1)
			return s->socks->port[i];
	return 0;
}

/* Overlap: new connections go to the new start; the old one is told to
 * stop once it has taken what was queued for it and answered what it
 * took, or after half of stop_timeout. */
static void
svc_drain_check(void *arg)
{
	struct svc_proc *p = arg;
	struct svc *s = p->svc;

	if (p->st == PROC_READY && loop_now() - p->stop_at <
	    s->cfg->stop_timeout / 2 && (sockets_queued(s->socks, p->side) ||
	    (tree_scan(&p->tree) >= 0 && tree_serving(&p->tree,
	    svc_port(s))))) {
		loop_timer_set(s->loop, &p->drain_timer, 0.01, svc_drain_check,
		    p);
		return;
	}
	if (p->st == PROC_READY) {
		p->stop_at = 0;
		svc_proc_stop(s, p);
	}
}

/* The old start of an overlap is gone: the new one alone serves. */
static void
svc_old_gone(struct svc *s, struct svc_proc *p)
{
	s->drain_ms = (loop_now() - (s->live != NULL && s->live->ready_at > 0 ?
	    s->live->ready_at : p->stop_at)) * 1000.0;
	log_event(LOG_NOTICE, "drained pid=%ld release=%s drain_ms=%.0f",
	    (long)p->shown, p->release, s->drain_ms);
	s->old = NULL;
	svc_proc_free(s, p);
	if (s->pidfd != -1 && s->live != NULL && s->live->pid > 0)
		(void)pidfile_write(s->pidfd, s->live->pid);
	if (s->start_after_stop && s->live == NULL) {
		s->start_after_stop = 0;
		svc_start(s);
		return;
	}
	if (s->live != NULL && s->live->st == PROC_READY)
		svc_finish(s, 1);
}

static void
svc_ready(void *arg, int ok)
{
	struct svc_proc *p = arg;
	struct svc *s = p->svc;

	if (p != s->live || p->st != PROC_STARTING)
		return;
	probe_cancel(p->probe);
	p->probe = NULL;
	loop_timer_cancel(s->loop, &p->ready_timer);
	p->st = PROC_READY;
	p->ready_at = loop_now();
	(void)tree_scan(&p->tree);
	s->state = SVC_READY;
	s->error[0] = '\0';
	log_event(LOG_NOTICE, "ready pid=%ld release=%s commit=%s ready_ms=%ld "
	    "mode=%s", (long)p->pid, s->release, s->commit[0] ? s->commit :
	    "-", (long)((p->ready_at - p->started) * 1000.0 + 0.5),
	    svc_mode_name(s->cfg));
	if (s->old != NULL) {
		/* Overlap: now the old one may finish its requests and go. */
		s->old->gone = svc_old_gone;
		svc_steer(s, p->side, p->side);
		s->side = p->side;
		if (s->socks != NULL && sockets_paired(s->socks)) {
			s->old->stop_at = loop_now();
			svc_drain_check(s->old);
		} else
			svc_proc_stop(s, s->old);
		return;
	}
	svc_finish(s, 1);
}

/* A new start failed before it was ready.  Under overlap the old one is
 * there still and untouched: it goes back to being the live one once the
 * new one is gone. */
static void
svc_new_gone(struct svc *s, struct svc_proc *p)
{
	if (s->live == p)
		s->live = NULL;
	svc_proc_free(s, p);
	if (s->old != NULL && s->live == NULL) {
		s->live = s->old;
		s->old = NULL;
		svc_steer(s, s->live->side, s->live->side);
		if (s->pidfd != -1 && s->live->pid > 0)
			(void)pidfile_write(s->pidfd, s->live->pid);
		s->state = SVC_READY;
		s->untouched = 1;
		snprintf(s->release, sizeof(s->release), "%s", s->live->release);
		snprintf(s->commit, sizeof(s->commit), "%s", s->live->commit);
		log_event(LOG_NOTICE, "kept pid=%ld release=%s reason=\"the new "
		    "process failed; the old one serves on, untouched\"",
		    (long)s->live->pid, s->live->release);
	}
	svc_finish(s, 0);
}

static void
svc_ready_timeout(void *arg)
{
	struct svc_proc *p = arg;
	struct svc *s = p->svc;

	/* The probe's own last error says what is wrong, not just when. */
	svc_timeout_error(s, p);
	probe_cancel(p->probe);
	p->probe = NULL;
	log_event(LOG_ERR, "failed pid=%ld release=%s reason=%s",
	    (long)p->pid, s->release, s->error);
	s->state = SVC_FAILED;
	if (s->old != NULL) {
		p->gone = svc_new_gone;
		svc_proc_stop(s, p);
		return;
	}
	svc_finish(s, 0);
	if (p == s->live)
		svc_proc_stop(s, p);
}

static void
svc_backoff_fire(void *arg)
{
	svc_start(arg);
}

/* Could not even start: try again later, never in a busy loop. */
static void
svc_start_failed(struct svc *s)
{
	log_event(LOG_ERR, "failed release=%s reason=%s",
	    s->release[0] ? s->release : "-", s->error);
	if (s->old != NULL) {
		/* overlap: the old one was not touched */
		s->live = s->old;
		s->old = NULL;
		svc_steer(s, s->live->side, s->live->side);
		s->state = SVC_READY;
		s->untouched = 1;
		snprintf(s->release, sizeof(s->release), "%s", s->live->release);
		snprintf(s->commit, sizeof(s->commit), "%s", s->live->commit);
		svc_finish(s, 0);
		return;
	}
	s->state = SVC_FAILED;
	svc_finish(s, 0);
	if (s->state == SVC_FAILED && s->live == NULL)
		loop_timer_set(s->loop, &s->backoff_timer, s->delay,
		    svc_backoff_fire, s);
	s->delay = s->delay * 2 > s->cfg->restart_max_delay ?
	    s->cfg->restart_max_delay : s->delay * 2;
}

/* sd_notify from the start: only its own processes get here. */
static void
svc_notified(void *arg, enum notify_kind k, pid_t pid, const char *value)
{
	struct svc_proc *p = arg;
	struct svc *s = p->svc;

	switch (k) {
	case NOTIFY_READY:
		if (p->st == PROC_STARTING && s->cfg->ready == READY_NOTIFY)
			svc_ready(p, 1);
		break;
	case NOTIFY_STATUS:
		snprintf(p->text, sizeof(p->text), "%s", value);
		break;
	case NOTIFY_STOPPING:
		log_event(LOG_INFO, "stopping pid=%ld reason=\"the service "
		    "said STOPPING=1\"", (long)p->shown);
		break;
	case NOTIFY_MAINPID:
		if (tree_member(&p->tree, pid))
			log_event(LOG_INFO, "mainpid pid=%ld mainpid=%ld",
			    (long)p->shown, (long)pid);
		break;
	case NOTIFY_ERRNO:
		snprintf(p->text, sizeof(p->text), "errno %s", value);
		break;
	}
}

/* struct sigaction as the kernel takes it: handler, flags, restorer,
 * mask.  Async-signal-safe: used between fork and exec. */
struct svc_ksigaction {
	void		(*handler)(int);
	unsigned long	 flags;
	void		(*restorer)(void);
	unsigned long	 mask;
};

static void
svc_default_signal(int sig)
{
	struct svc_ksigaction ka = { .handler = SIG_DFL };

	(void)syscall(SYS_rt_sigaction, sig, &ka, NULL, sizeof(ka.mask));
}

/* "LISTEN_PID=" and the pid, written without stdio (after fork). */
static void
svc_put_pid(char *buf, size_t size, pid_t pid)
{
	static const char pre[] = "LISTEN_PID=";
	char digits[16];
	size_t i = 0, j = 0;
	unsigned long v = (unsigned long)pid;

	do
		digits[i++] = (char)('0' + v % 10);
	while ((v /= 10) != 0 && i < sizeof(digits));
	for (j = 0; j < sizeof(pre) - 1 && j < size - 1; j++)
		buf[j] = pre[j];
	while (i > 0 && j < size - 1)
		buf[j++] = digits[--i];
	buf[j] = '\0';
}

static void
svc_start(struct svc *s)
{
	const struct config *cfg = s->cfg;
	const struct sockets *ss = cfg->svc_listen.n ? s->socks : NULL;
	struct svc_proc *p = NULL;
	char dir[PATH_MAX], *argv[8], *envp[SVC_MAXENV];
	char e_path[] = "PATH=" SVC_PATH, e_home[300], e_lang[128];
	char e_rel[96], e_commit[64], e_lpid[32], gobyte = 0;
	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, go[2] = { -1, -1 };
	int devnull = -1, tmpfd[SOCKETS_MAX], hand[SOCKETS_MAX], side;
	size_t i, ne = 0, nfd = ss ? ss->n : 0;
	pid_t pid, agent = getpid();
	sigset_t all;
	const char *lang = getenv("LANG");

	loop_timer_cancel(s->loop, &s->backoff_timer);
	if (svc_release(s, dir, sizeof(dir)) == -1) {
		if (errno == ENOENT && s->old == NULL) {
			/* nothing deployed: nothing to run */
			s->state = SVC_STOPPED;
			svc_finish(s, 0);
			return;
		}
		svc_start_failed(s);
		return;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->lines = ring_new(1)) == NULL) {
		free(p);
		p = NULL;
		snprintf(s->error, sizeof(s->error), "out of memory");
		svc_start_failed(s);
		return;
	}
	p->svc = s;
	p->out[0] = p->out[1] = -1;
	/* beside an old one: the other socket of each pair */
	side = s->old != NULL ? !s->side : s->side;
	p->side = side;
	for (i = 0; i < nfd; i++)
		hand[i] = sockets_fd(ss, i, side);
	snprintf(p->release, sizeof(p->release), "%s", s->release);
	snprintf(p->commit, sizeof(p->commit), "%s", s->commit);
	svc_shared(s);
	snprintf(e_home, sizeof(e_home), "HOME=%s", s->home);
	snprintf(e_lang, sizeof(e_lang), "LANG=%s", lang ? lang : "C.UTF-8");
	snprintf(e_rel, sizeof(e_rel), "REDEPLOY_RELEASE=%s", s->release);
	snprintf(e_commit, sizeof(e_commit), "REDEPLOY_COMMIT=%s", s->commit);
	e_lpid[0] = '\0';
	envp[ne++] = e_path;
	envp[ne++] = e_home;
	envp[ne++] = e_lang;
	envp[ne++] = e_rel;
	envp[ne++] = e_commit;
	if (cfg->ready == READY_NOTIFY) {
		if (notify_open(&p->notify, s->loop, s->uid, &p->tree,
		    s->starts + 1, svc_notified, p, s->error,
		    sizeof(s->error)) == -1)
			goto fail;
		envp[ne++] = (char *)(uintptr_t)notify_env(p->notify);
	}
	if (ss != NULL) {
		envp[ne++] = (char *)(uintptr_t)ss->count;
		envp[ne++] = (char *)(uintptr_t)ss->names;
		envp[ne++] = e_lpid;	/* filled in by the child */
	}
	for (i = 0; i < cfg->environment.n && ne < SVC_MAXENV - 1; i++)
		envp[ne++] = cfg->environment.v[i];
	envp[ne] = NULL;
	i = 0;
	if (cfg->authbind) {
		argv[i++] = (char *)(uintptr_t)SVC_AUTHBIND;
		argv[i++] = (char *)(uintptr_t)"--deep";
	}
	argv[i++] = (char *)(uintptr_t)"/bin/sh";
	argv[i++] = (char *)(uintptr_t)"-c";
	argv[i++] = cfg->command;
	argv[i] = NULL;

	if (pipe2(out, O_CLOEXEC) == -1 || pipe2(err, O_CLOEXEC) == -1 ||
	    pipe2(go, O_CLOEXEC) == -1 ||
	    (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(s->error, sizeof(s->error), "pipe: %s",
		    strerror(errno));
		goto fail;
	}
	sigfillset(&all);
	pid = fork();
	if (pid == -1) {
		snprintf(s->error, sizeof(s->error), "fork: %s",
		    strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls from here to exec. */
		int sig;

		/* The raw call: glibc's sigaction refuses its own signals
		 * (32, 33), and an ignored signal would survive exec. */
		for (sig = 1; sig < NSIG; sig++)
			svc_default_signal(sig);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		if (setsid() == -1 || dup2(devnull, 0) == -1 ||
		    dup2(out[1], 1) == -1 || dup2(err[1], 2) == -1 ||
		    chdir(dir) == -1)
			_exit(126);
		/* The held sockets become 3, 4, ...: first out of the way
		 * of those numbers, then into place (dup2 clears CLOEXEC). */
		for (i = 0; i < nfd; i++)
			if ((tmpfd[i] = fcntl(hand[i], F_DUPFD_CLOEXEC,
			    (int)(3 + nfd + 8))) == -1)
				_exit(126);
		for (i = 0; i < nfd; i++)
			if (dup2(tmpfd[i], (int)(3 + i)) == -1)
				_exit(126);
		if (ss != NULL)
			svc_put_pid(e_lpid, sizeof(e_lpid), getpid());
		/* The death signal, then: was the agent gone already?  And
		 * wait for the agent to record us in the pid file, so a
		 * kill -9 of the agent can never leave us unrecorded. */
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != agent)
			_exit(125);
		if (read(go[0], &gobyte, 1) != 1)
			_exit(125);
		/* Nothing of the agent's crosses into the service. */
		(void)syscall(SYS_close_range, (unsigned)(3 + nfd), ~0U, 0U);
		umask(cfg->umask);
		if (s->has_core)
			(void)setrlimit(RLIMIT_CORE, &s->core);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	close(go[0]);
	close(devnull);
	p->pid = p->shown = pid;
	p->tree.leader = pid;
	(void)proc_starttime(pid, &p->tree.leader_start);
	p->mark = s->mark = ring_total(s->fresh);
	s->starts++;
	p->serial = s->starts;
	p->started = loop_now();
	p->st = PROC_STARTING;
	s->live = p;
	s->state = SVC_STARTING;
	s->error[0] = '\0';
	p->out[0] = out[0];
	p->out[1] = err[0];
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(err[0], F_SETFL, O_NONBLOCK);
	loop_add(s->loop, out[0], EPOLLIN, svc_stdout, p);
	loop_add(s->loop, err[0], EPOLLIN, svc_stderr, p);
	if (s->pidfd != -1)
		(void)pidfile_write2(s->pidfd, pid, s->old != NULL ?
		    s->old->pid : 0);
	if (write(go[1], "g", 1) != 1)
		log_warn("starting the service");
	close(go[1]);
	if (s->old != NULL)
		svc_steer(s, s->old->side, side);
	else
		svc_steer(s, side, side);
	log_event(LOG_NOTICE, "start pid=%ld release=%s commit=%s mode=%s",
	    (long)pid, s->release, s->commit[0] ? s->commit : "-",
	    svc_mode_name(cfg));
	if (cfg->ready == READY_NONE) {
		svc_ready(p, 1);
		return;
	}
	loop_timer_set(s->loop, &p->ready_timer, cfg->ready_timeout,
	    svc_ready_timeout, p);
	if (cfg->ready != READY_NOTIFY && probe_start(&p->probe, s->loop, cfg,
	    &p->tree, ss != NULL && sockets_paired(ss), svc_ready, p, s->error,
	    sizeof(s->error)) == -1)
		svc_ready_timeout(p);
	return;
fail:
	for (i = 0; i < 2; i++) {
		if (out[i] != -1)
			close(out[i]);
		if (err[i] != -1)
			close(err[i]);
		if (go[i] != -1)
			close(go[i]);
	}
	if (devnull != -1)
		close(devnull);
	svc_proc_free(s, p);
	svc_start_failed(s);
}

/* --- stop and exit ------------------------------------------------------ */

/* The pids that lead a start now, for telling orphans apart. */
static size_t
svc_leaders(const struct svc *s, pid_t *v)
{
	size_t n = 0;

	if (s->live && s->live->pid > 0)
		v[n++] = s->live->pid;
	if (s->old && s->old->pid > 0)
		v[n++] = s->old->pid;
	return n;
}

/* Orphans born before every other start that runs are this one's. */
static void
svc_proc_adopt(struct svc *s, struct svc_proc *p)
{
	pid_t leaders[16];
	unsigned long long before = 0;
	size_t n = svc_leaders(s, leaders);

	if (s->live != NULL && s->live != p && s->live->pid > 0)
		before = s->live->tree.leader_start;
	if (s->old != NULL && s->old != p && s->old->pid > 0 &&
	    (before == 0 || s->old->tree.leader_start < before))
		before = s->old->tree.leader_start;
	if (before == 0 && (s->live != NULL && s->live != p))
		before = 1;	/* another start, not yet known: none */
	(void)tree_adopt_orphans(&p->tree, leaders, n, before);
}

static void
svc_kill_fire(void *arg)
{
	struct svc_proc *p = arg;
	struct svc *s = p->svc;

	if (p->pid > 0)
		log_event(LOG_WARNING, "kill pid=%ld reason=\"still running "
		    "%g s after %s\"", (long)p->pid, s->cfg->stop_timeout,
		    strsignal(s->cfg->stop_signal));
	(void)tree_scan(&p->tree);
	if (p->pid > 0)
		(void)kill(-p->pid, SIGKILL);
	tree_kill(&p->tree, SIGKILL);
	p->killed = 1;
}

static void
svc_proc_stop(struct svc *s, struct svc_proc *p)
{
	probe_cancel(p->probe);
	p->probe = NULL;
	loop_timer_cancel(s->loop, &p->ready_timer);
	if (p->st == PROC_STOPPING || p->st == PROC_GONE)
		return;	/* a second request: the deadline stays */
	p->st = PROC_STOPPING;
	p->stop_at = loop_now();
	(void)tree_scan(&p->tree);
	if (p->pid > 0) {
		/* Right after fork the child may not lead its group yet:
		 * then the signal goes to it alone, pending until it
		 * unblocks signals. */
		if (kill(-p->pid, s->cfg->stop_signal) == -1 && errno == ESRCH)
			(void)kill(p->pid, s->cfg->stop_signal);
	}
	/* Members outside the group (setsid, setpgid) get it too. */
	tree_kill(&p->tree, s->cfg->stop_signal);
	loop_timer_set(s->loop, &p->kill_timer, s->cfg->stop_timeout,
	    svc_kill_fire, p);
	if (p->pid == 0)
		svc_gone_check(p);
}

/* After the leader: every member left is killed; gone when none is. */
static void
svc_gone_check(void *arg)
{
	struct svc_proc *p = arg;
	struct svc *s = p->svc;
	int left;

	svc_proc_adopt(s, p);
	left = tree_scan(&p->tree);
	if (left == 0) {
		/* A member that forked and exited while the scan read /proc
		 * looks gone, and its child is not in that listing: none
		 * left only when the next scan says so too. */
		svc_proc_adopt(s, p);
		left = tree_scan(&p->tree);
	}
	/* A scan that failed (-1) says nothing: look again. */
	if (left != 0 && loop_now() - p->gone_since < SVC_GONE_MAX) {
		tree_kill(&p->tree, SIGKILL);
		loop_timer_set(s->loop, &p->gone_timer, SVC_GONE_POLL,
		    svc_gone_check, p);
		return;
	}
	if (left > 0)
		log_event(LOG_ERR, "leftover pid=%ld members=%d reason=\"still "
		    "there %g s after SIGKILL\"", (long)p->shown, left,
		    SVC_GONE_MAX);
	else if (left < 0)
		log_event(LOG_ERR, "leftover pid=%ld reason=\"cannot read "
		    "/proc for %g s: what is left of it is not known\"",
		    (long)p->shown, SVC_GONE_MAX);
	loop_timer_cancel(s->loop, &p->kill_timer);
	p->st = PROC_GONE;
	if (p->out[0] != -1)
		svc_read(p, 0, SVC_READ_LAST);
	if (p->out[1] != -1)
		svc_read(p, 1, SVC_READ_LAST);
	svc_pipe_close(s, p, 0);
	svc_pipe_close(s, p, 1);
	if (p->gone != NULL)
		p->gone(s, p);
}

/* The live start is gone, every process of it: what now depends on why. */
static void
svc_live_gone(struct svc *s, struct svc_proc *p)
{
	double uptime = loop_now() - p->started;
	int was_stopping = s->state == SVC_STOPPING || p->stop_at > 0;
	int was_starting = p->ready_at == 0;

	s->live = NULL;
	svc_proc_free(s, p);
	if (s->pidfd != -1 && s->old == NULL)
		(void)pidfile_clear(s->pidfd);
	if (s->shutdown_done != NULL) {
		if (s->old != NULL)
			return;
		s->state = SVC_STOPPED;
		s->shutdown_done(s->shutdown_arg);
		return;
	}
	if (s->start_after_stop) {
		s->start_after_stop = 0;
		s->delay = s->cfg->restart_delay;
		svc_start(s);
		return;
	}
	s->state = SVC_BACKOFF;
	if (was_starting && !was_stopping) {
		svc_exit_error(s, NULL);
		svc_finish(s, 0);
	}
	if (s->state != SVC_BACKOFF || s->live != NULL)
		return;	/* a queued restart took over */
	if (uptime >= s->cfg->stable_after)
		s->delay = s->cfg->restart_delay;
	loop_timer_set(s->loop, &s->backoff_timer, s->delay, svc_backoff_fire,
	    s);
	s->delay = s->delay * 2 > s->cfg->restart_max_delay ?
	    s->cfg->restart_max_delay : s->delay * 2;
}

/* A leader is reaped. */
static void
svc_exited(struct svc *s, struct svc_proc *p, int status)
{
	double uptime = loop_now() - p->started;
	int stopping = p->st == PROC_STOPPING;

	/* Its last words are in the pipes already: read them first. */
	if (p->out[0] != -1)
		svc_read(p, 0, SVC_READ_LAST);
	if (p->out[1] != -1)
		svc_read(p, 1, SVC_READ_LAST);
	notify_drain(p->notify);
	probe_cancel(p->probe);
	p->probe = NULL;
	loop_timer_cancel(s->loop, &p->ready_timer);
	p->status = status;
	if (p == s->live) {
		s->has_exit = 1;
		s->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		s->exit_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	}
	if (stopping)
		log_event(LOG_INFO, "exit pid=%ld exit=%d signal=%d "
		    "uptime=%.1f release=%s reason=stopped", (long)p->pid,
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		    WIFSIGNALED(status) ? WTERMSIG(status) : 0, uptime,
		    p->release);
	else
		log_event(LOG_ERR, "exit pid=%ld exit=%d signal=%d "
		    "uptime=%.1f release=%s", (long)p->pid,
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		    WIFSIGNALED(status) ? WTERMSIG(status) : 0, uptime,
		    p->release);
	/* Nothing of the start may outlive its leader. */
	(void)tree_scan(&p->tree);
	(void)kill(-p->pid, SIGKILL);
	p->pid = 0;
	tree_kill(&p->tree, SIGKILL);
	if (p == s->live && s->old != NULL && p->st == PROC_STARTING) {
		/* overlap: the new one died; the old one serves on */
		svc_exit_error(s, p);
		log_event(LOG_ERR, "failed pid=%ld release=%s reason=%s",
		    (long)p->shown, p->release, s->error);
	}
	if (p->gone != NULL)
		;
	else if (p == s->live && s->old != NULL)
		p->gone = svc_new_gone;
	else if (p == s->live)
		p->gone = svc_live_gone;
	else {
		/* the old one of an overlap died by itself */
		p->gone = svc_old_gone;
		p->stop_at = loop_now();
	}
	p->gone_since = loop_now();
	if (p->st != PROC_STOPPING)
		p->st = PROC_STOPPING;
	svc_gone_check(p);
}

void
svc_reap(struct svc *s)
{
	struct svc_proc *p;
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		p = NULL;
		if (s->live && s->live->pid == pid)
			p = s->live;
		else if (s->old && s->old->pid == pid)
			p = s->old;
		/* others: orphans of the service we adopted, reaped here */
		if (p != NULL)
			svc_exited(s, p, status);
	}
}

/* --- requests ----------------------------------------------------------- */

void
svc_boot(struct svc *s)
{
	svc_start(s);
}

int
svc_restart(struct svc *s, svc_done_cb cb, void *arg)
{
	struct svc_waiter *w, **tail;

	if (s->shutdown_done != NULL) {
		struct svc_result res = { .ok = 0 };

		snprintf(res.error, sizeof(res.error), "the agent is stopping");
		cb(arg, &res);
		return 0;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -1;
	w->cb = cb;
	w->arg = arg;
	if (s->in_flight) {
		/* Coalesce: everyone arriving now shares the next restart. */
		for (tail = &s->queued; *tail != NULL; tail = &(*tail)->next)
			;
		*tail = w;
		return 0;
	}
	s->current = w;
	svc_begin(s);
	return 0;
}

static void
svc_shutdown_old(struct svc *s, struct svc_proc *p)
{
	s->old = NULL;
	svc_proc_free(s, p);
	if (s->live == NULL && s->shutdown_done != NULL) {
		s->state = SVC_STOPPED;
		s->shutdown_done(s->shutdown_arg);
	}
}

void
svc_shutdown(struct svc *s, void (*done)(void *), void *arg)
{
	s->shutdown_done = done;
	s->shutdown_arg = arg;
	loop_timer_cancel(s->loop, &s->backoff_timer);
	svc_fail_all(s, "the agent is stopping");
	s->start_after_stop = 0;
	if (s->old != NULL) {
		s->old->gone = svc_shutdown_old;
		svc_proc_stop(s, s->old);
	}
	if (s->live != NULL) {
		s->live->gone = svc_live_gone;
		s->state = SVC_STOPPING;
		svc_proc_stop(s, s->live);
	}
	if (s->live == NULL && s->old == NULL) {
		s->state = SVC_STOPPED;
		done(arg);
	}
}
