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
 */
#ifndef REDEPLOY_LOG_H
#define REDEPLOY_LOG_H

#include <stdarg.h>
#include <stdnoreturn.h>

#define LOG_TO_STDERR	0x1
#define LOG_TO_SYSLOG	0x2
#define LOG_MIRROR	0x4	/* with both: everything goes to both */

void	log_init(const char *progname, const char *tag, int dest, int facility);
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
noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
