/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * privdrop.c - become the service user for good.
 *
 * The agent starts as root only to write the token file, bind and open its
 * files; then it becomes the [service] user with that user's one group and
 * nothing else, the way OpenSSH's permanently_set_uid does: setgroups,
 * then setresgid, then setresuid, each checked, then a verification that
 * every id matches and that root cannot be regained.  Users are resolved
 * first (privdrop_resolve), so that a bad name is a config error before
 * anything is dropped; a failed resolve leaves *pd as it was.  privdrop_apply calls setenv: call it in the agent
 * itself, never between fork and exec.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ids.h"
#include "redeployd.h"

/* errno after a lookup that found nothing (getpwnam(3)): not an error. */
static int
privdrop_notfound(int e)
{
	return e == 0 || e == ENOENT || e == ESRCH || e == EBADF || e == EPERM;
}

int
privdrop_resolve(const char *user, const char *group, struct privdrop *pd,
    char *err, size_t n)
{
	struct privdrop r;
	struct passwd *pw;
	struct group *gr;

	memset(&r, 0, sizeof(r));
	if (user == NULL || *user == '\0') {
		snprintf(err, n, "[service] user is required when redeployd "
		    "starts as root (such as 'user = www-data')");
		return -1;
	}
	errno = 0;
	if ((pw = ids_user(user)) == NULL) {
		if (!privdrop_notfound(errno))
			snprintf(err, n, "cannot look up [service] user '%s': "
			    "%s", user, strerror(errno));
		else
			snprintf(err, n, "[service] user '%s' does not exist "
			    "(create it or fix the config)", user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, n, "[service] user must not be root");
		return -1;
	}
	r.uid = pw->pw_uid;
	if ((size_t)snprintf(r.name, sizeof(r.name), "%s", pw->pw_name) >=
	    sizeof(r.name)) {
		snprintf(err, n, "[service] user name '%s' is too long", user);
		return -1;
	}
	if ((size_t)snprintf(r.home, sizeof(r.home), "%s", pw->pw_dir) >=
	    sizeof(r.home)) {
		snprintf(err, n, "home directory of [service] user '%s' is "
		    "too long", user);
		return -1;
	}
	if (group == NULL) {
		r.gid = pw->pw_gid;
	} else {
		errno = 0;
		if ((gr = ids_group(group)) == NULL) {
			if (!privdrop_notfound(errno))
				snprintf(err, n, "cannot look up [service] "
				    "group '%s': %s", group, strerror(errno));
			else
				snprintf(err, n, "[service] group '%s' does "
				    "not exist (create it or fix the config)",
				    group);
			return -1;
		}
		r.gid = gr->gr_gid;
	}
	if (r.gid == 0) {
		snprintf(err, n, "[service] group must not be root");
		return -1;
	}
	*pd = r;
	return 0;
}

int
privdrop_apply(const struct privdrop *pd, char *err, size_t n)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid, list[1];

	if (pd->uid == 0 || pd->gid == 0) {
		snprintf(err, n, "refusing to drop privileges to root");
		return -1;
	}
	/* Groups first: once the uid is gone they cannot be changed. */
	if (setgroups(1, &pd->gid) == -1) {
		snprintf(err, n, "setgroups(%ld): %s", (long)pd->gid,
		    strerror(errno));
		return -1;
	}
	if (setresgid(pd->gid, pd->gid, pd->gid) == -1) {
		snprintf(err, n, "setresgid(%ld): %s", (long)pd->gid,
		    strerror(errno));
		return -1;
	}
	if (setresuid(pd->uid, pd->uid, pd->uid) == -1) {
		snprintf(err, n, "setresuid(%ld): %s", (long)pd->uid,
		    strerror(errno));
		return -1;
	}

	/* Trust nothing above: look at what the kernel says we are now. */
	if (getresuid(&ruid, &euid, &suid) == -1 || ruid != pd->uid ||
	    euid != pd->uid || suid != pd->uid) {
		snprintf(err, n, "user ids are not all %ld after dropping "
		    "privileges", (long)pd->uid);
		return -1;
	}
	if (getresgid(&rgid, &egid, &sgid) == -1 || rgid != pd->gid ||
	    egid != pd->gid || sgid != pd->gid) {
		snprintf(err, n, "group ids are not all %ld after dropping "
		    "privileges", (long)pd->gid);
		return -1;
	}
	if (getgroups(0, NULL) != 1 || getgroups(1, list) != 1 ||
	    list[0] != pd->gid) {
		snprintf(err, n, "supplementary groups are not just %ld after "
		    "dropping privileges", (long)pd->gid);
		return -1;
	}
	if (setuid(0) != -1) {
		snprintf(err, n, "regained root after dropping privileges");
		return -1;
	}
	if (setgid(0) != -1) {
		snprintf(err, n, "regained group root after dropping "
		    "privileges");
		return -1;
	}

	/*
	 * Dumpable is left as it is, no prctl(PR_SET_DUMPABLE) either way.
	 * Changing the ids has just made the kernel set it from
	 * fs.suid_dumpable (0 by default): the service, which runs as this
	 * same user, then cannot ptrace the agent or read its memory (the
	 * token) or /proc/PID/environ, fd/, maps.  /proc/PID/stat and status
	 * stay readable to everybody whatever the flag, and that is all that
	 * pidfile.c and the tests read.  Setting 0 by hand would only repeat
	 * the kernel on default systems and override an administrator who set
	 * the sysctl to get core dumps of the agent; setting 1 would open the
	 * agent's memory to the service.
	 */
	if (setenv("HOME", pd->home, 1) == -1 ||
	    setenv("USER", pd->name, 1) == -1 ||
	    setenv("LOGNAME", pd->name, 1) == -1) {
		snprintf(err, n, "cannot set HOME, USER and LOGNAME: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}
