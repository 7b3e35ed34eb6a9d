/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * log.h - logging for both programs.
 *
 * Messages (log_info, log_warn, ...) go to stderr when LOG_TO_STDERR is set,
 * to syslog otherwise.  Events (log_event) are one line of key=value fields
 * and go to syslog when LOG_TO_SYSLOG is set, to stderr otherwise.  The hook
 * sets both: the pusher reads messages, the operator reads events.  Every
 * function preserves errno.  Never pass a token to any of them.
 *
 * log_event's format is `NAME key=CONV key="text %s" ...`: NAME and the
 * keys are fixed identifiers in the literal, each value is what its
 * conversions print, escaped and quoted as needed (logfmt.c), so a value
 * can never add a field or a line.  A message that goes to syslog becomes
 * the event `LEVEL msg="..."`; on stderr its control bytes are made
 * visible.  So every syslog line of ours parses as key=value.
 */
#ifndef REDEPLOY_LOG_H
#define REDEPLOY_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdnoreturn.h>

#define LOG_TO_STDERR	0x1
#define LOG_TO_SYSLOG	0x2
#define LOG_MIRROR	0x4	/* with both: everything goes to both */

void	log_init(const char *progname, const char *tag, int dest, int facility);
void	log_detach(const char *progname, const char *tag, int facility);
void	log_settag(const char *tag);
void	log_setverbose(int verbose);
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_event(int prio, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* One line under another tag (a service's output: "www[4242]"). */
void	log_tagged(const char *tag, int prio, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Lines syslog did not take (it was not reading): dropped, not waited for. */
unsigned long log_syslog_lost(void);
/* logfmt.c - the text of lines (pure; no errno, no allocation) */
int	logfmt_needs_quotes(const char *val);
int	logfmt_value(char *dst, size_t n, size_t *at, const char *val);
int	logfmt_event(char *dst, size_t n, const char *fmt, va_list ap)
	    __attribute__((format(printf, 3, 0)));
void	logfmt_visible(char *dst, size_t n, const char *src);
noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
