/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * value.h - turn one config value, as written, into what it means.
 *
 * Internal to conf/: config.c reads the file and knows the keys, value.c
 * knows the values.  Nothing here sees a file, a line number or the
 * struct config, so each rule can be read and tested on its own.
 *
 * Every function returns 0, or -1 and leaves its outputs as they were;
 * only a list keeps the entries added before the bad one, for
 * config_free() to free.  A scalar fails one way only, and the caller,
 * which knows the key, says why.  Lists and addresses fail in several
 * ways, so they write the reason, one line naming the value, to err
 * (errlen bytes, CONFIG_ERRLEN will do); the caller adds file and line.
 */
#ifndef REDEPLOY_VALUE_H
#define REDEPLOY_VALUE_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"

#define VALUE_TAG_MAX	32	/* syslog_tag, log_tag */

/* Free a list's entries and array; safe on a zeroed list. */
void	value_list_free(struct config_list *l);

/* Plain decimal digits from min to max: no sign, space or base prefix. */
int	value_long(const char *s, long min, long max, long *out);

/* Octal digits, at most max. */
int	value_mode(const char *s, mode_t max, mode_t *out);
int	value_size(const char *s, unsigned long long max,
	    unsigned long long *out);

/* Plain decimal seconds above 0 and at most max ("10", "0.5"). */
int	value_seconds(const char *s, double max, double *out);

/* yes/no, true/false, on/off, 1/0 in any case. */
int	value_bool(const char *s, int *out);

/* A number from 1 to 64, or a signal name with or without "SIG". */
int	value_signal(const char *s, int *out);

/* "inside" or "any". */
int	value_symlinks(const char *s, enum config_symlinks *out);

/* 1 to VALUE_TAG_MAX of A-Z a-z 0-9 _ . - */
int	value_tag(const char *s);

/* Something that could be a user or group name. */
int	value_name(const char *s);

/* A branch name that git check-ref-format would take. */
int	value_branch(const char *s);

/* Add the relative paths in s, normalised, to l. */
int	value_shared(const char *s, struct config_list *l, char *err,
	    size_t errlen);

/* A loopback HOST:PORT; *host points to a constant string. */
int	value_listen(const char *s, const char **host, int *port, char *err,
	    size_t errlen);

/* none, notify, tcp:HOST:PORT or http://HOST:PORT/PATH; *host (NULL for none)
 * and *path (NULL unless http) are allocated. */
int	value_ready(const char *s, enum config_ready *kind, char **host,
	    int *port, char **path, char *err, size_t errlen);

/* [service] listen: IPV4:PORT, [IPV6]:PORT or unix:/PATH words into l. */
int	value_service_listen(const char *s, struct config_list *l, char *err,
	    size_t errlen);

/* "overlap" or "stop-first". */
int	value_restart(const char *s, enum config_restart *out);

/* Add the KEY=VALUE words in s to l. */
int	value_environment(const char *s, struct config_list *l, char *err,
	    size_t errlen);

#endif
