/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * fuzz_http.c - libFuzzer target: the endpoint's request handling on a
 * real libmicrohttpd daemon (agent/http.c and httpcheck.c as redeployd
 * runs them, in its own loop).  Each input is the bytes one client sends
 * on one connection, then it half-closes; the loop runs until the agent
 * has closed, or nothing new came for a few turns, or a bounded number.  The service is
 * a stub that is always ready; a restart answers on the next loop turn
 * (the connection is suspended and resumed, as for real).  The token is
 * 64 'a's, so the seed corpus can hold authorised requests.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "log.h"
#include "redeployd.h"
#include "token.h"

#define FUZZ_TURNS	400
#define FUZZ_QUIET	4	/* turns with nothing new: answered */

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* --- a service that is always ready ------------------------------------ */

struct svc {
	struct loop	*loop;
	struct ring	*ring;
	struct loop_timer timer;
	svc_done_cb	 cb;
	void		*arg;
	long		 restarts;
};

static struct svc fuzz_svc;
static struct loop *fuzz_loop;
static struct http *fuzz_http;
static int fuzz_port;

static void
fuzz_restarted(void *arg)
{
	struct svc *s = arg;
	struct svc_result res;
	svc_done_cb cb = s->cb;

	memset(&res, 0, sizeof(res));
	res.ok = (s->restarts & 1) == 0;
	res.pid = 4242;
	res.ready_ms = 12;
	res.mark = ring_total(s->ring);
	snprintf(res.release, sizeof(res.release), "20261123T151501Z-abcdef0");
	snprintf(res.commit, sizeof(res.commit), "%040d", 0);
	if (!res.ok)
		snprintf(res.error, sizeof(res.error), "not ready");
	s->cb = NULL;
	if (cb != NULL)
		cb(s->arg, &res);
}

int
svc_restart(struct svc *s, svc_done_cb cb, void *arg)
{
	if (s->cb != NULL) {	/* one in flight: the stub answers it now */
		loop_timer_cancel(s->loop, &s->timer);
		fuzz_restarted(s);
	}
	s->cb = cb;
	s->arg = arg;
	s->restarts++;
	loop_timer_set(s->loop, &s->timer, 0, fuzz_restarted, s);
	return 0;
}

void
svc_status(const struct svc *s, struct svc_status *st)
{
	memset(st, 0, sizeof(*st));
	st->state = SVC_READY;
	st->pid = 4242;
	st->uptime = 1.5;
	st->restarts = s->restarts;
	snprintf(st->release, sizeof(st->release), "r");
	snprintf(st->commit, sizeof(st->commit), "c");
}

const struct ring *
svc_ring(const struct svc *s)
{
	return s->ring;
}

const struct ring *
svc_fresh_ring(const struct svc *s)
{
	return s->ring;
}

const char *
svc_state_name(enum svc_state st)
{
	return st == SVC_READY ? "ready" : "other";
}

static void
fuzz_line(void *arg, enum ring_stream s, const char *line)
{
}

/* --- the harness ------------------------------------------------------- */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct config cfg;
	char err[256], token[TOKEN_HEXLEN + 1];
	int lfd;

	log_init("fuzz_http", "fuzz_http", LOG_TO_SYSLOG, 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.listen = (char *)(uintptr_t)"127.0.0.1:0";
	cfg.listen_host = (char *)(uintptr_t)"127.0.0.1";
	cfg.listen_port = 0;
	memset(token, 'a', TOKEN_HEXLEN);
	token[TOKEN_HEXLEN] = '\0';
	if ((fuzz_loop = loop_new()) == NULL)
		abort();
	fuzz_svc.loop = fuzz_loop;
	fuzz_svc.ring = ring_new(RING_LINES);
	ring_feed(fuzz_svc.ring, RING_STDOUT, "one\ntwo\n", 8, fuzz_line, NULL);
	if ((lfd = http_listen(&cfg, &fuzz_port, err, sizeof(err))) == -1 ||
	    (fuzz_http = http_new(fuzz_loop, lfd, token, &fuzz_svc, &cfg, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz_http: %s\n", err);
		abort();
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in sin;
	char buf[65536];
	size_t off = 0;
	ssize_t n;
	int fd, turn, closed = 0, wrote_all = 0, got, quiet = 0;

	if (size > 64 * 1024)
		return 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)fuzz_port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		abort();
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 &&
	    errno != EINPROGRESS)
		abort();
	for (turn = 0; turn < FUZZ_TURNS && !closed; turn++) {
		if (!wrote_all) {
			n = send(fd, data + off, size - off, MSG_NOSIGNAL);
			if (n > 0)
				off += (size_t)n;
			if (off == size || (n == -1 && errno != EAGAIN &&
			    errno != ENOTCONN)) {
				wrote_all = 1;
				(void)shutdown(fd, SHUT_WR);
			}
		}
		if (loop_once(fuzz_loop, 2) == -1)
			abort();
		got = 0;
		for (;;) {
			n = recv(fd, buf, sizeof(buf), 0);
			if (n > 0) {
				got = 1;
				continue;
			}
			if (n == 0 || (errno != EAGAIN && errno != EINTR))
				closed = 1;
			break;
		}
		/* A keep-alive answer: libmicrohttpd would wait for its
		 * timeout; a few quiet turns after everything is sent do. */
		quiet = got || !wrote_all ? 0 : quiet + 1;
		if (quiet > FUZZ_QUIET)
			break;
	}
	close(fd);
	/* let the agent see the close and free the connection */
	for (turn = 0; turn < 4; turn++)
		loop_once(fuzz_loop, 0);
	return 0;
}
