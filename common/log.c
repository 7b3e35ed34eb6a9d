/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * log.c - messages to stderr or syslog, events as key=value lines
 * (the text of both is made in logfmt.c).
 *
 * Rules: errno is preserved by every function; nothing here allocates on
 * the heap, so it is safe on error paths; a message is one line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log.h"

static const char *log_progname = "redeploy";
static char log_tag[64] = "redeploy";
static int log_dest = LOG_TO_STDERR;
static int log_facility = LOG_USER;
static int log_verbose;
static int log_opened;

static void
log_open(void)
{
	if (log_opened)
		closelog();
	openlog(log_tag, LOG_PID | LOG_NDELAY, log_facility);
	log_opened = 1;
}

void
log_init(const char *progname, const char *tag, int dest, int facility)
{
	log_progname = progname;
	log_dest = dest;
	log_facility = facility;
	log_settag(tag);
}

void
log_settag(const char *tag)
{
	snprintf(log_tag, sizeof(log_tag), "%s", tag);
	if (log_dest & LOG_TO_SYSLOG)
		log_open();
}

void
log_setverbose(int verbose)
{
	log_verbose = verbose;
}

static const char *
log_level(int prio)
{
	static const char *const names[] = { "emerg", "alert", "crit",
	    "error", "warning", "notice", "info", "debug" };

	return names[LOG_PRI(prio)];
}

/*
 * Where a line goes.  Syslog gets key=value only: a message becomes the
 * event `LEVEL msg="..."`.  Stderr (the pusher's terminal) gets control
 * bytes made visible.
 */
static void
log_put(int to_stderr, int prio, const char *line, const char *suffix,
    int event)
{
	char sys[4096], text[2048], vis[4096];
	size_t k;
	int both = (log_dest & LOG_MIRROR) &&
	    (log_dest & (LOG_TO_STDERR | LOG_TO_SYSLOG)) ==
	    (LOG_TO_STDERR | LOG_TO_SYSLOG);

	if (suffix != NULL)
		snprintf(text, sizeof(text), "%s: %s", line, suffix);
	else
		snprintf(text, sizeof(text), "%s", line);
	if (event)
		snprintf(sys, sizeof(sys), "%s", text);
	else {
		k = (size_t)snprintf(sys, sizeof(sys), "%s msg=",
		    log_level(prio));
		(void)logfmt_value(sys, sizeof(sys), &k, text);
	}
	if (both) {
		syslog(prio, "%s", sys);
		to_stderr = 1;
	}
	if (to_stderr) {
		logfmt_visible(vis, sizeof(vis), text);
		fprintf(stderr, "%s: %s\n", log_progname, vis);
		fflush(stderr);
	} else
		syslog(prio, "%s", sys);
}

static void
log_emit(int to_stderr, int prio, const char *fmt, va_list ap,
    const char *suffix) __attribute__((format(printf, 3, 0)));

static void
log_emit(int to_stderr, int prio, const char *fmt, va_list ap,
    const char *suffix)
{
	char line[2048];

	vsnprintf(line, sizeof(line), fmt, ap);
	log_put(to_stderr, prio, line, suffix, 0);
}

#define LOG_BODY(to_stderr, prio, suffix) do {				\
	int saved = errno;						\
	va_list ap;							\
	va_start(ap, fmt);						\
	log_emit((to_stderr), (prio), fmt, ap, (suffix));		\
	va_end(ap);							\
	errno = saved;							\
} while (0)

void
log_info(const char *fmt, ...)
{
	LOG_BODY(log_dest & LOG_TO_STDERR, LOG_INFO, NULL);
}

void
log_debug(const char *fmt, ...)
{
	if (log_verbose)
		LOG_BODY(log_dest & LOG_TO_STDERR, LOG_DEBUG, NULL);
}

void
log_warn(const char *fmt, ...)
{
	const char *why = strerror(errno);

	LOG_BODY(log_dest & LOG_TO_STDERR, LOG_WARNING, why);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(log_dest & LOG_TO_STDERR, LOG_WARNING, NULL);
}

void
log_event(int prio, const char *fmt, ...)
{
	char line[2048];
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	(void)logfmt_event(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_put(!(log_dest & LOG_TO_SYSLOG), prio, line, NULL, 1);
	errno = saved;
}

void
log_tagged(const char *tag, int prio, const char *fmt, ...)
{
	char line[2048];
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_dest & LOG_TO_SYSLOG) {
		/* openlog keeps the pointer: switch back before returning */
		openlog(tag, 0, log_facility);
		syslog(prio, "%s", line);
		openlog(log_tag, LOG_PID, log_facility);
	}
	if (!(log_dest & LOG_TO_SYSLOG) || (log_dest & LOG_MIRROR)) {
		char vis[4096];

		logfmt_visible(vis, sizeof(vis), line);
		fprintf(stderr, "%s: %s\n", tag, vis);
		fflush(stderr);
	}
	errno = saved;
}

void
fatal(const char *fmt, ...)
{
	const char *why = strerror(errno);

	LOG_BODY(log_dest & LOG_TO_STDERR, LOG_CRIT, why);
	exit(3);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(log_dest & LOG_TO_STDERR, LOG_CRIT, NULL);
	exit(2);
}
