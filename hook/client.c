/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * client.c - the hook's side of the agent's endpoint (libcurl).
 *
 * The token is read from token_file (refused if others can read it or it
 * is a symlink), goes only into the Authorization header, and is wiped
 * after the request; it is never in argv, the environment or a log line.
 * Proxies from the environment are ignored: the agent is on loopback.
 *
 * libcurl and the ~20 libraries it pulls in are loaded with dlopen(3) the
 * first time the agent is called: a hook run that deploys nothing, or a
 * deploy of a static site, never pays for them.  The table below names
 * every libcurl function used, with its prototype from <curl/curl.h>, so
 * the compiler checks each call as if it were linked.
 */
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "redeploy.h"
#include "token.h"

#define CLIENT_MAXBODY	(1 << 20)
#define CLIENT_LIBCURL	"libcurl.so.4"

static struct {
	int		 state;		/* 0 not tried, 1 loaded, -1 failed */
	void		*dl;
	CURLcode	(*global_init)(long);
	void		(*global_cleanup)(void);
	CURL		*(*easy_init)(void);
	CURLcode	(*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode	(*easy_perform)(CURL *);
	CURLcode	(*easy_getinfo)(CURL *, CURLINFO, ...);
	void		(*easy_cleanup)(CURL *);
	const char	*(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void		(*slist_free_all)(struct curl_slist *);
} cl;

/* One symbol into a typed pointer; the cast goes through the POSIX rule
 * that dlsym's result may be stored in a function pointer. */
#define CLIENT_SYM(field, name) do {					\
	void *sym_ = dlsym(cl.dl, name);				\
	if (sym_ == NULL)						\
		goto fail;						\
	memcpy(&cl.field, &sym_, sizeof(sym_));				\
} while (0)

static int
client_load(char *err, size_t n)
{
	const char *why;

	if (cl.state == 1)
		return 0;
	if (cl.state == -1)
		goto fail;
	if ((cl.dl = dlopen(CLIENT_LIBCURL, RTLD_NOW | RTLD_LOCAL)) == NULL)
		goto fail;
	CLIENT_SYM(global_init, "curl_global_init");
	CLIENT_SYM(global_cleanup, "curl_global_cleanup");
	CLIENT_SYM(easy_init, "curl_easy_init");
	CLIENT_SYM(easy_setopt, "curl_easy_setopt");
	CLIENT_SYM(easy_perform, "curl_easy_perform");
	CLIENT_SYM(easy_getinfo, "curl_easy_getinfo");
	CLIENT_SYM(easy_cleanup, "curl_easy_cleanup");
	CLIENT_SYM(easy_strerror, "curl_easy_strerror");
	CLIENT_SYM(slist_append, "curl_slist_append");
	CLIENT_SYM(slist_free_all, "curl_slist_free_all");
	if (cl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		goto fail;
	cl.state = 1;
	return 0;
fail:
	why = cl.state == -1 ? "not available" : dlerror();
	cl.state = -1;
	if (cl.dl != NULL) {
		dlclose(cl.dl);
		cl.dl = NULL;
	}
	snprintf(err, n, "cannot load %s to reach the agent: %s (install "
	    "the libcurl4 package)", CLIENT_LIBCURL, why ? why : "unknown");
	return -1;
}

/* At exit: the library's own cleanup, if it was ever loaded.  It stays
 * mapped: unloading it at exit buys nothing, and would unload with it the
 * SSL libraries it pulled in, whose thread-local storage the leak checker
 * of a sanitizer build still walks after this. */
void
client_cleanup(void)
{
	if (cl.state != 1)
		return;
	cl.global_cleanup();
	cl.state = 0;	/* a later call loads it again */
}

struct client_buf {
	char	*p;
	size_t	 len;
	int	 overflow;
};

static size_t
client_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct client_buf *b = arg;
	size_t n = size * nmemb;
	char *np;

	if (b->len + n > CLIENT_MAXBODY) {
		b->overflow = 1;
		return 0;
	}
	if ((np = realloc(b->p, b->len + n + 1)) == NULL)
		return 0;
	b->p = np;
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

void
client_reply_free(struct client_reply *r)
{
	json_decref(r->json);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

int
client_call(const struct config *cfg, const char *method, const char *path,
    double timeout, struct client_reply *out, char *err, size_t n)
{
	char token[TOKEN_HEXLEN + 1], auth[TOKEN_HEXLEN + 32], url[300];
	char cerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdr = NULL;
	struct client_buf b = { 0 };
	CURL *c = NULL;
	CURLcode cc;
	int v6 = strcmp(cfg->listen_host, "::1") == 0, rc = -1;

	memset(out, 0, sizeof(*out));
	if (client_load(err, n) == -1) {
		out->code = -1;	/* nothing was asked */
		return -1;
	}
	if (token_read(cfg->token_file, token, err, n) == -1) {
		out->code = -1;	/* nothing was asked */
		return -1;
	}
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	explicit_bzero(token, sizeof(token));
	snprintf(url, sizeof(url), "http://%s%s%s:%d%s", v6 ? "[" : "",
	    cfg->listen_host, v6 ? "]" : "", cfg->listen_port, path);
	if ((c = cl.easy_init()) == NULL ||
	    (hdr = cl.slist_append(NULL, auth)) == NULL) {
		snprintf(err, n, "out of memory");
		goto out;
	}
	cl.easy_setopt(c, CURLOPT_URL, url);
	cl.easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	cl.easy_setopt(c, CURLOPT_NOPROXY, "*");
	cl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	cl.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	cl.easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000.0));
	cl.easy_setopt(c, CURLOPT_WRITEFUNCTION, client_write);
	cl.easy_setopt(c, CURLOPT_WRITEDATA, &b);
	cl.easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	cl.easy_setopt(c, CURLOPT_USERAGENT, "redeploy");
	if (strcmp(method, "POST") == 0) {
		cl.easy_setopt(c, CURLOPT_POST, 1L);
		cl.easy_setopt(c, CURLOPT_POSTFIELDS, "");
		cl.easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
	}
	cc = cl.easy_perform(c);
	/* -1: the agent did nothing for sure (not reached, token refused);
	 * set to the status below once it answered. */
	out->code = cc == CURLE_COULDNT_CONNECT ? -1 : 0;
	if (cc == CURLE_COULDNT_CONNECT) {
		snprintf(err, n, "the agent is not running on %s:%d (start "
		    "redeployd -c '%s')", cfg->listen_host, cfg->listen_port,
		    cfg->file);
		goto out;
	}
	if (cc == CURLE_OPERATION_TIMEDOUT) {
		snprintf(err, n, "the agent did not answer %s %s within %.0f s",
		    method, path, timeout);
		goto out;
	}
	if (cc != CURLE_OK) {
		snprintf(err, n, "asking the agent (%s %s): %s", method, path,
		    cerr[0] ? cerr : cl.easy_strerror(cc));
		goto out;
	}
	cl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->code);
	if (out->code == 401) {
		out->code = -1;
		snprintf(err, n, "the agent refused the token in '%s' (it is "
		    "rewritten at every agent start: is this the agent of "
		    "this config?)", cfg->token_file);
		goto out;
	}
	out->body = b.p;
	b.p = NULL;
	client_reply_parse(out);
	rc = 0;
out:
	explicit_bzero(auth, sizeof(auth));
	cl.slist_free_all(hdr);
	if (c != NULL)
		cl.easy_cleanup(c);
	free(b.p);
	return rc;
}

/* The body as JSON, when it is a JSON object: the agent's answers. */
void
client_reply_parse(struct client_reply *r)
{
	json_decref(r->json);
	r->json = NULL;
	if (r->body != NULL && r->body[0] == '{')
		r->json = json_loads(r->body, JSON_REJECT_DUPLICATES, NULL);
}

/* A JSON string member, or "" */
const char *
client_str(const struct client_reply *r, const char *key)
{
	json_t *v = r->json ? json_object_get(r->json, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : "";
}

long long
client_int(const struct client_reply *r, const char *key)
{
	json_t *v = r->json ? json_object_get(r->json, key) : NULL;

	long long i;

	if (!json_is_integer(v))
		return -1;
	/* pids, counts, milliseconds: anything else is not the agent's */
	i = (long long)json_integer_value(v);
	return i >= 0 && i <= CLIENT_INT_MAX ? i : -1;
}

/* Print the last `max` lines of the answer's "log" to the pusher. */
void
client_print_log(const struct client_reply *r, size_t max)
{
	json_t *log = r->json ? json_object_get(r->json, "log") : NULL;
	size_t i, count = json_is_array(log) ? json_array_size(log) : 0;

	for (i = count > max ? count - max : 0; i < count; i++) {
		json_t *line = json_array_get(log, i);

		if (json_is_string(line))
			log_info("  | %s", json_string_value(line));
	}
}
