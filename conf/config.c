/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * config.c - load and validate redeploy.ini (the schema is in config.h).
 *
 * inih does the INI syntax; everything else is ours.  We read the file
 * ourselves and hand inih one physical line at a time through
 * ini_parse_stream(), because inih on its own splits overlong lines
 * silently (the rest of a long value would be parsed as a line of its
 * own), treats indented lines as continuations of the previous value and
 * does not say which line it is on.  Our reader counts lines, rejects
 * overlong lines and control characters, strips leading whitespace, and
 * notes section headers (inih does not call the handler for them).  inih
 * calls the reader and then the handler for that same line, so the line
 * number the reader counted is the one the handler reports.
 *
 * What one value means is value.c's to decide; a setter here stores the
 * result and puts key, file and line into the message.
 *
 * Rules: the first error wins and stops the parse; a message is one line,
 * "FILE:LINE: ..." or "FILE: ...", and names the key; nothing the user
 * wrote is silently replaced by a default; on error nothing is returned.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "config.h"
#include "value.h"

#define SECONDS_MAX	3600.0	/* every duration key */
#define KEYS_MAX	24	/* keys in the largest section */

enum { SEC_DEPLOY, SEC_AGENT, SEC_SERVICE, SEC_COUNT };

struct loader;
struct keydef;

/* A setter parses value into the field at kd->off of the config. */
typedef int	setter(struct loader *, const struct keydef *, void *,
		    const char *);

struct keydef {
	const char	*name;
	setter		*set;
	size_t		 off;
	long		 max;	/* for numbers and modes */
};

struct loader {
	struct config	*cfg;
	const char	*path;		/* as given, for messages */
	FILE		*fp;
	int		 lineno;	/* physical line last read */
	int		 section;	/* in sections[], -1 before any */
	int		 seen[SEC_COUNT][KEYS_MAX];	/* line, or 0 */
	int		 failed;
	int		 errline;
	char		*err;
	size_t		 errlen;
};

static setter	set_string, set_abspath, set_name, set_owner, set_branch,
		set_int, set_mode, set_symlinks, set_tag, set_shared,
		set_listen, set_bool, set_signal, set_seconds, set_ready,
		set_environment, set_size, set_svc_listen, set_restart;

#define F(field)	offsetof(struct config, field)

static const struct keydef deploy_keys[] = {
	{ "repository",	set_abspath,	F(repository),	0 },
	{ "path",	set_abspath,	F(path),	0 },
	{ "branch",	set_branch,	F(branch),	0 },
	{ "keep",	set_int,	F(keep),	1000 },
	{ "dir_mode",	set_mode,	F(dir_mode),	07777 },
	{ "file_mode",	set_mode,	F(file_mode),	0777 },
	{ "owner",	set_owner,	F(owner),	0 },
	{ "group",	set_name,	F(group),	0 },
	{ "shared",	set_shared,	F(shared),	0 },
	{ "symlinks",	set_symlinks,	F(symlinks),	0 },
	{ "syslog_tag",	set_tag,	F(syslog_tag),	0 },
	{ "max_bytes",	set_size,	F(max_bytes),	0 },
	{ "max_file",	set_size,	F(max_file),	0 },
	{ "max_entries", set_int,	F(max_entries),	100000000 },
	{ "max_depth",	set_int,	F(max_depth),	1024 },
	{ "allow_other_owner", set_bool, F(allow_other_owner), 0 },
};

static const struct keydef agent_keys[] = {
	{ "listen",	set_listen,	F(listen),	0 },
	{ "token_file",	set_abspath,	F(token_file),	0 },
	{ "token_group", set_name,	F(token_group),	0 },
};

static const struct keydef service_keys[] = {
	{ "command",	set_string,	F(command),	0 },
	{ "user",	set_name,	F(user),	0 },
	{ "group",	set_name,	F(svc_group),	0 },
	{ "authbind",	set_bool,	F(authbind),	0 },
	{ "umask",	set_mode,	F(umask),	0777 },
	{ "stop_signal", set_signal,	F(stop_signal),	0 },
	{ "stop_timeout", set_seconds,	F(stop_timeout), 0 },
	{ "restart_delay", set_seconds,	F(restart_delay), 0 },
	{ "restart_max_delay", set_seconds, F(restart_max_delay), 0 },
	{ "stable_after", set_seconds,	F(stable_after), 0 },
	{ "ready",	set_ready,	F(ready),	0 },
	{ "ready_timeout", set_seconds,	F(ready_timeout), 0 },
	{ "log_tag",	set_tag,	F(log_tag),	0 },
	{ "environment", set_environment, F(environment), 0 },
	{ "listen",	set_svc_listen,	F(svc_listen),	0 },
	{ "listen_mode", set_mode,	F(listen_mode),	0777 },
	{ "restart",	set_restart,	F(restart),	0 },
};

#undef F

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

_Static_assert(NELEM(deploy_keys) <= KEYS_MAX, "raise KEYS_MAX");
_Static_assert(NELEM(agent_keys) <= KEYS_MAX, "raise KEYS_MAX");
_Static_assert(NELEM(service_keys) <= KEYS_MAX, "raise KEYS_MAX");

static const struct section {
	const char		*name;
	const struct keydef	*keys;
	size_t			 nkeys;
} sections[SEC_COUNT] = {
	[SEC_DEPLOY] =	{ "deploy", deploy_keys, NELEM(deploy_keys) },
	[SEC_AGENT] =	{ "agent", agent_keys, NELEM(agent_keys) },
	[SEC_SERVICE] =	{ "service", service_keys, NELEM(service_keys) },
};

static int	loader_error(struct loader *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/*
 * Record the first error; later ones are consequences of it.  line 0
 * gives "FILE: ..." for problems that belong to no one line.
 */
static int
loader_error(struct loader *ld, int line, const char *fmt, ...)
{
	char	 msg[CONFIG_ERRLEN];
	va_list	 ap;

	if (ld->failed)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ld->err != NULL && ld->errlen > 0) {
		if (line > 0)
			snprintf(ld->err, ld->errlen, "%s:%d: %s", ld->path,
			    line, msg);
		else
			snprintf(ld->err, ld->errlen, "%s: %s", ld->path, msg);
	}
	ld->failed = 1;
	ld->errline = line;
	return -1;
}

static int
loader_syntax(struct loader *ld, int line)
{
	return loader_error(ld, line,
	    "syntax error (expected 'key = value' or '[section]')");
}

/* Replace *field with a copy of s; the old value was a default or NULL. */
static int
store(struct loader *ld, char **field, const char *s)
{
	char	*copy;

	if ((copy = strdup(s)) == NULL)
		return loader_error(ld, ld->lineno, "%s", strerror(errno));
	free(*field);
	*field = copy;
	return 0;
}

/* Classic two-row Levenshtein distance; b is a key name, short. */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t	 row[2][64], la = strlen(a), lb = strlen(b), i, j, c;
	size_t	*prev = row[0], *cur = row[1], *t;

	if (lb >= NELEM(row[0]))
		return SIZE_MAX;
	if (la > lb + 2 || lb > la + 2)
		return 3;
	for (j = 0; j <= lb; j++)
		prev[j] = j;
	for (i = 1; i <= la; i++) {
		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			c = prev[j - 1] + (a[i - 1] != b[j - 1]);
			if (prev[j] + 1 < c)
				c = prev[j] + 1;
			if (cur[j - 1] + 1 < c)
				c = cur[j - 1] + 1;
			cur[j] = c;
		}
		t = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb];
}

static int
unknown_key(struct loader *ld, const struct section *sec, const char *name)
{
	const char	*best = NULL;
	size_t		 i, s, d, bestd = 3;

	for (i = 0; i < sec->nkeys; i++) {
		d = edit_distance(name, sec->keys[i].name);
		if (d < bestd) {
			bestd = d;
			best = sec->keys[i].name;
		}
	}
	if (best != NULL)
		return loader_error(ld, ld->lineno,
		    "unknown key '%s' in [%s] (did you mean '%s'?)", name,
		    sec->name, best);
	/* A key written under the wrong header is a common slip. */
	for (s = 0; s < NELEM(sections); s++)
		for (i = 0; i < sections[s].nkeys; i++)
			if (strcmp(name, sections[s].keys[i].name) == 0)
				return loader_error(ld, ld->lineno,
				    "unknown key '%s' in [%s] (it belongs in "
				    "[%s])", name, sec->name, sections[s].name);
	return loader_error(ld, ld->lineno, "unknown key '%s' in [%s]", name,
	    sec->name);
}

static int
set_string(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	return store(ld, field, v);
}

static int
set_abspath(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	if (v[0] != '/')
		return loader_error(ld, ld->lineno,
		    "%s '%s' is not an absolute path", kd->name, v);
	return store(ld, field, v);
}

static int
set_name(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	if (value_name(v) == -1)
		return loader_error(ld, ld->lineno,
		    "%s '%s' is not a user or group name", kd->name, v);
	return store(ld, field, v);
}

static int
set_owner(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	if (strcmp(v, "root") == 0 || strspn(v, "0") == strlen(v))
		return loader_error(ld, ld->lineno, "owner must not be root "
		    "(use the repository's owner, such as git)");
	return set_name(ld, kd, field, v);
}

static int
set_branch(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	if (value_branch(v) == -1)
		return loader_error(ld, ld->lineno, "branch '%s' is not a "
		    "valid branch name (see git-check-ref-format(1))", v);
	return store(ld, field, v);
}

static int
set_int(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	long	 n;

	if (value_long(v, 0, kd->max, &n) == -1)
		return loader_error(ld, ld->lineno,
		    "%s '%s' is not a whole number from 0 to %ld", kd->name, v,
		    kd->max);
	*(int *)field = (int)n;
	return 0;
}

static int
set_size(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	if (value_size(v, 1ULL << 50, field) == -1)
		return loader_error(ld, ld->lineno, "%s '%s' is not a size in "
		    "bytes above 0 (digits, optionally followed by K, M, G or "
		    "T)", kd->name, v);
	return 0;
}

static int
set_mode(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	if (value_mode(v, (mode_t)kd->max, field) == -1)
		return loader_error(ld, ld->lineno,
		    "%s '%s' is not an octal mode from 0 to %#lo", kd->name, v,
		    (unsigned long)kd->max);
	return 0;
}

static int
set_symlinks(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	if (value_symlinks(v, field) == -1)
		return loader_error(ld, ld->lineno,
		    "symlinks '%s' must be inside or any", v);
	return 0;
}

static int
set_tag(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	if (value_tag(v) == -1)
		return loader_error(ld, ld->lineno, "%s '%s' must be 1 to %d "
		    "of the characters A-Z a-z 0-9 _ . -", kd->name, v,
		    VALUE_TAG_MAX);
	return store(ld, field, v);
}

static int
set_shared(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	char	 msg[CONFIG_ERRLEN];

	if (value_shared(v, field, msg, sizeof(msg)) == -1)
		return loader_error(ld, ld->lineno, "%s", msg);
	return 0;
}

static int
set_listen(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	struct config	*cfg = ld->cfg;
	const char	*host;
	char		 msg[CONFIG_ERRLEN];
	int		 port;

	if (value_listen(v, &host, &port, msg, sizeof(msg)) == -1)
		return loader_error(ld, ld->lineno, "%s", msg);
	if (store(ld, field, v) == -1 ||
	    store(ld, &cfg->listen_host, host) == -1)
		return -1;
	cfg->listen_port = port;
	return 0;
}

static int
set_bool(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	if (value_bool(v, field) == -1)
		return loader_error(ld, ld->lineno,
		    "%s '%s' must be yes or no", kd->name, v);
	return 0;
}

static int
set_signal(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	if (value_signal(v, field) == -1)
		return loader_error(ld, ld->lineno, "%s '%s' is not a signal "
		    "(use TERM, INT, HUP, QUIT, KILL, USR1, USR2, WINCH or a "
		    "number from 1 to 64)", kd->name, v);
	return 0;
}

static int
set_seconds(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	if (value_seconds(v, SECONDS_MAX, field) == -1)
		return loader_error(ld, ld->lineno, "%s '%s' is not a number "
		    "of seconds above 0 and at most %g", kd->name, v,
		    SECONDS_MAX);
	return 0;
}

static int
set_ready(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	struct config	*cfg = ld->cfg;
	char		 msg[CONFIG_ERRLEN];

	/* Keys are set once, so there is no old host or path to free. */
	if (value_ready(v, field, &cfg->ready_host, &cfg->ready_port,
	    &cfg->ready_path, msg, sizeof(msg)) == -1)
		return loader_error(ld, ld->lineno, "%s", msg);
	return 0;
}

static int
set_environment(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	char	 msg[CONFIG_ERRLEN];

	if (value_environment(v, field, msg, sizeof(msg)) == -1)
		return loader_error(ld, ld->lineno, "%s", msg);
	return 0;
}

static int
set_svc_listen(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	char	 msg[CONFIG_ERRLEN];

	if (value_service_listen(v, field, msg, sizeof(msg)) == -1)
		return loader_error(ld, ld->lineno, "%s", msg);
	return 0;
}

static int
set_restart(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	if (value_restart(v, field) == -1)
		return loader_error(ld, ld->lineno,
		    "restart '%s' must be overlap or stop-first", v);
	return 0;
}

/* inih's rule: ';' starts an inline comment only after whitespace. */
static const char *
find_chars_or_comment(const char *s, const char *chars)
{
	int	 was_space = 0;

	while (*s != '\0' && (chars == NULL || strchr(chars, *s) == NULL) &&
	    !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

/*
 * Look at a line the way inih will, before it does: note section headers,
 * which never reach the handler, and refuse lines inih would accept but
 * we do not (text after "]", "key: value").
 */
static int
loader_classify(struct loader *ld, const char *line)
{
	const char	*end, *p;
	size_t		 i, len;

	if (*line == '\0' || *line == ';' || *line == '#')
		return 0;
	if (*line != '[') {
		end = find_chars_or_comment(line, "=:");
		if (*end != '=' || end == line)
			return loader_syntax(ld, ld->lineno);
		return 0;
	}
	end = find_chars_or_comment(line + 1, "]");
	if (*end != ']')
		return loader_syntax(ld, ld->lineno);
	p = end + 1 + strspn(end + 1, " \t");
	if (*p != '\0' && *p != ';')
		return loader_syntax(ld, ld->lineno);
	len = (size_t)(end - line - 1);
	for (i = 0; i < NELEM(sections); i++)
		if (strlen(sections[i].name) == len &&
		    strncmp(sections[i].name, line + 1, len) == 0)
			break;
	if (i == NELEM(sections))
		return loader_error(ld, ld->lineno, "unknown section '[%.*s]' "
		    "(use [deploy], [agent] or [service])", (int)len, line + 1);
	ld->section = (int)i;
	if (i == SEC_AGENT)
		ld->cfg->has_agent = 1;
	else if (i == SEC_SERVICE)
		ld->cfg->has_service = 1;
	return 0;
}

/*
 * The ini_reader: one physical line into str (num bytes).  A line must
 * fit inih's buffer with its newline, so at most num - 2 characters.  We
 * read with getc so that an endless line costs no memory.
 */
static char *
loader_read(char *str, int num, void *stream)
{
	struct loader	*ld = stream;
	size_t		 len = 0, max, skip = 0, i;
	int		 c;

	if (ld->failed || num < 3)
		return NULL;
	max = (size_t)num - 2;
	if ((c = getc(ld->fp)) == EOF) {
		if (ferror(ld->fp))
			loader_error(ld, 0, "cannot read: %s", strerror(errno));
		return NULL;
	}
	ld->lineno++;
	for (; c != EOF && c != '\n'; c = getc(ld->fp)) {
		/* Room for max characters and a '\r' before the '\n'. */
		if (len == max + 1) {
			loader_error(ld, ld->lineno, "line too long (at most "
			    "%zu characters)", max);
			return NULL;
		}
		str[len++] = (char)c;
	}
	if (c == EOF && ferror(ld->fp)) {
		loader_error(ld, 0, "cannot read: %s", strerror(errno));
		return NULL;
	}
	if (len > 0 && str[len - 1] == '\r')
		len--;
	if (len > max) {
		loader_error(ld, ld->lineno, "line too long (at most %zu "
		    "characters)", max);
		return NULL;
	}
	str[len] = '\0';
	for (i = 0; i < len; i++) {
		c = (unsigned char)str[i];
		if ((c < ' ' && c != '\t') || c == 0x7f) {
			loader_error(ld, ld->lineno, "control character in "
			    "line (only tabs are allowed)");
			return NULL;
		}
	}
	if (ld->lineno == 1 && len >= 3 && memcmp(str, "\xef\xbb\xbf", 3) == 0)
		skip = 3;
	/* Indented lines would otherwise continue the previous value. */
	while (skip < len && (str[skip] == ' ' || str[skip] == '\t'))
		skip++;
	memmove(str, str + skip, len - skip + 1);
	if (loader_classify(ld, str) == -1)
		return NULL;
	return str;
}

static int
loader_handle(void *user, const char *section, const char *name,
    const char *value)
{
	struct loader		*ld = user;
	const struct section	*sec;
	const struct keydef	*kd;
	size_t			 i;
	int			*seen;

	if (ld->failed)
		return 0;
	if (name == NULL)
		return 1;
	if (ld->section < 0) {
		loader_error(ld, ld->lineno, "key '%s' is outside any section "
		    "(put it under [deploy], [agent] or [service])", name);
		return 0;
	}
	sec = &sections[ld->section];
	for (i = 0; i < sec->nkeys; i++)
		if (strcmp(name, sec->keys[i].name) == 0)
			break;
	if (i == sec->nkeys) {
		unknown_key(ld, sec, name);
		return 0;
	}
	kd = &sec->keys[i];
	seen = &ld->seen[ld->section][i];
	if (*seen != 0) {
		loader_error(ld, ld->lineno, "duplicate key '%s' in [%s] "
		    "(first set on line %d)", name, sec->name, *seen);
		return 0;
	}
	*seen = ld->lineno;
	if (value == NULL || *value == '\0') {
		loader_error(ld, ld->lineno, "empty value for '%s'", name);
		return 0;
	}
	if (kd->set(ld, kd, (char *)ld->cfg + kd->off, value) == -1)
		return 0;
	return 1;
}

static int
config_defaults(struct config *cfg)
{
	static const struct {
		size_t		 off;
		const char	*value;
	} strings[] = {
		{ offsetof(struct config, branch), "master" },
		{ offsetof(struct config, syslog_tag), "redeploy" },
		{ offsetof(struct config, listen), "127.0.0.1:8421" },
		{ offsetof(struct config, listen_host), "127.0.0.1" },
		{ offsetof(struct config, token_file), CONFIG_DEFAULT_TOKEN },
		{ offsetof(struct config, log_tag), "www" },
	};
	size_t	 i;
	char	**field;

	cfg->keep = 5;
	cfg->max_bytes = 2ULL << 30;
	cfg->max_file = 100ULL << 20;
	cfg->max_entries = 100000;
	cfg->max_depth = 64;
	cfg->dir_mode = 0755;
	cfg->file_mode = 0644;
	cfg->symlinks = SYMLINKS_INSIDE;
	cfg->listen_port = 8421;
	cfg->authbind = 0;
	cfg->umask = 0002;
	cfg->stop_signal = SIGTERM;
	cfg->stop_timeout = 10;
	cfg->restart_delay = 0.1;
	cfg->restart_max_delay = 30;
	cfg->stable_after = 10;
	cfg->ready = READY_NONE;
	cfg->ready_timeout = 30;
	cfg->listen_mode = 0660;
	for (i = 0; i < NELEM(strings); i++) {
		field = (char **)((char *)cfg + strings[i].off);
		if ((*field = strdup(strings[i].value)) == NULL)
			return -1;
	}
	/* Lists are never NULL, so callers can walk them unconditionally. */
	if ((cfg->shared.v = calloc(1, sizeof(char *))) == NULL ||
	    (cfg->environment.v = calloc(1, sizeof(char *))) == NULL ||
	    (cfg->svc_listen.v = calloc(1, sizeof(char *))) == NULL)
		return -1;
	return 0;
}

/* The line a key was set on, 0 when it was not. */
static int
seen_line(const struct loader *ld, int sec, const char *name)
{
	size_t	 i;

	for (i = 0; i < sections[sec].nkeys; i++)
		if (strcmp(sections[sec].keys[i].name, name) == 0)
			return ld->seen[sec][i];
	return 0;
}

/* Is HOST:PORT of ready one of the sockets the agent itself holds? */
static int
held_address(const struct config *cfg)
{
	char	 want[80];
	size_t	 i;
	const char *w, *colon;
	long	 port;

	for (i = 0; i < cfg->svc_listen.n; i++) {
		w = cfg->svc_listen.v[i];
		if (strncmp(w, "unix:", 5) == 0 ||
		    (colon = strrchr(w, ':')) == NULL ||
		    value_long(colon + 1, 1, 65535, &port) == -1)
			continue;
		if (port != cfg->ready_port)
			continue;
		snprintf(want, sizeof(want), "%.*s", (int)(colon - w), w);
		if (strcmp(want, "0.0.0.0") == 0 || strcmp(want, "[::]") == 0)
			return 1;
		if (strcmp(cfg->ready_host, "localhost") == 0 &&
		    (strcmp(want, "127.0.0.1") == 0 ||
		    strcmp(want, "[::1]") == 0))
			return 1;
		if (strcmp(want, cfg->ready_host) == 0 || (want[0] == '[' &&
		    strlen(want) == strlen(cfg->ready_host) + 2 &&
		    strncmp(want + 1, cfg->ready_host, strlen(want) - 2) == 0))
			return 1;
	}
	return 0;
}

/*
 * listen, restart and ready go together: the kernel answers a connect to
 * a socket the agent holds, so tcp: there proves nothing; overlap needs
 * the shared sockets and a readiness only the new process can give.
 */
static int
config_check_held(struct loader *ld)
{
	struct config	*cfg = ld->cfg;
	int		 rline = seen_line(ld, SEC_SERVICE, "restart");
	int		 yline = seen_line(ld, SEC_SERVICE, "ready");

	if (!cfg->has_service)
		return 0;
	if (cfg->svc_listen.n == 0) {
		if (rline != 0 && cfg->restart == RESTART_OVERLAP)
			return loader_error(ld, rline, "restart = overlap "
			    "needs [service] listen (both processes share the "
			    "sockets redeployd holds)");
		cfg->restart = RESTART_STOP_FIRST;
		return 0;
	}
	if (rline == 0)
		cfg->restart = RESTART_OVERLAP;
	if (cfg->ready == READY_TCP && held_address(cfg))
		return loader_error(ld, yline, "ready 'tcp:%s:%d' is a socket "
		    "redeployd holds itself, so the kernel answers it whether "
		    "the service runs or not (use ready = http://... or "
		    "notify)", cfg->ready_host, cfg->ready_port);
	if (cfg->restart == RESTART_OVERLAP && cfg->ready != READY_NOTIFY &&
	    cfg->ready != READY_HTTP)
		return loader_error(ld, rline ? rline : yline, "restart = "
		    "overlap needs ready = notify or http://... (the new "
		    "process must prove it serves before the old one stops; "
		    "or set restart = stop-first)");
	return 0;
}

/* Rules that need the whole file: required keys, pairs of keys. */
static int
config_check(struct loader *ld)
{
	struct config	*cfg = ld->cfg;
	int		 line;

	if (cfg->path == NULL)
		return loader_error(ld, 0, "[deploy] path is required");
	if (cfg->has_agent != cfg->has_service)
		return loader_error(ld, 0, "[agent] and [service] go together "
		    "(a config with neither deploys files only)");
	if (cfg->has_service && cfg->command == NULL)
		return loader_error(ld, 0, "[service] command is required");
	if (config_check_held(ld) == -1)
		return -1;
	if (cfg->restart_max_delay < cfg->restart_delay) {
		line = seen_line(ld, SEC_SERVICE, "restart_max_delay");
		if (line == 0)
			line = seen_line(ld, SEC_SERVICE, "restart_delay");
		return loader_error(ld, line, "restart_max_delay %g is less "
		    "than restart_delay %g (raise restart_max_delay)",
		    cfg->restart_max_delay, cfg->restart_delay);
	}
	return 0;
}

int
config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
	struct loader	 ld;
	char		*real = NULL;
	int		 rc, ret = -1;

	memset(cfg, 0, sizeof(*cfg));
	memset(&ld, 0, sizeof(ld));
	ld.cfg = cfg;
	ld.path = path;
	ld.section = -1;
	ld.err = err;
	ld.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';

	if ((ld.fp = fopen(path, "re")) == NULL) {
		/* Most often the wrong file, not a broken one: say how to
		 * name the right one. */
		loader_error(&ld, 0, "cannot open: %s%s", strerror(errno),
		    errno == ENOENT ? " (name the config with -c FILE or "
		    "REDEPLOY_CONFIG=FILE; see redeploy.ini(5))" : "");
		goto out;
	}
	/* realpath can still fail (a component removed meanwhile, ENOMEM);
	 * the path as given is the next best name for the file. */
	if ((real = realpath(path, NULL)) != NULL)
		cfg->file = real;
	else if ((cfg->file = strdup(path)) == NULL) {
		loader_error(&ld, 0, "%s", strerror(errno));
		goto out;
	}
	if (config_defaults(cfg) == -1) {
		loader_error(&ld, 0, "%s", strerror(errno));
		goto out;
	}

	rc = ini_parse_stream(loader_read, &ld, loader_handle, &ld);
	/* inih reports the first line it refused; if that is earlier than
	 * ours (it cannot be with the reader's checks, but inih decides the
	 * syntax), its error is the one to show. */
	if (rc > 0 && (!ld.failed || rc < ld.errline)) {
		ld.failed = 0;
		loader_syntax(&ld, rc);
	} else if (rc < 0 && !ld.failed)
		loader_error(&ld, 0, "cannot parse (inih error %d)", rc);
	if (ld.failed)
		goto out;
	if (config_check(&ld) == -1)
		goto out;
	ret = 0;
out:
	if (ld.fp != NULL)
		fclose(ld.fp);
	if (ret == -1)
		config_free(cfg);
	return ret;
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->file);
	free(cfg->repository);
	free(cfg->path);
	free(cfg->branch);
	free(cfg->owner);
	free(cfg->group);
	value_list_free(&cfg->shared);
	free(cfg->syslog_tag);
	free(cfg->listen);
	free(cfg->listen_host);
	free(cfg->token_file);
	free(cfg->token_group);
	free(cfg->command);
	free(cfg->user);
	free(cfg->svc_group);
	free(cfg->ready_host);
	free(cfg->ready_path);
	free(cfg->log_tag);
	value_list_free(&cfg->environment);
	value_list_free(&cfg->svc_listen);
	memset(cfg, 0, sizeof(*cfg));
}

