/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * token.c - the agent's secret: made, written, read and compared here only.
 *
 * Rules: a token is never printed, logged or put in an error message; the
 * buffers that held one are cleared with explicit_bzero before they go out
 * of scope.  The file is replaced atomically (unique temp name in the same
 * directory, fsync, rename, fsync of the directory), so a reader sees the
 * old token or the new one, never half of one.  Reading refuses anything
 * that others could have written or read: the hook must not send a secret
 * it cannot trust, nor use one everybody knows.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "token.h"

/* More than a token and its newline: a longer file is not a token. */
#define TOKEN_READMAX	128

static int
token_valid(const char *s, size_t len)
{
	size_t i;

	if (len != TOKEN_HEXLEN)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int
token_generate(char out[TOKEN_HEXLEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[TOKEN_BYTES];
	ssize_t n;
	size_t i;

	out[0] = '\0';
	do
		n = getrandom(raw, sizeof(raw), 0);
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof(raw)) {
		if (n >= 0)
			errno = EIO;
		explicit_bzero(raw, sizeof(raw));
		return -1;
	}
	for (i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 0xf];
	}
	out[TOKEN_HEXLEN] = '\0';
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

/* Split path into its directory ("." or "/" when it has none) and name. */
static int
token_split(const char *path, char *dir, size_t dirlen, const char **name)
{
	const char *slash;
	size_t len;

	if ((slash = strrchr(path, '/')) == NULL) {
		snprintf(dir, dirlen, ".");
		*name = path;
	} else {
		len = slash == path ? 1 : (size_t)(slash - path);
		if (len >= dirlen)
			return -1;
		memcpy(dir, path, len);
		dir[len] = '\0';
		*name = slash + 1;
	}
	if (**name == '\0' || strcmp(*name, ".") == 0 ||
	    strcmp(*name, "..") == 0)
		return -1;
	return 0;
}

/*
 * Only root, or we ourselves, may be able to write the token's directory:
 * whoever else can (its owner, its group, anyone) can swap the token file
 * for one of their own, and every push then rolls back.  1 when unsafe.
 */
static int
token_dir_unsafe(const struct stat *st, const char *dir, char *err,
    size_t errlen)
{
	uid_t me = geteuid();

	if (st->st_mode & S_IWOTH) {
		snprintf(err, errlen, "token directory '%s' is writable by "
		    "others (chmod o-w '%s')", dir, dir);
		return 1;
	}
	if (st->st_uid != 0 && st->st_uid != me) {
		snprintf(err, errlen, "token directory '%s' belongs to uid "
		    "%ld, who could replace the token (chown %s '%s')", dir,
		    (long)st->st_uid, me == 0 ? "root" : "$(id -un)", dir);
		return 1;
	}
	if ((st->st_mode & S_IWGRP) && st->st_gid != 0) {
		snprintf(err, errlen, "token directory '%s' is writable by "
		    "group %ld (chmod g-w '%s')", dir, (long)st->st_gid, dir);
		return 1;
	}
	return 0;
}

/* Open the token's directory, refusing one that others can write. */
static int
token_open_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	int dfd;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			snprintf(err, errlen, "token directory '%s' does not "
			    "exist (create it: install -d -m 0755 '%s')", dir,
			    dir);
		else if (errno == ENOTDIR)
			snprintf(err, errlen, "token directory '%s' is not a "
			    "directory", dir);
		else
			snprintf(err, errlen, "cannot open token directory "
			    "'%s': %s", dir, strerror(errno));
		return -1;
	}
	if (fstat(dfd, &st) == -1) {
		snprintf(err, errlen, "cannot stat token directory '%s': %s",
		    dir, strerror(errno));
		close(dfd);
		return -1;
	}
	if (token_dir_unsafe(&st, dir, err, errlen)) {
		close(dfd);
		return -1;
	}
	return dfd;
}

int
token_check_dir(const char *path, char *err, size_t errlen)
{
	char dir[4096];
	const char *name;
	int dfd;

	if (token_split(path, dir, sizeof(dir), &name) == -1) {
		snprintf(err, errlen, "token file '%s' is not a file path",
		    path);
		return -1;
	}
	if ((dfd = token_open_dir(dir, err, errlen)) == -1)
		return -1;
	close(dfd);
	return 0;
}

int
token_write(const char *path, const char *token, gid_t gid, char *err,
    size_t errlen)
{
	char dir[4096], tmp[300], rnd[17], line[TOKEN_HEXLEN + 1];
	const char *name, *step = NULL;
	int dfd = -1, fd = -1, made = 0, rc = -1, saved;

	if (token_split(path, dir, sizeof(dir), &name) == -1) {
		snprintf(err, errlen, "token file '%s' is not a file path",
		    path);
		goto out;
	}
	if (!token_valid(token, strlen(token))) {
		snprintf(err, errlen, "refusing to write a malformed token "
		    "to '%s'", path);
		goto out;
	}
	/* Checked through the fd we then write in, not by name twice. */
	if ((dfd = token_open_dir(dir, err, errlen)) == -1)
		goto out;
	if (fs_random_hex(rnd, 8) == -1) {
		snprintf(err, errlen, "cannot make a temporary name for '%s': "
		    "%s", path, strerror(errno));
		goto out;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), ".%s.tmp-%s", name, rnd) >=
	    sizeof(tmp)) {
		snprintf(err, errlen, "token file name '%s' is too long",
		    name);
		goto out;
	}
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1) {
		snprintf(err, errlen, "cannot create a token file in '%s': %s",
		    dir, strerror(errno));
		goto out;
	}
	made = 1;
	memcpy(line, token, TOKEN_HEXLEN);
	line[TOKEN_HEXLEN] = '\n';
	/* chown before chmod: a chown may clear mode bits. */
	if (fs_write_all(fd, line, sizeof(line)) == -1)
		step = "write";
	else if (gid != (gid_t)-1 && fchown(fd, (uid_t)-1, gid) == -1)
		step = "chown";
	else if (fchmod(fd, gid != (gid_t)-1 ? 0640 : 0600) == -1)
		step = "chmod";
	else if (fsync(fd) == -1)
		step = "fsync";
	else if (close(fd) == -1) {
		fd = -1;
		step = "close";
	} else
		fd = -1;
	if (step != NULL) {
		if (gid != (gid_t)-1 && strcmp(step, "chown") == 0)
			snprintf(err, errlen, "cannot give token file '%s' to "
			    "group %ld: %s", path, (long)gid, strerror(errno));
		else
			snprintf(err, errlen, "cannot write token file '%s' "
			    "(%s): %s", path, step, strerror(errno));
		goto out;
	}
	if (renameat(dfd, tmp, dfd, name) == -1) {
		snprintf(err, errlen, "cannot replace token file '%s': %s",
		    path, strerror(errno));
		goto out;
	}
	made = 0;
	if (fsync(dfd) == -1) {
		snprintf(err, errlen, "cannot sync token directory '%s': %s",
		    dir, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	saved = errno;
	explicit_bzero(line, sizeof(line));
	if (fd != -1)
		close(fd);
	if (made)
		(void)unlinkat(dfd, tmp, 0);
	if (dfd != -1)
		close(dfd);
	errno = saved;
	return rc;
}

int
token_read(const char *path, char out[TOKEN_HEXLEN + 1], char *err,
    size_t errlen)
{
	char buf[TOKEN_READMAX + 1], dir[4096];
	const char *name;
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd = -1, dfd, rc = -1, saved;

	out[0] = '\0';
	if (errlen > 0)
		err[0] = '\0';
	/* O_NONBLOCK: a FIFO put in its place must not hang the hook. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ELOOP)
			snprintf(err, errlen, "token file '%s' is a symlink "
			    "(remove it; the agent writes a fresh file at "
			    "start)", path);
		else if (errno == ENOENT)
			snprintf(err, errlen, "token file '%s' does not exist "
			    "(is redeployd running?)", path);
		else if (errno == EACCES)
			snprintf(err, errlen, "cannot read token file '%s': %s "
			    "(the hook's user needs the token group)", path,
			    strerror(errno));
		else
			snprintf(err, errlen, "cannot read token file '%s': %s",
			    path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "cannot stat token file '%s': %s", path,
		    strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "token file '%s' is not a regular file "
		    "(remove it; the agent writes a fresh file at start)",
		    path);
		goto out;
	}
	if (st.st_mode & 0007) {
		snprintf(err, errlen, "token file '%s' is readable or writable "
		    "by others (chmod 0640 '%s')", path, path);
		goto out;
	}
	if (st.st_mode & 0020) {
		snprintf(err, errlen, "token file '%s' is writable by its "
		    "group (chmod g-w '%s')", path, path);
		goto out;
	}
	/* The agent writes it as root, or as the user we are. */
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(err, errlen, "token file '%s' belongs to uid %ld, "
		    "not to root or to us: not the agent's (restart redeployd "
		    "to write a fresh one)", path, (long)st.st_uid);
		goto out;
	}
	if (token_split(path, dir, sizeof(dir), &name) == -1 ||
	    (dfd = token_open_dir(dir, err, errlen)) == -1) {
		if (err[0] == '\0')
			snprintf(err, errlen, "token file '%s' is not a file "
			    "path", path);
		goto out;
	}
	close(dfd);
	while (len < TOKEN_READMAX) {
		n = read(fd, buf + len, TOKEN_READMAX - len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "cannot read token file '%s': %s",
			    path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == TOKEN_HEXLEN + 1 && buf[TOKEN_HEXLEN] == '\n')
		len--;
	if (!token_valid(buf, len)) {
		snprintf(err, errlen, "token file '%s' does not hold a token "
		    "(restart redeployd to write a fresh one)", path);
		goto out;
	}
	memcpy(out, buf, TOKEN_HEXLEN);
	out[TOKEN_HEXLEN] = '\0';
	rc = 0;
out:
	saved = errno;
	explicit_bzero(buf, sizeof(buf));
	if (fd != -1)
		close(fd);
	errno = saved;
	return rc;
}

/*
 * Always TOKEN_HEXLEN rounds whatever a holds: a's index stops at its NUL
 * (so a is never read past it), b is read in full, and every difference,
 * including a's length, is or-ed into one accumulator that is looked at
 * only at the end.  volatile keeps the compiler from ending the loop early.
 */
int
token_equal(const char *a, const char *b)
{
	const unsigned char *ua = (const unsigned char *)a;
	const unsigned char *ub = (const unsigned char *)b;
	volatile unsigned int diff = 0;
	size_t i, j = 0;

	for (i = 0; i < TOKEN_HEXLEN; i++) {
		diff |= (unsigned int)(ua[j] ^ ub[i]);
		/* a NUL inside b is not a token: never equal */
		diff |= (unsigned int)(ub[i] == '\0');
		j += (ua[j] != '\0');
	}
	/* a longer than TOKEN_HEXLEN differs here */
	diff |= ua[j];
	return diff == 0;
}
