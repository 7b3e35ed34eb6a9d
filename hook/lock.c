/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * lock.c - one deploy at a time per path.
 *
 * An open-file-description lock (F_OFD_SETLKW) on PATH/.lock: the kernel
 * drops it when the holder exits or is killed, so it never goes stale, and
 * it is not tied to the pid.  The file's contents only say who holds it,
 * for the "waiting for" line; they are never trusted for the locking.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "redeploy.h"

static void
lock_say_holder(int fd)
{
	char buf[512], what[256] = "";
	long pid = 0;
	long long since = 0;
	ssize_t n;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	if (sscanf(buf, "pid=%ld since=%lld what=%255[^\n]", &pid, &since,
	    what) == 3)
		log_info("waiting for %s (pid %ld, running %lld s)", what,
		    pid, (long long)time(NULL) - since);
	else
		log_info("waiting for another deploy to finish");
}

/* Say who holds the lock now, for whoever waits on it. */
void
lock_note(int fd, const char *what)
{
	char info[512];
	int len;

	len = snprintf(info, sizeof(info), "pid=%ld since=%lld what=%s\n",
	    (long)getpid(), (long long)time(NULL), what);
	/* The note is advisory: when it cannot be written, a waiter just
	 * says less about the holder. */
	if (ftruncate(fd, 0) == -1 || len <= 0)
		return;
	if (pwrite(fd, info, (size_t)len, 0) != (ssize_t)len)
		return;
}

static int lock_take(int, const char *, uid_t, gid_t, int);

int
lock_acquire(int pathfd, const char *what, uid_t uid, gid_t gid)
{
	return lock_take(pathfd, what, uid, gid, 1);
}

/* lock_acquire, but -1 with EAGAIN at once when someone holds it. */
int
lock_try(int pathfd, const char *what, uid_t uid, gid_t gid)
{
	return lock_take(pathfd, what, uid, gid, 0);
}

static int
lock_take(int pathfd, const char *what, uid_t uid, gid_t gid, int wait)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct stat held, now;
	int fd, tries = 0;

again:
	fd = openat(pathfd, ".lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	if (fd == -1)
		return -1;
	/* A lock file made by root must stay usable by the owner. */
	if (uid != (uid_t)-1 && fchown(fd, uid, gid) == -1)
		goto fail;
	if (fcntl(fd, F_OFD_SETLK, &fl) == -1) {
		if (errno != EAGAIN && errno != EACCES)
			goto fail;
		if (!wait) {
			close(fd);
			errno = EAGAIN;
			return -1;
		}
		lock_say_holder(fd);
		while (fcntl(fd, F_OFD_SETLKW, &fl) == -1)
			if (errno != EINTR)
				goto fail;
	}
	/* Someone removed .lock while we waited: the lock we hold is on a
	 * file nobody else will open.  Lock the one that is there now. */
	if (fstat(fd, &held) == -1 ||
	    fstatat(pathfd, ".lock", &now, AT_SYMLINK_NOFOLLOW) == -1 ||
	    held.st_dev != now.st_dev || held.st_ino != now.st_ino) {
		close(fd);
		if (++tries < 10)
			goto again;
		errno = ESTALE;
		return -1;
	}
	lock_note(fd, what);
	return fd;
fail:
	close(fd);
	return -1;
}

void
lock_release(int fd)
{
	if (fd != -1) {
		/* advisory, as in lock_note: a stale note harms no one */
		if (ftruncate(fd, 0) == -1)
			log_debug("cannot clear the lock note: %s", strerror(errno));
		close(fd);
	}
}
