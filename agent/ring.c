/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * ring.c - the last lines the service wrote, for /log and /restart answers.
 *
 * Raw pipe bytes are cut into lines per stream; a line longer than
 * RING_LINE_MAX is split; bytes that are not printable ASCII become "\xNN"
 * (so a line is always valid UTF-8 for JSON and one line in syslog).  The
 * ring holds a fixed number of lines and overwrites the oldest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redeployd.h"

struct ring_part {
	char	 buf[RING_LINE_MAX + 1];
	size_t	 len;
};

struct ring {
	char		**lines;
	size_t		 cap, head, count;
	size_t		 total;		/* lines ever pushed */
	struct ring_part part[2];
};

struct ring *
ring_new(size_t lines)
{
	struct ring *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if ((r->lines = calloc(lines, sizeof(char *))) == NULL) {
		free(r);
		return NULL;
	}
	r->cap = lines;
	return r;
}

void
ring_free(struct ring *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->cap; i++)
		free(r->lines[i]);
	free(r->lines);
	free(r);
}

static void
ring_push(struct ring *r, enum ring_stream s, ring_line_cb cb, void *arg)
{
	struct ring_part *p = &r->part[s];
	char *line;

	p->buf[p->len] = '\0';
	if ((line = strdup(p->buf)) != NULL) {
		free(r->lines[r->head]);
		r->lines[r->head] = line;
		r->head = (r->head + 1) % r->cap;
		if (r->count < r->cap)
			r->count++;
		r->total++;
	}
	if (cb != NULL)
		cb(arg, s, p->buf);
	p->len = 0;
}

/* Append one byte, escaped if need be; a full line is pushed first. */
static void
ring_put(struct ring *r, enum ring_stream s, unsigned char c, ring_line_cb cb,
    void *arg)
{
	struct ring_part *p = &r->part[s];
	char esc[5];
	size_t n = 1;

	if (c == '\t' || (c >= 0x20 && c < 0x7f))
		esc[0] = (char)c;
	else
		n = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", c);
	if (p->len + n > RING_LINE_MAX)
		ring_push(r, s, cb, arg);
	memcpy(p->buf + p->len, esc, n);
	p->len += n;
}

void
ring_feed(struct ring *r, enum ring_stream s, const char *buf, size_t len,
    ring_line_cb cb, void *arg)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (buf[i] == '\n') {
			ring_push(r, s, cb, arg);
			continue;
		}
		if (buf[i] == '\r' && (i + 1 == len || buf[i + 1] == '\n'))
			continue;
		ring_put(r, s, (unsigned char)buf[i], cb, arg);
	}
}

void
ring_flush(struct ring *r, enum ring_stream s, ring_line_cb cb, void *arg)
{
	if (r->part[s].len > 0)
		ring_push(r, s, cb, arg);
}

size_t
ring_total(const struct ring *r)
{
	return r->total;
}

size_t
ring_count(const struct ring *r)
{
	return r->count;
}

const char *
ring_line(const struct ring *r, size_t back)
{
	if (back >= r->count)
		return NULL;
	return r->lines[(r->head + r->cap - 1 - back) % r->cap];
}
