/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * httpcheck.c - refuse a request whose framing or bytes are ambiguous.
 *
 * A request that two parsers could read two ways is never acted on: both
 * Content-Length and Transfer-Encoding, two different lengths, a second
 * Host or Authorization, a second Transfer-Encoding or one other than
 * "chunked", no Host on HTTP/1.1, a control byte (NUL included) in the
 * method, the path or a header, a folded header line.  The caller answers
 * 400 and closes the connection, so whatever follows on it is never read
 * as another request.
 *
 * libmicrohttpd 0.9.75 hands out C strings: a NUL inside a line cuts the
 * string short and the rest of the line is dropped unseen.  It parses the
 * request in place in one read buffer, though, each line ending in one or
 * two bytes it has set to NUL (LF or CRLF), so the string that ends a line
 * ends exactly where the next line begins.  A string that ends early
 * (an embedded NUL), or a header that lives elsewhere (a folded line,
 * copied), breaks that adjacency and is refused.  t2700-smuggling holds
 * us to this for every case above.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <microhttpd.h>

#include "redeployd.h"

struct hdrscan {
	const char	*prev_end;	/* the end of the previous line */
	int		 bad;
	const char	*why;
	int		 host, auth, te, cl;
	char		 cl_value[32];
	int		 cl_differ;
};

/* A line that ended at `end` is followed by its terminator (1 or 2 NULs),
 * then by the next line at `next`. */
static int
httpcheck_adjacent(const char *end, const char *next)
{
	uintptr_t e = (uintptr_t)end, n = (uintptr_t)next;

	if (n == e + 1)
		return 1;
	return n == e + 2 && end[1] == '\0';
}

static int
httpcheck_ctl(const char *s, size_t n, int tab_ok)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && !(tab_ok && c == '\t')) || c == 0x7f)
			return 1;
	}
	return 0;
}

static enum MHD_Result
httpcheck_header(void *cls, enum MHD_ValueKind kind, const char *key,
    size_t key_size, const char *value, size_t value_size)
{
	struct hdrscan *hs = cls;

	if (hs->prev_end != NULL && !httpcheck_adjacent(hs->prev_end, key))
		return hs->why = "malformed header line", hs->bad = 1, MHD_NO;
	if (value == NULL)
		value = "";
	hs->prev_end = value + value_size;
	if (key_size == 0 || httpcheck_ctl(key, key_size, 0) ||
	    memchr(key, ' ', key_size) != NULL ||
	    httpcheck_ctl(value, value_size, 1))
		return hs->why = "control byte in a header", hs->bad = 1,
		    MHD_NO;
	if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0 && hs->host++)
		return hs->why = "two Host headers", hs->bad = 1, MHD_NO;
	if (strcasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION) == 0 && hs->auth++)
		return hs->why = "two Authorization headers", hs->bad = 1,
		    MHD_NO;
	if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		if (hs->te++ || strcasecmp(value, "chunked") != 0)
			return hs->why = "unusable Transfer-Encoding",
			    hs->bad = 1, MHD_NO;
	}
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		if (hs->cl++ && strcmp(hs->cl_value, value) != 0)
			return hs->why = "two different Content-Length "
			    "values", hs->bad = 1, MHD_NO;
		if (value_size >= sizeof(hs->cl_value))
			return hs->why = "bad Content-Length", hs->bad = 1,
			    MHD_NO;
		memcpy(hs->cl_value, value, value_size + 1);
	}
	return MHD_YES;
}

/* The raw request target, before libmicrohttpd splits and unescapes it:
 * 0, 400 (a control byte, raw or %-escaped, or a space) or 414. */
int
httpcheck_uri(const char *uri, size_t max)
{
	size_t i, n = strlen(uri);

	if (n > max)
		return 414;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)uri[i];

		if (c <= 0x20 || c >= 0x7f)
			return 400;
		if (c == '%' && (uri[i + 1] == '0' || uri[i + 1] == '1'))
			return 400;	/* %00-%1f */
		if (c == '%' && uri[i + 1] == '7' && (uri[i + 2] == 'f' ||
		    uri[i + 2] == 'F'))
			return 400;
	}
	return 0;
}

/*
 * The whole request head: 0 to go on, or 400 with *why set.  method and
 * version are the handler's arguments; uri_end is where the raw target
 * ended when libmicrohttpd logged it (before it cut it up).
 */
int
httpcheck_head(struct MHD_Connection *c, const char *method,
    const char *uri, const char *uri_end, const char *version,
    const char **why)
{
	struct hdrscan hs;

	memset(&hs, 0, sizeof(hs));
	if (uri != NULL && uri_end != NULL && version != NULL &&
	    (!httpcheck_adjacent(method + strlen(method), uri) ||
	    (uintptr_t)uri_end + 1 != (uintptr_t)version)) {
		*why = "control byte in the request line";
		return 400;
	}
	if (version != NULL && *version != '\0')
		hs.prev_end = version + strlen(version);
	MHD_get_connection_values_n(c, MHD_HEADER_KIND, httpcheck_header, &hs);
	if (!hs.bad && hs.prev_end != NULL && hs.prev_end[1] != '\0') {
		/* The last line ended early (bytes after a NUL): it is
		 * followed by its terminator and the empty line's, all NUL. */
		hs.bad = 1;
		hs.why = "control byte in a header";
	}
	if (!hs.bad && hs.te && hs.cl)
		hs.bad = 1, hs.why = "both Content-Length and "
		    "Transfer-Encoding";
	if (!hs.bad && !hs.host && version != NULL &&
	    strcmp(version, MHD_HTTP_VERSION_1_1) == 0)
		hs.bad = 1, hs.why = "no Host header";
	if (!hs.bad)
		return 0;
	*why = hs.why;
	return 400;
}
