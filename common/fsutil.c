/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * fsutil.c - fd-relative file system helpers; see fsutil.h for the rules.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"

#define DIR_FLAGS	(O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

static int
fs_walk(int dirfd, const char *rel, int create, mode_t mode, uid_t uid,
    gid_t gid)
{
	char comp[256];
	const char *p = rel, *slash;
	size_t len;
	int fd, next;

	if ((fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0)) == -1)
		return -1;
	while (*p != '\0') {
		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		if (len == 0 || len >= sizeof(comp)) {
			close(fd);
			errno = len ? ENAMETOOLONG : EINVAL;
			return -1;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		if (create && mkdirat(fd, comp, mode) == 0) {
			next = openat(fd, comp, DIR_FLAGS);
			/* chown first: it may clear the setgid bit */
			if (next != -1 && ((uid != (uid_t)-1 &&
			    fchown(next, uid, gid) == -1) ||
			    fchmod(next, mode) == -1)) {
				close(next);
				next = -1;
			}
		} else if (create && errno != EEXIST) {
			next = -1;
		} else
			next = openat(fd, comp, DIR_FLAGS);
		close(fd);
		if (next == -1)
			return -1;
		fd = next;
		p += len;
		while (*p == '/')
			p++;
	}
	return fd;
}

int
fs_open_beneath(int dirfd, const char *rel)
{
	return fs_walk(dirfd, rel, 0, 0, (uid_t)-1, (gid_t)-1);
}

int
fs_mkdir_beneath(int dirfd, const char *rel, mode_t mode, uid_t uid, gid_t gid)
{
	return fs_walk(dirfd, rel, 1, mode, uid, gid);
}

/*
 * Removing a tree holds a bounded number of descriptors, however deep the
 * tree: the first FS_RM_HOLD levels keep their directory streams open (a
 * wide tree costs one pass per directory), deeper ones are closed on the
 * way down and reopened through ".." on the way up, checked by device and
 * inode to be the directory left.  A 2,100-level tree left by a refused
 * push goes away under any descriptor limit.
 */
#define FS_RM_HOLD	16

struct fs_rm_frame {
	char	*name;		/* in the parent */
	dev_t	 dev;
	ino_t	 ino;
	DIR	*d;		/* NULL when closed (below FS_RM_HOLD) */
};

/* A release may be read-only (dir_mode 0555): make it ours to empty. */
static void
fs_rm_writable(int fd, const struct stat *st)
{
	if (st->st_uid == geteuid() && (st->st_mode & 0700) != 0700)
		(void)fchmod(fd, (st->st_mode & 07777) | 0700);
}

static int
fs_rm_push(struct fs_rm_frame **v, size_t *n, size_t *cap, const char *name,
    int fd)
{
	struct fs_rm_frame *nv;
	struct stat st;

	if (fstat(fd, &st) == -1)
		return -1;
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 32;

		if ((nv = realloc(*v, ncap * sizeof(*nv))) == NULL)
			return -1;
		*v = nv;
		*cap = ncap;
	}
	if (((*v)[*n].name = strdup(name)) == NULL)
		return -1;
	(*v)[*n].dev = st.st_dev;
	(*v)[*n].ino = st.st_ino;
	(*v)[*n].d = NULL;
	fs_rm_writable(fd, &st);
	(*n)++;
	return 0;
}

/* Remove the directory open at fd, named name in top; closes fd. */
static int
fs_rm_dir(int top, const char *name, int fd)
{
	struct fs_rm_frame *v = NULL, *f, *p;
	struct dirent *de;
	struct stat st;
	size_t n = 0, cap = 0, i;
	int rc = -1, saved, pfd = -1, child;

	if (fs_rm_push(&v, &n, &cap, name, fd) == -1)
		goto out;
	while (n > 0) {
		f = &v[n - 1];
		if (f->d == NULL) {
			if ((f->d = fdopendir(fd)) == NULL)
				goto out;
			fd = -1;	/* the stream owns it */
		}
		child = -1;
		while ((errno = 0, de = readdir(f->d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			if (de->d_type != DT_DIR &&
			    unlinkat(dirfd(f->d), de->d_name, 0) == 0)
				continue;
			if (errno == ENOENT)
				continue;
			if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN &&
			    errno != EISDIR && errno != EPERM)
				goto out;
			if ((child = openat(dirfd(f->d), de->d_name,
			    DIR_FLAGS)) == -1) {
				if (errno == ENOENT)
					continue;
				if (errno == ENOTDIR || errno == ELOOP) {
					/* DT_UNKNOWN and not a directory */
					if (unlinkat(dirfd(f->d), de->d_name,
					    0) == 0 || errno == ENOENT)
						continue;
				}
				goto out;
			}
			break;
		}
		if (child != -1) {
			if (fs_rm_push(&v, &n, &cap, de->d_name, child) == -1) {
				saved = errno;
				close(child);
				errno = saved;
				goto out;
			}
			f = &v[n - 2];
			if (n - 2 >= FS_RM_HOLD) {
				closedir(f->d);
				f->d = NULL;
			}
			fd = child;
			continue;
		}
		if (errno != 0)
			goto out;
		/* f is empty: remove it from its parent */
		if (n == 1) {
			closedir(f->d);
			f->d = NULL;
			if (unlinkat(top, f->name, AT_REMOVEDIR) == -1 &&
			    errno != ENOENT)
				goto out;
			free(f->name);
			n = 0;
			break;
		}
		p = &v[n - 2];
		if (p->d == NULL) {
			if ((pfd = openat(dirfd(f->d), "..", DIR_FLAGS)) == -1)
				goto out;
			if (fstat(pfd, &st) == -1)
				goto out;
			if (st.st_dev != p->dev || st.st_ino != p->ino) {
				errno = ESTALE;	/* moved meanwhile */
				goto out;
			}
		}
		closedir(f->d);
		f->d = NULL;
		if (unlinkat(p->d != NULL ? dirfd(p->d) : pfd, f->name,
		    AT_REMOVEDIR) == -1 && errno != ENOENT)
			goto out;
		free(f->name);
		n--;
		fd = pfd;	/* -1 when the parent's stream is open */
		pfd = -1;
	}
	rc = 0;
out:
	saved = errno;
	for (i = 0; i < n; i++) {
		if (v[i].d != NULL)
			closedir(v[i].d);
		free(v[i].name);
	}
	free(v);
	if (fd != -1)
		close(fd);
	if (pfd != -1)
		close(pfd);
	errno = saved;
	return rc;
}

int
fs_remove_tree(int dirfd, const char *name)
{
	int fd;

	if (unlinkat(dirfd, name, 0) == 0)
		return 0;
	if (errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	if ((fd = openat(dirfd, name, DIR_FLAGS)) == -1)
		return errno == ENOENT ? 0 : -1;
	return fs_rm_dir(dirfd, name, fd);
}

int
fs_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
fs_random_hex(char *buf, size_t n)
{
	unsigned char raw[32];
	size_t i;

	if (n > sizeof(raw)) {
		errno = EINVAL;
		return -1;
	}
	if (getrandom(raw, n, 0) != (ssize_t)n)
		return -1;
	for (i = 0; i < n; i++)
		snprintf(buf + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

static int
fs_tempname(char *buf, size_t size, const char *name)
{
	char hex[17];

	if (fs_random_hex(hex, 8) == -1)
		return -1;
	if ((size_t)snprintf(buf, size, ".%s.tmp-%s", name, hex) >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
fs_write_atomic(int dirfd, const char *name, const void *data, size_t len,
    mode_t mode, uid_t uid, gid_t gid)
{
	char tmp[300];
	int fd = -1, saved;

	if (fs_tempname(tmp, sizeof(tmp), name) == -1)
		return -1;
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	if (fs_write_all(fd, data, len) == -1 || fchmod(fd, mode) == -1 ||
	    (uid != (uid_t)-1 && fchown(fd, uid, gid) == -1) ||
	    fsync(fd) == -1 || (saved = fd, fd = -1, close(saved)) == -1) {
		saved = errno;
		if (fd != -1)
			close(fd);
		unlinkat(dirfd, tmp, 0);
		errno = saved;
		return -1;
	}
	if (renameat(dirfd, tmp, dirfd, name) == -1) {
		saved = errno;
		unlinkat(dirfd, tmp, 0);
		errno = saved;
		return -1;
	}
	/* the new name is on disk too, not only the data */
	return fsync(dirfd);
}

int
fs_symlink_atomic(int dirfd, const char *target, const char *name, uid_t uid,
    gid_t gid)
{
	char tmp[300];
	int saved;

	if (fs_tempname(tmp, sizeof(tmp), name) == -1)
		return -1;
	if (symlinkat(target, dirfd, tmp) == -1)
		return -1;
	if ((uid != (uid_t)-1 &&
	    fchownat(dirfd, tmp, uid, gid, AT_SYMLINK_NOFOLLOW) == -1) ||
	    renameat(dirfd, tmp, dirfd, name) == -1) {
		saved = errno;
		unlinkat(dirfd, tmp, 0);
		errno = saved;
		return -1;
	}
	return 0;
}

int
fs_read_fd(int fd, size_t max, char **out, size_t *lenp)
{
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int saved;

	*out = NULL;
	if ((buf = malloc(max + 1)) == NULL)
		return -1;
	while (len < max) {
		n = read(fd, buf + len, max - len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == max) {
		errno = EFBIG;
		goto fail;
	}
	buf[len] = '\0';
	*out = buf;
	if (lenp != NULL)
		*lenp = len;
	return 0;
fail:
	saved = errno;
	free(buf);
	errno = saved;
	return -1;
}

int
fs_read_small(int dirfd, const char *name, size_t max, char **out,
    size_t *lenp)
{
	int fd, rc, saved;

	*out = NULL;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return -1;
	rc = fs_read_fd(fd, max, out, lenp);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}
