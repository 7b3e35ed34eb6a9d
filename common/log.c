/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * log.c - messages to stderr or syslog, events as key=value lines
 * (the text of both is made in logfmt.c).
 *
 * Rules: errno is preserved by every function; nothing here allocates on
 * the heap, so it is safe on error paths; a message is one line.
 *
 * Transport: our own non-blocking datagram socket to /dev/log, in the
 * format glibc's syslog(3) writes.  glibc's syslog() blocks when the
 * reader stalls (a full queue: unix_wait_for_peer), and the agent's one
 * loop would stall with it.  Here a line that cannot go out at once is
 * dropped and counted; the next line that goes out is preceded by one
 * saying how many were lost.  stderr is written as before.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_progname = "redeploy";
static char log_tag[64] = "redeploy";
static int log_dest = LOG_TO_STDERR;
static int log_facility = LOG_USER;
static int log_verbose;
static int log_fd = -1;
static unsigned long log_lost;		/* not sent since the last report */
static unsigned long log_lost_total;
static time_t log_retry;		/* reconnect no sooner than this */

#define LOG_PATH	"/dev/log"

static void
log_connect(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	if (log_fd != -1)
		close(log_fd);
	log_retry = time(NULL) + 1;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", LOG_PATH);
	log_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (log_fd != -1 && connect(log_fd, (struct sockaddr *)&sun,
	    sizeof(sun)) == -1) {
		close(log_fd);
		log_fd = -1;
	}
}

static void
log_open(void)
{
	log_connect();
}

/* One datagram, never waiting: 0 sent, -1 not (the caller counts it). */
static int
log_send(const char *buf, size_t len)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (log_fd == -1) {
			if (time(NULL) < log_retry)
				return -1;
			log_connect();
			if (log_fd == -1)
				return -1;
		}
		if (send(log_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) ==
		    (ssize_t)len)
			return 0;
		if (errno != ECONNREFUSED && errno != ENOTCONN &&
		    errno != EPIPE && errno != ECONNRESET)
			return -1;	/* EAGAIN, ENOBUFS: drop */
		/* the reader restarted: connect again, once */
		close(log_fd);
		log_fd = -1;
		log_retry = 0;
	}
	return -1;
}

/* What syslog(3) would send: "<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG". */
static void
log_syslog(int prio, const char *tag, int with_pid, const char *msg,
    const char *suffix)
{
	char buf[2600], stamp[32], lost[96];
	struct tm tm;
	time_t now = time(NULL);
	int len, pri = (prio & LOG_FACMASK) ? prio : (prio | log_facility);

	if (localtime_r(&now, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm) == 0)
		snprintf(stamp, sizeof(stamp), "Jan  1 00:00:00");
	if (log_lost > 0) {
		snprintf(lost, sizeof(lost), "syslog_lost count=%lu "
		    "reason=\"syslog was not reading\"", log_lost);
		len = snprintf(buf, sizeof(buf), "<%d>%s %s[%ld]: %s",
		    LOG_WARNING | log_facility, stamp, log_tag,
		    (long)getpid(), lost);
		if (len > 0 && log_send(buf, (size_t)len < sizeof(buf) ?
		    (size_t)len : sizeof(buf) - 1) == 0)
			log_lost = 0;
	}
	if (with_pid)
		len = snprintf(buf, sizeof(buf), "<%d>%s %s[%ld]: %s%s%s", pri,
		    stamp, tag, (long)getpid(), msg, suffix ? ": " : "",
		    suffix ? suffix : "");
	else
		len = snprintf(buf, sizeof(buf), "<%d>%s %s: %s%s%s", pri,
		    stamp, tag, msg, suffix ? ": " : "", suffix ? suffix : "");
	if (len < 0)
		return;
	if ((size_t)len >= sizeof(buf))
		len = (int)sizeof(buf) - 1;
	if (log_lost > 0 || log_send(buf, (size_t)len) == -1) {
		log_lost++;
		log_lost_total++;
	}
}

unsigned long
log_syslog_lost(void)
{
	return log_lost_total;
}

void
log_init(const char *progname, const char *tag, int dest, int facility)
{
	log_progname = progname;
	log_dest = dest;
	log_facility = facility;
	log_settag(tag);
}

/* A child that goes on in the background: a session of its own, the
 * standard streams on /dev/null (the caller's pipes may close), messages
 * to syslog only. */
void
log_detach(const char *progname, const char *tag, int facility)
{
	int fd;

	(void)setsid();
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1) {
		(void)dup2(fd, STDIN_FILENO);
		(void)dup2(fd, STDOUT_FILENO);
		(void)dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	log_init(progname, tag, LOG_TO_SYSLOG, facility);
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
		log_syslog(prio, log_tag, 1, sys, NULL);
		to_stderr = 1;
	}
	if (to_stderr) {
		logfmt_visible(vis, sizeof(vis), text);
		fprintf(stderr, "%s: %s\n", log_progname, vis);
		fflush(stderr);
	} else
		log_syslog(prio, log_tag, 1, sys, NULL);
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
	if (log_dest & LOG_TO_SYSLOG)
		log_syslog(prio, tag, 0, line, NULL);
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
