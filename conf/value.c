/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * value.c - parse one config value; see value.h for the rules.
 *
 * Pure string-to-value logic: no file, no line numbers, no defaults.
 * Each parser accepts only the spellings redeploy.ini(5) documents, so a
 * value that strtol or strtod would half-read is refused instead.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "value.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static const struct {
	const char	*name;
	int		 signo;
} signals[] = {
	{ "TERM", SIGTERM }, { "INT", SIGINT }, { "HUP", SIGHUP },
	{ "QUIT", SIGQUIT }, { "KILL", SIGKILL }, { "USR1", SIGUSR1 },
	{ "USR2", SIGUSR2 }, { "WINCH", SIGWINCH },
};

static int	value_fail(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static int
value_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Append s to a NULL-terminated list; takes s, which is freed on error. */
static int
value_list_add(struct config_list *l, char *s, char *err, size_t errlen)
{
	char	**v;

	if ((v = reallocarray(l->v, l->n + 2, sizeof(*v))) == NULL) {
		free(s);
		return value_fail(err, errlen, "%s", strerror(errno));
	}
	v[l->n++] = s;
	v[l->n] = NULL;
	l->v = v;
	return 0;
}

void
value_list_free(struct config_list *l)
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
int
value_long(const char *s, long min, long max, long *out)
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

/* Bytes: digits, optionally K, M, G or T (powers of 1024), at least 1. */
int
value_size(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long v, mult = 1;
	const char	*p;
	char		*end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -1;
	p = end;
	if (*p != '\0') {
		switch (*p) {
		case 'K': case 'k': mult = 1ULL << 10; break;
		case 'M': case 'm': mult = 1ULL << 20; break;
		case 'G': case 'g': mult = 1ULL << 30; break;
		case 'T': case 't': mult = 1ULL << 40; break;
		default: return -1;
		}
		if (p[1] != '\0')
			return -1;
	}
	if (v == 0 || v > max / mult)
		return -1;
	*out = v * mult;
	return 0;
}

int
value_mode(const char *s, mode_t max, mode_t *out)
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
value_seconds(const char *s, double max, double *out)
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
value_bool(const char *s, int *out)
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
value_signal(const char *s, int *out)
{
	const char	*name;
	long		 n;
	size_t		 i;

	if (s == NULL || *s == '\0')
		return -1;
	if (value_long(s, 1, 64, &n) == 0) {
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

int
value_symlinks(const char *s, enum config_symlinks *out)
{
	if (strcmp(s, "inside") == 0)
		*out = SYMLINKS_INSIDE;
	else if (strcmp(s, "any") == 0)
		*out = SYMLINKS_ANY;
	else
		return -1;
	return 0;
}

/* syslog tags: short and plain, so they read well in every log line. */
int
value_tag(const char *s)
{
	size_t	 len = strlen(s);

	if (len > VALUE_TAG_MAX || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_.-") != len)
		return -1;
	return 0;
}

/*
 * User and group names are resolved later, by the program that needs
 * them and with the privileges it has; here we only refuse what can never
 * be a name, so a typo is reported with its line.
 */
int
value_name(const char *s)
{
	const char	*p;

	for (p = s; *p != '\0'; p++)
		if (isspace((unsigned char)*p) || *p == ':' || *p == '/')
			return -1;
	if (s[0] == '-')
		return -1;
	return 0;
}

/* git check-ref-format's rules for one branch name (refs/heads/NAME). */
int
value_branch(const char *s)
{
	const char	*p;
	size_t		 len = strlen(s);

	if (len == 0 || s[0] == '-' || s[0] == '/' || s[0] == '.' ||
	    s[len - 1] == '/' || s[len - 1] == '.' || strcmp(s, "@") == 0)
		return -1;
	if (strstr(s, "..") != NULL || strstr(s, "@{") != NULL ||
	    strstr(s, "//") != NULL || strstr(s, "/.") != NULL)
		return -1;
	for (p = s; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f ||
		    strchr("~^:?*[\\", *p) != NULL)
			return -1;
		/* No component may end in ".lock". */
		if ((p[1] == '/' || p[1] == '\0') && p - s >= 4 &&
		    strncmp(p - 4, ".lock", 5) == 0)
			return -1;
	}
	return 0;
}

/*
 * Normalise one shared path: drop empty and "." components, refuse
 * absolute paths and "..", which would let a release link outside
 * <path>/shared.
 */
static int
value_shared_one(const char *word, size_t wlen, char **out, char *err,
    size_t errlen)
{
	const char	*p = word, *end = word + wlen, *c;
	char		*norm = NULL;
	size_t		 n = 0, clen;

	*out = NULL;
	if (word[0] == '/')
		return value_fail(err, errlen, "shared path '%.*s' is "
		    "absolute (give it relative to the release)", (int)wlen,
		    word);
	if ((norm = malloc(wlen + 1)) == NULL)
		return value_fail(err, errlen, "%s", strerror(errno));
	while (p < end) {
		for (c = p; c < end && *c != '/'; c++)
			;
		clen = (size_t)(c - p);
		if (clen == 2 && p[0] == '.' && p[1] == '.') {
			free(norm);
			return value_fail(err, errlen, "shared path '%.*s' "
			    "must not contain '..'", (int)wlen, word);
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
		return value_fail(err, errlen, "shared path '%.*s' names the "
		    "release itself", (int)wlen, word);
	}
	norm[n] = '\0';
	*out = norm;
	return 0;
}

/* 1 when a is b or a directory above b. */
static int
value_path_covers(const char *a, const char *b)
{
	size_t	 la = strlen(a);

	return strncmp(a, b, la) == 0 && (b[la] == '\0' || b[la] == '/');
}

int
value_shared(const char *s, struct config_list *l, char *err, size_t errlen)
{
	const char	*p = s;
	char		*norm;
	size_t		 wlen, i;
	int		 dup;

	for (;;) {
		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		wlen = strcspn(p, " \t");
		if (value_shared_one(p, wlen, &norm, err, errlen) == -1)
			return -1;
		dup = 0;
		for (i = 0; i < l->n; i++) {
			if (strcmp(l->v[i], norm) == 0) {
				dup = 1;
				break;
			}
			/* A link inside a linked directory would write
			 * through it into shared/. */
			if (value_path_covers(l->v[i], norm) ||
			    value_path_covers(norm, l->v[i])) {
				value_fail(err, errlen, "shared path '%s' "
				    "overlaps shared path '%s' (list only the "
				    "outer one)", norm, l->v[i]);
				free(norm);
				return -1;
			}
		}
		if (dup)
			free(norm);
		else if (value_list_add(l, norm, err, errlen) == -1)
			return -1;
		p += wlen;
	}
	return 0;
}

/* Digits only, min..65535. */
static int
value_port(const char *s, long min, int *out)
{
	long	 n;

	if (value_long(s, min, 65535, &n) == -1)
		return -1;
	*out = (int)n;
	return 0;
}

/*
 * The endpoint restarts the service for anyone who has the token and can
 * connect, so it listens on loopback only: the three spellings below and
 * nothing else.
 */
int
value_listen(const char *s, const char **host, int *port, char *err,
    size_t errlen)
{
	static const struct {
		const char	*prefix;
		const char	*host;
	} forms[] = {
		{ "127.0.0.1:", "127.0.0.1" },
		{ "[::1]:", "::1" },
		{ "localhost:", "localhost" },
	};
	size_t	 i, plen;

	for (i = 0; i < NELEM(forms); i++) {
		plen = strlen(forms[i].prefix);
		if (strncmp(s, forms[i].prefix, plen) == 0)
			break;
		/* The host alone: say what is missing. */
		if (strncmp(s, forms[i].prefix, plen - 1) == 0 &&
		    s[plen - 1] == '\0')
			return value_fail(err, errlen, "listen '%s' has no "
			    "port (use HOST:PORT, such as 127.0.0.1:8421)", s);
	}
	if (i == NELEM(forms))
		return value_fail(err, errlen, "listen '%s' is not a loopback "
		    "address (use 127.0.0.1, [::1] or localhost)", s);
	if (value_port(s + plen, 0, port) == -1)
		return value_fail(err, errlen,
		    "listen '%s' has a bad port (use 0 to 65535)", s);
	*host = forms[i].host;
	return 0;
}

/*
 * HOST:PORT for ready: an IPv6 literal in brackets, or an IPv4 literal or
 * host name.  defport < 0 makes the port required.  *host is allocated.
 * Returns -2 when out of memory.
 */
static int
value_hostport(const char *s, size_t len, int defport, char **host,
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
		if (value_port(portbuf, 1, port) == -1)
			return -1;
	} else if (defport < 0)
		return -1;
	else
		*port = defport;
	if ((*host = strndup(h, hlen)) == NULL)
		return -2;
	return 0;
}

int
value_ready(const char *s, enum config_ready *kind, char **host, int *port,
    char **path, char *err, size_t errlen)
{
	const char	*hp, *slash;
	char		*h = NULL, *pa = NULL;
	int		 po = 0, rc;
	enum config_ready k;

	if (strcmp(s, "none") == 0) {
		*kind = READY_NONE;
		*host = NULL;
		*port = 0;
		*path = NULL;
		return 0;
	}
	if (strcmp(s, "notify") == 0) {
		*kind = READY_NOTIFY;
		*host = NULL;
		*port = 0;
		*path = NULL;
		return 0;
	}
	if (strncmp(s, "tcp:", 4) == 0) {
		k = READY_TCP;
		hp = s + 4;
		rc = value_hostport(hp, strlen(hp), -1, &h, &po);
	} else if (strncmp(s, "http://", 7) == 0) {
		k = READY_HTTP;
		hp = s + 7;
		if ((slash = strchr(hp, '/')) == NULL)
			slash = hp + strlen(hp);
		rc = value_hostport(hp, (size_t)(slash - hp), 80, &h, &po);
		/* The path goes into a request line: no spaces or '#'. */
		if (rc == 0 && strpbrk(slash, " \t#") != NULL)
			rc = -1;
		if (rc == 0 && (pa = strdup(*slash ? slash : "/")) == NULL)
			rc = -2;
	} else
		return value_fail(err, errlen, "ready '%s' must be none, "
		    "notify, tcp:HOST:PORT or http://HOST:PORT/PATH", s);
	if (rc == -2) {
		free(h);
		return value_fail(err, errlen, "%s", strerror(errno));
	}
	if (rc == -1) {
		free(h);
		free(pa);
		return value_fail(err, errlen, "ready '%s' is not %s "
		    "(port 1 to 65535)", s, k == READY_TCP ?
		    "tcp:HOST:PORT" : "http://HOST:PORT/PATH");
	}
	*kind = k;
	*host = h;
	*port = po;
	*path = pa;
	return 0;
}

/*
 * [service] listen: the service's public sockets, any address.  Each word
 * is IPV4:PORT, [IPV6]:PORT (literals: the agent binds them before any
 * name service is trusted) or unix:/ABSOLUTE/PATH.  Stored as written.
 */
int
value_service_listen(const char *s, struct config_list *l, char *err,
    size_t errlen)
{
	const char	*p = s, *colon;
	char		*word, host[64];
	unsigned char	 addr[16];
	size_t		 wlen, i;
	int		 port, v6;

	for (;;) {
		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		wlen = strcspn(p, " \t");
		if ((word = strndup(p, wlen)) == NULL)
			return value_fail(err, errlen, "%s", strerror(errno));
		p += wlen;
		for (i = 0; i < l->n; i++)
			if (strcmp(l->v[i], word) == 0) {
				value_fail(err, errlen, "listen '%s' is given "
				    "twice", word);
				free(word);
				return -1;
			}
		if (strncmp(word, "unix:", 5) == 0) {
			if (word[5] != '/' || strlen(word + 5) >= 108 ||
			    strstr(word, "/../") != NULL) {
				value_fail(err, errlen, "listen '%s' is not "
				    "unix:/ABSOLUTE/PATH (at most 107 bytes)",
				    word);
				free(word);
				return -1;
			}
			if (value_list_add(l, word, err, errlen) == -1)
				return -1;
			continue;
		}
		v6 = word[0] == '[';
		colon = v6 ? strstr(word, "]:") : strrchr(word, ':');
		if (colon == NULL || (size_t)(colon - word) >= sizeof(host) ||
		    value_port(colon + (v6 ? 2 : 1), 1, &port) == -1) {
			value_fail(err, errlen, "listen '%s' is not ADDR:PORT "
			    "(such as 0.0.0.0:80, [::]:80, 127.0.0.1:8000) or "
			    "unix:/PATH", word);
			free(word);
			return -1;
		}
		memcpy(host, word + v6, (size_t)(colon - word - v6));
		host[colon - word - v6] = '\0';
		if (inet_pton(v6 ? AF_INET6 : AF_INET, host, addr) != 1) {
			value_fail(err, errlen, "listen '%s': '%s' is not an "
			    "IP%s address (names are not looked up here)",
			    word, host, v6 ? "v6" : "v4");
			free(word);
			return -1;
		}
		if (value_list_add(l, word, err, errlen) == -1)
			return -1;
	}
	if (l->n == 0)
		return value_fail(err, errlen, "listen names no address");
	return 0;
}

int
value_restart(const char *s, enum config_restart *out)
{
	if (strcmp(s, "overlap") == 0)
		*out = RESTART_OVERLAP;
	else if (strcmp(s, "stop-first") == 0)
		*out = RESTART_STOP_FIRST;
	else
		return -1;
	return 0;
}

int
value_environment(const char *s, struct config_list *l, char *err,
    size_t errlen)
{
	const char	*p = s, *eq;
	char		*entry;
	size_t		 wlen, klen, i;

	for (;;) {
		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		wlen = strcspn(p, " \t");
		eq = memchr(p, '=', wlen);
		if (eq == NULL)
			return value_fail(err, errlen, "environment entry "
			    "'%.*s' is not KEY=VALUE", (int)wlen, p);
		klen = (size_t)(eq - p);
		if (klen == 0 || isdigit((unsigned char)p[0]) ||
		    strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789_") != klen)
			return value_fail(err, errlen, "environment name "
			    "'%.*s' is not valid (use A-Z a-z 0-9 _, not "
			    "starting with a digit)", (int)klen, p);
		if (klen >= 9 && strncmp(p, "REDEPLOY_", 9) == 0)
			return value_fail(err, errlen, "environment must not "
			    "set '%.*s' (redeploy sets REDEPLOY_ variables "
			    "itself)", (int)klen, p);
		for (i = 0; i < l->n; i++)
			if (strncmp(l->v[i], p, klen + 1) == 0)
				return value_fail(err, errlen,
				    "environment sets '%.*s' twice",
				    (int)klen, p);
		if ((entry = strndup(p, wlen)) == NULL)
			return value_fail(err, errlen, "%s", strerror(errno));
		if (value_list_add(l, entry, err, errlen) == -1)
			return -1;
		p += wlen;
	}
	return 0;
}

/* The names config.h gives the scalar parsers, for the unit tests and the
 * command line. */
int
config_parse_mode(const char *s, mode_t max, mode_t *out)
{
	return value_mode(s, max, out);
}

int
config_parse_seconds(const char *s, double max, double *out)
{
	return value_seconds(s, max, out);
}

int
config_parse_bool(const char *s, int *out)
{
	return value_bool(s, out);
}

int
config_parse_signal(const char *s, int *out)
{
	return value_signal(s, out);
}
