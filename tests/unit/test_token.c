/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * test_token.c - unit tests for the token: generated, written atomically
 * with the right modes, read back, refused when the file or its directory
 * could be read or written by others, compared in constant time.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "fsutil.h"
#include "token.h"

#define ERRLEN	512

struct tdir {
	char	dir[64];
	char	path[128];
};

static int
tdir_setup(void **state)
{
	struct tdir *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/test_token.XXXXXX");
	if (mkdtemp(t->dir) == NULL) {
		free(t);
		return -1;
	}
	snprintf(t->path, sizeof(t->path), "%s/token", t->dir);
	*state = t;
	return 0;
}

static int
tdir_teardown(void **state)
{
	struct tdir *t = *state;
	int rc;

	chmod(t->dir, 0700);
	rc = fs_remove_tree(AT_FDCWD, t->dir);
	free(t);
	return rc;
}

/* Put raw bytes at path with mode, bypassing token_write. */
static void
put_file(const char *path, const char *data, mode_t mode)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd != -1);
	assert_int_equal(fs_write_all(fd, data, strlen(data)), 0);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static void
assert_read_fails(const char *path, const char *want)
{
	char tok[TOKEN_HEXLEN + 1], err[ERRLEN] = "";

	memset(tok, 'x', sizeof(tok));
	assert_int_equal(token_read(path, tok, err, sizeof(err)), -1);
	if (strstr(err, want) == NULL)
		fail_msg("error '%s' lacks '%s'", err, want);
	assert_null(strchr(err, '\n'));
	assert_string_equal(tok, "");
}

static int
is_token(const char *s)
{
	size_t i;

	if (strlen(s) != TOKEN_HEXLEN)
		return 0;
	for (i = 0; i < TOKEN_HEXLEN; i++)
		if (strchr("0123456789abcdef", s[i]) == NULL)
			return 0;
	return 1;
}

static void
test_generate(void **state)
{
	char a[TOKEN_HEXLEN + 1], b[TOKEN_HEXLEN + 1];

	assert_int_equal(token_generate(a), 0);
	assert_int_equal(token_generate(b), 0);
	assert_true(is_token(a));
	assert_true(is_token(b));
	assert_string_not_equal(a, b);
}

/* Only the token file itself is left in the directory: no temp files. */
static void
assert_only_token(const char *dir)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	assert_non_null(d = opendir(dir));
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		assert_string_equal(de->d_name, "token");
		n++;
	}
	closedir(d);
	assert_int_equal(n, 1);
}

static void
test_roundtrip(void **state)
{
	struct tdir *t = *state;
	char tok[TOKEN_HEXLEN + 1], back[TOKEN_HEXLEN + 1], err[ERRLEN] = "";
	char raw[TOKEN_HEXLEN + 8];
	ssize_t n;
	int fd, cwd, rc;

	assert_int_equal(token_generate(tok), 0);
	if (token_write(t->path, tok, (gid_t)-1, err, sizeof(err)) == -1)
		fail_msg("token_write: %s", err);
	assert_int_equal(token_read(t->path, back, err, sizeof(err)), 0);
	assert_true(token_equal(back, tok));
	assert_string_equal(back, tok);

	/* the file is the token and one newline */
	assert_true((fd = open(t->path, O_RDONLY | O_CLOEXEC)) != -1);
	n = read(fd, raw, sizeof(raw));
	close(fd);
	assert_int_equal(n, TOKEN_HEXLEN + 1);
	assert_int_equal(raw[TOKEN_HEXLEN], '\n');
	assert_memory_equal(raw, tok, TOKEN_HEXLEN);

	/* a second write replaces the first */
	assert_int_equal(token_generate(tok), 0);
	assert_int_equal(token_write(t->path, tok, (gid_t)-1, err,
	    sizeof(err)), 0);
	assert_int_equal(token_read(t->path, back, err, sizeof(err)), 0);
	assert_string_equal(back, tok);
	assert_only_token(t->dir);

	/* a name without a directory is in the current one */
	assert_true((cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) !=
	    -1);
	assert_int_equal(chdir(t->dir), 0);
	assert_int_equal(token_write("token", tok, (gid_t)-1, err,
	    sizeof(err)), 0);
	rc = token_read("token", back, err, sizeof(err));
	assert_int_equal(fchdir(cwd), 0);
	close(cwd);
	assert_int_equal(rc, 0);
	assert_string_equal(back, tok);
	assert_only_token(t->dir);
}

static void
test_write_modes(void **state)
{
	struct tdir *t = *state;
	char tok[TOKEN_HEXLEN + 1], back[TOKEN_HEXLEN + 1], err[ERRLEN] = "";
	struct stat st;
	mode_t old;

	assert_int_equal(token_generate(tok), 0);
	/* whatever the umask */
	old = umask(0077);
	assert_int_equal(token_write(t->path, tok, (gid_t)-1, err,
	    sizeof(err)), 0);
	assert_int_equal(lstat(t->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());

	umask(0);
	assert_int_equal(token_write(t->path, tok, getgid(), err,
	    sizeof(err)), 0);
	umask(old);
	assert_int_equal(lstat(t->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_gid, getgid());
	assert_int_equal(token_read(t->path, back, err, sizeof(err)), 0);
	assert_string_equal(back, tok);
	assert_only_token(t->dir);
}

static void
test_write_refuses(void **state)
{
	struct tdir *t = *state;
	char tok[TOKEN_HEXLEN + 1], err[ERRLEN] = "", want[256], path[160];
	struct stat st;

	assert_int_equal(token_generate(tok), 0);

	assert_int_equal(chmod(t->dir, 0777), 0);
	assert_int_equal(token_write(t->path, tok, (gid_t)-1, err,
	    sizeof(err)), -1);
	snprintf(want, sizeof(want), "token directory '%s' is writable by "
	    "others (chmod o-w '%s')", t->dir, t->dir);
	assert_string_equal(err, want);
	assert_int_equal(lstat(t->path, &st), -1);
	assert_int_equal(errno, ENOENT);
	/* sticky (like /tmp) is still writable by others */
	assert_int_equal(chmod(t->dir, 01777), 0);
	assert_int_equal(token_write(t->path, tok, (gid_t)-1, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "is writable by others"));
	assert_int_equal(chmod(t->dir, 0755), 0);

	snprintf(path, sizeof(path), "%s/missing/token", t->dir);
	assert_int_equal(token_write(path, tok, (gid_t)-1, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "does not exist"));

	/* the parent is a file */
	put_file(t->path, "x", 0600);
	snprintf(path, sizeof(path), "%s/token/token", t->dir);
	assert_int_equal(token_write(path, tok, (gid_t)-1, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "is not a directory"));
	assert_int_equal(unlink(t->path), 0);

	/* never a malformed token, and the message does not echo it */
	assert_int_equal(token_write(t->path, "0123abcd", (gid_t)-1, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "malformed token"));
	assert_null(strstr(err, "0123abcd"));
	tok[5] = 'A';
	assert_int_equal(token_write(t->path, tok, (gid_t)-1, err,
	    sizeof(err)), -1);
	assert_int_equal(lstat(t->path, &st), -1);

	/* a failed rename leaves no temp file behind */
	assert_int_equal(token_generate(tok), 0);
	assert_int_equal(mkdir(t->path, 0700), 0);
	assert_int_equal(token_write(t->path, tok, (gid_t)-1, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot replace token file"));
	assert_only_token(t->dir);
	assert_int_equal(rmdir(t->path), 0);

	snprintf(path, sizeof(path), "%s/", t->dir);
	assert_int_equal(token_write(path, tok, (gid_t)-1, err, sizeof(err)),
	    -1);
}

static void
test_read_refuses(void **state)
{
	struct tdir *t = *state;
	char tok[TOKEN_HEXLEN + 1], err[ERRLEN] = "", want[512], link[160];
	char data[TOKEN_HEXLEN + 8];

	assert_int_equal(token_generate(tok), 0);

	snprintf(want, sizeof(want), "token file '%s' does not exist "
	    "(is redeployd running?)", t->path);
	assert_read_fails(t->path, want);

	assert_int_equal(token_write(t->path, tok, (gid_t)-1, err,
	    sizeof(err)), 0);
	snprintf(link, sizeof(link), "%s/link", t->dir);
	assert_int_equal(symlink(t->path, link), 0);
	snprintf(want, sizeof(want), "token file '%s' is a symlink (remove "
	    "it; the agent writes a fresh file at start)", link);
	assert_read_fails(link, want);
	assert_int_equal(unlink(link), 0);

	assert_int_equal(chmod(t->path, 0644), 0);
	snprintf(want, sizeof(want), "token file '%s' is readable or "
	    "writable by others (chmod 0640 '%s')", t->path, t->path);
	assert_read_fails(t->path, want);
	assert_int_equal(chmod(t->path, 0602), 0);
	assert_read_fails(t->path, "readable or writable by others");
	assert_int_equal(chmod(t->path, 0660), 0);
	snprintf(want, sizeof(want), "token file '%s' is writable by its "
	    "group (chmod g-w '%s')", t->path, t->path);
	assert_read_fails(t->path, want);
	assert_int_equal(chmod(t->path, 0640), 0);
	assert_int_equal(token_read(t->path, data, err, sizeof(err)), 0);

	snprintf(want, sizeof(want), "token file '%s' does not hold a token "
	    "(restart redeployd to write a fresh one)", t->path);
	put_file(t->path, "garbage\n", 0600);
	assert_read_fails(t->path, want);
	put_file(t->path, "", 0600);
	assert_read_fails(t->path, want);
	/* one character short, one too many, upper case, two newlines, CR */
	snprintf(data, sizeof(data), "%.63s\n", tok);
	put_file(t->path, data, 0600);
	assert_read_fails(t->path, want);
	snprintf(data, sizeof(data), "%sa", tok);
	put_file(t->path, data, 0600);
	assert_read_fails(t->path, want);
	snprintf(data, sizeof(data), "%s\n\n", tok);
	put_file(t->path, data, 0600);
	assert_read_fails(t->path, want);
	snprintf(data, sizeof(data), "%s\r\n", tok);
	put_file(t->path, data, 0600);
	assert_read_fails(t->path, want);
	snprintf(data, sizeof(data), "%s", tok);
	data[0] = 'F';
	put_file(t->path, data, 0600);
	assert_read_fails(t->path, want);
	/* without the newline is a token */
	snprintf(data, sizeof(data), "%s", tok);
	put_file(t->path, data, 0600);
	assert_int_equal(token_read(t->path, data, err, sizeof(err)), 0);
	assert_string_equal(data, tok);

	/* not a regular file: a FIFO must not hang the reader */
	assert_int_equal(unlink(t->path), 0);
	assert_int_equal(mkfifo(t->path, 0600), 0);
	assert_read_fails(t->path, "is not a regular file");
	assert_int_equal(unlink(t->path), 0);
	assert_int_equal(mkdir(t->path, 0700), 0);
	assert_read_fails(t->path, "is not a regular file");
}

/* A reader outside the token's group gets told what to do. */
static void
test_read_eacces(void **state)
{
	struct tdir *t = *state;
	char tok[TOKEN_HEXLEN + 1], err[ERRLEN] = "", want[512];
	gid_t nogroup = 65534;
	pid_t pid;
	int status;

	if (geteuid() != 0)
		skip();
	assert_int_equal(token_generate(tok), 0);
	assert_int_equal(chmod(t->dir, 0755), 0);
	assert_int_equal(token_write(t->path, tok, 0, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "cannot read token file '%s': "
	    "Permission denied (the hook's user needs the token group)",
	    t->path);
	assert_true((pid = fork()) != -1);
	if (pid == 0) {
		if (setgroups(1, &nogroup) == -1 ||
		    setresgid(nogroup, nogroup, nogroup) == -1 ||
		    setresuid(65534, 65534, 65534) == -1)
			_exit(2);
		if (token_read(t->path, tok, err, sizeof(err)) != -1)
			_exit(3);
		_exit(strcmp(err, want) == 0 ? 0 : 4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_equal(void **state)
{
	char tok[TOKEN_HEXLEN + 1], other[TOKEN_HEXLEN + 1];
	char longer[TOKEN_HEXLEN + 2], *heap;

	assert_int_equal(token_generate(tok), 0);
	memcpy(other, tok, sizeof(other));
	assert_true(token_equal(other, tok));

	/* one character different, first or last */
	other[0] = tok[0] == 'a' ? 'b' : 'a';
	assert_false(token_equal(other, tok));
	memcpy(other, tok, sizeof(other));
	other[TOKEN_HEXLEN - 1] = tok[TOKEN_HEXLEN - 1] == '0' ? '1' : '0';
	assert_false(token_equal(other, tok));

	/* shorter: a prefix of the token, and one character */
	memcpy(other, tok, sizeof(other));
	other[TOKEN_HEXLEN - 1] = '\0';
	assert_false(token_equal(other, tok));
	other[1] = '\0';
	assert_false(token_equal(other, tok));
	assert_false(token_equal("", tok));

	/* a is read up to its NUL, never past it (AddressSanitizer) */
	assert_non_null(heap = calloc(1, 1));
	assert_false(token_equal(heap, tok));
	free(heap);
	assert_non_null(heap = malloc(3));
	memcpy(heap, tok, 2);
	heap[2] = '\0';
	assert_false(token_equal(heap, tok));
	free(heap);

	/* longer: the token and one more character */
	snprintf(longer, sizeof(longer), "%s0", tok);
	assert_false(token_equal(longer, tok));
	snprintf(longer, sizeof(longer), "%s\n", tok);
	assert_false(token_equal(longer, tok));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate),
		cmocka_unit_test_setup_teardown(test_roundtrip, tdir_setup,
		    tdir_teardown),
		cmocka_unit_test_setup_teardown(test_write_modes, tdir_setup,
		    tdir_teardown),
		cmocka_unit_test_setup_teardown(test_write_refuses,
		    tdir_setup, tdir_teardown),
		cmocka_unit_test_setup_teardown(test_read_refuses, tdir_setup,
		    tdir_teardown),
		cmocka_unit_test_setup_teardown(test_read_eacces, tdir_setup,
		    tdir_teardown),
		cmocka_unit_test(test_equal),
	};

	return cmocka_run_group_tests_name("token", tests, NULL, NULL);
}
