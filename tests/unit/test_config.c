/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * test_config.c - unit tests of conf/config.c, the one config loader.
 *
 * Every rule of DESIGN.md "Config" and redeploy.ini(5) has a test here.
 * Each config is written to a fresh mkstemp(3) file, loaded and removed
 * before anything is asserted, so a failing test leaves nothing behind.
 * An error must begin with "FILE:LINE: " (or "FILE: ") for the right line
 * and name the key, and must leave the config zeroed.  Run from the
 * top of the repository (the example is read as conf/redeploy.ini).
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "value.h"

#ifndef EXAMPLE_CONFIG
#define EXAMPLE_CONFIG	"conf/redeploy.ini"
#endif

/* The smallest valid file, and the pair that goes with [agent]. */
#define DEPLOY		"[deploy]\npath = /srv/site\n"
#define SERVICE		"[service]\ncommand = ./run\n"
#define AGENT_SERVICE	"[agent]\n" SERVICE

static char tmp_path[PATH_MAX];
static char tmp_real[PATH_MAX];

/* Write len bytes of text to a new temporary file named in tmp_path. */
static void
write_tmp(const char *text, size_t len)
{
	const char	*dir = getenv("TMPDIR");
	FILE		*fp;
	int		 fd, n;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	n = snprintf(tmp_path, sizeof(tmp_path), "%s/test_config.XXXXXX",
	    dir);
	assert_true(n > 0 && (size_t)n < sizeof(tmp_path));
	fd = mkstemp(tmp_path);
	assert_true(fd != -1);
	fp = fdopen(fd, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
	if (realpath(tmp_path, tmp_real) == NULL)
		tmp_real[0] = '\0';
}

static int
load_len(const char *text, size_t len, struct config *cfg, char *err)
{
	int	 rc;

	write_tmp(text, len);
	rc = config_load(cfg, tmp_path, err, CONFIG_ERRLEN);
	unlink(tmp_path);
	return rc;
}

static int
load(const char *text, struct config *cfg, char *err)
{
	return load_len(text, strlen(text), cfg, err);
}

static void
assert_zeroed(const struct config *cfg)
{
	static const struct config zero;

	assert_memory_equal(cfg, &zero, sizeof(zero));
}

/*
 * Load text, which must fail with a message that starts "FILE:line: "
 * (line 0: "FILE: ") and contains want.
 */
static void
expect_error_len(const char *text, size_t len, int line, const char *want)
{
	struct config	 cfg;
	char		 err[CONFIG_ERRLEN], prefix[PATH_MAX + 32];

	memset(err, 'x', sizeof(err));
	err[sizeof(err) - 1] = '\0';
	assert_int_equal(load_len(text, len, &cfg, err), -1);
	if (line > 0)
		snprintf(prefix, sizeof(prefix), "%s:%d: ", tmp_path, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", tmp_path);
	if (strncmp(err, prefix, strlen(prefix)) != 0 ||
	    strstr(err, want) == NULL)
		fail_msg("config:\n%s\ngot:  %s\nwant: %s...%s", text, err,
		    prefix, want);
	/* One line, no full stop. */
	assert_null(strchr(err, '\n'));
	assert_true(err[strlen(err) - 1] != '.');
	assert_zeroed(&cfg);
}

static void
expect_error(const char *text, int line, const char *want)
{
	expect_error_len(text, strlen(text), line, want);
}

/* The whole message, after "FILE:LINE: ". */
static void
expect_message(const char *text, int line, const char *msg)
{
	struct config	 cfg;
	char		 err[CONFIG_ERRLEN], want[CONFIG_ERRLEN + PATH_MAX];

	assert_int_equal(load(text, &cfg, err), -1);
	if (line > 0)
		snprintf(want, sizeof(want), "%s:%d: %s", tmp_path, line, msg);
	else
		snprintf(want, sizeof(want), "%s: %s", tmp_path, msg);
	assert_string_equal(err, want);
	assert_zeroed(&cfg);
}

static void
expect_ok(const char *text, struct config *cfg)
{
	char	 err[CONFIG_ERRLEN] = "";

	if (load(text, cfg, err) != 0)
		fail_msg("config:\n%s\nunexpected error: %s", text, err);
}

/* "[deploy]\npath = /srv/site\nKEY = VALUE\n": KEY is on line 3. */
static void
expect_deploy_error(const char *kv, const char *want)
{
	char	 text[1024];

	snprintf(text, sizeof(text), DEPLOY "%s\n", kv);
	expect_error(text, 3, want);
}

/* [agent], then [service] with KEY = VALUE on line 4. */
static void
expect_service_error(const char *kv, const char *want)
{
	char	 text[1024];

	snprintf(text, sizeof(text), "[agent]\n[service]\ncommand = ./run\n"
	    "%s\n" DEPLOY, kv);
	expect_error(text, 4, want);
}

static void
load_service(const char *kv, struct config *cfg)
{
	char	 text[1024];

	snprintf(text, sizeof(text), DEPLOY AGENT_SERVICE "%s\n", kv);
	expect_ok(text, cfg);
}

static void
test_example_loads(void **state)
{
	struct config	 cfg;
	char		 err[CONFIG_ERRLEN] = "", real[PATH_MAX];

	if (config_load(&cfg, EXAMPLE_CONFIG, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_non_null(realpath(EXAMPLE_CONFIG, real));
	assert_string_equal(cfg.file, real);
	assert_string_equal(cfg.repository,
	    "/var/lib/gitolite3/repositories/thesite.git");
	assert_string_equal(cfg.path, "/var/www/thesite");
	assert_string_equal(cfg.branch, "master");
	assert_int_equal(cfg.keep, 5);
	assert_int_equal(cfg.dir_mode, 0755);
	assert_int_equal(cfg.file_mode, 0644);
	assert_string_equal(cfg.owner, "git");
	assert_string_equal(cfg.group, "git");
	assert_int_equal(cfg.shared.n, 2);
	assert_string_equal(cfg.shared.v[0], "tmp/cache");
	assert_string_equal(cfg.shared.v[1], "log");
	assert_null(cfg.shared.v[2]);
	assert_int_equal(cfg.symlinks, SYMLINKS_INSIDE);
	assert_string_equal(cfg.syslog_tag, "gitolite");
	assert_int_equal(cfg.has_agent, 1);
	assert_string_equal(cfg.listen, "127.0.0.1:8421");
	assert_string_equal(cfg.listen_host, "127.0.0.1");
	assert_int_equal(cfg.listen_port, 8421);
	assert_string_equal(cfg.token_file, "/run/redeploy/token");
	assert_string_equal(cfg.token_group, "git");
	assert_int_equal(cfg.has_service, 1);
	assert_string_equal(cfg.command, "python3 server.py");
	assert_string_equal(cfg.user, "www-data");
	assert_string_equal(cfg.svc_group, "www-data");
	assert_int_equal(cfg.authbind, 1);
	assert_int_equal(cfg.umask, 0002);
	assert_int_equal(cfg.stop_signal, SIGTERM);
	assert_true(cfg.stop_timeout == 10);
	assert_true(cfg.restart_delay == 0.1);
	assert_true(cfg.restart_max_delay == 30);
	assert_true(cfg.stable_after == 10);
	assert_int_equal(cfg.ready, READY_TCP);
	assert_string_equal(cfg.ready_host, "127.0.0.1");
	assert_int_equal(cfg.ready_port, 80);
	assert_true(cfg.ready_timeout == 30);
	assert_string_equal(cfg.log_tag, "www");
	config_free(&cfg);
	assert_zeroed(&cfg);
}

/* The example must stay readable by inih: every line well under 200. */
static void
test_example_lines_short(void **state)
{
	FILE	*fp;
	char	 line[512];

	fp = fopen(EXAMPLE_CONFIG, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL)
		assert_true(strlen(line) < 200 && strchr(line, '\n') != NULL);
	fclose(fp);
}

static void
test_defaults(void **state)
{
	struct config	 cfg;

	expect_ok(DEPLOY, &cfg);
	assert_true(cfg.file[0] == '/');
	assert_string_equal(cfg.file, tmp_real);
	assert_null(cfg.repository);
	assert_string_equal(cfg.path, "/srv/site");
	assert_string_equal(cfg.branch, "master");
	assert_int_equal(cfg.keep, 5);
	assert_true(cfg.max_file == 100ULL << 20);
	assert_true(cfg.max_bytes == 2ULL << 30);
	assert_int_equal(cfg.max_entries, 100000);
	assert_int_equal(cfg.max_depth, 64);
	assert_int_equal(cfg.allow_other_owner, 0);
	assert_int_equal(cfg.dir_mode, 0755);
	assert_int_equal(cfg.file_mode, 0644);
	assert_null(cfg.owner);
	assert_null(cfg.group);
	assert_int_equal(cfg.shared.n, 0);
	assert_non_null(cfg.shared.v);
	assert_null(cfg.shared.v[0]);
	assert_int_equal(cfg.symlinks, SYMLINKS_INSIDE);
	assert_string_equal(cfg.syslog_tag, "redeploy");
	/* [agent] and [service] defaults are there for callers to read. */
	assert_int_equal(cfg.has_agent, 0);
	assert_string_equal(cfg.listen, "127.0.0.1:8421");
	assert_string_equal(cfg.listen_host, "127.0.0.1");
	assert_int_equal(cfg.listen_port, 8421);
	assert_string_equal(cfg.token_file, "/run/redeploy/token");
	assert_null(cfg.token_group);
	assert_int_equal(cfg.has_service, 0);
	assert_null(cfg.command);
	assert_null(cfg.user);
	assert_null(cfg.svc_group);
	assert_int_equal(cfg.authbind, 0);
	assert_int_equal(cfg.umask, 0002);
	assert_int_equal(cfg.stop_signal, SIGTERM);
	assert_true(cfg.stop_timeout == 10);
	assert_true(cfg.restart_delay == 0.1);
	assert_true(cfg.restart_max_delay == 30);
	assert_true(cfg.stable_after == 10);
	assert_int_equal(cfg.ready, READY_NONE);
	assert_null(cfg.ready_host);
	assert_int_equal(cfg.ready_port, 0);
	assert_null(cfg.ready_path);
	assert_true(cfg.ready_timeout == 30);
	assert_string_equal(cfg.log_tag, "www");
	assert_int_equal(cfg.environment.n, 0);
	assert_non_null(cfg.environment.v);
	assert_null(cfg.environment.v[0]);
	config_free(&cfg);
	assert_zeroed(&cfg);
}

static void
test_size_values(void **state)
{
	unsigned long long v;

	assert_int_equal(value_size("100M", 1ULL << 50, &v), 0);
	assert_true(v == 100ULL << 20);
	assert_int_equal(value_size("2G", 1ULL << 50, &v), 0);
	assert_true(v == 2ULL << 30);
	assert_int_equal(value_size("512", 1ULL << 50, &v), 0);
	assert_true(v == 512);
	assert_int_equal(value_size("8k", 1ULL << 50, &v), 0);
	assert_true(v == 8192);
	assert_int_equal(value_size("0", 1ULL << 50, &v), -1);
	assert_int_equal(value_size("10X", 1ULL << 50, &v), -1);
	assert_int_equal(value_size("1MB", 1ULL << 50, &v), -1);
	assert_int_equal(value_size("-1", 1ULL << 50, &v), -1);
	assert_int_equal(value_size("", 1ULL << 50, &v), -1);
	assert_int_equal(value_size("2048T", 1ULL << 50, &v), -1);
	assert_int_equal(value_size("99999999999999999999", 1ULL << 50, &v),
	    -1);
}

static void
test_all_values(void **state)
{
	struct config	 cfg;

	expect_ok("[deploy]\n"
	    "repository = /srv/git/site.git\n"
	    "path = /srv/site/\n"
	    "branch = release/2024\n"
	    "keep = 0\n"
	    "dir_mode = 2775\n"
	    "file_mode = 0640\n"
	    "owner = deploy\n"
	    "group = www\n"
	    "shared = uploads\n"
	    "symlinks = any\n"
	    "syslog_tag = my-site_1.x\n"
	    "[agent]\n"
	    "listen = [::1]:0\n"
	    "token_file = /run/site/token\n"
	    "token_group = deploy\n"
	    "[service]\n"
	    "command = exec gunicorn -b 127.0.0.1:8000 app:app\n"
	    "user = site\n"
	    "group = site\n"
	    "authbind = off\n"
	    "umask = 027\n"
	    "stop_signal = SIGQUIT\n"
	    "stop_timeout = 2.5\n"
	    "restart_delay = 1\n"
	    "restart_max_delay = 60\n"
	    "stable_after = 0.5\n"
	    "ready = http://localhost:8000/health?full=1\n"
	    "ready_timeout = 3600\n"
	    "log_tag = site\n"
	    "environment = A=1 B_2=x=y\n", &cfg);
	assert_string_equal(cfg.repository, "/srv/git/site.git");
	assert_string_equal(cfg.path, "/srv/site/");
	assert_string_equal(cfg.branch, "release/2024");
	assert_int_equal(cfg.keep, 0);
	assert_int_equal(cfg.dir_mode, 02775);
	assert_int_equal(cfg.file_mode, 0640);
	assert_string_equal(cfg.owner, "deploy");
	assert_string_equal(cfg.group, "www");
	assert_int_equal(cfg.symlinks, SYMLINKS_ANY);
	assert_string_equal(cfg.syslog_tag, "my-site_1.x");
	assert_string_equal(cfg.listen, "[::1]:0");
	assert_string_equal(cfg.listen_host, "::1");
	assert_int_equal(cfg.listen_port, 0);
	assert_string_equal(cfg.token_file, "/run/site/token");
	assert_string_equal(cfg.token_group, "deploy");
	assert_string_equal(cfg.command,
	    "exec gunicorn -b 127.0.0.1:8000 app:app");
	assert_string_equal(cfg.user, "site");
	assert_string_equal(cfg.svc_group, "site");
	assert_int_equal(cfg.authbind, 0);
	assert_int_equal(cfg.umask, 027);
	assert_int_equal(cfg.stop_signal, SIGQUIT);
	assert_true(cfg.stop_timeout == 2.5);
	assert_true(cfg.restart_delay == 1);
	assert_true(cfg.restart_max_delay == 60);
	assert_true(cfg.stable_after == 0.5);
	assert_int_equal(cfg.ready, READY_HTTP);
	assert_string_equal(cfg.ready_host, "localhost");
	assert_int_equal(cfg.ready_port, 8000);
	assert_string_equal(cfg.ready_path, "/health?full=1");
	assert_true(cfg.ready_timeout == 3600);
	assert_string_equal(cfg.log_tag, "site");
	assert_int_equal(cfg.environment.n, 2);
	assert_string_equal(cfg.environment.v[0], "A=1");
	assert_string_equal(cfg.environment.v[1], "B_2=x=y");
	assert_null(cfg.environment.v[2]);
	config_free(&cfg);
}

static void
test_missing_file(void **state)
{
	struct config	 cfg;
	char		 err[CONFIG_ERRLEN], want[CONFIG_ERRLEN];

	memset(&cfg, 0xa5, sizeof(cfg));
	assert_int_equal(config_load(&cfg, "/nonexistent/redeploy.ini", err,
	    sizeof(err)), -1);
	snprintf(want, sizeof(want), "/nonexistent/redeploy.ini: cannot "
	    "open: %s (name the config with -c FILE or REDEPLOY_CONFIG=FILE; "
	    "see redeploy.ini(5))", strerror(ENOENT));
	assert_string_equal(err, want);
	assert_zeroed(&cfg);
}

static void
test_directory(void **state)
{
	struct config	 cfg;
	char		 err[CONFIG_ERRLEN];

	assert_int_equal(config_load(&cfg, "/", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/: cannot "));
	assert_zeroed(&cfg);
}

static void
test_missing_path(void **state)
{
	expect_message("", 0, "[deploy] path is required");
	expect_message("; only a comment\n", 0, "[deploy] path is required");
	expect_message("[deploy]\nbranch = main\n", 0,
	    "[deploy] path is required");
	expect_message("[deploy]\n" AGENT_SERVICE, 0,
	    "[deploy] path is required");
}

static void
test_relative_path(void **state)
{
	expect_message("[deploy]\npath = var/www\n", 2,
	    "path 'var/www' is not an absolute path");
	expect_deploy_error("repository = site.git",
	    "repository 'site.git' is not an absolute path");
	expect_deploy_error("repository = ./site.git", "repository");
	expect_error(DEPLOY "[agent]\ntoken_file = run/token\n" SERVICE, 4,
	    "token_file 'run/token' is not an absolute path");
}

static void
test_overlong_line(void **state)
{
	char	 text[1024], value[301];

	memset(value, 'a', 300);
	value[300] = '\0';
	snprintf(text, sizeof(text), DEPLOY "; fine\nrepository = /%s\n",
	    value);
	expect_message(text, 4, "line too long (at most 198 characters)");

	/* An overlong comment is still an overlong line. */
	snprintf(text, sizeof(text), DEPLOY "; %s\n", value);
	expect_error(text, 3, "line too long");
}

/* 198 characters is the most inih can take; indentation counts too. */
static void
test_line_limit(void **state)
{
	struct config	 cfg;
	char		 text[1024], line[256];
	size_t		 n;

	n = strlen("repository = /");
	memset(line, 'r', sizeof(line));
	memcpy(line, "repository = /", n);
	line[198] = '\0';
	snprintf(text, sizeof(text), DEPLOY "%s\n", line);
	expect_ok(text, &cfg);
	assert_int_equal(strlen(cfg.repository), 198 - n + 1);
	config_free(&cfg);

	/* The same with CRLF: the '\r' is part of the end of line. */
	snprintf(text, sizeof(text), DEPLOY "%s\r\n", line);
	expect_ok(text, &cfg);
	config_free(&cfg);

	/* The last line of a file needs no newline. */
	snprintf(text, sizeof(text), DEPLOY "%s", line);
	expect_ok(text, &cfg);
	config_free(&cfg);

	line[198] = 'r';
	line[199] = '\0';
	snprintf(text, sizeof(text), DEPLOY "%s\n", line);
	expect_error(text, 3, "line too long (at most 198 characters)");
	snprintf(text, sizeof(text), DEPLOY "%s", line);
	expect_error(text, 3, "line too long");

	snprintf(text, sizeof(text), DEPLOY "  %s\n", line + 2);
	expect_error(text, 3, "line too long");
}

/*
 * inih alone would read the first 198 characters as one line and the
 * rest, "keep = 7", as a second: the long line must be an error instead.
 */
static void
test_long_value_no_smuggle(void **state)
{
	char	 text[1024], line[256];
	size_t	 n;

	n = strlen("repository = /");
	memset(line, 'x', sizeof(line));
	memcpy(line, "repository = /", n);
	memcpy(line + 198, "keep = 7", 8);
	line[206] = '\0';
	snprintf(text, sizeof(text), DEPLOY "%s\nbranch = main\n", line);
	expect_message(text, 3, "line too long (at most 198 characters)");

	memcpy(line + 197, "[agent]", 7);
	line[204] = '\0';
	snprintf(text, sizeof(text), DEPLOY "%s\n", line);
	expect_error(text, 3, "line too long");
}

static void
test_unknown_section(void **state)
{
	expect_message(DEPLOY "[web]\nport = 80\n", 3,
	    "unknown section '[web]' (use [deploy], [agent] or [service])");
	expect_error("[Deploy]\npath = /srv/site\n", 1,
	    "unknown section '[Deploy]'");
	expect_error(DEPLOY "\n\n[ agent ]\n", 5,
	    "unknown section '[ agent ]'");
	expect_error(DEPLOY "[]\n", 3, "unknown section '[]'");
}

static void
test_unknown_key(void **state)
{
	expect_message(DEPLOY "kep = 3\n", 3,
	    "unknown key 'kep' in [deploy] (did you mean 'keep'?)");
	/* Key names are lower-case: Keep is not keep, but close to it. */
	expect_message(DEPLOY "Keep = 3\n", 3,
	    "unknown key 'Keep' in [deploy] (did you mean 'keep'?)");
	expect_message(DEPLOY "dirmode = 0755\n", 3,
	    "unknown key 'dirmode' in [deploy] (did you mean 'dir_mode'?)");
	expect_message(DEPLOY "frobnicate = 1\n", 3,
	    "unknown key 'frobnicate' in [deploy]");
	expect_message(DEPLOY "listen = 127.0.0.1:1\n", 3,
	    "unknown key 'listen' in [deploy] (it belongs in [agent])");
	expect_service_error("stop_timout = 3", "unknown key 'stop_timout' in "
	    "[service] (did you mean 'stop_timeout'?)");
	expect_error(DEPLOY "[agent]\nlisten = 127.0.0.1:1\nport = 1\n"
	    SERVICE, 5, "unknown key 'port' in [agent]");
}

static void
test_key_outside_section(void **state)
{
	expect_error("path = /srv/site\n" DEPLOY, 1,
	    "key 'path' is outside any section");
}

static void
test_duplicate_key(void **state)
{
	expect_message(DEPLOY "keep = 3\n; again\nkeep = 4\n", 5,
	    "duplicate key 'keep' in [deploy] (first set on line 3)");
	/* Repeating a header is fine; repeating a key through it is not. */
	expect_message("[deploy]\npath = /a\n" AGENT_SERVICE
	    "[deploy]\nkeep = 1\npath = /b\n", 8,
	    "duplicate key 'path' in [deploy] (first set on line 2)");
	/* The same name in two sections is two keys. */
	{
		struct config	 cfg;

		expect_ok(DEPLOY "group = a\n" AGENT_SERVICE "group = b\n"
		    "[deploy]\nkeep = 2\n", &cfg);
		assert_string_equal(cfg.group, "a");
		assert_string_equal(cfg.svc_group, "b");
		assert_int_equal(cfg.keep, 2);
		config_free(&cfg);
	}
	/* A bad first value is reported, not the duplicate after it. */
	expect_error(DEPLOY "keep = x\nkeep = 1\n", 3, "keep 'x'");
}

static void
test_empty_value(void **state)
{
	expect_message(DEPLOY "keep =\n", 3, "empty value for 'keep'");
	expect_message(DEPLOY "branch =    \n", 3, "empty value for 'branch'");
	expect_message(DEPLOY "owner = ; nobody\n", 3,
	    "empty value for 'owner'");
	expect_service_error("user =", "empty value for 'user'");
	expect_error("[deploy]\npath =\n", 2, "empty value for 'path'");
}

static void
test_syntax_error(void **state)
{
	static const char msg[] =
	    "syntax error (expected 'key = value' or '[section]')";

	expect_message(DEPLOY "just words\n", 3, msg);
	expect_message(DEPLOY "[agent\n", 3, msg);
	expect_message(DEPLOY "= 5\n", 3, msg);
	expect_message(DEPLOY "keep: 5\n", 3, msg);
	expect_message(DEPLOY "[agent] listen = 1\n", 3, msg);
	expect_message(DEPLOY "[agent ; x]\n", 3, msg);
	expect_message("keep ; = 5\n" DEPLOY, 1, msg);
}

static void
test_control_characters(void **state)
{
	static const char nul[] = DEPLOY "branch = ma\0in\n";

	expect_error(DEPLOY "branch = ma\001in\n", 3, "control character");
	expect_error(DEPLOY "branch = main\rkeep = 1\n", 3,
	    "control character");
	expect_error_len(nul, sizeof(nul) - 1, 3, "control character");
}

static void
test_comments(void **state)
{
	struct config	 cfg;

	expect_ok("; a comment\n"
	    "# another\n"
	    "[deploy] ; the section\n"
	    "\n"
	    "path = /srv/site ; inline comment\n"
	    "branch = main\t; tab before it\n"
	    "  ; indented comment\n"
	    "\t# indented hash comment\n"
	    "repository = /srv/git#1 ; '#' inside a value is not a comment\n",
	    &cfg);
	assert_string_equal(cfg.path, "/srv/site");
	assert_string_equal(cfg.branch, "main");
	assert_string_equal(cfg.repository, "/srv/git#1");
	config_free(&cfg);

	/* ';' starts a comment only after whitespace. */
	expect_error(DEPLOY "keep = 5;x\n", 3, "keep '5;x'");
	/* '#' is not an inline comment. */
	expect_error(DEPLOY "keep = 5 # five\n", 3, "keep '5 # five'");
	/* A comment line's line counts. */
	expect_error("; 1\n# 2\n\n" DEPLOY "keep = 9999\n", 6, "keep '9999'");
}

/* Indented lines are keys of their own, never continuations. */
static void
test_indented(void **state)
{
	struct config	 cfg;

	expect_ok("  [deploy]\n"
	    "    path = /srv/site\n"
	    "\tkeep = 3\n"
	    " \t branch = main\n", &cfg);
	assert_string_equal(cfg.path, "/srv/site");
	assert_int_equal(cfg.keep, 3);
	assert_string_equal(cfg.branch, "main");
	config_free(&cfg);

	/* Not a continuation of path: an error of its own. */
	expect_message(DEPLOY "   /more/path\n", 3,
	    "syntax error (expected 'key = value' or '[section]')");
}

static void
test_crlf_and_bom(void **state)
{
	struct config	 cfg;

	expect_ok("\xef\xbb\xbf[deploy]\r\npath = /srv/site\r\nkeep = 2\r\n",
	    &cfg);
	assert_string_equal(cfg.path, "/srv/site");
	assert_int_equal(cfg.keep, 2);
	config_free(&cfg);
	expect_error("[deploy]\r\npath = /srv/site\r\nkeep = x\r\n", 3,
	    "keep 'x'");
}

static void
test_keep(void **state)
{
	struct config	 cfg;

	expect_deploy_error("keep = -1",
	    "keep '-1' is not a whole number from 0 to 1000");
	expect_deploy_error("keep = 1001", "keep '1001'");
	expect_deploy_error("keep = 5x", "keep '5x'");
	expect_deploy_error("keep = +5", "keep '+5'");
	expect_deploy_error("keep = 0x5", "keep '0x5'");
	expect_deploy_error("keep = 1.5", "keep '1.5'");
	expect_deploy_error("keep = 99999999999999999999999", "keep '9999");
	expect_deploy_error("keep =", "empty value for 'keep'");
	expect_ok(DEPLOY "keep = 1000\n", &cfg);
	assert_int_equal(cfg.keep, 1000);
	config_free(&cfg);
	expect_ok(DEPLOY "keep = 0\n", &cfg);
	assert_int_equal(cfg.keep, 0);
	config_free(&cfg);
}

static void
test_modes(void **state)
{
	struct config	 cfg;
	mode_t		 m;

	expect_deploy_error("dir_mode = 0999",
	    "dir_mode '0999' is not an octal mode from 0 to 07777");
	expect_deploy_error("dir_mode = 8", "dir_mode '8'");
	expect_deploy_error("dir_mode = 010000", "dir_mode '010000'");
	expect_deploy_error("dir_mode = 0o755", "dir_mode '0o755'");
	expect_deploy_error("dir_mode = -755", "dir_mode '-755'");
	expect_deploy_error("file_mode = 01777",
	    "file_mode '01777' is not an octal mode from 0 to 0777");
	expect_deploy_error("file_mode = 0999", "file_mode '0999'");
	expect_service_error("umask = 01000", "umask '01000'");
	expect_service_error("umask = u=rwx", "umask 'u=rwx'");

	expect_ok(DEPLOY "dir_mode = 2775\nfile_mode = 444\n", &cfg);
	assert_int_equal(cfg.dir_mode, 02775);
	assert_int_equal(cfg.file_mode, 0444);
	config_free(&cfg);

	assert_int_equal(config_parse_mode("0755", 07777, &m), 0);
	assert_int_equal(m, 0755);
	assert_int_equal(config_parse_mode("755", 07777, &m), 0);
	assert_int_equal(m, 0755);
	assert_int_equal(config_parse_mode("0", 0777, &m), 0);
	assert_int_equal(m, 0);
	assert_int_equal(config_parse_mode("07777", 07777, &m), 0);
	assert_int_equal(m, 07777);
	assert_int_equal(config_parse_mode("0777", 0777, &m), 0);
	assert_int_equal(config_parse_mode("01777", 0777, &m), -1);
	assert_int_equal(config_parse_mode("0999", 07777, &m), -1);
	assert_int_equal(config_parse_mode("8", 07777, &m), -1);
	assert_int_equal(config_parse_mode("", 07777, &m), -1);
	assert_int_equal(config_parse_mode(" 755", 07777, &m), -1);
	assert_int_equal(config_parse_mode("755 ", 07777, &m), -1);
	assert_int_equal(config_parse_mode("77777777777777777777777", 07777,
	    &m), -1);
}

static void
test_bool(void **state)
{
	static const char *const yes[] = { "yes", "true", "on", "1", "Yes" };
	static const char *const no[] = { "no", "false", "off", "0", "NO" };
	static const char *const bad[] = { "", "y", "2", "maybe", "yes!" };
	struct config	 cfg;
	size_t		 i;
	int		 b;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		b = -1;
		assert_int_equal(config_parse_bool(yes[i], &b), 0);
		assert_int_equal(b, 1);
		b = -1;
		assert_int_equal(config_parse_bool(no[i], &b), 0);
		assert_int_equal(b, 0);
		assert_int_equal(config_parse_bool(bad[i], &b), -1);
	}
	expect_service_error("authbind = maybe",
	    "authbind 'maybe' must be yes or no");
	load_service("authbind = true", &cfg);
	assert_int_equal(cfg.authbind, 1);
	config_free(&cfg);
}

static void
test_signal(void **state)
{
	static const struct {
		const char	*s;
		int		 signo;
	} good[] = {
		{ "TERM", SIGTERM }, { "SIGTERM", SIGTERM }, { "INT", SIGINT },
		{ "HUP", SIGHUP }, { "QUIT", SIGQUIT }, { "KILL", SIGKILL },
		{ "USR1", SIGUSR1 }, { "SIGUSR2", SIGUSR2 },
		{ "WINCH", SIGWINCH }, { "term", SIGTERM }, { "9", 9 },
		{ "1", 1 }, { "64", 64 },
	};
	static const char *const bad[] = { "", "0", "65", "-15", "15x",
	    "SIG", "SIG9", "TERMX", "STOP", "SIGSEGV", " TERM", "0x9" };
	struct config	 cfg;
	size_t		 i;
	int		 n;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		n = -1;
		assert_int_equal(config_parse_signal(good[i].s, &n), 0);
		assert_int_equal(n, good[i].signo);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (config_parse_signal(bad[i], &n) != -1)
			fail_msg("signal '%s' accepted", bad[i]);
	expect_service_error("stop_signal = STOP",
	    "stop_signal 'STOP' is not a signal");
	expect_service_error("stop_signal = 99", "stop_signal '99'");
	load_service("stop_signal = HUP", &cfg);
	assert_int_equal(cfg.stop_signal, SIGHUP);
	config_free(&cfg);
}

static void
test_seconds(void **state)
{
	static const char *const bad[] = { "abc", "1e999", "1e3", "nan",
	    "NAN", "inf", "infinity", "-1", "0", "0.0", "", ".", "1.2.3",
	    "3600.5", "3601", "0x10", "+1", " 1", "1 ", "10s", "1,5",
	    "1e-999" };
	static const char *const keys[] = { "stop_timeout", "restart_delay",
	    "restart_max_delay", "stable_after", "ready_timeout" };
	struct config	 cfg;
	char		 kv[64], want[64], big[400];
	size_t		 i;
	double		 d;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (config_parse_seconds(bad[i], 3600, &d) != -1)
			fail_msg("seconds '%s' accepted", bad[i]);
	memset(big, '9', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(config_parse_seconds(big, 1e308, &d), -1);
	assert_int_equal(config_parse_seconds("0.1", 3600, &d), 0);
	assert_true(d == 0.1);
	assert_int_equal(config_parse_seconds(".5", 3600, &d), 0);
	assert_true(d == 0.5);
	assert_int_equal(config_parse_seconds("3600", 3600, &d), 0);
	assert_true(d == 3600);
	assert_int_equal(config_parse_seconds("10.", 3600, &d), 0);
	assert_true(d == 10);
	assert_int_equal(config_parse_seconds("11", 10, &d), -1);

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(kv, sizeof(kv), "%s = abc", keys[i]);
		snprintf(want, sizeof(want), "%s 'abc' is not a number of "
		    "seconds", keys[i]);
		expect_service_error(kv, want);
		snprintf(kv, sizeof(kv), "%s = 0", keys[i]);
		snprintf(want, sizeof(want), "%s '0'", keys[i]);
		expect_service_error(kv, want);
	}
	expect_service_error("stop_timeout = 1e999", "stop_timeout '1e999'");
	expect_service_error("stop_timeout = nan", "stop_timeout 'nan'");
	expect_service_error("stop_timeout = -1", "stop_timeout '-1'");
	expect_service_error("ready_timeout = 3601", "ready_timeout '3601'");
	load_service("stop_timeout = 0.25", &cfg);
	assert_true(cfg.stop_timeout == 0.25);
	config_free(&cfg);
}

static void
test_restart_delays(void **state)
{
	struct config	 cfg;

	expect_message(DEPLOY AGENT_SERVICE "restart_delay = 10\n"
	    "restart_max_delay = 5\n", 7, "restart_max_delay 5 is less than "
	    "restart_delay 10 (raise restart_max_delay)");
	/* Only restart_delay written: the line is that one's. */
	expect_error(DEPLOY AGENT_SERVICE "restart_delay = 60\n", 6,
	    "restart_max_delay 30 is less than restart_delay 60");
	load_service("restart_delay = 30", &cfg);
	assert_true(cfg.restart_delay == 30);
	assert_true(cfg.restart_max_delay == 30);
	config_free(&cfg);
}

static void
test_listen(void **state)
{
	static const struct {
		const char	*listen;
		const char	*host;
		int		 port;
	} good[] = {
		{ "127.0.0.1:8421", "127.0.0.1", 8421 },
		{ "[::1]:80", "::1", 80 },
		{ "localhost:65535", "localhost", 65535 },
		{ "127.0.0.1:0", "127.0.0.1", 0 },
	};
	static const char *const remote[] = { "0.0.0.0:80", "192.0.2.1:80",
	    "127.0.0.2:80", "[::]:80", "::1:80", "example.com:80", ":80",
	    "LOCALHOST:80", "*:80" };
	struct config	 cfg;
	char		 text[256], want[256];
	size_t		 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text), DEPLOY "[agent]\nlisten = %s\n"
		    SERVICE, good[i].listen);
		expect_ok(text, &cfg);
		assert_string_equal(cfg.listen, good[i].listen);
		assert_string_equal(cfg.listen_host, good[i].host);
		assert_int_equal(cfg.listen_port, good[i].port);
		config_free(&cfg);
	}
	expect_message(DEPLOY "[agent]\nlisten = 0.0.0.0:80\n" SERVICE, 4,
	    "listen '0.0.0.0:80' is not a loopback address (use 127.0.0.1, "
	    "[::1] or localhost)");
	for (i = 0; i < sizeof(remote) / sizeof(remote[0]); i++) {
		snprintf(text, sizeof(text), DEPLOY "[agent]\nlisten = %s\n"
		    SERVICE, remote[i]);
		snprintf(want, sizeof(want), "listen '%s' is not a loopback "
		    "address", remote[i]);
		expect_error(text, 4, want);
	}
	expect_error(DEPLOY "[agent]\nlisten = 127.0.0.1:65536\n" SERVICE, 4,
	    "listen '127.0.0.1:65536' has a bad port (use 0 to 65535)");
	expect_error(DEPLOY "[agent]\nlisten = localhost:http\n" SERVICE, 4,
	    "listen 'localhost:http' has a bad port");
	expect_error(DEPLOY "[agent]\nlisten = [::1]:\n" SERVICE, 4,
	    "listen '[::1]:' has a bad port");
	expect_error(DEPLOY "[agent]\nlisten = 127.0.0.1:-1\n" SERVICE, 4,
	    "listen '127.0.0.1:-1' has a bad port");
	expect_error(DEPLOY "[agent]\nlisten = 127.0.0.1\n" SERVICE, 4,
	    "listen '127.0.0.1' has no port");
	expect_error(DEPLOY "[agent]\nlisten = localhost\n" SERVICE, 4,
	    "listen 'localhost' has no port");
}

static void
test_shared(void **state)
{
	struct config	 cfg;

	expect_ok(DEPLOY "shared = a//b/ ./c/. log\tlog/ tmp/cache a/b\n",
	    &cfg);
	assert_int_equal(cfg.shared.n, 4);
	assert_string_equal(cfg.shared.v[0], "a/b");
	assert_string_equal(cfg.shared.v[1], "c");
	assert_string_equal(cfg.shared.v[2], "log");
	assert_string_equal(cfg.shared.v[3], "tmp/cache");
	assert_null(cfg.shared.v[4]);
	config_free(&cfg);

	expect_deploy_error("shared = log ../x",
	    "shared path '../x' must not contain '..'");
	expect_deploy_error("shared = a/../b", "shared path 'a/../b'");
	expect_deploy_error("shared = a/..", "shared path 'a/..'");
	expect_deploy_error("shared = /x",
	    "shared path '/x' is absolute (give it relative to the release)");
	expect_deploy_error("shared = .", "shared path '.' names the release");
	expect_deploy_error("shared = ./ log", "shared path './'");
	expect_deploy_error("shared = log log/x",
	    "shared path 'log/x' overlaps shared path 'log'");
	expect_deploy_error("shared = var/log var",
	    "shared path 'var' overlaps shared path 'var/log'");
	/* Prefixes that are not parents do not overlap. */
	expect_ok(DEPLOY "shared = log logs\n", &cfg);
	assert_int_equal(cfg.shared.n, 2);
	config_free(&cfg);
}

static void
test_environment(void **state)
{
	struct config	 cfg;

	load_service("environment = FOO=bar  _X=1\tEMPTY= PATH=/usr/bin:/bin",
	    &cfg);
	assert_int_equal(cfg.environment.n, 4);
	assert_string_equal(cfg.environment.v[0], "FOO=bar");
	assert_string_equal(cfg.environment.v[1], "_X=1");
	assert_string_equal(cfg.environment.v[2], "EMPTY=");
	assert_string_equal(cfg.environment.v[3], "PATH=/usr/bin:/bin");
	assert_null(cfg.environment.v[4]);
	config_free(&cfg);

	expect_service_error("environment = FOO",
	    "environment entry 'FOO' is not KEY=VALUE");
	expect_service_error("environment = A=1 1X=2",
	    "environment name '1X' is not valid");
	expect_service_error("environment = A-B=1", "environment name 'A-B'");
	expect_service_error("environment = =1", "environment name ''");
	expect_service_error("environment = REDEPLOY_RELEASE=x",
	    "environment must not set 'REDEPLOY_RELEASE'");
	expect_service_error("environment = FOO=1 FOO=2",
	    "environment sets 'FOO' twice");
	/* FOO and FOOBAR are different names. */
	load_service("environment = FOO=1 FOOBAR=2 REDEPLOY=3", &cfg);
	assert_int_equal(cfg.environment.n, 3);
	config_free(&cfg);
}

static void
test_agent_service_pair(void **state)
{
	static const char msg[] = "[agent] and [service] go together (a "
	    "config with neither deploys files only)";

	expect_message(DEPLOY "[agent]\n", 0, msg);
	expect_message(DEPLOY "[agent]\nlisten = 127.0.0.1:1\n", 0, msg);
	expect_message(DEPLOY SERVICE, 0, msg);
}

static void
test_service_needs_command(void **state)
{
	expect_message(DEPLOY "[agent]\n[service]\nuser = www-data\n", 0,
	    "[service] command is required");
}

static void
test_branch(void **state)
{
	static const char *const bad[] = { "a..b", "-x", "/x", "x/", "x.lock",
	    "a.lock/b", "a b", "a\tb", "a~b", "a^b", "a:b", "a?b", "a*b",
	    "a[b", "a\\b", "a@{b", "@", "a//b", ".x", "a/.x", "x.", "a\177b" };
	struct config	 cfg;
	char		 kv[64], want[64];
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(kv, sizeof(kv), "branch = %s", bad[i]);
		if (strchr(bad[i], '\177') != NULL)
			snprintf(want, sizeof(want), "control character");
		else
			snprintf(want, sizeof(want), "branch '%s' is not a "
			    "valid branch name", bad[i]);
		expect_deploy_error(kv, want);
	}
	expect_ok(DEPLOY "branch = feature/x-1.2_\xc3\xa9@home\n", &cfg);
	assert_string_equal(cfg.branch, "feature/x-1.2_\xc3\xa9@home");
	config_free(&cfg);
}

static void
test_names(void **state)
{
	struct config	 cfg;

	expect_deploy_error("owner = root", "owner must not be root");
	expect_deploy_error("owner = 0", "owner must not be root");
	expect_deploy_error("owner = 000", "owner must not be root");
	expect_deploy_error("owner = git www", "owner 'git www' is not a user "
	    "or group name");
	expect_deploy_error("group = a:b", "group 'a:b'");
	expect_deploy_error("group = -g", "group '-g'");
	expect_service_error("user = a/b", "user 'a/b'");
	expect_service_error("group = x y", "group 'x y'");
	expect_error(DEPLOY "[agent]\ntoken_group = a b\n" SERVICE, 4,
	    "token_group 'a b'");
	/* Names are not resolved here: unknown users load fine. */
	expect_ok(DEPLOY "owner = 1000\ngroup = no-such-group\n", &cfg);
	assert_string_equal(cfg.owner, "1000");
	assert_string_equal(cfg.group, "no-such-group");
	config_free(&cfg);
	/* root may run the service; only releases must not be root's. */
	load_service("user = root", &cfg);
	assert_string_equal(cfg.user, "root");
	config_free(&cfg);
}

static void
test_symlinks(void **state)
{
	struct config	 cfg;

	expect_deploy_error("symlinks = outside",
	    "symlinks 'outside' must be inside or any");
	expect_deploy_error("symlinks = Any", "symlinks 'Any'");
	expect_ok(DEPLOY "symlinks = any\n", &cfg);
	assert_int_equal(cfg.symlinks, SYMLINKS_ANY);
	config_free(&cfg);
}

static void
test_tags(void **state)
{
	struct config	 cfg;

	expect_deploy_error("syslog_tag = 123456789012345678901234567890123",
	    "syslog_tag '123456789012345678901234567890123' must be 1 to 32");
	expect_deploy_error("syslog_tag = my tag", "syslog_tag 'my tag'");
	expect_deploy_error("syslog_tag = a:b", "syslog_tag 'a:b'");
	expect_service_error("log_tag = a/b", "log_tag 'a/b' must be 1 to 32");
	expect_ok(DEPLOY "syslog_tag = 12345678901234567890123456789012\n",
	    &cfg);
	config_free(&cfg);
}

static void
test_ready(void **state)
{
	static const struct {
		const char	*ready;
		enum config_ready kind;
		const char	*host;
		int		 port;
		const char	*path;
	} good[] = {
		{ "none", READY_NONE, NULL, 0, NULL },
		{ "tcp:127.0.0.1:80", READY_TCP, "127.0.0.1", 80, NULL },
		{ "tcp:localhost:8080", READY_TCP, "localhost", 8080, NULL },
		{ "tcp:[::1]:443", READY_TCP, "::1", 443, NULL },
		{ "tcp:10.0.0.5:5432", READY_TCP, "10.0.0.5", 5432, NULL },
		{ "http://127.0.0.1:8000/health", READY_HTTP, "127.0.0.1",
		    8000, "/health" },
		{ "http://[::1]:8080/", READY_HTTP, "::1", 8080, "/" },
		{ "http://localhost:8080", READY_HTTP, "localhost", 8080,
		    "/" },
		{ "http://localhost/up", READY_HTTP, "localhost", 80, "/up" },
	};
	static const char *const bad[] = { "tcp:127.0.0.1", "tcp:127.0.0.1:",
	    "tcp:127.0.0.1:0", "tcp:127.0.0.1:65536", "tcp::80", "tcp:::1:80",
	    "tcp:[::1]80", "tcp:[]:80", "tcp:a b:80", "http://",
	    "http://:80/", "http://localhost:x/", "http://h:80/a b",
	    "http://h:80/a#b", "tcp:127.0.0.1:80x" };
	struct config	 cfg;
	char		 kv[128], want[128];
	size_t		 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(kv, sizeof(kv), "ready = %s", good[i].ready);
		load_service(kv, &cfg);
		assert_int_equal(cfg.ready, good[i].kind);
		if (good[i].host == NULL)
			assert_null(cfg.ready_host);
		else
			assert_string_equal(cfg.ready_host, good[i].host);
		assert_int_equal(cfg.ready_port, good[i].port);
		if (good[i].path == NULL)
			assert_null(cfg.ready_path);
		else
			assert_string_equal(cfg.ready_path, good[i].path);
		config_free(&cfg);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(kv, sizeof(kv), "ready = %s", bad[i]);
		snprintf(want, sizeof(want), "ready '%s' is not", bad[i]);
		expect_service_error(kv, want);
	}
	expect_service_error("ready = udp:127.0.0.1:53", "ready "
	    "'udp:127.0.0.1:53' must be none, notify, tcp:HOST:PORT or "
	    "http://HOST:PORT/PATH");
	expect_service_error("ready = https://localhost/", "ready "
	    "'https://localhost/' must be none");
}

/* [service] listen, restart and ready = notify, and the rules they share. */
static void
test_service_listen(void **state)
{
	struct config	 cfg;

	load_service("ready = notify", &cfg);
	assert_int_equal(cfg.ready, READY_NOTIFY);
	assert_int_equal(cfg.restart, RESTART_STOP_FIRST);
	assert_int_equal(cfg.svc_listen.n, 0);
	config_free(&cfg);

	load_service("listen = 0.0.0.0:80 [::]:80 unix:/run/site.sock\n"
	    "ready = notify\nlisten_mode = 0600", &cfg);
	assert_int_equal(cfg.svc_listen.n, 3);
	assert_string_equal(cfg.svc_listen.v[1], "[::]:80");
	assert_string_equal(cfg.svc_listen.v[2], "unix:/run/site.sock");
	assert_int_equal(cfg.listen_mode, 0600);
	/* with held sockets, overlap is the default */
	assert_int_equal(cfg.restart, RESTART_OVERLAP);
	config_free(&cfg);

	load_service("listen = 127.0.0.1:8000\nrestart = stop-first\n"
	    "ready = tcp:127.0.0.1:9000", &cfg);
	assert_int_equal(cfg.restart, RESTART_STOP_FIRST);
	config_free(&cfg);

	expect_service_error("listen = localhost:80", "listen 'localhost:80': "
	    "'localhost' is not an IPv4 address");
	expect_service_error("listen = 0.0.0.0", "listen '0.0.0.0' is not "
	    "ADDR:PORT");
	expect_service_error("listen = 0.0.0.0:0", "is not ADDR:PORT");
	expect_service_error("listen = unix:run/x", "is not "
	    "unix:/ABSOLUTE/PATH");
	expect_service_error("listen = 127.0.0.1:80 127.0.0.1:80",
	    "listen '127.0.0.1:80' is given twice");
	expect_service_error("restart = rolling", "restart 'rolling' must be "
	    "overlap or stop-first");
	expect_service_error("restart = overlap", "restart = overlap needs "
	    "[service] listen");
	/* the kernel answers a connect to a socket the agent holds */
	expect_service_error("ready = tcp:127.0.0.1:8000\nrestart = stop-first"
	    "\nlisten = 0.0.0.0:8000", "use ready = http://... or notify");
	expect_service_error("ready = tcp:[::1]:8000\nrestart = stop-first\n"
	    "listen = [::1]:8000", "is a socket redeployd holds itself");
	expect_service_error("ready = none\nlisten = 127.0.0.1:8000",
	    "restart = overlap needs ready = notify or http://");
}

static void
test_realpath(void **state)
{
	struct config	 cfg;
	char		 err[CONFIG_ERRLEN], dotted[PATH_MAX + 8], *slash;

	write_tmp(DEPLOY, strlen(DEPLOY));
	/* "/tmp/test_config.X" -> "/tmp/./test_config.X" */
	slash = strrchr(tmp_path, '/');
	assert_non_null(slash);
	snprintf(dotted, sizeof(dotted), "%.*s/.%s", (int)(slash - tmp_path),
	    tmp_path, slash);
	assert_int_equal(config_load(&cfg, dotted, err, sizeof(err)), 0);
	unlink(tmp_path);
	assert_string_equal(cfg.file, tmp_real);
	config_free(&cfg);
}

/* The message names the path as given, not its realpath. */
static void
test_error_names_path_as_given(void **state)
{
	struct config	 cfg;
	char		 err[CONFIG_ERRLEN], dotted[PATH_MAX + 8], *slash;
	char		 want[PATH_MAX + 64];

	write_tmp(DEPLOY "keep = x\n", strlen(DEPLOY "keep = x\n"));
	slash = strrchr(tmp_path, '/');
	assert_non_null(slash);
	snprintf(dotted, sizeof(dotted), "%.*s/.%s", (int)(slash - tmp_path),
	    tmp_path, slash);
	assert_int_equal(config_load(&cfg, dotted, err, sizeof(err)), -1);
	unlink(tmp_path);
	snprintf(want, sizeof(want), "%s:3: keep 'x'", dotted);
	assert_true(strncmp(err, want, strlen(want)) == 0);
	assert_zeroed(&cfg);
}

static void
test_small_errbuf(void **state)
{
	struct config	 cfg;
	char		 err[8];

	memset(err, 'x', sizeof(err));
	write_tmp(DEPLOY "keep = x\n", strlen(DEPLOY "keep = x\n"));
	assert_int_equal(config_load(&cfg, tmp_path, err, sizeof(err)), -1);
	assert_int_equal(config_load(&cfg, tmp_path, NULL, 0), -1);
	unlink(tmp_path);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_zeroed(&cfg);
}

static void
test_config_free(void **state)
{
	struct config	 cfg;

	memset(&cfg, 0, sizeof(cfg));
	config_free(&cfg);
	assert_zeroed(&cfg);
	config_free(NULL);
	expect_ok(DEPLOY "shared = a b\n" AGENT_SERVICE "environment = A=1\n"
	    "ready = http://localhost:1/\n", &cfg);
	config_free(&cfg);
	assert_zeroed(&cfg);
	config_free(&cfg);
}

/* The first error is the one reported, whatever follows it. */
static void
test_first_error_wins(void **state)
{
	expect_error(DEPLOY "keep = x\n[nope]\nbranch = ..\n", 3, "keep 'x'");
	expect_error(DEPLOY "junk\nkeep = x\n", 3, "syntax error");
	expect_error("[deploy]\nkeep = x\n", 2, "keep 'x'");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_loads),
		cmocka_unit_test(test_example_lines_short),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_all_values),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_size_values),
		cmocka_unit_test(test_directory),
		cmocka_unit_test(test_missing_path),
		cmocka_unit_test(test_relative_path),
		cmocka_unit_test(test_overlong_line),
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_long_value_no_smuggle),
		cmocka_unit_test(test_unknown_section),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_key_outside_section),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_empty_value),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_control_characters),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_indented),
		cmocka_unit_test(test_crlf_and_bom),
		cmocka_unit_test(test_keep),
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_signal),
		cmocka_unit_test(test_seconds),
		cmocka_unit_test(test_restart_delays),
		cmocka_unit_test(test_listen),
		cmocka_unit_test(test_shared),
		cmocka_unit_test(test_environment),
		cmocka_unit_test(test_agent_service_pair),
		cmocka_unit_test(test_service_needs_command),
		cmocka_unit_test(test_branch),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_symlinks),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_ready),
		cmocka_unit_test(test_service_listen),
		cmocka_unit_test(test_realpath),
		cmocka_unit_test(test_error_names_path_as_given),
		cmocka_unit_test(test_small_errbuf),
		cmocka_unit_test(test_config_free),
		cmocka_unit_test(test_first_error_wins),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
