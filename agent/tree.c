/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * tree.c - which processes belong to one start of the service, and which
 * sockets they hold.
 *
 * A start is the process the agent forked (it leads its own session) and
 * everything it started.  Without cgroups the kernel keeps no such set, so
 * we read /proc: a process belongs to the start when its session or
 * process group is the leader's, or when its parent chain reaches the
 * leader or a process already known to belong.  The agent is a child
 * subreaper, so an orphan (a double fork, a setsid daemon whose parent
 * exited) is reparented to the agent instead of init; such an orphan keeps
 * its session unless it called setsid, and the set of members recorded at
 * earlier scans catches those that did.
 *
 * Rules: every pid is recorded with its start time, so a recycled pid is
 * never taken for a member; nothing here signals anyone (supervise.c
 * decides); a process that vanished while we read it is simply gone.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "redeployd.h"

struct tree_proc {
	pid_t		 pid, ppid, pgrp, sid;
	unsigned long long start;
	uid_t		 uid;
	char		 state;
};

static int
tree_read(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* Fields 4 (ppid), 5 (pgrp), 6 (session) and 22 (start time). */
static int
tree_stat(pid_t pid, struct tree_proc *tp)
{
	char path[64], buf[1024], *p, *end;
	unsigned long long v[23];
	int field;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (tree_read(path, buf, sizeof(buf)) == -1)
		return -1;
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return -1;
	p += 2;
	tp->state = *p;
	p = strchr(p, ' ');
	for (field = 4; field <= 22 && p != NULL; field++) {
		v[field] = strtoull(p + 1, &end, 10);
		p = strchr(p + 1, ' ');
	}
	if (field != 23)
		return -1;
	tp->pid = pid;
	tp->ppid = (pid_t)v[4];
	tp->pgrp = (pid_t)v[5];
	tp->sid = (pid_t)v[6];
	tp->start = v[22];
	return 0;
}

/* Every process now: pid, parents, groups.  *out is malloc'd. */
static int
tree_all(struct tree_proc **out, size_t *np)
{
	struct tree_proc *v = NULL, *nv;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	char *end;
	long pid;

	*out = NULL;
	*np = 0;
	if ((d = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end != '\0' || pid <= 0 || pid > INT_MAX)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			if ((nv = reallocarray(v, cap, sizeof(*v))) == NULL) {
				free(v);
				closedir(d);
				return -1;
			}
			v = nv;
		}
		if (tree_stat((pid_t)pid, &v[n]) == 0)
			n++;
	}
	closedir(d);
	*out = v;
	*np = n;
	return 0;
}

static int
tree_cmp(const void *a, const void *b)
{
	const struct tree_proc *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

/* The index of pid in the sorted table, or (size_t)-1. */
static size_t
tree_find(const struct tree_proc *v, size_t n, pid_t pid)
{
	size_t lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (v[mid].pid == pid)
			return mid;
		if (v[mid].pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (size_t)-1;
}

static int
tree_known(const struct tree *t, pid_t pid, unsigned long long start)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->pid[i] == pid && t->start[i] == start)
			return 1;
	return 0;
}

static int
tree_add(struct tree *t, pid_t pid, unsigned long long start)
{
	if (tree_known(t, pid, start))
		return 0;
	if (t->n == TREE_MAX)
		return -1;
	t->pid[t->n] = pid;
	t->start[t->n] = start;
	t->n++;
	return 1;
}

/*
 * Scan /proc and refresh t (leader already set): members that are gone
 * leave it, new ones join.  Zombies count as gone (they hold nothing, and
 * the agent reaps those that are its own).  Returns the live members.
 */
int
tree_scan(struct tree *t)
{
	struct tree_proc *all = NULL;
	struct tree old;
	size_t n, i, j;
	char *in = NULL;

	if (tree_all(&all, &n) == -1)
		return -1;
	if ((in = calloc(n ? n : 1, 1)) == NULL) {
		free(all);
		return -1;
	}
	old = *t;
	t->n = 0;
	/* 2: a member, 3: not one, 0: not decided yet */
	qsort(all, n, sizeof(*all), tree_cmp);
	for (i = 0; i < n; i++)
		if ((all[i].pid == t->leader && all[i].start == t->leader_start)
		    || all[i].sid == t->leader || all[i].pgrp == t->leader ||
		    tree_known(&old, all[i].pid, all[i].start))
			in[i] = 2;
	/* Children of members are members: walk each process's parents
	 * (looked up by pid in the sorted table) until one is decided. */
	for (i = 0; i < n; i++) {
		size_t chain[64], depth = 0, k;
		char verdict = 0;

		for (j = i; depth < 64; ) {
			if (in[j] == 2 || in[j] == 3) {
				verdict = in[j];
				break;
			}
			chain[depth++] = j;
			if (all[j].ppid <= 1 || all[j].ppid == getpid() ||
			    (j = tree_find(all, n, all[j].ppid)) == (size_t)-1) {
				verdict = 3;	/* not a member */
				break;
			}
		}
		if (verdict == 0)
			verdict = 3;
		for (k = 0; k < depth; k++)
			in[chain[k]] = verdict;
	}
	for (i = 0; i < n; i++)
		if (in[i] == 2 && all[i].pid != getpid() &&
		    all[i].state != 'Z' && all[i].state != 'X')
			(void)tree_add(t, all[i].pid, all[i].start);
	free(in);
	free(all);
	return (int)t->n;
}

/* Orphans the agent adopted as subreaper: its children that lead no start
 * and were born before `before` (clock ticks), or at any time if before
 * is 0.  They join t. */
int
tree_adopt_orphans(struct tree *t, const pid_t *leaders, size_t nleaders,
    unsigned long long before)
{
	struct tree_proc *all = NULL;
	size_t n, i, k;
	int added = 0;

	if (tree_all(&all, &n) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (all[i].ppid != getpid() || all[i].state == 'Z')
			continue;
		for (k = 0; k < nleaders; k++)
			if (leaders[k] == all[i].pid)
				break;
		if (k < nleaders || (before != 0 && all[i].start >= before))
			continue;
		if (tree_add(t, all[i].pid, all[i].start) == 1)
			added++;
	}
	free(all);
	return added;
}

/* Signal every member that is still the process we recorded. */
void
tree_kill(const struct tree *t, int sig)
{
	struct tree_proc tp;
	size_t i;

	for (i = 0; i < t->n; i++)
		if (tree_stat(t->pid[i], &tp) == 0 && tp.start == t->start[i])
			(void)kill(t->pid[i], sig);
}

/* Does a member hold the socket with this inode? */
int
tree_holds_inode(const struct tree *t, unsigned long inode)
{
	char path[64], link[64], want[48];
	struct dirent *de;
	size_t i;
	ssize_t len;
	DIR *d;
	int dfd, found = 0;

	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	for (i = 0; i < t->n && !found; i++) {
		snprintf(path, sizeof(path), "/proc/%ld/fd", (long)t->pid[i]);
		if ((d = opendir(path)) == NULL)
			continue;
		dfd = dirfd(d);
		while (!found && (de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			len = readlinkat(dfd, de->d_name, link,
			    sizeof(link) - 1);
			if (len <= 0)
				continue;
			link[len] = '\0';
			found = strcmp(link, want) == 0;
		}
		closedir(d);
	}
	return found;
}

/*
 * The inode of a TCP socket in /proc/net/tcp or tcp6: the listener on
 * local port lport (rport 0), or the connection from local port lport to
 * remote port rport (the server's end of our probe: its local port is the
 * service's, its remote port ours).  0 when there is none.
 */
unsigned long
tree_tcp_inode(int lport, int rport)
{
	static const char *files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	char line[512];
	unsigned long inode;
	unsigned int lp, rp, st;
	size_t f;
	FILE *fp;

	for (f = 0; f < 2; f++) {
		if ((fp = fopen(files[f], "re")) == NULL)
			continue;
		while (fgets(line, sizeof(line), fp) != NULL) {
			/* sl local:port rem:port st tx:rx tr:when retr uid
			 * timeout inode */
			if (sscanf(line, " %*s %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%x "
			    "%x %*s %*s %*s %*s %*s %lu", &lp, &rp, &st,
			    &inode) != 4)
				continue;
			if ((int)lp != lport || inode == 0)
				continue;
			if ((rport == 0 && st == 0x0A) ||
			    (rport != 0 && (int)rp == rport && st == 0x01)) {
				fclose(fp);
				return inode;
			}
		}
		fclose(fp);
	}
	return 0;
}

/* Is pid a process of this start now: its session or group is the
 * leader's, it was recorded, or its parents lead to the leader? */
int
tree_member(const struct tree *t, pid_t pid)
{
	struct tree_proc tp;
	int depth;

	for (depth = 0; depth < 64 && pid > 1; depth++) {
		if (tree_stat(pid, &tp) == -1)
			return 0;
		if ((pid == t->leader && tp.start == t->leader_start) ||
		    tp.sid == t->leader || tp.pgrp == t->leader ||
		    tree_known(t, pid, tp.start))
			return 1;
		if (tp.ppid == getpid())
			return 0;
		pid = tp.ppid;
	}
	return 0;
}

/* The accept queue of the listener with this inode (rx_queue of its
 * /proc/net/tcp line), 0 when there is none. */
long
tree_listen_queue(int port, unsigned long inode)
{
	char line[512];
	unsigned long ino, rxq;
	unsigned int lp, st;
	FILE *fp;

	if ((fp = fopen("/proc/net/tcp", "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (sscanf(line, " %*s %*[0-9A-Fa-f]:%x %*s %x %*x:%lx %*s %*s "
		    "%*s %*s %lu", &lp, &st, &rxq, &ino) != 4)
			continue;
		if ((int)lp == port && st == 0x0A && ino == inode) {
			fclose(fp);
			return (long)rxq;
		}
	}
	fclose(fp);
	return 0;
}

/* Does a member hold an open connection on local port `port` (one it
 * accepted and has not closed)? */
int
tree_serving(const struct tree *t, int port)
{
	char line[512];
	unsigned long ino;
	unsigned int lp, st;
	FILE *fp;
	int busy = 0;

	if ((fp = fopen("/proc/net/tcp", "re")) == NULL)
		return 0;
	while (!busy && fgets(line, sizeof(line), fp) != NULL) {
		if (sscanf(line, " %*s %*[0-9A-Fa-f]:%x %*s %x %*s %*s %*s "
		    "%*s %*s %lu", &lp, &st, &ino) != 3)
			continue;
		/* ESTABLISHED or CLOSE_WAIT: a request may be in flight */
		if ((int)lp == port && (st == 0x01 || st == 0x08) && ino != 0 &&
		    tree_holds_inode(t, ino))
			busy = 1;
	}
	fclose(fp);
	return busy;
}

/* Does a member hold a socket listening on port (any of them: servers
 * that bind with SO_REUSEPORT have several)? */
int
tree_holds_listener(const struct tree *t, int port)
{
	static const char *files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	char line[512];
	unsigned long inode;
	unsigned int lp, st;
	size_t f;
	FILE *fp;
	int held = 0;

	for (f = 0; f < 2 && !held; f++) {
		if ((fp = fopen(files[f], "re")) == NULL)
			continue;
		while (!held && fgets(line, sizeof(line), fp) != NULL) {
			if (sscanf(line, " %*s %*[0-9A-Fa-f]:%x %*s %x %*s %*s "
			    "%*s %*s %*s %lu", &lp, &st, &inode) != 3)
				continue;
			if ((int)lp == port && st == 0x0A && inode != 0 &&
			    tree_holds_inode(t, inode))
				held = 1;
		}
		fclose(fp);
	}
	return held;
}
