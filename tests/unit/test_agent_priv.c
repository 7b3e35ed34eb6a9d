/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * test_agent_priv.c - unit tests for the agent's root-only work: the pid
 * file that finds the service's process group again after a kill -9 of
 * the agent, and the verified drop to the service user.
 *
 * The test process makes itself a child subreaper, so the processes of a
 * stopped group are reparented to it and can be waited for, whatever the
 * machine's pid 1 does with orphans.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "fsutil.h"
#include "redeployd.h"

#define NOBODY	65534

struct tdir {
	char	dir[64];
	char	path[128];
	int	fd;
};

static int
tdir_setup(void **state)
{
	struct tdir *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/test_agent_priv.XXXXXX");
	if (mkdtemp(t->dir) == NULL) {
		free(t);
		return -1;
	}
	snprintf(t->path, sizeof(t->path), "%s/service.pid", t->dir);
	t->fd = -1;
	*state = t;
	return 0;
}

static int
tdir_teardown(void **state)
{
	struct tdir *t = *state;
	int rc;

	if (t->fd != -1)
		close(t->fd);
	rc = fs_remove_tree(AT_FDCWD, t->dir);
	free(t);
	return rc;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
open_pidfile(struct tdir *t)
{
	char err[ERRLEN] = "";

	t->fd = pidfile_open(t->path, (uid_t)-1, (gid_t)-1, err, sizeof(err));
	if (t->fd == -1)
		fail_msg("pidfile_open: %s", err);
}

static void
put_pidfile(struct tdir *t, const char *data)
{
	assert_int_equal(ftruncate(t->fd, 0), 0);
	assert_int_equal(pwrite(t->fd, data, strlen(data), 0),
	    (ssize_t)strlen(data));
}

static off_t
pidfile_size(struct tdir *t)
{
	struct stat st;

	assert_int_equal(fstat(t->fd, &st), 0);
	return st.st_size;
}

static void
idle_forever(void)
{
	for (;;)
		pause();
}

/*
 * A service as the agent leaves it: a leader in its own session and
 * group, with a child of its own.  ignore_term: both ignore SIGTERM.
 * leader_exits: the leader exits (status 0) when a byte comes on *go,
 * leaving the grandchild alone in the group.
 */
static void
spawn_group(int ignore_term, int leader_exits, pid_t *leader,
    pid_t *grandchild, int *go)
{
	int p[2], g[2];
	pid_t pid, gc;
	char c;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(pipe2(g, O_CLOEXEC), 0);
	assert_true((pid = fork()) != -1);
	if (pid == 0) {
		close(p[0]);
		close(g[1]);
		if (setsid() == -1)
			_exit(1);
		if (ignore_term)
			signal(SIGTERM, SIG_IGN);
		if ((gc = fork()) == -1)
			_exit(1);
		if (gc == 0)
			idle_forever();
		if (write(p[1], &gc, sizeof(gc)) != sizeof(gc))
			_exit(1);
		if (leader_exits) {
			while (read(g[0], &c, 1) == -1 && errno == EINTR)
				;
			_exit(0);
		}
		idle_forever();
	}
	close(p[1]);
	close(g[0]);
	assert_int_equal(read(p[0], &gc, sizeof(gc)), sizeof(gc));
	close(p[0]);
	*leader = pid;
	*grandchild = gc;
	if (go != NULL)
		*go = g[1];
	else
		close(g[1]);
}

/* Wait for pid (our child, or reparented to us) and return its status. */
static int
reap(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) == -1)
		assert_int_equal(errno, EINTR);
	return status;
}

/* Poll until pid no longer exists, at most 5 s. */
static void
assert_gone(pid_t pid)
{
	struct timespec tick = { 0, 10000000L };
	double end = now() + 5;

	while (kill(pid, 0) == 0 && now() < end)
		nanosleep(&tick, NULL);
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
}

static void
assert_contains(const char *s, const char *want)
{
	if (strstr(s, want) == NULL)
		fail_msg("'%s' lacks '%s'", s, want);
}

static void
test_starttime(void **state)
{
	unsigned long long a, b;

	assert_int_equal(proc_starttime(getpid(), &a), 0);
	assert_int_equal(proc_starttime(getpid(), &b), 0);
	assert_true(a == b);
	assert_int_equal(proc_starttime(0, &a), -1);
	assert_int_equal(proc_starttime(INT_MAX, &a), -1);
	assert_int_equal(errno, ENOENT);
}

static void
test_pidfile_open(void **state)
{
	struct tdir *t = *state;
	char err[ERRLEN] = "", other[160];
	struct stat st;
	int fd;

	/* created 0644 whatever the umask */
	umask(0077);
	open_pidfile(t);
	umask(0022);
	assert_int_equal(fstat(t->fd, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(pidfile_size(t), 0);
	assert_int_equal(fcntl(t->fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);

	/* one agent per config: held, the file cannot be opened again */
	assert_int_equal(pidfile_open(t->path, (uid_t)-1, (gid_t)-1, err,
	    sizeof(err)), -1);
	assert_contains(err, "another redeployd runs with this config");

	/* given to the service user when opened by root */
	if (geteuid() == 0) {
		close(t->fd);
		t->fd = -1;
		fd = pidfile_open(t->path, NOBODY, NOBODY, err, sizeof(err));
		assert_true(fd != -1);
		assert_int_equal(fstat(fd, &st), 0);
		assert_int_equal(st.st_uid, NOBODY);
		assert_int_equal(st.st_gid, NOBODY);
		close(fd);
	}

	snprintf(other, sizeof(other), "%s/link", t->dir);
	assert_int_equal(symlink(t->path, other), 0);
	assert_int_equal(pidfile_open(other, (uid_t)-1, (gid_t)-1, err,
	    sizeof(err)), -1);
	assert_contains(err, "is a symlink");
	assert_int_equal(unlink(other), 0);

	assert_int_equal(link(t->path, other), 0);
	assert_int_equal(pidfile_open(other, (uid_t)-1, (gid_t)-1, err,
	    sizeof(err)), -1);
	assert_contains(err, "has other hard links");
	assert_int_equal(unlink(other), 0);

	assert_int_equal(mkfifo(other, 0600), 0);
	assert_int_equal(pidfile_open(other, (uid_t)-1, (gid_t)-1, err,
	    sizeof(err)), -1);
	assert_contains(err, "is not a regular file");
	assert_null(strchr(err, '\n'));
}

static void
test_pidfile_write(void **state)
{
	struct tdir *t = *state;
	unsigned long long start;
	char buf[128], want[128];
	ssize_t n;

	open_pidfile(t);
	put_pidfile(t, "a much longer line that must not survive\n");
	assert_int_equal(pidfile_write(t->fd, getpid()), 0);
	assert_int_equal(proc_starttime(getpid(), &start), 0);
	snprintf(want, sizeof(want), "%ld %llu\n", (long)getpid(), start);
	n = pread(t->fd, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);

	assert_int_equal(pidfile_clear(t->fd), 0);
	assert_int_equal(pidfile_size(t), 0);
	assert_int_equal(pidfile_write(t->fd, 1), -1);
	assert_int_equal(pidfile_write(t->fd, INT_MAX), -1);
}

static void
test_reap_group(void **state)
{
	struct tdir *t = *state;
	char msg[ERRLEN] = "", want[128];
	pid_t leader, gc;
	double t0, took;
	int rc, status;

	open_pidfile(t);
	spawn_group(0, 0, &leader, &gc, NULL);
	assert_int_equal(pidfile_write(t->fd, leader), 0);

	t0 = now();
	rc = pidfile_reap_stale(t->fd, 5, msg, sizeof(msg));
	took = now() - t0;
	assert_int_equal(rc, 1);
	assert_true(took < 5);
	snprintf(want, sizeof(want), "stopped the service group %ld left by "
	    "an earlier agent", (long)leader);
	assert_string_equal(msg, want);

	status = reap(leader);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
	/* the grandchild was reparented to us when its parent died */
	status = reap(gc);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
	assert_gone(gc);
	assert_int_equal(pidfile_size(t), 0);

	/* once done, nothing is left to do */
	assert_int_equal(pidfile_reap_stale(t->fd, 5, msg, sizeof(msg)), 0);
}

static void
test_reap_kill(void **state)
{
	struct tdir *t = *state;
	char msg[ERRLEN] = "";
	pid_t leader, gc;
	double t0, took;
	int status;

	open_pidfile(t);
	spawn_group(1, 0, &leader, &gc, NULL);
	assert_int_equal(pidfile_write(t->fd, leader), 0);

	t0 = now();
	assert_int_equal(pidfile_reap_stale(t->fd, 0.2, msg, sizeof(msg)), 1);
	took = now() - t0;
	assert_true(took >= 0.2);
	assert_true(took < 0.2 + 2);
	assert_contains(msg, "SIGKILL");
	status = reap(leader);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	status = reap(gc);
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(pidfile_size(t), 0);
}

/* The leader is gone, a member of its group is not. */
static void
test_reap_leaderless(void **state)
{
	struct tdir *t = *state;
	char msg[ERRLEN] = "";
	unsigned long long start;
	pid_t leader, gc;
	int go, status;

	open_pidfile(t);
	spawn_group(0, 1, &leader, &gc, &go);
	assert_int_equal(pidfile_write(t->fd, leader), 0);
	assert_int_equal(write(go, "x", 1), 1);
	close(go);
	status = reap(leader);
	assert_true(WIFEXITED(status));
	assert_int_equal(proc_starttime(leader, &start), -1);
	assert_int_equal(kill(-leader, 0), 0);

	assert_int_equal(pidfile_reap_stale(t->fd, 5, msg, sizeof(msg)), 1);
	assert_contains(msg, "stopped the service group");
	status = reap(gc);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
	assert_int_equal(pidfile_size(t), 0);
}

/* Same pid, another start time: another process, left alone. */
static void
test_reap_recycled(void **state)
{
	struct tdir *t = *state;
	char msg[ERRLEN] = "", line[64];
	unsigned long long start;
	pid_t pid, gc;
	int status;

	open_pidfile(t);
	/* a live group leader: only its start time tells it apart */
	spawn_group(0, 0, &pid, &gc, NULL);
	assert_int_equal(proc_starttime(pid, &start), 0);
	snprintf(line, sizeof(line), "%ld %llu\n", (long)pid, start + 1);
	put_pidfile(t, line);

	assert_int_equal(pidfile_reap_stale(t->fd, 1, msg, sizeof(msg)), 0);
	assert_contains(msg, "is gone");
	assert_int_equal(kill(pid, 0), 0);
	assert_int_equal(pidfile_size(t), 0);

	snprintf(line, sizeof(line), "%ld %llu\n", (long)pid, start - 1);
	put_pidfile(t, line);
	assert_int_equal(pidfile_reap_stale(t->fd, 1, msg, sizeof(msg)), 0);
	assert_int_equal(kill(pid, 0), 0);
	assert_int_equal(kill(gc, 0), 0);

	assert_int_equal(kill(-pid, SIGKILL), 0);
	status = reap(pid);
	assert_int_equal(WTERMSIG(status), SIGKILL);
	reap(gc);
}

/* A stopped group is continued, so that SIGTERM does its work. */
static void
test_reap_stopped(void **state)
{
	struct tdir *t = *state;
	char msg[ERRLEN] = "";
	pid_t leader, gc;
	int status;

	open_pidfile(t);
	spawn_group(0, 0, &leader, &gc, NULL);
	assert_int_equal(pidfile_write(t->fd, leader), 0);
	assert_int_equal(kill(-leader, SIGSTOP), 0);
	assert_int_equal(waitpid(leader, &status, WUNTRACED), leader);
	assert_true(WIFSTOPPED(status));

	assert_int_equal(pidfile_reap_stale(t->fd, 5, msg, sizeof(msg)), 1);
	assert_null(strstr(msg, "SIGKILL"));
	status = reap(leader);
	assert_int_equal(WTERMSIG(status), SIGTERM);
	status = reap(gc);
	assert_int_equal(WTERMSIG(status), SIGTERM);
}

static void
test_reap_nothing(void **state)
{
	struct tdir *t = *state;
	char msg[ERRLEN] = "x", line[64];
	unsigned long long start;
	pid_t pid;

	open_pidfile(t);
	assert_int_equal(pidfile_reap_stale(t->fd, 1, msg, sizeof(msg)), 0);
	assert_string_equal(msg, "");

	/* a group that ended by itself */
	assert_true((pid = fork()) != -1);
	if (pid == 0) {
		setsid();
		idle_forever();
	}
	assert_int_equal(proc_starttime(pid, &start), 0);
	snprintf(line, sizeof(line), "%ld %llu\n", (long)pid, start);
	put_pidfile(t, line);
	assert_int_equal(kill(pid, SIGKILL), 0);
	reap(pid);
	assert_int_equal(pidfile_reap_stale(t->fd, 1, msg, sizeof(msg)), 0);
	assert_contains(msg, "is gone");
	assert_int_equal(pidfile_size(t), 0);
}

static void
test_reap_malformed(void **state)
{
	struct tdir *t = *state;
	static const char *bad[] = {
		"garbage\n", "12x 34\n", "12 34", "12 34\nmore\n", " 12 34\n",
		"12 -34\n", "-12 34\n", "+12 34\n", "12  34\n",
		"99999999999999999999 1\n", "12 99999999999999999999999\n",
		"0 5\n", "1 5\n", NULL
	};
	char msg[ERRLEN] = "";
	size_t i;

	open_pidfile(t);
	for (i = 0; bad[i] != NULL; i++) {
		put_pidfile(t, bad[i]);
		if (pidfile_reap_stale(t->fd, 1, msg, sizeof(msg)) != -1)
			fail_msg("accepted '%s'", bad[i]);
		assert_contains(msg, "does not hold 'PGID STARTTIME'");
		/* left for the operator to look at */
		assert_int_equal(pidfile_size(t), (off_t)strlen(bad[i]));
	}
}

/* A group of another user than the file's owner is not signalled. */
static void
test_reap_foreign(void **state)
{
	struct tdir *t = *state;
	char msg[ERRLEN] = "", want[64];
	gid_t nogroup = NOBODY;
	int p[2], status;
	pid_t pid;
	char c;

	if (geteuid() != 0)
		skip();
	open_pidfile(t);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_true((pid = fork()) != -1);
	if (pid == 0) {
		close(p[0]);
		if (setsid() == -1 || setgroups(1, &nogroup) == -1 ||
		    setresgid(NOBODY, NOBODY, NOBODY) == -1 ||
		    setresuid(NOBODY, NOBODY, NOBODY) == -1)
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		idle_forever();
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	assert_int_equal(pidfile_write(t->fd, pid), 0);

	assert_int_equal(pidfile_reap_stale(t->fd, 1, msg, sizeof(msg)), -1);
	snprintf(want, sizeof(want), "runs as uid %d", NOBODY);
	assert_contains(msg, want);
	assert_int_equal(kill(pid, 0), 0);
	assert_true(pidfile_size(t) > 0);

	assert_int_equal(kill(pid, SIGKILL), 0);
	status = reap(pid);
	assert_int_equal(WTERMSIG(status), SIGKILL);
}

static void
test_resolve(void **state)
{
	struct privdrop pd;
	char err[ERRLEN] = "";

	assert_int_equal(privdrop_resolve("nobody", NULL, &pd, err,
	    sizeof(err)), 0);
	assert_int_equal(pd.uid, NOBODY);
	assert_int_equal(pd.gid, NOBODY);
	assert_string_equal(pd.name, "nobody");
	assert_string_equal(pd.home, "/nonexistent");
	/* a numeric id is a user too (redeploy.ini(5)) */
	assert_int_equal(privdrop_resolve("65534", "65534", &pd, err,
	    sizeof(err)), 0);
	assert_int_equal(pd.uid, NOBODY);
	assert_string_equal(pd.name, "nobody");

	/* a failed resolve leaves pd as it was */
	pd.uid = (uid_t)-1;
	assert_int_equal(privdrop_resolve("root", NULL, &pd, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "[service] user must not be root");
	assert_int_equal(pd.uid, (uid_t)-1);
	assert_int_equal(privdrop_resolve(NULL, NULL, &pd, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "[service] user is required when redeployd "
	    "starts as root (such as 'user = www-data')");
	assert_int_equal(privdrop_resolve("no-such-user-xq", NULL, &pd, err,
	    sizeof(err)), -1);
	assert_contains(err, "'no-such-user-xq' does not exist");
	assert_int_equal(privdrop_resolve("nobody", "no-such-group-xq", &pd,
	    err, sizeof(err)), -1);
	assert_contains(err, "'no-such-group-xq' does not exist");
	assert_int_equal(privdrop_resolve("nobody", "root", &pd, err,
	    sizeof(err)), -1);
	assert_contains(err, "must not be root");
}

/*
 * Checks run in a child after the drop; the exit status says which one
 * failed.
 */
static int
check_dropped(const struct privdrop *pd)
{
	char err[ERRLEN] = "";
	uid_t r, e, s;
	gid_t list[4];
	const char *v;

	if (getuid() != NOBODY || geteuid() != NOBODY)
		return 10;
	if (getresuid(&r, &e, &s) == -1 || s != NOBODY)
		return 11;
	if (getgid() != pd->gid || getegid() != pd->gid)
		return 12;
	if (getgroups(4, list) != 1 || list[0] != pd->gid)
		return 13;
	if (setuid(0) != -1 || seteuid(0) != -1 || setgid(0) != -1)
		return 14;
	if ((v = getenv("HOME")) == NULL || strcmp(v, "/nonexistent") != 0)
		return 15;
	if ((v = getenv("USER")) == NULL || strcmp(v, "nobody") != 0 ||
	    (v = getenv("LOGNAME")) == NULL || strcmp(v, "nobody") != 0)
		return 16;
	/* once dropped, another drop fails cleanly */
	if (privdrop_apply(pd, err, sizeof(err)) != -1 ||
	    strcmp(err, "setgroups(65534): Operation not permitted") != 0)
		return 17;
	return 0;
}

static void
test_apply_root(void **state)
{
	struct privdrop pd;
	char err[ERRLEN] = "";
	pid_t pid;
	int status;

	if (geteuid() != 0)
		skip();
	/* resolved before the fork, as the agent does */
	assert_int_equal(privdrop_resolve("nobody", NULL, &pd, err,
	    sizeof(err)), 0);
	assert_true((pid = fork()) != -1);
	if (pid == 0) {
		if (privdrop_apply(&pd, err, sizeof(err)) == -1)
			_exit(1);
		_exit(check_dropped(&pd));
	}
	status = reap(pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Without root the drop fails with a message and changes nothing. */
static void
test_apply_unprivileged(void **state)
{
	struct privdrop pd;
	char err[ERRLEN] = "";
	gid_t nogroup = NOBODY;
	uid_t uid;
	pid_t pid;
	int status;

	assert_int_equal(privdrop_resolve("nobody", NULL, &pd, err,
	    sizeof(err)), 0);
	if (geteuid() != 0) {
		uid = geteuid();
		assert_int_equal(privdrop_apply(&pd, err, sizeof(err)), -1);
		assert_string_equal(err, "setgroups(65534): Operation not "
		    "permitted");
		assert_int_equal(geteuid(), uid);
		return;
	}
	assert_true((pid = fork()) != -1);
	if (pid == 0) {
		/* root-only refusals come before any change */
		pd.uid = 0;
		if (privdrop_apply(&pd, err, sizeof(err)) != -1 ||
		    strcmp(err, "refusing to drop privileges to root") != 0 ||
		    geteuid() != 0 || getegid() != 0)
			_exit(1);
		pd.uid = NOBODY;
		/* a plain user, then the drop to another one */
		if (setgroups(1, &nogroup) == -1 ||
		    setresgid(NOBODY, NOBODY, NOBODY) == -1 ||
		    setresuid(NOBODY, NOBODY, NOBODY) == -1)
			_exit(2);
		pd.uid = NOBODY - 1;
		if (privdrop_apply(&pd, err, sizeof(err)) != -1)
			_exit(3);
		if (strcmp(err, "setgroups(65534): Operation not permitted"))
			_exit(4);
		if (getuid() != NOBODY)
			_exit(5);
		_exit(0);
	}
	status = reap(pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_starttime),
		cmocka_unit_test_setup_teardown(test_pidfile_open, tdir_setup,
		    tdir_teardown),
		cmocka_unit_test_setup_teardown(test_pidfile_write, tdir_setup,
		    tdir_teardown),
		cmocka_unit_test_setup_teardown(test_reap_group, tdir_setup,
		    tdir_teardown),
		cmocka_unit_test_setup_teardown(test_reap_kill, tdir_setup,
		    tdir_teardown),
		cmocka_unit_test_setup_teardown(test_reap_leaderless,
		    tdir_setup, tdir_teardown),
		cmocka_unit_test_setup_teardown(test_reap_recycled, tdir_setup,
		    tdir_teardown),
		cmocka_unit_test_setup_teardown(test_reap_stopped, tdir_setup,
		    tdir_teardown),
		cmocka_unit_test_setup_teardown(test_reap_nothing, tdir_setup,
		    tdir_teardown),
		cmocka_unit_test_setup_teardown(test_reap_malformed,
		    tdir_setup, tdir_teardown),
		cmocka_unit_test_setup_teardown(test_reap_foreign, tdir_setup,
		    tdir_teardown),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_apply_root),
		cmocka_unit_test(test_apply_unprivileged),
	};

	/* Orphans of the groups under test come to us, to be waited for. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1) {
		perror("prctl(PR_SET_CHILD_SUBREAPER)");
		return 1;
	}
	return cmocka_run_group_tests_name("agent_priv", tests, NULL, NULL);
}
