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
#define HTTP_TIMEOUT		10	/* seconds of inactivity */
#define HTTP_CONN_MAX		256
#define HTTP_PER_IP_MAX		200	/* every client is 127.0.0.1 */
#define HTTP_LOG_LINES		20	/* of output in a /restart answer */
#define HTTP_REFUSALS_LOGGED	10	/* per second; the rest are counted */

struct http {
	struct loop	*loop;
	struct MHD_Daemon *d;
	struct svc	*svc;
	char		 token[TOKEN_HEXLEN + 1];
	int		 epfd;
	int		 resumed;	/* MHD must run to pick them up */
	long		 refused_second, refused_logged, refused_quiet;
};

enum req_route { ROUTE_NONE, ROUTE_HEALTH, ROUTE_STATUS, ROUTE_LOG,
    ROUTE_RESTART };

struct req {
	struct http	*h;
	struct MHD_Connection *conn;
	enum req_route	 route;
	int		 status;	/* refusal decided, or 0 */
	int		 answered;	/* a response is queued */
	size_t		 body;
	int		 waiting, suspended, done;
	struct svc_result res;
};

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

static enum MHD_Result
http_send(struct MHD_Connection *c, unsigned int code, const char *type,
    const char *body, size_t len, const char *allow)
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
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
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
    enum req_route route)
{
	static const char msg_403[] = "forbidden\n", msg_404[] = "not found\n",
	    msg_405[] = "method not allowed\n", msg_413[] = "body too large\n";
	const char *m = "";

	switch (code) {
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
	return http_send(c, code, *m ? "text/plain" : NULL, m, strlen(m),
	    code != MHD_HTTP_METHOD_NOT_ALLOWED ? NULL :
	    route == ROUTE_RESTART ? "POST" : "GET, HEAD");
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
	j = json_pack("{s:I,s:s,s:s,s:I,s:f,s:I,s:o,s:s,s:s,s:s}",
	    "agent_pid", (json_int_t)getpid(),
	    "version", REDEPLOY_VERSION,
	    "state", svc_state_name(st.state),
	    "pid", (json_int_t)st.pid,
	    "uptime", st.uptime,
	    "restarts", (json_int_t)st.restarts,
	    "last_exit", ex,
	    "release", st.release,
	    "commit", st.commit,
	    "error", st.error);
	if (j != NULL) {
		json_object_set_new(j, "mode", json_string(st.mode));
		json_object_set_new(j, "old_pid", json_integer(st.old_pid));
		json_object_set_new(j, "service_status", json_string(st.text));
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
		j = json_pack("{s:s,s:I,s:s,s:s,s:I,s:o}", "status", "ready",
		    "pid", (json_int_t)r->res.pid, "release", r->res.release,
		    "commit", r->res.commit, "ready_ms",
		    (json_int_t)r->res.ready_ms, "log",
		    http_log_json(svc_fresh_ring(h->svc), HTTP_LOG_LINES,
		    r->res.mark));
	else
		j = json_pack("{s:s,s:s,s:s,s:s,s:o}", "status", "failed",
		    "error", r->res.error, "release", r->res.release,
		    "commit", r->res.commit, "log",
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
	r->done = 1;
	if (r->suspended) {
		r->suspended = 0;
		MHD_resume_connection(r->conn);
		r->h->resumed = 1;
	}
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

	if (r == NULL) {
		if ((r = calloc(1, sizeof(*r))) == NULL)
			return MHD_NO;
		r->h = h;
		r->conn = c;
		*con_cls = r;
		if ((r->status = http_check(r, url, method, &why)) != 0) {
			http_refusal(h, c, method, url, why);
			/* Answer before an unread body only when there is
			 * none: closing on unread data resets the client. */
			if (!http_has_body(c)) {
				r->answered = 1;
				return http_error(c, (unsigned int)r->status,
				    r->route);
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
		return http_error(c, (unsigned int)r->status, r->route);
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
		if (svc_restart(h->svc, http_restarted, r) == -1)
			return MHD_NO;
		if (r->done)	/* answered at once (nothing to run) */
			return http_restart_answer(h, r);
		r->suspended = 1;
		MHD_suspend_connection(c);
		return MHD_YES;
	default:
		return http_error(c, MHD_HTTP_NOT_FOUND, ROUTE_NONE);
	}
}

static void
http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	free(*con_cls);
	*con_cls = NULL;
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
http_io(void *arg, uint32_t events)
{
	struct http *h = arg;

	MHD_run(h->d);
}

/*
 * Before each wait: MHD runs when it has work that no fd will announce
 * (resumed connections, timeouts due, data it already read); its timeout
 * bounds the wait.  Without this the loop would spin on a zero timeout.
 */
static long
http_idle(void *arg)
{
	struct http *h = arg;
	MHD_UNSIGNED_LONG_LONG ms;
	int i;

	for (i = 0; i < 4; i++) {
		if (MHD_get_timeout(h->d, &ms) != MHD_YES)
			ms = ULLONG_MAX;
		if (!h->resumed && ms > 0)
			break;
		h->resumed = 0;
		MHD_run(h->d);
	}
	if (ms == ULLONG_MAX)
		return -1;
	return ms > 60000 ? 60000 : (long)ms;
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
	if (strcmp(cfg->listen_host, "::1") == 0)
		flags |= MHD_USE_IPv6;
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, http_handler, h,
	    MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, h,
	    MHD_OPTION_LISTEN_SOCKET, listen_fd,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_TIMEOUT,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_CONN_MAX,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)HTTP_PER_IP_MAX,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_HEADER_MEM,
	    MHD_OPTION_NOTIFY_COMPLETED, http_completed, h,
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
	MHD_run(h->d);	/* answers to resumed connections go out */
	MHD_stop_daemon(h->d);
	explicit_bzero(h->token, sizeof(h->token));
	free(h);
}
