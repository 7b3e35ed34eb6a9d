/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * token.h - the agent's secret: made, written, read and compared here only.
 *
 * The agent writes a fresh 256-bit token at every start (temp file, fsync,
 * rename; 0640 with the token group when root, 0600 otherwise) and refuses a
 * directory that others can write.  The hook reads it, refusing a file that
 * is a symlink or that others can read or write.  A token never goes into
 * argv, the environment or a log line; compare with token_equal only.
 */
#ifndef REDEPLOY_TOKEN_H
#define REDEPLOY_TOKEN_H

#include <stddef.h>
#include <sys/types.h>

#define TOKEN_BYTES	32
#define TOKEN_HEXLEN	(2 * TOKEN_BYTES)

/* 64 lower-case hex characters from getrandom(2), NUL-terminated. */
int	token_generate(char out[TOKEN_HEXLEN + 1]);

/* The token file's directory exists and others cannot write it. */
int	token_check_dir(const char *path, char *err, size_t errlen);

/*
 * Write token to path atomically.  gid != (gid_t)-1: mode 0640 and that
 * group (the agent runs as root then); otherwise 0600.  Fails, with a
 * one-line reason in err, when the directory is writable by others or is
 * missing.  The file is owned by the caller (root, or the service user).
 */
int	token_write(const char *path, const char *token, gid_t gid, char *err,
	    size_t errlen);

/*
 * Read the token at path into out (TOKEN_HEXLEN + 1 bytes).  Refuses, with
 * a one-line reason saying how to fix it in err: a symlink, a file that is
 * not regular, readable or writable by others, writable by its group, or
 * that does not hold exactly one token (a trailing newline is allowed).
 */
int	token_read(const char *path, char out[TOKEN_HEXLEN + 1], char *err,
	    size_t errlen);

/* 1 when a (any length, NUL-terminated) equals the token b, in time that
 * depends only on the length of b. */
int	token_equal(const char *a, const char *b);

#endif
