/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * startcheck.c - can the [service] command run at all: said at -n and at
 * start, instead of an agent that starts "successfully" and a service
 * that never does.
 *
 * The command goes to /bin/sh -c in <path>/current, so only its first
 * word can be judged (after `exec` and VAR=value words): a path is looked
 * up in the live release and must be a file the service user may execute;
 * a bare name must be on the service's PATH.  Anything with shell syntax
 * in it, or a builtin, is left to the shell.  Before the first deploy
 * there is no release to look in: a relative path is not judged then.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "redeployd.h"

#define STARTCHECK_PATH	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const char *startcheck_builtins[] = {
	".", ":", "[", "break", "cd", "command", "continue", "echo", "eval",
	"exit", "export", "false", "for", "if", "printf", "read", "set",
	"shift", "test", "trap", "true", "ulimit", "umask", "unset", "wait",
	"while", "until", "case", "{", "(", "!"
};

/* The next word of s into w; NULL at the end. */
static const char *
startcheck_word(const char *s, char *w, size_t n)
{
	size_t len;

	s += strspn(s, " \t");
	if (*s == '\0')
		return NULL;
	len = strcspn(s, " \t");
	snprintf(w, n, "%.*s", (int)len, s);
	return s + len;
}

static int
startcheck_can_exec(const struct stat *st, uid_t uid, gid_t gid)
{
	if (uid == 0)
		return (st->st_mode & 0111) != 0;
	if (st->st_uid == uid)
		return (st->st_mode & S_IXUSR) != 0;
	if (st->st_gid == gid)
		return (st->st_mode & S_IXGRP) != 0;
	return (st->st_mode & S_IXOTH) != 0;
}

int
startcheck_command(const struct config *cfg, uid_t uid, gid_t gid,
    char *err, size_t n)
{
	char w[PATH_MAX], path[PATH_MAX * 2], cur[PATH_MAX];
	const char *s = cfg->command, *p, *eq;
	struct stat st;
	size_t i, len;

	while ((s = startcheck_word(s, w, sizeof(w))) != NULL) {
		eq = strchr(w, '=');
		if (strcmp(w, "exec") == 0 || (eq != NULL && eq != w &&
		    strspn(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789_") == (size_t)(eq - w)))
			continue;
		break;
	}
	if (s == NULL || strpbrk(w, "$`\"'\\(){}|&;<>*?[]~#=") != NULL)
		return 0;	/* the shell's business */
	for (i = 0; i < sizeof(startcheck_builtins) /
	    sizeof(startcheck_builtins[0]); i++)
		if (strcmp(w, startcheck_builtins[i]) == 0)
			return 0;
	if (strchr(w, '/') == NULL) {
		for (p = STARTCHECK_PATH; *p != '\0'; p += len + (p[len] == ':')) {
			len = strcspn(p, ":");
			snprintf(path, sizeof(path), "%.*s/%s", (int)len, p, w);
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
			    startcheck_can_exec(&st, uid, gid))
				return 0;
		}
		snprintf(err, n, "[service] command: '%s' is not found on the "
		    "service's PATH (%s): give its full path", w,
		    STARTCHECK_PATH);
		return -1;
	}
	snprintf(cur, sizeof(cur), "%s/current", cfg->path);
	if (w[0] == '/')
		snprintf(path, sizeof(path), "%s", w);
	else if (stat(cur, &st) == 0)
		snprintf(path, sizeof(path), "%s/%s", cur, w);
	else
		return 0;	/* nothing deployed yet */
	if (stat(path, &st) == -1) {
		snprintf(err, n, "[service] command: '%s' %s in %s", w,
		    errno == ENOENT ? "does not exist" : strerror(errno),
		    w[0] == '/' ? "the file system" : cur);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || !startcheck_can_exec(&st, uid, gid)) {
		snprintf(err, n, "[service] command: '%s' is not an executable "
		    "file for uid %ld (chmod +x it, or name its interpreter: "
		    "python3 %s)", w, (long)uid, w);
		return -1;
	}
	return 0;
}
