/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * http.c - the loopback endpoint, libmicrohttpd in our own epoll loop.
 *
 * It does one thing: restart the configured command, and report.  Checks,
 * in order, on the headers alone: a foreign Host or any Origin (403), an
 * unknown path (404), a wrong method (405), a missing or wrong bearer
 * token (bare 401, compared in constant time), a body over 4 KiB (413).
 * MHD answers 431 for headers over its memory limit.  POST /restart
 * suspends the connection until the new process is ready or failed; the
 * loop never blocks.  Every refusal is logged (peer, method, path, reason,
 * never a token), at most a few lines a second.
 *
 * Before any of that, a request whose framing or bytes are ambiguous gets
 * 400 and the connection is closed (httpcheck.c): nothing after it on the
 * same connection is ever read as a request.
 *
 * Nobody can wedge it: connections that are not being answered (a
 * slowloris, an idle keep-alive, a stopped client) are counted per peer
 * address and in all; a new connection over either limit pushes the oldest
 * such connection out, so libmicrohttpd never reaches its own limit and
 * its listen socket stays in its epoll set.  Should it leave the set all
 * the same (the fd limit), MHD_run runs again after every close and at
 * least once a second, which puts it back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "redeployd.h"
#include "token.h"
#include "version.h"

#define HTTP_BODY_MAX		4096
#define HTTP_DRAIN_MAX		(64 * 1024)	/* read before a refusal;
						 * more: the connection drops */
#define HTTP_HEADER_MEM		(16 * 1024)
#define HTTP_URI_MAX		2048	/* longer: 414 */
#define HTTP_TIMEOUT		10	/* seconds of inactivity */
#define HTTP_CONN_MAX		256	/* libmicrohttpd's hard limit */
#define HTTP_CONN_SOFT		224	/* ours: past it, the oldest idle
					 * connection makes room */
#define HTTP_PER_IP_MAX		64	/* connections of one peer */
#define HTTP_RUN_EVERY		1.0	/* seconds: MHD runs at least this
					 * often (it re-arms its listen fd) */
#define HTTP_STUCK		1.0	/* seconds an answer may take before
					 * it can be pushed out at a limit */
#define HTTP_FD_SPARE		40	/* fds kept for the loop, the service's
					 * pipes, probes, logging */
#define HTTP_LOG_LINES		20	/* of output in a /restart answer */
#define HTTP_REFUSALS_LOGGED	10	/* per second; the rest are counted */

/* One accepted connection, from libmicrohttpd's notify callback. */
enum hconn_state { HC_IDLE, HC_ANSWERING, HC_SUSPENDED };
struct hconn {
	struct hconn	*prev, *next;	/* oldest first */
	int		 fd;
	enum hconn_state state;
	double		 since;		/* in this state */
	int		 evicted;	/* shut down; MHD closes it soon */
	struct sockaddr_storage peer;
};

struct http {
	struct loop	*loop;
	struct MHD_Daemon *d;
	struct svc	*svc;
	char		 token[TOKEN_HEXLEN + 1];
	int		 epfd;
	int		 resumed;	/* MHD must run to pick them up */
	int		 closed;	/* a connection closed: run MHD again */
	double		 last_run;
	struct hconn	*head, *tail;
	long		 nconns, evictions;
	long		 conn_max, conn_soft, per_ip;	/* from the fd limit */
	double		 min_interval;	/* restart_min_interval */
	int		 authbind, ready_port;	/* for http_authbind_why */
	enum config_ready ready;
	char		 ready_host[64];
	double		 last_restart;	/* when svc_restart was last asked */
	struct req	*cooling;	/* waiting for min_interval to pass */
	struct loop_timer cool_timer;
	long		 refused_second, refused_logged, refused_quiet;
};

enum req_route { ROUTE_NONE, ROUTE_HEALTH, ROUTE_STATUS, ROUTE_LOG,
    ROUTE_RESTART };

struct req {
	struct http	*h;
	struct MHD_Connection *conn;
	const char	*uri, *uri_end;	/* raw target, in MHD's buffer */
	enum req_route	 route;
	int		 started;	/* the handler saw the headers */
	int		 uri_status;	/* 400 or 414 from the raw URI, or 0 */
	int		 close;		/* answer, then close the connection */
	int		 status;	/* refusal decided, or 0 */
	int		 answered;	/* a response is queued */
	size_t		 body;
	int		 waiting, suspended, done;
	double		 asked;		/* when the request came */
	long		 cooldown_ms;	/* how long it waited for min_interval */
	struct req	*next_cooling;
	struct svc_result res;
};

static void	http_authbind_why(const struct http *h,
		    struct svc_result *res);

static void
http_peer(struct MHD_Connection *c, char *buf, size_t n)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	snprintf(buf, n, "?");
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)
		    (const void *)sa)->sin_addr, buf, (socklen_t)n);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)
		    (const void *)sa)->sin6_addr, buf, (socklen_t)n);
}

/* Printable and short: a path from the network goes into a log line. */
static void
http_clean(char *dst, size_t n, const char *src)
{
	size_t i;

	for (i = 0; src != NULL && src[i] != '\0' && i + 1 < n; i++)
		dst[i] = src[i] > 0x20 && src[i] < 0x7f && src[i] != '"' ?
		    src[i] : '?';
	dst[i] = '\0';
}

static void
http_refusal(struct http *h, struct MHD_Connection *c, const char *method,
    const char *url, const char *reason)
{
	char peer[64], m[16], path[96];
	long now = (long)loop_now();

	if (now != h->refused_second) {
		if (h->refused_quiet > 0)
			log_event(LOG_WARNING, "refused count=%ld reason=\"more "
			    "refusals, not logged one by one\"",
			    h->refused_quiet);
		h->refused_second = now;
		h->refused_logged = 0;
		h->refused_quiet = 0;
	}
	if (h->refused_logged++ >= HTTP_REFUSALS_LOGGED) {
		h->refused_quiet++;
		return;
	}
	http_peer(c, peer, sizeof(peer));
	http_clean(m, sizeof(m), method);
	http_clean(path, sizeof(path), url);
	log_event(LOG_WARNING, "refused peer=%s method=%s path=%s reason=%s",
	    peer, m, path, reason);
}

/* What a connection is doing, for the limits (see http_accept). */
static void
http_busy(struct MHD_Connection *c, enum hconn_state st)
{
	const union MHD_ConnectionInfo *ci;
	struct hconn *hc;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci != NULL && (hc = ci->socket_context) != NULL) {
		hc->state = st;
		hc->since = loop_now();
	}
}

static enum MHD_Result
http_send_close(struct MHD_Connection *c, unsigned int code,
    const char *type, const char *body, size_t len, const char *allow,
    int close_after)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	if (type != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	if (close_after)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	if (ret == MHD_YES)
		http_busy(c, HC_ANSWERING);
	return ret;
}

static enum MHD_Result
http_send(struct MHD_Connection *c, unsigned int code, const char *type,
    const char *body, size_t len, const char *allow)
{
	return http_send_close(c, code, type, body, len, allow, 0);
}

static enum MHD_Result
http_send_json(struct MHD_Connection *c, unsigned int code, json_t *j)
{
	enum MHD_Result ret;
	char *s;

	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (s == NULL)
		return MHD_NO;
	ret = http_send(c, code, "application/json", s, strlen(s), NULL);
	free(s);
	return ret;
}

static enum MHD_Result
http_error(struct MHD_Connection *c, unsigned int code,
    enum req_route route, int close_after)
{
	static const char msg_403[] = "forbidden\n", msg_404[] = "not found\n",
	    msg_405[] = "method not allowed\n", msg_413[] = "body too large\n",
	    msg_400[] = "bad request\n", msg_414[] = "uri too long\n";
	const char *m = "";

	switch (code) {
	case MHD_HTTP_BAD_REQUEST:
		m = msg_400;
		break;
	case MHD_HTTP_URI_TOO_LONG:
		m = msg_414;
		break;
	case MHD_HTTP_FORBIDDEN:
		m = msg_403;
		break;
	case MHD_HTTP_NOT_FOUND:
		m = msg_404;
		break;
	case MHD_HTTP_METHOD_NOT_ALLOWED:
		m = msg_405;
		break;
	case MHD_HTTP_CONTENT_TOO_LARGE:
		m = msg_413;
		break;
	}
	/* 401 stays bare: nothing to learn from it. */
	return http_send_close(c, code, *m ? "text/plain" : NULL, m, strlen(m),
	    code != MHD_HTTP_METHOD_NOT_ALLOWED ? NULL :
	    route == ROUTE_RESTART ? "POST" : "GET, HEAD", close_after);
}

/* 127.0.0.1, localhost or [::1], with an optional :port. */
static int
http_host_ok(const char *host)
{
	static const char *names[] = { "127.0.0.1", "localhost", "[::1]" };
	size_t i, n;
	const char *p;

	if (host == NULL)
		return 1;	/* HTTP/1.0 without Host */
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		n = strlen(names[i]);
		if (strncasecmp(host, names[i], n) != 0)
			continue;
		p = host + n;
		if (*p == '\0')
			return 1;
		if (*p++ != ':' || *p == '\0')
			return 0;
		for (; *p != '\0'; p++)
			if (*p < '0' || *p > '9')
				return 0;
		return 1;
	}
	return 0;
}

static enum req_route
http_route(const char *url)
{
	if (strcmp(url, "/health") == 0)
		return ROUTE_HEALTH;
	if (strcmp(url, "/status") == 0)
		return ROUTE_STATUS;
	if (strcmp(url, "/log") == 0)
		return ROUTE_LOG;
	if (strcmp(url, "/restart") == 0)
		return ROUTE_RESTART;
	return ROUTE_NONE;
}

static int
http_authorized(struct http *h, struct MHD_Connection *c)
{
	const char *a;

	a = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	if (a == NULL || strncasecmp(a, "Bearer ", 7) != 0)
		return 0;
	return token_equal(a + 7, h->token);
}

/* On the headers alone: 0 to go on, or the status to refuse with. */
static int
http_check(struct req *r, const char *url, const char *method,
    const char **why)
{
	struct MHD_Connection *c = r->conn;
	const char *cl;
	int post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
	int get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
	    strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;

	if (!http_host_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_HOST)))
		return *why = "foreign host", MHD_HTTP_FORBIDDEN;
	if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin") != NULL)
		return *why = "origin header", MHD_HTTP_FORBIDDEN;
	if ((r->route = http_route(url)) == ROUTE_NONE)
		return *why = "unknown path", MHD_HTTP_NOT_FOUND;
	if (r->route == ROUTE_RESTART ? !post : !get)
		return *why = "wrong method", MHD_HTTP_METHOD_NOT_ALLOWED;
	if (r->route != ROUTE_HEALTH && !http_authorized(r->h, c))
		return *why = "missing or wrong token", MHD_HTTP_UNAUTHORIZED;
	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL && strtoull(cl, NULL, 10) > HTTP_BODY_MAX)
		return *why = "body too large", MHD_HTTP_CONTENT_TOO_LARGE;
	return 0;
}

static int
http_expects_continue(struct MHD_Connection *c)
{
	const char *e = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_EXPECT);

	return e != NULL && strcasecmp(e, "100-continue") == 0;
}

static int
http_has_body(struct MHD_Connection *c)
{
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);

	return (cl != NULL && strtoull(cl, NULL, 10) > 0) ||
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

/* The last n lines, but none written before the line count `mark`. */
static json_t *
http_log_json(const struct ring *ring, size_t n, size_t mark)
{
	json_t *a = json_array();
	size_t i, count = ring_count(ring), since;

	since = ring_total(ring) - (mark < ring_total(ring) ? mark :
	    ring_total(ring));
	if (n > since)
		n = since;
	if (n > count)
		n = count;
	for (i = n; i > 0; i--)
		json_array_append_new(a, json_string(ring_line(ring, i - 1)));
	return a;
}

static enum MHD_Result
http_status(struct http *h, struct MHD_Connection *c)
{
	struct svc_status st;
	json_t *j, *ex = json_null();

	svc_status(h->svc, &st);
	if (st.has_exit)
		ex = json_pack("{s:i,s:i}", "code", st.exit_code, "signal",
		    st.exit_signal);
	j = json_pack("{s:I,s:s,s:s,s:I,s:f,s:I,s:o,s:s,s:s,s:s,s:I}",
	    "agent_pid", (json_int_t)getpid(),
	    "version", REDEPLOY_VERSION,
	    "state", svc_state_name(st.state),
	    "pid", (json_int_t)st.pid,
	    "uptime", st.uptime,
	    "restarts", (json_int_t)st.restarts,
	    "last_exit", ex,
	    "release", st.release,
	    "commit", st.commit,
	    "error", st.error,
	    "syslog_lost", (json_int_t)log_syslog_lost());
	if (j != NULL) {
		json_object_set_new(j, "mode", json_string(st.mode));
		json_object_set_new(j, "old_pid", json_integer(st.old_pid));
		json_object_set_new(j, "service_status", json_string(st.text));
	}
	if (j != NULL && h->authbind) {
		struct svc_result res;

		memset(&res, 0, sizeof(res));
		http_authbind_why(h, &res);
		json_object_set_new(j, "authbind_problem",
		    json_string(res.error));
	}
	return j ? http_send_json(c, MHD_HTTP_OK, j) : MHD_NO;
}

static enum MHD_Result
http_log(struct http *h, struct MHD_Connection *c)
{
	const struct ring *ring = svc_ring(h->svc);
	const char *arg;
	char *buf, *end;
	size_t n = 100, i, len = 0, cap;
	long v;
	enum MHD_Result ret;

	arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "lines");
	if (arg != NULL) {
		errno = 0;
		v = strtol(arg, &end, 10);
		if (errno == 0 && *end == '\0' && v >= 0)
			n = (size_t)(v > RING_LINES ? RING_LINES : v);
	}
	if (n > ring_count(ring))
		n = ring_count(ring);
	cap = n * (RING_LINE_MAX + 1) + 1;
	if ((buf = malloc(cap)) == NULL)
		return MHD_NO;
	for (i = n; i > 0; i--)
		len += (size_t)snprintf(buf + len, cap - len, "%s\n",
		    ring_line(ring, i - 1));
	ret = http_send(c, MHD_HTTP_OK, "text/plain; charset=utf-8", buf, len,
	    NULL);
	free(buf);
	return ret;
}

static enum MHD_Result
http_restart_answer(struct http *h, struct req *r)
{
	json_t *j;

	if (r->res.ok)
		j = json_pack("{s:s,s:I,s:s,s:s,s:I,s:I,s:f,s:o}", "status",
		    "ready", "pid", (json_int_t)r->res.pid, "release",
		    r->res.release, "commit", r->res.commit, "ready_ms",
		    (json_int_t)r->res.ready_ms, "cooldown_ms",
		    (json_int_t)r->cooldown_ms, "min_interval",
		    h->min_interval, "log",
		    http_log_json(svc_fresh_ring(h->svc), HTTP_LOG_LINES,
		    r->res.mark));
	else
		j = json_pack("{s:s,s:s,s:s,s:s,s:I,s:f,s:o}", "status",
		    "failed", "error", r->res.error, "release",
		    r->res.release, "commit", r->res.commit, "cooldown_ms",
		    (json_int_t)r->cooldown_ms, "min_interval",
		    h->min_interval, "log",
		    http_log_json(svc_fresh_ring(h->svc), HTTP_LOG_LINES,
		    r->res.mark));
	if (j == NULL)
		return MHD_NO;
	json_object_set_new(j, "mode", json_string(r->res.mode));
	if (r->res.drain_ms >= 0)
		json_object_set_new(j, "drain_ms",
		    json_integer(r->res.drain_ms));
	if (!r->res.ok)
		json_object_set_new(j, "untouched",
		    json_integer(r->res.untouched));
	return http_send_json(r->conn, r->res.ok ? MHD_HTTP_OK :
	    MHD_HTTP_SERVICE_UNAVAILABLE, j);
}

static void
http_restarted(void *arg, const struct svc_result *res)
{
	struct req *r = arg;

	r->res = *res;
	http_authbind_why(r->h, &r->res);
	r->done = 1;
	if (r->suspended) {
		r->suspended = 0;
		MHD_resume_connection(r->conn);
		r->h->resumed = 1;
	}
}

/*
 * Restarts at most every min_interval seconds: a request inside the
 * interval waits for its end (suspended) and then joins one restart with
 * every other request that came meanwhile; its answer says how long it
 * waited (cooldown_ms).  20 valid requests a second are one restart a
 * second, not twenty.
 */
/* Everyone who waited for the interval shares one restart. */
static void
http_batch_done(void *arg, const struct svc_result *res)
{
	struct req *r = arg, *next;

	for (; r != NULL; r = next) {
		next = r->next_cooling;
		r->next_cooling = NULL;
		http_restarted(r, res);
	}
}

static void
http_cool_fire(void *arg)
{
	struct http *h = arg;
	struct req *r;
	double now = loop_now();

	h->last_restart = now;
	r = h->cooling;
	h->cooling = NULL;
	for (struct req *p = r; p != NULL; p = p->next_cooling)
		p->cooldown_ms = (long)((now - p->asked) * 1000.0 + 0.5);
	if (r != NULL && svc_restart(h->svc, http_batch_done, r) == -1) {
		struct svc_result res;

		memset(&res, 0, sizeof(res));
		snprintf(res.error, sizeof(res.error), "cannot restart");
		http_batch_done(r, &res);
	}
}

static int
http_restart_or_wait(struct http *h, struct req *r)
{
	double now = loop_now(), wait;

	r->asked = now;
	wait = h->last_restart > 0 ? h->last_restart + h->min_interval - now :
	    0;
	if (wait <= 0 && h->cooling == NULL) {
		h->last_restart = now;
		return svc_restart(h->svc, http_restarted, r);
	}
	r->next_cooling = h->cooling;
	h->cooling = r;
	if (h->cool_timer.at == 0)
		loop_timer_set(h->loop, &h->cool_timer, wait, http_cool_fire,
		    h);
	return 0;
}

/* What the endpoint keeps of a config (it keeps no pointer: a reload
 * frees the old one). */
void
http_set_config(struct http *h, const struct config *cfg)
{
	h->min_interval = cfg->restart_min_interval;
	h->authbind = cfg->authbind;
	h->ready = cfg->ready;
	h->ready_port = cfg->ready_port;
	snprintf(h->ready_host, sizeof(h->ready_host), "%s",
	    cfg->ready_host ? cfg->ready_host : "");
}

/* A failed restart with authbind: say why authbind would fail, if seen. */
static void
http_authbind_why(const struct http *h, struct svc_result *res)
{
	struct config c;
	char why[256];
	size_t len;

	if (!h->authbind || res->ok)
		return;
	memset(&c, 0, sizeof(c));
	c.authbind = 1;
	c.ready = h->ready;
	c.ready_port = h->ready_port;
	c.ready_host = (char *)(uintptr_t)h->ready_host;
	if (authbind_diagnose(&c, getuid(), getgid(), why, sizeof(why)) == 0)
		return;
	len = strlen(res->error);
	snprintf(res->error + len, sizeof(res->error) - len, "%s%s",
	    len ? "; " : "", why);
}

static enum MHD_Result
http_handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct http *h = cls;
	struct req *r = *con_cls;
	const char *why = NULL;
	char peer[64];

	if (r == NULL) {	/* the URI log callback makes it; in case */
		if ((r = calloc(1, sizeof(*r))) == NULL)
			return MHD_NO;
		r->h = h;
		r->conn = c;
		*con_cls = r;
	}
	if (!r->started) {
		r->started = 1;
		if ((r->status = r->uri_status) != 0)
			why = r->status == MHD_HTTP_URI_TOO_LONG ?
			    "uri too long" : "control byte in the path";
		else
			r->status = httpcheck_head(c, method, r->uri,
			    r->uri_end, version, &why);
		if (r->status != 0) {
			/* Framing is in doubt: answer and close, so that
			 * nothing after this request is read as one. */
			http_refusal(h, c, method, url, why);
			r->close = 1;
			r->answered = 1;
			return http_error(c, (unsigned int)r->status,
			    ROUTE_NONE, 1);
		}
		if ((r->status = http_check(r, url, method, &why)) != 0) {
			http_refusal(h, c, method, url, why);
			/* Answer before an unread body only when there is
			 * none, or when the client waits for 100 Continue
			 * before it sends it (and then close): closing on
			 * unread data resets the client. */
			r->close = http_expects_continue(c);
			if (!http_has_body(c) || r->close) {
				r->answered = 1;
				return http_error(c, (unsigned int)r->status,
				    r->route, r->close);
			}
		}
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		r->body += *upload_data_size;
		*upload_data_size = 0;
		if (r->body > HTTP_BODY_MAX && r->status == 0) {
			r->status = MHD_HTTP_CONTENT_TOO_LARGE;
			http_refusal(h, c, method, url, "body too large");
		}
		/* libmicrohttpd cannot answer in the middle of an upload:
		 * past this much, drop the connection rather than read on. */
		if (r->body > HTTP_DRAIN_MAX)
			return MHD_NO;
		return MHD_YES;
	}
	if (r->answered)
		return MHD_YES;
	if (r->status != 0) {
		r->answered = 1;
		return http_error(c, (unsigned int)r->status, r->route,
		    r->close);
	}
	switch (r->route) {
	case ROUTE_HEALTH:
		return http_send(c, MHD_HTTP_OK, "text/plain", "ok\n", 3, NULL);
	case ROUTE_STATUS:
		return http_status(h, c);
	case ROUTE_LOG:
		return http_log(h, c);
	case ROUTE_RESTART:
		if (r->done)
			return http_restart_answer(h, r);
		if (r->waiting) {
			/* spurious call: still waiting */
			return MHD_YES;
		}
		r->waiting = 1;
		http_peer(c, peer, sizeof(peer));
		log_event(LOG_NOTICE, "restart requested=1 peer=%s",
		    peer);
		if (http_restart_or_wait(h, r) == -1)
			return MHD_NO;
		if (r->done)	/* answered at once (nothing to run) */
			return http_restart_answer(h, r);
		r->suspended = 1;
		http_busy(c, HC_SUSPENDED);
		MHD_suspend_connection(c);
		return MHD_YES;
	default:
		return http_error(c, MHD_HTTP_NOT_FOUND, ROUTE_NONE, 0);
	}
}

static void
http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	http_busy(c, HC_IDLE);
	free(*con_cls);
	*con_cls = NULL;
}

/* The raw request target, before MHD cuts it up: the request starts here. */
static void *
http_uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct http *h = cls;
	struct req *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->h = h;
	r->conn = c;
	r->uri = uri;
	r->uri_end = uri + strlen(uri);
	r->uri_status = httpcheck_uri(uri, HTTP_URI_MAX);
	return r;
}

static int
http_same_peer(const struct sockaddr_storage *a, const struct sockaddr *b)
{
	if (a->ss_family != b->sa_family)
		return 0;
	if (b->sa_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)a)->
		    sin_addr.s_addr == ((const struct sockaddr_in *)
		    (const void *)b)->sin_addr.s_addr;
	if (b->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)(const void *)a)->
		    sin6_addr, &((const struct sockaddr_in6 *)(const void *)b)->
		    sin6_addr, sizeof(struct in6_addr)) == 0;
	return 0;
}

static void
http_evict(struct http *h, struct hconn *hc)
{
	hc->evicted = 1;
	/* MHD sees the end of the stream and closes it in its next run. */
	(void)shutdown(hc->fd, SHUT_RDWR);
	h->evictions++;
}

/* Can it be pushed out: idle, or an answer its client does not read. */
static int
http_evictable(const struct hconn *hc, double now)
{
	return !hc->evicted && (hc->state == HC_IDLE ||
	    (hc->state == HC_ANSWERING && now - hc->since > HTTP_STUCK));
}

/*
 * A new connection from `sa`: make room by pushing out the oldest idle
 * connection (or the oldest stuck answer) of the same peer, when it has
 * per_ip, or of anyone, at conn_soft.  A restart waiter is never pushed
 * out.  Refused only when nothing can be.
 */
static enum MHD_Result
http_accept(void *cls, const struct sockaddr *sa, socklen_t len)
{
	struct http *h = cls;
	struct hconn *hc, *mine = NULL, *any = NULL;
	double now = loop_now();
	long peer = 0, all = 0;

	for (hc = h->head; hc != NULL; hc = hc->next) {
		if (hc->evicted)
			continue;
		all++;
		if (http_same_peer(&hc->peer, sa)) {
			peer++;
			if (mine == NULL && http_evictable(hc, now))
				mine = hc;
		}
		if (any == NULL && http_evictable(hc, now))
			any = hc;
	}
	if (peer >= h->per_ip) {
		if (mine == NULL)
			return MHD_NO;
		http_evict(h, mine);
		all--;
		if (any == mine)
			for (any = mine->next; any != NULL &&
			    !http_evictable(any, now); any = any->next)
				;
	}
	if (all >= h->conn_soft) {
		if (any == NULL)
			return MHD_NO;
		http_evict(h, any);
	}
	return MHD_YES;
}

static void
http_notify(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	struct http *h = cls;
	const union MHD_ConnectionInfo *ci;
	struct hconn *hc = *socket_context;
	socklen_t len;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		if ((hc = calloc(1, sizeof(*hc))) == NULL)
			return;	/* untracked: never pushed out */
		ci = MHD_get_connection_info(c,
		    MHD_CONNECTION_INFO_CONNECTION_FD);
		hc->fd = ci != NULL ? ci->connect_fd : -1;
		hc->since = loop_now();
		len = sizeof(hc->peer);
		if (hc->fd == -1 || getpeername(hc->fd,
		    (struct sockaddr *)&hc->peer, &len) == -1)
			hc->peer.ss_family = AF_UNSPEC;
		hc->prev = h->tail;
		if (h->tail != NULL)
			h->tail->next = hc;
		else
			h->head = hc;
		h->tail = hc;
		h->nconns++;
		*socket_context = hc;
		return;
	}
	h->closed = 1;
	if (hc == NULL)
		return;
	if (hc->prev != NULL)
		hc->prev->next = hc->next;
	else
		h->head = hc->next;
	if (hc->next != NULL)
		hc->next->prev = hc->prev;
	else
		h->tail = hc->prev;
	h->nconns--;
	free(hc);
	*socket_context = NULL;
}

static void
http_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	log_debug("http: %s", line);
}

static void
http_run(struct http *h)
{
	h->closed = 0;
	h->last_run = loop_now();
	MHD_run(h->d);
}

static void
http_io(void *arg, uint32_t events)
{
	struct http *h = arg;

	http_run(h);
}

/*
 * Before each wait: MHD runs when it has work that no fd will announce
 * (resumed connections, timeouts due, data it already read, connections
 * closed in its last run: only its next run puts a listen socket it took
 * out at a limit back); its timeout bounds the wait, and so does
 * HTTP_RUN_EVERY, whatever MHD says.  Without this the loop would spin on
 * a zero timeout, or never accept again.
 */
static long
http_idle(void *arg)
{
	struct http *h = arg;
	MHD_UNSIGNED_LONG_LONG ms;
	double since;
	long cap;
	int i;

	for (i = 0; i < 4; i++) {
		if (MHD_get_timeout(h->d, &ms) != MHD_YES)
			ms = ULLONG_MAX;
		since = loop_now() - h->last_run;
		if (!h->resumed && !h->closed && ms > 0 &&
		    since < HTTP_RUN_EVERY)
			break;
		h->resumed = 0;
		http_run(h);
	}
	cap = (long)((HTTP_RUN_EVERY - (loop_now() - h->last_run)) *
	    1000.0) + 1;
	if (cap < 0)
		cap = 0;
	return ms < (MHD_UNSIGNED_LONG_LONG)cap ? (long)ms : cap;
}

/* Bind the loopback address from [agent] listen; before dropping root. */
int
http_listen(const struct config *cfg, int *port, char *err, size_t n)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd, one = 1, v6 = strcmp(cfg->listen_host, "::1") == 0;

	memset(&ss, 0, sizeof(ss));
	if (v6) {
		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		in6->sin6_port = htons((uint16_t)cfg->listen_port);
		len = sizeof(*in6);
	} else {
		in4->sin_family = AF_INET;
		in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		in4->sin_port = htons((uint16_t)cfg->listen_port);
		len = sizeof(*in4);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
	    sizeof(one)) == -1) ||
	    bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, 128) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		snprintf(err, n, "listen on '%s': %s", cfg->listen,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	*port = ntohs(v6 ? in6->sin6_port : in4->sin_port);
	return fd;
}

struct http *
http_new(struct loop *l, int listen_fd, const char *token, struct svc *svc,
    const struct config *cfg, char *err, size_t n)
{
	const union MHD_DaemonInfo *di;
	struct rlimit rl;
	struct http *h;
	unsigned int flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
	    MHD_USE_ERROR_LOG;

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		snprintf(err, n, "out of memory");
		return NULL;
	}
	h->loop = l;
	h->svc = svc;
	snprintf(h->token, sizeof(h->token), "%s", token);
	/* Below the fd limit, or accept fails and MHD stops listening. */
	h->conn_max = HTTP_CONN_MAX;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)HTTP_CONN_MAX + HTTP_FD_SPARE)
		h->conn_max = rl.rlim_cur > HTTP_FD_SPARE + 16 ?
		    (long)rl.rlim_cur - HTTP_FD_SPARE : 16;
	h->conn_soft = h->conn_max * HTTP_CONN_SOFT / HTTP_CONN_MAX;
	h->per_ip = h->conn_soft < HTTP_PER_IP_MAX * 2 ? h->conn_soft / 2 :
	    HTTP_PER_IP_MAX;
	http_set_config(h, cfg);
	if (strcmp(cfg->listen_host, "::1") == 0)
		flags |= MHD_USE_IPv6;
	h->d = MHD_start_daemon(flags, 0, http_accept, h, http_handler, h,
	    MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, h,
	    MHD_OPTION_LISTEN_SOCKET, listen_fd,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_TIMEOUT,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)h->conn_max,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_HEADER_MEM,
	    MHD_OPTION_NOTIFY_COMPLETED, http_completed, h,
	    MHD_OPTION_NOTIFY_CONNECTION, http_notify, h,
	    MHD_OPTION_URI_LOG_CALLBACK, http_uri_log, h,
	    MHD_OPTION_END);
	if (h->d == NULL) {
		snprintf(err, n, "cannot start the HTTP endpoint on '%s'",
		    cfg->listen);
		goto fail;
	}
	di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	if (di == NULL || (h->epfd = di->epoll_fd) == -1 ||
	    loop_add(l, h->epfd, EPOLLIN, http_io, h) == -1) {
		snprintf(err, n, "cannot watch the HTTP endpoint");
		goto fail;
	}
	loop_set_idle(l, http_idle, h);
	return h;
fail:
	if (h->d != NULL)
		MHD_stop_daemon(h->d);
	explicit_bzero(h->token, sizeof(h->token));
	free(h);
	return NULL;
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	loop_del(h->loop, h->epfd);
	/* Nothing may stay suspended: requests still waiting for the
	 * interval are answered now. */
	loop_timer_cancel(h->loop, &h->cool_timer);
	while (h->cooling != NULL) {
		struct req *r = h->cooling;
		struct svc_result res;

		h->cooling = r->next_cooling;
		memset(&res, 0, sizeof(res));
		snprintf(res.error, sizeof(res.error), "the agent is stopping");
		http_restarted(r, &res);
	}
	MHD_run(h->d);	/* answers to resumed connections go out */
	MHD_stop_daemon(h->d);
	explicit_bzero(h->token, sizeof(h->token));
	free(h);
}
