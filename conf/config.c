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
 * Rules: the first error wins and stops the parse; a message is one line,
 * "FILE:LINE: ..." or "FILE: ...", and names the key; nothing the user
 * wrote is silently replaced by a default; on error nothing is returned.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "config.h"

#define TAG_MAX		32	/* syslog_tag, log_tag */
#define SECONDS_MAX	3600.0	/* every duration key */
#define KEYS_MAX	16	/* keys in the largest section */

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
		set_environment;

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

static const struct {
	const char	*name;
	int		 signo;
} signals[] = {
	{ "TERM", SIGTERM }, { "INT", SIGINT }, { "HUP", SIGHUP },
	{ "QUIT", SIGQUIT }, { "KILL", SIGKILL }, { "USR1", SIGUSR1 },
	{ "USR2", SIGUSR2 }, { "WINCH", SIGWINCH },
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

/* Append s to a NULL-terminated list; takes s, which is freed on error. */
static int
list_add(struct loader *ld, struct config_list *l, char *s)
{
	char	**v;

	if ((v = reallocarray(l->v, l->n + 2, sizeof(*v))) == NULL) {
		free(s);
		return loader_error(ld, ld->lineno, "%s", strerror(errno));
	}
	v[l->n++] = s;
	v[l->n] = NULL;
	l->v = v;
	return 0;
}

static void
list_free(struct config_list *l)
{
	size_t	 i;

	if (l->v != NULL)
		for (i = 0; i < l->n; i++)
			free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Digits only, so no sign, space or base prefix sneaks past strtol. */
static int
parse_long(const char *s, long min, long max, long *out)
{
	const char	*p;
	char		*end;
	long		 v;

	if (*s == '\0')
		return -1;
	for (p = s; *p != '\0'; p++)
		if (!isdigit((unsigned char)*p))
			return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno == ERANGE || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
config_parse_mode(const char *s, mode_t max, mode_t *out)
{
	mode_t	 v = 0, d;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '7')
			return -1;
		d = (mode_t)(*s - '0');
		if (v > (max - d) / 8 || v * 8 + d > max)
			return -1;
		v = v * 8 + d;
	}
	*out = v;
	return 0;
}

/*
 * Plain decimal notation only ("10", "0.5"): no sign, exponent, hex,
 * "inf" or "nan", which strtod would all take.  strtod reads '.' as the
 * decimal point while LC_NUMERIC is "C", as it is unless a program calls
 * setlocale(3).
 */
int
config_parse_seconds(const char *s, double max, double *out)
{
	const char	*p;
	char		*end;
	double		 v;
	int		 dots = 0, digits = 0;

	if (s == NULL)
		return -1;
	for (p = s; *p != '\0'; p++) {
		if (*p == '.')
			dots++;
		else if (isdigit((unsigned char)*p))
			digits++;
		else
			return -1;
	}
	if (digits == 0 || dots > 1)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || errno == ERANGE || isnan(v) ||
	    isinf(v) || v <= 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

int
config_parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t	 i;

	if (s == NULL)
		return -1;
	for (i = 0; i < NELEM(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

int
config_parse_signal(const char *s, int *out)
{
	const char	*name;
	long		 n;
	size_t		 i;

	if (s == NULL || *s == '\0')
		return -1;
	if (parse_long(s, 1, 64, &n) == 0) {
		*out = (int)n;
		return 0;
	}
	name = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
	for (i = 0; i < NELEM(signals); i++) {
		if (strcasecmp(name, signals[i].name) == 0) {
			*out = signals[i].signo;
			return 0;
		}
	}
	return -1;
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

/*
 * User and group names are resolved later, by the program that needs
 * them and with the privileges it has; here we only refuse what can never
 * be a name, so a typo is reported with its line.
 */
static int
set_name(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	const char	*p;

	for (p = v; *p != '\0'; p++)
		if (isspace((unsigned char)*p) || *p == ':' || *p == '/')
			return loader_error(ld, ld->lineno,
			    "%s '%s' is not a user or group name", kd->name, v);
	if (v[0] == '-')
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

/* git check-ref-format's rules for one branch name (refs/heads/NAME). */
static int
branch_valid(const char *b)
{
	const char	*p;
	size_t		 len = strlen(b);

	if (len == 0 || b[0] == '-' || b[0] == '/' || b[0] == '.' ||
	    b[len - 1] == '/' || b[len - 1] == '.' || strcmp(b, "@") == 0)
		return 0;
	if (strstr(b, "..") != NULL || strstr(b, "@{") != NULL ||
	    strstr(b, "//") != NULL || strstr(b, "/.") != NULL)
		return 0;
	for (p = b; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f ||
		    strchr("~^:?*[\\", *p) != NULL)
			return 0;
		/* No component may end in ".lock". */
		if ((p[1] == '/' || p[1] == '\0') && p - b >= 4 &&
		    strncmp(p - 4, ".lock", 5) == 0)
			return 0;
	}
	return 1;
}

static int
set_branch(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	if (!branch_valid(v))
		return loader_error(ld, ld->lineno, "branch '%s' is not a "
		    "valid branch name (see git-check-ref-format(1))", v);
	return store(ld, field, v);
}

static int
set_int(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	long	 n;

	if (parse_long(v, 0, kd->max, &n) == -1)
		return loader_error(ld, ld->lineno,
		    "%s '%s' is not a whole number from 0 to %ld", kd->name, v,
		    kd->max);
	*(int *)field = (int)n;
	return 0;
}

static int
set_mode(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	if (config_parse_mode(v, (mode_t)kd->max, field) == -1)
		return loader_error(ld, ld->lineno,
		    "%s '%s' is not an octal mode from 0 to %#lo", kd->name, v,
		    (unsigned long)kd->max);
	return 0;
}

static int
set_symlinks(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	enum config_symlinks	*sl = field;

	if (strcmp(v, "inside") == 0)
		*sl = SYMLINKS_INSIDE;
	else if (strcmp(v, "any") == 0)
		*sl = SYMLINKS_ANY;
	else
		return loader_error(ld, ld->lineno,
		    "symlinks '%s' must be inside or any", v);
	return 0;
}

/* syslog tags: short and plain, so they read well in every log line. */
static int
set_tag(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	size_t	 len = strlen(v);

	if (len > TAG_MAX || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_.-") != len)
		return loader_error(ld, ld->lineno, "%s '%s' must be 1 to %d "
		    "of the characters A-Z a-z 0-9 _ . -", kd->name, v,
		    TAG_MAX);
	return store(ld, field, v);
}

/*
 * Normalise one shared path: drop empty and "." components, refuse
 * absolute paths and "..", which would let a release link outside
 * <path>/shared.
 */
static int
shared_one(struct loader *ld, const char *word, size_t wlen, char **out)
{
	const char	*p = word, *end = word + wlen, *c;
	char		*norm = NULL;
	size_t		 n = 0, clen;

	*out = NULL;
	if (word[0] == '/')
		return loader_error(ld, ld->lineno, "shared path '%.*s' is "
		    "absolute (give it relative to the release)", (int)wlen,
		    word);
	if ((norm = malloc(wlen + 1)) == NULL)
		return loader_error(ld, ld->lineno, "%s", strerror(errno));
	while (p < end) {
		for (c = p; c < end && *c != '/'; c++)
			;
		clen = (size_t)(c - p);
		if (clen == 2 && p[0] == '.' && p[1] == '.') {
			free(norm);
			return loader_error(ld, ld->lineno, "shared path "
			    "'%.*s' must not contain '..'", (int)wlen, word);
		}
		if (clen > 0 && !(clen == 1 && p[0] == '.')) {
			if (n > 0)
				norm[n++] = '/';
			memcpy(norm + n, p, clen);
			n += clen;
		}
		if (c == end)
			break;
		p = c + 1;
	}
	if (n == 0) {
		free(norm);
		return loader_error(ld, ld->lineno, "shared path '%.*s' names "
		    "the release itself", (int)wlen, word);
	}
	norm[n] = '\0';
	*out = norm;
	return 0;
}

/* 1 when a is b or a directory above b. */
static int
path_covers(const char *a, const char *b)
{
	size_t	 la = strlen(a);

	return strncmp(a, b, la) == 0 && (b[la] == '\0' || b[la] == '/');
}

static int
set_shared(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	struct config_list	*l = field;
	const char		*p = v;
	char			*norm;
	size_t			 wlen, i;
	int			 dup;

	for (;;) {
		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		wlen = strcspn(p, " \t");
		if (shared_one(ld, p, wlen, &norm) == -1)
			return -1;
		dup = 0;
		for (i = 0; i < l->n; i++) {
			if (strcmp(l->v[i], norm) == 0) {
				dup = 1;
				break;
			}
			/* A link inside a linked directory would write
			 * through it into shared/. */
			if (path_covers(l->v[i], norm) ||
			    path_covers(norm, l->v[i])) {
				loader_error(ld, ld->lineno, "shared path '%s' "
				    "overlaps shared path '%s' (list only the "
				    "outer one)", norm, l->v[i]);
				free(norm);
				return -1;
			}
		}
		if (dup)
			free(norm);
		else if (list_add(ld, l, norm) == -1)
			return -1;
		p += wlen;
	}
	return 0;
}

/* Digits only, min..65535. */
static int
parse_port(const char *s, long min, int *out)
{
	long	 n;

	if (parse_long(s, min, 65535, &n) == -1)
		return -1;
	*out = (int)n;
	return 0;
}

/*
 * The endpoint restarts the service for anyone who has the token and can
 * connect, so it listens on loopback only: the three spellings below and
 * nothing else.
 */
static int
set_listen(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	static const struct {
		const char	*prefix;
		const char	*host;
	} forms[] = {
		{ "127.0.0.1:", "127.0.0.1" },
		{ "[::1]:", "::1" },
		{ "localhost:", "localhost" },
	};
	struct config	*cfg = ld->cfg;
	size_t		 i, plen;
	int		 port;

	for (i = 0; i < NELEM(forms); i++) {
		plen = strlen(forms[i].prefix);
		if (strncmp(v, forms[i].prefix, plen) == 0)
			break;
		/* The host alone: say what is missing. */
		if (strncmp(v, forms[i].prefix, plen - 1) == 0 &&
		    v[plen - 1] == '\0')
			return loader_error(ld, ld->lineno, "listen '%s' has "
			    "no port (use HOST:PORT, such as 127.0.0.1:8421)",
			    v);
	}
	if (i == NELEM(forms))
		return loader_error(ld, ld->lineno, "listen '%s' is not a "
		    "loopback address (use 127.0.0.1, [::1] or localhost)", v);
	if (parse_port(v + plen, 0, &port) == -1)
		return loader_error(ld, ld->lineno,
		    "listen '%s' has a bad port (use 0 to 65535)", v);
	if (store(ld, field, v) == -1 ||
	    store(ld, &cfg->listen_host, forms[i].host) == -1)
		return -1;
	cfg->listen_port = port;
	return 0;
}

static int
set_bool(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	if (config_parse_bool(v, field) == -1)
		return loader_error(ld, ld->lineno,
		    "%s '%s' must be yes or no", kd->name, v);
	return 0;
}

static int
set_signal(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	if (config_parse_signal(v, field) == -1)
		return loader_error(ld, ld->lineno, "%s '%s' is not a signal "
		    "(use TERM, INT, HUP, QUIT, KILL, USR1, USR2, WINCH or a "
		    "number from 1 to 64)", kd->name, v);
	return 0;
}

static int
set_seconds(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	if (config_parse_seconds(v, SECONDS_MAX, field) == -1)
		return loader_error(ld, ld->lineno, "%s '%s' is not a number "
		    "of seconds above 0 and at most %g", kd->name, v,
		    SECONDS_MAX);
	return 0;
}

/*
 * HOST:PORT for ready: an IPv6 literal in brackets, or an IPv4 literal or
 * host name.  defport < 0 makes the port required.  *host is allocated.
 */
static int
parse_hostport(const char *s, size_t len, int defport, char **host,
    int *port)
{
	const char	*h = s, *colon = NULL, *p;
	char		 portbuf[8];
	size_t		 hlen;

	*host = NULL;
	if (len > 0 && s[0] == '[') {
		for (p = s + 1; p < s + len && *p != ']'; p++)
			if (!isxdigit((unsigned char)*p) && *p != ':' &&
			    *p != '.')
				return -1;
		if (p == s + len || p == s + 1)
			return -1;
		h = s + 1;
		hlen = (size_t)(p - h);
		if (p + 1 < s + len) {
			if (p[1] != ':')
				return -1;
			colon = p + 1;
		}
	} else {
		for (p = s; p < s + len; p++)
			if (*p == ':')
				colon = p;
		hlen = colon != NULL ? (size_t)(colon - s) : len;
		if (hlen == 0 || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789.-") < hlen)
			return -1;
	}
	if (colon != NULL) {
		if ((size_t)(s + len - colon - 1) >= sizeof(portbuf))
			return -1;
		memcpy(portbuf, colon + 1, (size_t)(s + len - colon - 1));
		portbuf[s + len - colon - 1] = '\0';
		if (parse_port(portbuf, 1, port) == -1)
			return -1;
	} else if (defport < 0)
		return -1;
	else
		*port = defport;
	if ((*host = strndup(h, hlen)) == NULL)
		return -2;
	return 0;
}

static int
set_ready(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	struct config	*cfg = ld->cfg;
	const char	*hp, *slash;
	char		*host = NULL, *path = NULL;
	int		 port = 0, rc;
	enum config_ready kind;

	if (strcmp(v, "none") == 0) {
		cfg->ready = READY_NONE;
		return 0;
	}
	if (strncmp(v, "tcp:", 4) == 0) {
		kind = READY_TCP;
		hp = v + 4;
		rc = parse_hostport(hp, strlen(hp), -1, &host, &port);
	} else if (strncmp(v, "http://", 7) == 0) {
		kind = READY_HTTP;
		hp = v + 7;
		if ((slash = strchr(hp, '/')) == NULL)
			slash = hp + strlen(hp);
		rc = parse_hostport(hp, (size_t)(slash - hp), 80, &host, &port);
		/* The path goes into a request line: no spaces or '#'. */
		if (rc == 0 && strpbrk(slash, " \t#") != NULL)
			rc = -1;
		if (rc == 0 && (path = strdup(*slash ? slash : "/")) == NULL)
			rc = -2;
	} else
		return loader_error(ld, ld->lineno, "ready '%s' must be none, "
		    "tcp:HOST:PORT or http://HOST:PORT/PATH", v);
	if (rc == -2) {
		free(host);
		return loader_error(ld, ld->lineno, "%s", strerror(errno));
	}
	if (rc == -1) {
		free(host);
		free(path);
		return loader_error(ld, ld->lineno, "ready '%s' is not %s "
		    "(port 1 to 65535)", v, kind == READY_TCP ?
		    "tcp:HOST:PORT" : "http://HOST:PORT/PATH");
	}
	free(cfg->ready_host);
	free(cfg->ready_path);
	cfg->ready = kind;
	cfg->ready_host = host;
	cfg->ready_port = port;
	cfg->ready_path = path;
	return 0;
}

static int
set_environment(struct loader *ld, const struct keydef *kd, void *field,
    const char *v)
{
	struct config_list	*l = field;
	const char		*p = v, *eq;
	char			*entry;
	size_t			 wlen, klen, i;

	for (;;) {
		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		wlen = strcspn(p, " \t");
		eq = memchr(p, '=', wlen);
		if (eq == NULL)
			return loader_error(ld, ld->lineno, "environment entry "
			    "'%.*s' is not KEY=VALUE", (int)wlen, p);
		klen = (size_t)(eq - p);
		if (klen == 0 || isdigit((unsigned char)p[0]) ||
		    strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789_") != klen)
			return loader_error(ld, ld->lineno, "environment name "
			    "'%.*s' is not valid (use A-Z a-z 0-9 _, not "
			    "starting with a digit)", (int)klen, p);
		if (klen >= 9 && strncmp(p, "REDEPLOY_", 9) == 0)
			return loader_error(ld, ld->lineno, "environment must "
			    "not set '%.*s' (redeploy sets REDEPLOY_ variables "
			    "itself)", (int)klen, p);
		for (i = 0; i < l->n; i++)
			if (strncmp(l->v[i], p, klen + 1) == 0)
				return loader_error(ld, ld->lineno,
				    "environment sets '%.*s' twice",
				    (int)klen, p);
		if ((entry = strndup(p, wlen)) == NULL)
			return loader_error(ld, ld->lineno, "%s",
			    strerror(errno));
		if (list_add(ld, l, entry) == -1)
			return -1;
		p += wlen;
	}
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
		{ offsetof(struct config, token_file), "/run/redeploy/token" },
		{ offsetof(struct config, log_tag), "www" },
	};
	size_t	 i;
	char	**field;

	cfg->keep = 5;
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
	for (i = 0; i < NELEM(strings); i++) {
		field = (char **)((char *)cfg + strings[i].off);
		if ((*field = strdup(strings[i].value)) == NULL)
			return -1;
	}
	/* Lists are never NULL, so callers can walk them unconditionally. */
	if ((cfg->shared.v = calloc(1, sizeof(char *))) == NULL ||
	    (cfg->environment.v = calloc(1, sizeof(char *))) == NULL)
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
		loader_error(&ld, 0, "cannot open: %s", strerror(errno));
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
	list_free(&cfg->shared);
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
	list_free(&cfg->environment);
	memset(cfg, 0, sizeof(*cfg));
}
