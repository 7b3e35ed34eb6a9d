/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * fsutil.h - file system helpers that never follow a symlink they should not.
 *
 * Everything works relative to a directory fd with O_NOFOLLOW and
 * AT_SYMLINK_NOFOLLOW, so a tree that came from a push, or a directory that
 * others can write, cannot redirect a create, chown or delete elsewhere.
 * Functions return 0 or -1 with errno set.
 */
#ifndef REDEPLOY_FSUTIL_H
#define REDEPLOY_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Open directory REL (components separated by '/', "" for dirfd itself)
 * beneath dirfd, refusing symlinks in every component. */
int	fs_open_beneath(int dirfd, const char *rel);

/* Like fs_open_beneath(), creating missing components with mode (then
 * fchown'ed to uid:gid when uid != (uid_t)-1). */
int	fs_mkdir_beneath(int dirfd, const char *rel, mode_t mode, uid_t uid,
	    gid_t gid);

/* Remove NAME in dirfd: a file, a symlink (the link itself) or a whole
 * directory tree, without following any link inside it. */
int	fs_remove_tree(int dirfd, const char *name);

/* Write data to dirfd/name atomically: unique temp name, fsync, rename,
 * fsync of dirfd. */
int	fs_write_atomic(int dirfd, const char *name, const void *data,
	    size_t len, mode_t mode, uid_t uid, gid_t gid);

/* Point dirfd/name at target atomically: symlink under a unique temp name,
 * then rename(2) over name. */
int	fs_symlink_atomic(int dirfd, const char *target, const char *name,
	    uid_t uid, gid_t gid);

/* Read a whole small file (at most max bytes) beneath dirfd, NUL-terminated,
 * without following a final symlink.  Caller frees *out. */
int	fs_read_small(int dirfd, const char *name, size_t max, char **out,
	    size_t *lenp);

/* Read all of fd (at most max bytes), NUL-terminated.  Caller frees. */
int	fs_read_fd(int fd, size_t max, char **out, size_t *lenp);

/* Fill buf (size >= 2*n+1) with n random bytes as lower-case hex. */
int	fs_random_hex(char *buf, size_t n);

/* Write all of buf, retrying on EINTR and short writes. */
int	fs_write_all(int fd, const void *buf, size_t len);

#endif
