/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * pidfile.c - the service's process group, found again after a kill -9.
 *
 * While the service runs, the file holds "PGID STARTTIME\n" (two such
 * lines while restart = overlap runs an old and a new one): the group the
 * service leads, which is also its session, and the leader's start time
 * (field 22 of /proc/PGID/stat, clock ticks since boot).  If the agent
 * dies without stopping it, the next agent stops that group and the rest
 * of that session (children that called setpgid) before it starts the
 * service again, so the port is free.  A child that called setsid left
 * the session: only a cgroup (systemd's unit) finds it after a kill -9.
 * The start time tells the same process from a recycled pid.
 *
 * Rules: the agent opens the file as root before it drops privileges and
 * keeps the fd; the file is refused when it is a symlink, not regular or
 * hard-linked elsewhere.  A group is only signalled when every live
 * member runs as the file's owner (the service user): the file is the
 * service user's to write, and must not be a way to make a root agent
 * kill someone else's processes.  Group 1 and the agent's own group are
 * never signalled (kill(-1) is every process).  Zombies count as gone:
 * they hold no port, and after a kill -9 of the agent nobody may be there
 * to reap them soon.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "redeployd.h"

#define PIDFILE_MAX		128	/* two "PGID STARTTIME\n" lines */
#define PIDFILE_POLL_NS		10000000L	/* 10 ms */
#define PIDFILE_KILL_WAIT	2.0	/* seconds after SIGKILL */
#define PIDFILE_TIMEOUT_MAX	86400.0

struct proc_stat {
	char			state;
	pid_t			pgrp;
	pid_t			session;
	unsigned long long	threads;
	unsigned long long	start;
};

/* Read a small /proc file whole, NUL-terminated. */
static int
proc_read(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while (len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return 0;
}

/* A decimal field of a /proc line: digits up to a blank or the end. */
static int
proc_number(const char *p, unsigned long long *out)
{
	char *end;

	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	*out = strtoull(p, &end, 10);
	if (errno != 0 || (*end != ' ' && *end != '\t' && *end != '\n' &&
	    *end != '\0'))
		return -1;
	return 0;
}

static int
proc_stat_read(pid_t pid, struct proc_stat *ps)
{
	char path[64], buf[2048], *p;
	unsigned long long v;
	int field;

	if (pid <= 0) {
		errno = EINVAL;
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (proc_read(path, buf, sizeof(buf)) == -1)
		return -1;
	/* comm (field 2) may hold spaces and ')': fields start after the
	 * last ')'. */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ' || p[2] == '\0')
		goto bad;
	p += 2;
	ps->state = *p;
	for (field = 3; field < 22; field++) {
		if (field == 5) {
			if (proc_number(p, &v) == -1 || v > INT_MAX)
				goto bad;
			ps->pgrp = (pid_t)v;
		} else if (field == 6) {
			if (proc_number(p, &v) == -1 || v > INT_MAX)
				goto bad;
			ps->session = (pid_t)v;
		} else if (field == 20 && proc_number(p, &ps->threads) == -1)
			goto bad;
		if ((p = strchr(p, ' ')) == NULL)
			goto bad;
		p++;
	}
	if (proc_number(p, &ps->start) == -1)
		goto bad;
	return 0;
bad:
	errno = EPROTO;
	return -1;
}

int
proc_starttime(pid_t pid, unsigned long long *out)
{
	struct proc_stat ps;

	if (proc_stat_read(pid, &ps) == -1)
		return -1;
	*out = ps.start;
	return 0;
}

/* The real uid of pid, from /proc/PID/status (readable whatever the
 * process's dumpable flag). */
static int
proc_uid(pid_t pid, uid_t *uid)
{
	char path[64], buf[4096], *p;
	unsigned long long v;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if (proc_read(path, buf, sizeof(buf)) == -1)
		return -1;
	if ((p = strstr(buf, "\nUid:\t")) == NULL ||
	    proc_number(p + 6, &v) == -1 || v >= (uid_t)-1) {
		errno = EPROTO;
		return -1;
	}
	*uid = (uid_t)v;
	return 0;
}

/*
 * One pass over /proc: the live members of group pgid (zombies are not).
 * With check_uid, *foreign is set to a member whose real uid is not uid.
 * The service's leader leads its session as well as its group, so
 * processes of that session count too (a child that called setpgid); with
 * sig, each member is sent sig.
 */
static int
pidfile_scan(pid_t pgid, int check_uid, uid_t uid, pid_t *foreign,
    uid_t *foreign_uid, int sig)
{
	struct proc_stat ps;
	struct dirent *de;
	DIR *d;
	char *end;
	long v;
	uid_t u = 0;
	int count = 0, saved;

	*foreign = 0;
	if ((d = opendir("/proc")) == NULL)
		return -1;
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		v = strtol(de->d_name, &end, 10);
		if (*end != '\0' || v <= 0 || v > INT_MAX)
			continue;
		/* Gone since readdir, or unreadable: not a member. */
		if (proc_stat_read((pid_t)v, &ps) == -1 ||
		    (ps.pgrp != pgid && ps.session != pgid))
			continue;
		/* A zombie leader whose other threads run is alive. */
		if ((ps.state == 'Z' || ps.state == 'X') && ps.threads <= 1)
			continue;
		if (check_uid && proc_uid((pid_t)v, &u) == -1) {
			if (errno == ENOENT || errno == ESRCH)
				continue;
			saved = errno;
			closedir(d);
			errno = saved;
			return -1;
		}
		count++;
		if (check_uid && *foreign == 0 && u != uid) {
			*foreign = (pid_t)v;
			*foreign_uid = u;
		}
		if (sig != 0 && (pid_t)v != getpid())
			(void)kill((pid_t)v, sig);
	}
	saved = errno;
	closedir(d);
	if (saved != 0) {
		errno = saved;
		return -1;
	}
	return count;
}

/*
 * The members, as pidfile_scan counts them; none only when a second pass,
 * begun after the first ended, finds none either.  A pass lists /proc
 * first and reads each process after: a member that forks a child and
 * exits in between is read as gone, and its child, born after the
 * listing, is not in it.  That child is in the next listing.  (A service
 * that forks and exits in a loop to outrun every pass is beyond any
 * scan: only a cgroup, such as systemd's unit, holds it.)
 */
static int
pidfile_members_sig(pid_t pgid, int check_uid, uid_t uid, pid_t *foreign,
    uid_t *foreign_uid, int sig)
{
	int n = pidfile_scan(pgid, check_uid, uid, foreign, foreign_uid, sig);

	if (n != 0)
		return n;
	return pidfile_scan(pgid, check_uid, uid, foreign, foreign_uid, sig);
}

static int
pidfile_members(pid_t pgid, int check_uid, uid_t uid, pid_t *foreign,
    uid_t *foreign_uid)
{
	return pidfile_members_sig(pgid, check_uid, uid, foreign, foreign_uid,
	    0);
}

/* The group, and the members of the session outside it. */
static int
pidfile_signal(pid_t pgid, int sig)
{
	pid_t foreign;
	uid_t fuid;
	int rc = kill(-pgid, sig), saved = errno;

	(void)pidfile_members_sig(pgid, 0, 0, &foreign, &fuid, sig);
	errno = saved;
	return rc;
}

static double
pidfile_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Members left, or only zombies nobody has reaped yet?  With sig, each
 * member found is sent it (SIGKILL reaches a child born after the kill). */
static int
pidfile_gone(pid_t pgid, int sig)
{
	pid_t foreign;
	uid_t fuid;

	return pidfile_members_sig(pgid, 0, 0, &foreign, &fuid, sig) == 0;
}

/* Poll every 10 ms until the group is gone (1) or seconds pass (0). */
static int
pidfile_wait_gone(pid_t pgid, double seconds, int sig)
{
	struct timespec tick = { 0, PIDFILE_POLL_NS };
	double end = pidfile_now() + seconds;

	for (;;) {
		if (pidfile_gone(pgid, sig))
			return 1;
		if (pidfile_now() >= end)
			return 0;
		/* EINTR only makes this poll early. */
		(void)nanosleep(&tick, NULL);
	}
}

/* SIGTERM (and SIGCONT, for a stopped group), then SIGKILL after timeout. */
static int
pidfile_stop(pid_t pgid, double timeout, char *msg, size_t n)
{
	if (pidfile_signal(pgid, SIGTERM) == -1 && errno != ESRCH) {
		snprintf(msg, n, "cannot stop the service group %ld left by "
		    "an earlier agent: %s", (long)pgid, strerror(errno));
		return -1;
	}
	(void)pidfile_signal(pgid, SIGCONT);
	if (pidfile_wait_gone(pgid, timeout, 0)) {
		snprintf(msg, n, "stopped the service group %ld left by an "
		    "earlier agent", (long)pgid);
		return 1;
	}
	if (pidfile_signal(pgid, SIGKILL) == -1 && errno != ESRCH) {
		snprintf(msg, n, "cannot kill the service group %ld left by "
		    "an earlier agent: %s", (long)pgid, strerror(errno));
		return -1;
	}
	if (pidfile_wait_gone(pgid, PIDFILE_KILL_WAIT, SIGKILL)) {
		snprintf(msg, n, "stopped the service group %ld left by an "
		    "earlier agent (SIGKILL after %.1f s)", (long)pgid,
		    timeout);
		return 1;
	}
	snprintf(msg, n, "the service group %ld left by an earlier agent "
	    "still runs after SIGKILL", (long)pgid);
	return -1;
}

/* "PGID STARTTIME\n", nothing more; PGID 1 would mean every process. */
static int
pidfile_parse(const char *buf, pid_t *pgid, unsigned long long *start)
{
	char *end;
	long v;

	if (*buf < '0' || *buf > '9')
		return -1;
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno != 0 || *end != ' ' || v <= 1 || v > INT_MAX)
		return -1;
	buf = end + 1;
	if (*buf < '0' || *buf > '9')
		return -1;
	errno = 0;
	*start = strtoull(buf, &end, 10);
	if (errno != 0 || *end != '\n')
		return -1;
	*pgid = (pid_t)v;
	return 0;
}

int
pidfile_open(const char *path, uid_t uid, gid_t gid, char *err, size_t n)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd == -1) {
		if (errno == ELOOP)
			snprintf(err, n, "pid file '%s' is a symlink (remove "
			    "it)", path);
		else
			snprintf(err, n, "cannot open pid file '%s': %s", path,
			    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, n, "cannot stat pid file '%s': %s", path,
		    strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, n, "pid file '%s' is not a regular file (remove "
		    "it)", path);
		goto fail;
	}
	/* A hard link planted here must not get chown'ed to the user. */
	if (st.st_nlink > 1) {
		snprintf(err, n, "pid file '%s' has other hard links (remove "
		    "it)", path);
		goto fail;
	}
	/* One agent per config: the lock lives as long as this fd, in the
	 * agent, and goes with it even after a kill -9. */
	if (fcntl(fd, F_OFD_SETLK, &(struct flock){ .l_type = F_WRLCK,
	    .l_whence = SEEK_SET }) == -1) {
		snprintf(err, n, errno == EAGAIN || errno == EACCES ?
		    "another redeployd runs with this config (it holds '%s')" :
		    "cannot lock pid file '%s'", path);
		goto fail;
	}
	/* chown before chmod: a chown may clear mode bits. */
	if (uid != (uid_t)-1 && fchown(fd, uid, gid) == -1) {
		snprintf(err, n, "cannot give pid file '%s' to uid %ld: %s",
		    path, (long)uid, strerror(errno));
		goto fail;
	}
	if ((st.st_mode & 07777) != 0644 && fchmod(fd, 0644) == -1) {
		snprintf(err, n, "cannot chmod 0644 pid file '%s': %s", path,
		    strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

int
pidfile_write(int fd, pid_t pgid)
{
	return pidfile_write2(fd, pgid, 0);
}

/* Two groups: restart = overlap runs the new one beside the old one. */
int
pidfile_write2(int fd, pid_t pgid, pid_t other)
{
	unsigned long long start, ostart = 0;
	char line[PIDFILE_MAX];
	ssize_t n;
	int len;

	if (pgid <= 1 || other == 1 || other < 0) {
		errno = EINVAL;
		return -1;
	}
	if (proc_starttime(pgid, &start) == -1)
		return -1;
	if (other > 0 && proc_starttime(other, &ostart) == -1)
		other = 0;
	if (other > 0)
		len = snprintf(line, sizeof(line), "%ld %llu\n%ld %llu\n",
		    (long)pgid, start, (long)other, ostart);
	else
		len = snprintf(line, sizeof(line), "%ld %llu\n", (long)pgid,
		    start);
	if (len < 0 || (size_t)len >= sizeof(line)) {
		errno = EOVERFLOW;
		return -1;
	}
	if (ftruncate(fd, 0) == -1)
		return -1;
	if ((n = pwrite(fd, line, (size_t)len, 0)) == -1)
		return -1;
	if (n != (ssize_t)len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

int
pidfile_clear(int fd)
{
	return ftruncate(fd, 0);
}

/* One recorded group: 1 stopped, 0 gone already, -1 refused or failed. */
static int
pidfile_reap_one(pid_t pgid, unsigned long long start, uid_t owner,
    double timeout, char *msg, size_t n)
{
	unsigned long long now;
	pid_t foreign;
	uid_t fuid = 0;
	int live, rc;

	if (pgid == getpgrp() || pgid == getsid(0)) {
		snprintf(msg, n, "the service pid file names the agent's own "
		    "process group %ld (remove the file)", (long)pgid);
		return -1;
	}
	if (proc_starttime(pgid, &now) == 0) {
		if (now != start) {
			snprintf(msg, n, "the service group %ld of an earlier "
			    "agent is gone (its pid is in use again)",
			    (long)pgid);
			return 0;
		}
	} else if (errno != ENOENT && errno != ESRCH) {
		snprintf(msg, n, "cannot read /proc/%ld/stat: %s", (long)pgid,
		    strerror(errno));
		return -1;
	}
	/*
	 * The leader is the one we recorded, or it is gone and members of
	 * its group may live on.  A group id is not reused while the group
	 * has members, so those are the service's own; the start time of
	 * a leaderless group cannot be checked, the owner still is.
	 */
	live = pidfile_members(pgid, 1, owner, &foreign, &fuid);
	if (live == -1) {
		snprintf(msg, n, "cannot list processes in /proc: %s",
		    strerror(errno));
		return -1;
	}
	if (live == 0) {
		snprintf(msg, n, "the service group %ld of an earlier agent "
		    "is gone", (long)pgid);
		return 0;
	}
	if (foreign != 0) {
		snprintf(msg, n, "not stopping process group %ld named in the "
		    "service pid file: its process %ld runs as uid %ld, not as "
		    "the file's owner uid %ld", (long)pgid, (long)foreign,
		    (long)fuid, (long)owner);
		return -1;
	}
	if ((rc = pidfile_stop(pgid, timeout, msg, n)) == -1)
		return -1;
	if (rc == 0)
		snprintf(msg, n, "the service group %ld of an earlier agent "
		    "is gone", (long)pgid);
	return rc;
}

int
pidfile_reap_stale(int fd, double timeout, char *msg, size_t n)
{
	char buf[PIDFILE_MAX + 1], *line, *nl;
	unsigned long long start;
	struct stat st;
	ssize_t len;
	pid_t pgid;
	int rc = 0, one;

	if (n > 0)
		msg[0] = '\0';
	if (!(timeout >= 0))
		timeout = 0;
	if (timeout > PIDFILE_TIMEOUT_MAX)
		timeout = PIDFILE_TIMEOUT_MAX;
	if (fstat(fd, &st) == -1) {
		snprintf(msg, n, "cannot stat the service pid file: %s",
		    strerror(errno));
		return -1;
	}
	do
		len = pread(fd, buf, sizeof(buf) - 1, 0);
	while (len == -1 && errno == EINTR);
	if (len == -1) {
		snprintf(msg, n, "cannot read the service pid file: %s",
		    strerror(errno));
		return -1;
	}
	if (len == 0)
		return 0;
	buf[len] = '\0';
	/* One or two lines (overlap), each "PGID STARTTIME". */
	for (line = buf; *line != '\0'; line = nl + 1) {
		if (pidfile_parse(line, &pgid, &start) == -1 ||
		    (nl = strchr(line, '\n')) == NULL) {
			snprintf(msg, n, "the service pid file does not hold "
			    "'PGID STARTTIME' (stop what an earlier agent left "
			    "running, then remove the file)");
			return -1;
		}
		if ((one = pidfile_reap_one(pgid, start, st.st_uid, timeout,
		    msg, n)) == -1)
			return -1;
		if (one == 1)
			rc = 1;
	}
	if (pidfile_clear(fd) == -1) {
		snprintf(msg, n, "cannot clear the service pid file: %s",
		    strerror(errno));
		return -1;
	}
	return rc;
}
