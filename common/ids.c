/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * ids.c - users and groups by name or numeric id (see ids.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/types.h>

#include "ids.h"

/* The id that s spells in decimal, or -1 when s is not only digits. */
static long long
ids_number(const char *s)
{
	unsigned long long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v >= (unsigned long long)(uid_t)-1)
		return -1;
	return (long long)v;
}

struct passwd *
ids_user(const char *name)
{
	struct passwd *pw;
	long long id;

	if ((pw = getpwnam(name)) != NULL)
		return pw;
	if ((id = ids_number(name)) < 0)
		return NULL;
	return getpwuid((uid_t)id);
}

struct group *
ids_group(const char *name)
{
	struct group *gr;
	long long id;

	if ((gr = getgrnam(name)) != NULL)
		return gr;
	if ((id = ids_number(name)) < 0)
		return NULL;
	return getgrgid((gid_t)id);
}
