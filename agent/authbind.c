/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * authbind.c - why authbind would fail the service, said in words.
 *
 * With `authbind = yes` a service that cannot bind its port leaves only its
 * own traceback.  The usual causes can be seen from here: no byport (or
 * byaddr) file for the port, or one the service user cannot execute; no
 * new privileges on this process (inherited by the service: the setuid
 * helper then cannot help); a helper that is not setuid root, or that sits
 * on a nosuid mount.  The port is the one `ready` probes, when below 1024.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "redeployd.h"

#define AUTHBIND_HELPER	"/usr/lib/authbind/helper"
#define AUTHBIND_DIR	"/etc/authbind"

static int
authbind_nnp(void)
{
	char line[256];
	FILE *f;
	int nnp = 0;

	if ((f = fopen("/proc/self/status", "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "NoNewPrivs:", 11) == 0) {
			nnp = strchr(line + 11, '1') != NULL;
			break;
		}
	fclose(f);
	return nnp;
}

static int
authbind_can_exec(const char *path, uid_t uid, gid_t gid)
{
	struct stat st;

	if (stat(path, &st) == -1 || !S_ISREG(st.st_mode))
		return 0;
	if (uid == 0)
		return (st.st_mode & 0111) != 0;
	if (st.st_uid == uid)
		return (st.st_mode & S_IXUSR) != 0;
	if (st.st_gid == gid)
		return (st.st_mode & S_IXGRP) != 0;
	return (st.st_mode & S_IXOTH) != 0;
}

int
authbind_diagnose(const struct config *cfg, uid_t uid, gid_t gid, char *why,
    size_t n)
{
	char byport[96], byaddr[160];
	struct stat st;
	struct statvfs sv;
	int port = cfg->ready_port;

	why[0] = '\0';
	if (!cfg->authbind)
		return 0;
	if (stat(AUTHBIND_HELPER, &st) == -1) {
		snprintf(why, n, "authbind: its helper %s is missing "
		    "(apt-get install --reinstall authbind)", AUTHBIND_HELPER);
		return -1;
	}
	if (st.st_uid != 0 || !(st.st_mode & S_ISUID)) {
		snprintf(why, n, "authbind: its helper %s is not setuid root "
		    "(chown root %s; chmod 4755 %s)", AUTHBIND_HELPER,
		    AUTHBIND_HELPER, AUTHBIND_HELPER);
		return -1;
	}
	if (statvfs(AUTHBIND_HELPER, &sv) == 0 && (sv.f_flag & ST_NOSUID)) {
		snprintf(why, n, "authbind: its helper %s is on a nosuid mount",
		    AUTHBIND_HELPER);
		return -1;
	}
	if (authbind_nnp()) {
		snprintf(why, n, "authbind: redeployd runs with no new "
		    "privileges (NoNewPrivileges=, or a parent's "
		    "PR_SET_NO_NEW_PRIVS): the setuid helper cannot work");
		return -1;
	}
	if (cfg->ready == READY_NONE || port <= 0 || port >= 1024)
		return 0;
	/* authbind(1): "!PORT" for 512-1023 */
	snprintf(byport, sizeof(byport), AUTHBIND_DIR "/byport/%s%d",
	    port >= 512 ? "!" : "", port);
	snprintf(byaddr, sizeof(byaddr), AUTHBIND_DIR "/byaddr/%s%s,%d",
	    port >= 512 ? "!" : "", cfg->ready_host ? cfg->ready_host : "",
	    port);
	if (authbind_can_exec(byport, uid, gid) ||
	    authbind_can_exec(byaddr, uid, gid))
		return 0;
	if (stat(byport, &st) == -1)
		snprintf(why, n, "authbind: no %s, so uid %ld may not bind port "
		    "%d (touch it; chown the service user; chmod 0500)", byport,
		    (long)uid, port);
	else
		snprintf(why, n, "authbind: %s is not executable by uid %ld, so "
		    "it may not bind port %d (chown the service user; chmod "
		    "0500)", byport, (long)uid, port);
	return -1;
}
