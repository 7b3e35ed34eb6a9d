/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * logfmt.c - the text of log lines: strict key=value events, and messages
 * with their control bytes made visible.
 *
 * An event line is `NAME key=value key=value ...`.  NAME and the keys come
 * from the caller's format string, a literal in our code; every value is
 * built from the format's conversions and then written bare when it is
 * made only of printable ASCII other than `"`, `\` and `=`, and quoted
 * otherwise, with `"` and `\` escaped and every other byte outside
 * printable ASCII written as \n, \r, \t or \xHH.  So nothing a value holds
 * (a pushed file name, a service's words) can end the line, add a field
 * or hide one.  A line that does not fit is cut between fields, never
 * inside a quoted value.  Nothing here allocates or touches errno.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include "log.h"

#define LOGFMT_RAWMAX	1024	/* one value before escaping */

static int
logfmt_is_key_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

static int
logfmt_is_bare(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '=';
}

int
logfmt_needs_quotes(const char *val)
{
	const unsigned char *p = (const unsigned char *)val;

	if (*p == '\0')
		return 1;
	for (; *p != '\0'; p++)
		if (!logfmt_is_bare(*p))
			return 1;
	return 0;
}

/* The escape of one byte inside quotes, in out (at most 5 bytes). */
static size_t
logfmt_escape_byte(unsigned char c, char *out)
{
	static const char hex[] = "0123456789abcdef";

	switch (c) {
	case '"':
	case '\\':
		out[0] = '\\';
		out[1] = (char)c;
		return 2;
	case '\n':
		memcpy(out, "\\n", 2);
		return 2;
	case '\r':
		memcpy(out, "\\r", 2);
		return 2;
	case '\t':
		memcpy(out, "\\t", 2);
		return 2;
	}
	if (c >= 0x20 && c < 0x7f) {
		out[0] = (char)c;
		return 1;
	}
	out[0] = '\\';
	out[1] = 'x';
	out[2] = hex[c >> 4];
	out[3] = hex[c & 0xf];
	return 4;
}

/*
 * Append VAL as one value at dst[*at], dst holding n bytes.  Returns 0, or
 * -1 when it did not fit whole: then a quoted value is cut at an escape
 * boundary and closed with `..."`, so the line still parses.
 */
int
logfmt_value(char *dst, size_t n, size_t *at, const char *val)
{
	const unsigned char *p = (const unsigned char *)val;
	char esc[8];
	size_t len, k = *at;

	if (n == 0 || k >= n)
		return -1;
	if (!logfmt_needs_quotes(val)) {
		len = strlen(val);
		if (k + len + 1 > n)
			goto cut;
		memcpy(dst + k, val, len + 1);
		*at = k + len;
		return 0;
	}
	/* room for the opening quote, the cut marker, the close and NUL */
	if (k + 6 > n)
		goto nothing;
	dst[k++] = '"';
	for (; *p != '\0'; p++) {
		len = logfmt_escape_byte(*p, esc);
		if (k + len + 2 > n || (p[1] != '\0' && k + len + 5 > n))
			break;
		memcpy(dst + k, esc, len);
		k += len;
	}
	if (*p != '\0') {
		memcpy(dst + k, "...", 3);
		k += 3;
	}
	dst[k++] = '"';
	dst[k] = '\0';
	*at = k;
	return *p == '\0' ? 0 : -1;
cut:
	/* a bare value that does not fit: quote what fits */
	if (k + 6 > n)
		goto nothing;
	dst[k++] = '"';
	len = n - k - 5;
	memcpy(dst + k, val, len);
	k += len;
	memcpy(dst + k, "...\"", 5);
	*at = k + 4;
	return -1;
nothing:
	dst[*at] = '\0';
	return -1;
}

/* Append raw text to a value under construction (truncating). */
static void
logfmt_raw_add(char *raw, size_t *rl, const char *s, size_t len)
{
	if (*rl + len >= LOGFMT_RAWMAX)
		len = LOGFMT_RAWMAX - 1 - *rl;
	memcpy(raw + *rl, s, len);
	*rl += len;
	raw[*rl] = '\0';
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
/*
 * Expand the one conversion at *fp (just past '%') into raw, taking its
 * argument from ap; *fp moves past it.  The caller's format was checked
 * by the compiler (format attribute), so the types match.
 */
static void
logfmt_conv(const char **fp, va_list *ap, char *raw, size_t *rl)
{
	const char *f = *fp, *start = f - 1;
	char spec[32], tmp[LOGFMT_RAWMAX];
	int len = 0, w = 0, prec = 0, have_w = 0, have_prec = 0;
	size_t sl;

	tmp[0] = '\0';
	if (*f == '%') {
		*fp = f + 1;
		logfmt_raw_add(raw, rl, "%", 1);
		return;
	}
	while (*f != '\0' && strchr("-+ #0", *f) != NULL)
		f++;
	if (*f == '*') {
		w = va_arg(*ap, int);
		have_w = 1;
		f++;
	} else
		while (*f >= '0' && *f <= '9')
			f++;
	if (*f == '.') {
		f++;
		if (*f == '*') {
			prec = va_arg(*ap, int);
			have_prec = 1;
			f++;
		} else
			while (*f >= '0' && *f <= '9')
				f++;
	}
	/* length: 1 h, 2 hh, 3 l, 4 ll, 5 z, 6 j, 7 t, 8 L */
	if (f[0] == 'h' && f[1] == 'h')
		len = 2, f += 2;
	else if (f[0] == 'l' && f[1] == 'l')
		len = 4, f += 2;
	else if (*f == 'h')
		len = 1, f++;
	else if (*f == 'l')
		len = 3, f++;
	else if (*f == 'z')
		len = 5, f++;
	else if (*f == 'j')
		len = 6, f++;
	else if (*f == 't')
		len = 7, f++;
	else if (*f == 'L')
		len = 8, f++;
	if (*f == '\0' || (size_t)(f - start) + 2 > sizeof(spec)) {
		*fp = f;
		return;
	}
	sl = (size_t)(f - start) + 1;
	memcpy(spec, start, sl);
	spec[sl] = '\0';
	*fp = f + 1;

#define LOGFMT_PUT(type) do {						\
	type v_ = va_arg(*ap, type);					\
	if (have_w && have_prec)					\
		snprintf(tmp, sizeof(tmp), spec, w, prec, v_);		\
	else if (have_w)						\
		snprintf(tmp, sizeof(tmp), spec, w, v_);		\
	else if (have_prec)						\
		snprintf(tmp, sizeof(tmp), spec, prec, v_);		\
	else								\
		snprintf(tmp, sizeof(tmp), spec, v_);			\
} while (0)

	switch (*f) {
	case 'd':
	case 'i':
	case 'c':
		if (len == 3 && *f != 'c')
			LOGFMT_PUT(long);
		else if (len == 4)
			LOGFMT_PUT(long long);
		else if (len == 5)
			LOGFMT_PUT(ptrdiff_t);	/* ssize_t's size */
		else if (len == 6)
			LOGFMT_PUT(intmax_t);
		else if (len == 7)
			LOGFMT_PUT(ptrdiff_t);
		else if (len == 3)
			LOGFMT_PUT(wint_t);
		else
			LOGFMT_PUT(int);
		break;
	case 'u':
	case 'x':
	case 'X':
	case 'o':
		if (len == 3)
			LOGFMT_PUT(unsigned long);
		else if (len == 4)
			LOGFMT_PUT(unsigned long long);
		else if (len == 5)
			LOGFMT_PUT(size_t);
		else if (len == 6)
			LOGFMT_PUT(uintmax_t);
		else if (len == 7)
			LOGFMT_PUT(size_t);
		else
			LOGFMT_PUT(unsigned int);
		break;
	case 'f':
	case 'F':
	case 'e':
	case 'E':
	case 'g':
	case 'G':
	case 'a':
	case 'A':
		if (len == 8)
			LOGFMT_PUT(long double);
		else
			LOGFMT_PUT(double);
		break;
	case 's':
		if (len == 3)
			LOGFMT_PUT(const wchar_t *);
		else {
			const char *s_ = va_arg(*ap, const char *);

			if (s_ == NULL)
				s_ = "(null)";
			if (have_w && have_prec)
				snprintf(tmp, sizeof(tmp), spec, w, prec, s_);
			else if (have_w)
				snprintf(tmp, sizeof(tmp), spec, w, s_);
			else if (have_prec)
				snprintf(tmp, sizeof(tmp), spec, prec, s_);
			else
				snprintf(tmp, sizeof(tmp), spec, s_);
		}
		break;
	case 'p':
		LOGFMT_PUT(void *);
		break;
	default:
		break;
	}
#undef LOGFMT_PUT
	logfmt_raw_add(raw, rl, tmp, strlen(tmp));
}
#pragma GCC diagnostic pop

/* Copy a name or key from the format, any other byte becoming '_'. */
static size_t
logfmt_ident(char *dst, size_t n, size_t k, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len && k + 1 < n; i++)
		dst[k++] = logfmt_is_key_char((unsigned char)s[i]) ? s[i] :
		    '_';
	dst[k < n ? k : n - 1] = '\0';
	return k;
}

int
logfmt_event(char *dst, size_t n, const char *fmt, va_list ap)
{
	char raw[LOGFMT_RAWMAX];
	const char *f = fmt, *key;
	size_t k = 0, klen, rl, mark;
	va_list aq;
	int rc = 0, quoted;

	if (n == 0)
		return -1;
	dst[0] = '\0';
	va_copy(aq, ap);
	/* the event's name: the first word */
	klen = strcspn(f, " ");
	k = logfmt_ident(dst, n, 0, f, klen ? klen : 0);
	if (klen == 0)
		k = logfmt_ident(dst, n, 0, "event", 5);
	f += klen;
	while (*f != '\0') {
		while (*f == ' ')
			f++;
		if (*f == '\0')
			break;
		key = f;
		klen = strcspn(f, " =");
		f += klen;
		mark = k;
		if (k + 1 < n)
			dst[k++] = ' ';
		k = logfmt_ident(dst, n, k, key, klen);
		if (k + 1 < n)
			dst[k++] = '=';
		dst[k < n ? k : n - 1] = '\0';
		rl = 0;
		raw[0] = '\0';
		if (*f != '=') {
			/* a bare word in the format: a flag */
			logfmt_raw_add(raw, &rl, "1", 1);
		} else {
			f++;
			quoted = *f == '"';
			if (quoted)
				f++;
			while (*f != '\0' && (quoted ? *f != '"' : *f != ' ')) {
				if (*f == '%') {
					f++;
					logfmt_conv(&f, &aq, raw, &rl);
					continue;
				}
				logfmt_raw_add(raw, &rl, f, 1);
				f++;
			}
			if (quoted && *f == '"')
				f++;
		}
		if (k + 1 >= n || logfmt_value(dst, n, &k, raw) == -1) {
			/* cut between fields: this one only if it parses */
			if (k == 0 || dst[k - 1] != '"') {
				k = mark;
				dst[k] = '\0';
			}
			rc = -1;
			break;
		}
	}
	va_end(aq);
	return rc;
}

/*
 * Make control bytes visible for a terminal: C0 controls and DEL as \n,
 * \r, \t or \xHH, C1 controls (raw or UTF-8 encoded) and bytes of no
 * valid UTF-8 sequence as \xHH.  Printable text and UTF-8 pass as they are.
 */
void
logfmt_visible(char *dst, size_t n, const char *src)
{
	const unsigned char *p = (const unsigned char *)src;
	char esc[8];
	size_t k = 0, len, i, need;
	unsigned int cp;

	if (n == 0)
		return;
	while (*p != '\0') {
		need = 0;
		if (*p >= 0xc2 && *p <= 0xdf)
			need = 1;
		else if (*p >= 0xe0 && *p <= 0xef)
			need = 2;
		else if (*p >= 0xf0 && *p <= 0xf4)
			need = 3;
		if (*p >= 0x20 && *p < 0x7f) {
			if (k + 2 > n)
				break;
			dst[k++] = (char)*p++;
			continue;
		}
		if (need > 0) {
			cp = *p & (0x3f >> need);
			for (i = 1; i <= need; i++) {
				if ((p[i] & 0xc0) != 0x80)
					break;
				cp = (cp << 6) | (p[i] & 0x3f);
			}
			if (i > need && !(cp >= 0x80 && cp <= 0x9f) &&
			    !(need == 2 && cp < 0x800) &&
			    !(need == 3 && (cp < 0x10000 || cp > 0x10ffff)) &&
			    !(cp >= 0xd800 && cp <= 0xdfff)) {
				if (k + need + 2 > n)
					break;
				memcpy(dst + k, p, need + 1);
				k += need + 1;
				p += need + 1;
				continue;
			}
		}
		len = logfmt_escape_byte(*p, esc);
		if (k + len + 1 > n)
			break;
		memcpy(dst + k, esc, len);
		k += len;
		p++;
	}
	dst[k] = '\0';
}
