/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * probe.c - is the service ready: `tcp:HOST:PORT` connects, or
 * `http://HOST:PORT/PATH` answers 2xx.
 *
 * Non-blocking, driven by the loop: an attempt every few milliseconds at
 * first (restart latency is our overhead), then less often.  The caller
 * owns the deadline (ready_timeout); a probe only ever reports success.
 *
 * An answer counts only when it comes from the start being probed (tree.c):
 * an old process, or one a setsid left behind, may hold the port.  For
 * tcp: the listening socket's inode must be among the new processes' fds.
 * For http the socket may be one the agent holds and both the old and
 * the new process accept on (restart = overlap), so the probe writes its
 * request but the blank line that ends it, looks up who accepted the
 * connection (the inode of the server's end, from /proc/net/tcp), and
 * finishes the request only when that is a new process; otherwise it
 * hangs up and tries again.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "redeployd.h"

#define PROBE_FAST	0.003	/* seconds between attempts, at first */
#define PROBE_SLOW	0.05
#define PROBE_FASTFOR	2.0	/* seconds of fast attempts */
#define PROBE_DRAIN_MAX	(256 * 1024)	/* of a body, then enough */

struct probe {
	struct loop	*loop;
	enum config_ready kind;		/* copies: a reload frees the config */
	int		 port;
	char		 host[64];
	char		 path[256];
	probe_cb	 done;
	void		*arg;
	struct sockaddr_storage addr;
	socklen_t	 addrlen;
	struct loop_timer timer;
	double		 started;
	int		 fd;
	int		 sent;		/* http: 1 all but the end, 2 all */
	struct tree	*tree;		/* the start whose answer counts */
	int		 steered;	/* connect from 127.0.0.2 (sockets.c) */
	int		 lport;		/* http: our end's port */
	double		 asked;		/* http: when the request went out */
	int		 status;	/* http: 0 unread, 1 not 2xx, 2 2xx */
	size_t		 drained;	/* bytes of the body read */
	char		 buf[64];
	size_t		 len;
};

static void probe_attempt(void *arg);
static void probe_whose(void *arg);
static int probe_local_port(struct probe *p);

static void
probe_close(struct probe *p)
{
	if (p->fd != -1) {
		loop_del(p->loop, p->fd);
		close(p->fd);
		p->fd = -1;
	}
	p->sent = 0;
	p->status = 0;
	p->drained = 0;
	p->len = 0;
}

static void
probe_again(struct probe *p)
{
	probe_close(p);
	loop_timer_set(p->loop, &p->timer, loop_now() - p->started <
	    PROBE_FASTFOR ? PROBE_FAST : PROBE_SLOW, probe_attempt, p);
}

static void
probe_ok(struct probe *p)
{
	probe_close(p);
	p->done(p->arg, 1);
}

static void
probe_io(void *arg, uint32_t events)
{
	struct probe *p = arg;
	char req[512];
	int err = 0, len;
	socklen_t elen = sizeof(err);
	ssize_t n;

	if (!p->sent) {
		if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &elen) == -1 ||
		    err != 0) {
			probe_again(p);
			return;
		}
		if (p->kind == READY_TCP) {
			if (p->tree != NULL)
				(void)tree_scan(p->tree);
			if (p->tree == NULL ||
			    tree_holds_listener(p->tree, p->port))
				probe_ok(p);
			else
				probe_again(p);
			return;
		}
		len = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: "
		    "%s:%d\r\nUser-Agent: redeployd\r\n", p->path,
		    p->host, p->port);
		if (len < 0 || (size_t)len >= sizeof(req) ||
		    send(p->fd, req, (size_t)len, MSG_NOSIGNAL) != len ||
		    probe_local_port(p) == -1) {
			probe_again(p);
			return;
		}
		p->sent = 1;
		p->asked = loop_now();
		loop_mod(p->loop, p->fd, EPOLLIN, probe_io, p);
		loop_timer_set(p->loop, &p->timer, 0.001, probe_whose, p);
		return;
	}
	if (p->sent == 1) {
		/* the server spoke or hung up before the request ended */
		probe_again(p);
		return;
	}
	n = recv(p->fd, p->buf + p->len, sizeof(p->buf) - 1 - p->len, 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == 0 && p->status == 2) {
		probe_ok(p);	/* 2xx, and the server closed: ready */
		return;
	}
	if (n <= 0) {
		probe_again(p);
		return;
	}
	if (p->status == 0) {
		p->len += (size_t)n;
		p->buf[p->len] = '\0';
		if (strchr(p->buf, '\n') == NULL && p->len < sizeof(p->buf) - 1)
			return;
		/* "HTTP/1.x 2NN ..." */
		p->status = strncmp(p->buf, "HTTP/1.", 7) == 0 &&
		    p->len >= 12 && p->buf[8] == ' ' && p->buf[9] == '2' ? 2 : 1;
		p->len = 0;
	}
	/* Read the answer to its end: a server whose client hangs up early
	 * may log an error for it (Python prints a traceback). */
	if (p->status == 1)
		probe_again(p);
	else if ((p->drained += (size_t)n) > PROBE_DRAIN_MAX)
		probe_ok(p);
}

static int
probe_local_port(struct probe *p)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(p->fd, (struct sockaddr *)&ss, &len) == -1)
		return -1;
	p->lport = ntohs(ss.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

/* http: who accepted our connection?  The new start: finish the request. */
static void
probe_whose(void *arg)
{
	struct probe *p = arg;
	unsigned long ino;

	ino = tree_tcp_inode(p->port, p->lport);
	if (ino != 0 && p->tree != NULL)
		(void)tree_scan(p->tree);
	if (ino != 0 && (p->tree == NULL || tree_holds_inode(p->tree, ino))) {
		if (send(p->fd, "\r\n", 2, MSG_NOSIGNAL) != 2) {
			probe_again(p);
			return;
		}
		p->sent = 2;
		return;
	}
	if (ino != 0 || loop_now() - p->asked > 1.0) {
		/* an old process has it, or nobody takes it: again */
		probe_again(p);
		return;
	}
	loop_timer_set(p->loop, &p->timer, 0.002, probe_whose, p);
}

static void
probe_attempt(void *arg)
{
	struct probe *p = arg;

	p->fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (p->fd == -1) {
		probe_again(p);
		return;
	}
	if (p->steered && p->addr.ss_family == AF_INET) {
		struct sockaddr_in from = { .sin_family = AF_INET };

		from.sin_addr.s_addr = htonl(0x7f000002);
		if (bind(p->fd, (struct sockaddr *)&from, sizeof(from)) == -1) {
			probe_again(p);
			return;
		}
	}
	if (connect(p->fd, (struct sockaddr *)&p->addr, p->addrlen) == -1 &&
	    errno != EINPROGRESS) {
		probe_again(p);
		return;
	}
	if (loop_add(p->loop, p->fd, EPOLLOUT, probe_io, p) == -1)
		probe_again(p);
}

static int
probe_addr(struct probe *p, char *err, size_t n)
{
	const char *host = p->host;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&p->addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&p->addr;

	memset(&p->addr, 0, sizeof(p->addr));
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)p->port);
		p->addrlen = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)p->port);
		p->addrlen = sizeof(*in6);
		return 0;
	}
	snprintf(err, n, "ready host '%s' is not an IP address", host);
	return -1;
}

/* READY_NONE is ready at once: the caller does not probe then. */
int
probe_start(struct probe **out, struct loop *l, const struct config *cfg,
    struct tree *t, int steered, probe_cb done, void *arg, char *err,
    size_t n)
{
	struct probe *p;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, n, "out of memory");
		return -1;
	}
	p->loop = l;
	p->kind = cfg->ready;
	p->port = cfg->ready_port;
	snprintf(p->host, sizeof(p->host), "%s", cfg->ready_host ?
	    cfg->ready_host : "");
	snprintf(p->path, sizeof(p->path), "%s", cfg->ready_path ?
	    cfg->ready_path : "/");
	p->done = done;
	p->arg = arg;
	p->fd = -1;
	p->tree = t;
	p->steered = steered;
	p->started = loop_now();
	if (probe_addr(p, err, n) == -1) {
		free(p);
		return -1;
	}
	loop_timer_set(l, &p->timer, PROBE_FAST, probe_attempt, p);
	*out = p;
	return 0;
}

void
probe_cancel(struct probe *p)
{
	if (p == NULL)
		return;
	probe_close(p);
	loop_timer_cancel(p->loop, &p->timer);
	free(p);
}
