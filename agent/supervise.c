/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * supervise.c - the service as an explicit state machine.
 *
 *   stopped --restart--> starting --probe ok--> ready
 *   starting|ready --exit--> backoff --delay--> starting
 *   any with a process --restart/shutdown--> stopping --reaped--> ...
 *
 * Rules: the service is forked only from the loop's thread; between fork
 * and exec only async-signal-safe calls; it runs in its own process group,
 * which is signalled as a whole and killed when its leader exits, so no
 * child of it outlives it; every exit is reaped (no zombies).  Restart
 * requests coalesce: one in flight, one batch queued, every waiter answered.
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
#define SVC_MAXENV	64

struct svc_waiter {
	struct svc_waiter *next;
	svc_done_cb	 cb;
	void		*arg;
};

struct svc {
	struct loop	*loop;
	const struct config *cfg;
	char		 home[256];
	int		 pidfd;
	struct ring	*ring;

	enum svc_state	 state;
	pid_t		 pid;		/* leader of the service's group */
	double		 started, ready_at;
	long		 starts;
	int		 has_exit, exit_code, exit_signal;
	double		 delay;		/* the next backoff */
	size_t		 mark;		/* the ring's lines when it started */
	char		 release[64], commit[48], error[256];
	int		 out[2];	/* read ends of stdout, stderr */
	struct probe	*probe;
	struct loop_timer ready_timer, stop_timer, backoff_timer;

	int		 start_after_stop;
	struct svc_waiter *current, *queued;	/* restart batches */
	int		 in_flight;
	void		(*shutdown_done)(void *);
	void		*shutdown_arg;
};

static void svc_start(struct svc *s);
static void svc_stop(struct svc *s);

const char *
svc_state_name(enum svc_state st)
{
	static const char *names[] = { "stopped", "starting", "ready",
	    "stopping", "backoff", "failed" };

	return (size_t)st < sizeof(names) / sizeof(names[0]) ? names[st] :
	    "unknown";
}

struct svc *
svc_new(struct loop *l, const struct config *cfg, const char *home,
    int pidfd)
{
	struct svc *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if ((s->ring = ring_new(RING_LINES)) == NULL) {
		free(s);
		return NULL;
	}
	s->loop = l;
	s->cfg = cfg;
	snprintf(s->home, sizeof(s->home), "%s", home);
	s->pidfd = pidfd;
	s->out[0] = s->out[1] = -1;
	s->delay = cfg->restart_delay;
	return s;
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

void
svc_free(struct svc *s)
{
	if (s == NULL)
		return;
	svc_fail_all(s, "the agent is stopping");
	probe_cancel(s->probe);
	ring_free(s->ring);
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

void
svc_status(const struct svc *s, struct svc_status *st)
{
	memset(st, 0, sizeof(*st));
	st->state = s->state;
	st->pid = s->pid;
	st->uptime = s->pid > 0 ? loop_now() - s->started : 0;
	st->restarts = s->starts > 1 ? s->starts - 1 : 0;
	st->has_exit = s->has_exit;
	st->exit_code = s->exit_code;
	st->exit_signal = s->exit_signal;
	snprintf(st->release, sizeof(st->release), "%s", s->release);
	snprintf(st->commit, sizeof(st->commit), "%s", s->commit);
	snprintf(st->error, sizeof(st->error), "%s", s->error);
}

/* The batch in s->current is now in flight: stop what runs, then start. */
static void
svc_begin(struct svc *s)
{
	s->in_flight = 1;
	if (s->pid > 0) {
		s->start_after_stop = 1;
		svc_stop(s);
	} else
		svc_start(s);
}

/* A restart finished: answer its batch, then start the queued one. */
static void
svc_finish(struct svc *s, int ok)
{
	struct svc_result res;

	if (!s->in_flight)
		return;
	memset(&res, 0, sizeof(res));
	res.ok = ok;
	res.pid = s->pid;
	res.mark = s->mark;
	res.ready_ms = ok ? (long)((s->ready_at - s->started) * 1000.0 + 0.5) :
	    0;
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

static void
svc_line(void *arg, enum ring_stream st, const char *line)
{
	struct svc *s = arg;
	char tag[96];

	snprintf(tag, sizeof(tag), "%s[%ld]", s->cfg->log_tag, (long)s->pid);
	log_tagged(tag, st == RING_STDERR ? LOG_ERR : LOG_INFO, "%s", line);
}

static void
svc_pipe_close(struct svc *s, int i)
{
	if (s->out[i] == -1)
		return;
	loop_del(s->loop, s->out[i]);
	close(s->out[i]);
	s->out[i] = -1;
}

static void
svc_read(struct svc *s, int i)
{
	char buf[8192];
	ssize_t n;

	for (;;) {
		n = read(s->out[i], buf, sizeof(buf));
		if (n > 0) {
			ring_feed(s->ring, (enum ring_stream)i, buf, (size_t)n,
			    svc_line, s);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		ring_flush(s->ring, (enum ring_stream)i, svc_line, s);
		svc_pipe_close(s, i);
		return;
	}
}

static void
svc_stdout(void *arg, uint32_t events)
{
	svc_read(arg, 0);
}

static void
svc_stderr(void *arg, uint32_t events)
{
	svc_read(arg, 1);
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

static void
svc_ready(void *arg, int ok)
{
	struct svc *s = arg;

	probe_cancel(s->probe);
	s->probe = NULL;
	loop_timer_cancel(s->loop, &s->ready_timer);
	s->state = SVC_READY;
	s->ready_at = loop_now();
	s->error[0] = '\0';
	log_event(LOG_NOTICE, "ready pid=%ld release=%s commit=%s ready_ms=%ld",
	    (long)s->pid, s->release, s->commit[0] ? s->commit : "-",
	    (long)((s->ready_at - s->started) * 1000.0 + 0.5));
	svc_finish(s, 1);
}

static void
svc_ready_timeout(void *arg)
{
	struct svc *s = arg;

	probe_cancel(s->probe);
	s->probe = NULL;
	snprintf(s->error, sizeof(s->error), "not ready within %g s (%s)",
	    s->cfg->ready_timeout, "check 'ready' in the config and the log");
	log_event(LOG_ERR, "failed pid=%ld release=%s reason=%s",
	    (long)s->pid, s->release, s->error);
	s->state = SVC_FAILED;
	svc_finish(s, 0);
	svc_stop(s);
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
	s->state = SVC_FAILED;
	svc_finish(s, 0);
	if (s->state == SVC_FAILED && s->pid == 0)
		loop_timer_set(s->loop, &s->backoff_timer, s->delay,
		    svc_backoff_fire, s);
	s->delay = s->delay * 2 > s->cfg->restart_max_delay ?
	    s->cfg->restart_max_delay : s->delay * 2;
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

static void
svc_start(struct svc *s)
{
	const struct config *cfg = s->cfg;
	char dir[PATH_MAX], *argv[8], *envp[SVC_MAXENV];
	char e_path[] = "PATH=" SVC_PATH, e_home[300], e_lang[128];
	char e_rel[96], e_commit[64];
	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, devnull = -1;
	size_t i, ne = 0;
	pid_t pid;
	sigset_t all;
	const char *lang = getenv("LANG");

	loop_timer_cancel(s->loop, &s->backoff_timer);
	if (svc_release(s, dir, sizeof(dir)) == -1) {
		if (errno == ENOENT) {	/* nothing deployed: nothing to run */
			s->state = SVC_STOPPED;
			svc_finish(s, 0);
			return;
		}
		svc_start_failed(s);
		return;
	}
	svc_shared(s);
	snprintf(e_home, sizeof(e_home), "HOME=%s", s->home);
	snprintf(e_lang, sizeof(e_lang), "LANG=%s", lang ? lang : "C.UTF-8");
	snprintf(e_rel, sizeof(e_rel), "REDEPLOY_RELEASE=%s", s->release);
	snprintf(e_commit, sizeof(e_commit), "REDEPLOY_COMMIT=%s", s->commit);
	envp[ne++] = e_path;
	envp[ne++] = e_home;
	envp[ne++] = e_lang;
	envp[ne++] = e_rel;
	envp[ne++] = e_commit;
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
		/* Nothing of the agent's crosses into the service. */
		(void)syscall(SYS_close_range, 3U, ~0U, 0U);
		umask(cfg->umask);
		/* The drop happened before the loop: the death signal now
		 * survives; authbind itself is not setuid. */
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	close(devnull);
	s->pid = pid;
	s->mark = ring_total(s->ring);
	s->starts++;
	s->started = loop_now();
	s->state = SVC_STARTING;
	s->error[0] = '\0';
	svc_pipe_close(s, 0);
	svc_pipe_close(s, 1);
	s->out[0] = out[0];
	s->out[1] = err[0];
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(err[0], F_SETFL, O_NONBLOCK);
	loop_add(s->loop, out[0], EPOLLIN, svc_stdout, s);
	loop_add(s->loop, err[0], EPOLLIN, svc_stderr, s);
	if (s->pidfd != -1)
		(void)pidfile_write(s->pidfd, pid);
	log_event(LOG_NOTICE, "start pid=%ld release=%s commit=%s",
	    (long)pid, s->release, s->commit[0] ? s->commit : "-");
	if (cfg->ready == READY_NONE) {
		svc_ready(s, 1);
		return;
	}
	if (probe_start(&s->probe, s->loop, cfg, svc_ready, s, s->error,
	    sizeof(s->error)) == -1) {
		svc_ready_timeout(s);
		return;
	}
	loop_timer_set(s->loop, &s->ready_timer, cfg->ready_timeout,
	    svc_ready_timeout, s);
	return;
fail:
	for (i = 0; i < 2; i++) {
		if (out[i] != -1)
			close(out[i]);
		if (err[i] != -1)
			close(err[i]);
	}
	if (devnull != -1)
		close(devnull);
	svc_start_failed(s);
}

/* --- stop and exit ------------------------------------------------------ */

static void
svc_kill_fire(void *arg)
{
	struct svc *s = arg;

	if (s->pid > 0) {
		log_event(LOG_WARNING, "kill pid=%ld reason=\"still running "
		    "%g s after %s\"", (long)s->pid, s->cfg->stop_timeout,
		    strsignal(s->cfg->stop_signal));
		(void)kill(-s->pid, SIGKILL);
	}
}

static void
svc_stop(struct svc *s)
{
	if (s->pid <= 0)
		return;
	probe_cancel(s->probe);
	s->probe = NULL;
	loop_timer_cancel(s->loop, &s->ready_timer);
	/* Right after fork the child may not lead its group yet: then the
	 * signal goes to it alone, pending until it unblocks signals. */
	if (kill(-s->pid, s->cfg->stop_signal) == -1 && errno == ESRCH)
		(void)kill(s->pid, s->cfg->stop_signal);
	if (s->state == SVC_STOPPING)
		return;	/* a second request: the deadline stays */
	s->state = SVC_STOPPING;
	loop_timer_set(s->loop, &s->stop_timer, s->cfg->stop_timeout,
	    svc_kill_fire, s);
}

/* The leader is gone: what now depends on why. */
static void
svc_exited(struct svc *s, int status)
{
	double uptime = loop_now() - s->started;
	enum svc_state was = s->state;

	/* Its last words are in the pipes already: read them first. */
	if (s->out[0] != -1)
		svc_read(s, 0);
	if (s->out[1] != -1)
		svc_read(s, 1);

	/* Nothing of the group may outlive its leader. */
	(void)kill(-s->pid, SIGKILL);
	loop_timer_cancel(s->loop, &s->stop_timer);
	probe_cancel(s->probe);
	s->probe = NULL;
	loop_timer_cancel(s->loop, &s->ready_timer);
	s->has_exit = 1;
	s->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	s->exit_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	if (was == SVC_STOPPING)
		log_event(LOG_INFO, "exit pid=%ld exit=%d signal=%d "
		    "uptime=%.1f release=%s reason=stopped", (long)s->pid,
		    s->exit_code, s->exit_signal, uptime, s->release);
	else
		log_event(LOG_ERR, "exit pid=%ld exit=%d signal=%d "
		    "uptime=%.1f release=%s", (long)s->pid, s->exit_code,
		    s->exit_signal, uptime, s->release);
	s->pid = 0;
	if (s->pidfd != -1)
		(void)pidfile_clear(s->pidfd);
	if (s->shutdown_done != NULL) {
		s->state = SVC_STOPPED;
		s->shutdown_done(s->shutdown_arg);
		return;
	}
	if (was == SVC_STOPPING && s->start_after_stop) {
		s->start_after_stop = 0;
		s->delay = s->cfg->restart_delay;
		svc_start(s);
		return;
	}
	s->state = SVC_BACKOFF;
	if (was == SVC_STARTING) {
		if (s->exit_signal != 0)
			snprintf(s->error, sizeof(s->error), "killed by "
			    "signal %d (%s) before it was ready",
			    s->exit_signal, strsignal(s->exit_signal));
		else
			snprintf(s->error, sizeof(s->error), "exited with "
			    "code %d before it was ready", s->exit_code);
		svc_finish(s, 0);
	}
	if (s->state != SVC_BACKOFF || s->pid > 0)
		return;	/* a queued restart took over */
	if (uptime >= s->cfg->stable_after)
		s->delay = s->cfg->restart_delay;
	loop_timer_set(s->loop, &s->backoff_timer, s->delay, svc_backoff_fire,
	    s);
	s->delay = s->delay * 2 > s->cfg->restart_max_delay ?
	    s->cfg->restart_max_delay : s->delay * 2;
}

void
svc_reap(struct svc *s)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (pid == s->pid)
			svc_exited(s, status);
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

void
svc_shutdown(struct svc *s, void (*done)(void *), void *arg)
{
	s->shutdown_done = done;
	s->shutdown_arg = arg;
	loop_timer_cancel(s->loop, &s->backoff_timer);
	svc_fail_all(s, "the agent is stopping");
	if (s->pid > 0) {
		s->start_after_stop = 0;
		svc_stop(s);
	} else {
		s->state = SVC_STOPPED;
		done(arg);
	}
}
