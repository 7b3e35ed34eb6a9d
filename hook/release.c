/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * release.c - releases on disk: ids, metadata, listing, the atomic switch of
 * `current`, and pruning.
 *
 * Layout under PATH: current -> releases/<id>; releases/<id>/ (the served
 * tree); releases/<id>.meta (key=value metadata, outside the served tree);
 * releases/<id>.links (its symlink paths, links.c);
 * releases/.incoming-* and .trash-* (work in progress, removed under the
 * lock by the next deploy); releases/.spare-<id> (a hard-link copy of the
 * live release that the next deploy turns into its own).  An id is <UTC time>-<short sha>[-N]; the
 * metadata's serial, one more than the highest before, orders them.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "redeploy.h"

#define META_MAX	4096

/* YYYYMMDDTHHMMSSZ-xxxxxxx[-N] */
int
release_id_valid(const char *id)
{
	size_t i, n = strlen(id);

	if (n < 24 || n >= RELEASE_IDLEN)
		return 0;
	for (i = 0; i < 8; i++)
		if (!isdigit((unsigned char)id[i]))
			return 0;
	if (id[8] != 'T')
		return 0;
	for (i = 9; i < 15; i++)
		if (!isdigit((unsigned char)id[i]))
			return 0;
	if (id[15] != 'Z' || id[16] != '-')
		return 0;
	for (i = 17; i < 24; i++)
		if (!isxdigit((unsigned char)id[i]) ||
		    isupper((unsigned char)id[i]))
			return 0;
	if (n == 24)
		return 1;
	if (id[24] != '-' || n == 25)
		return 0;
	for (i = 25; i < n; i++)
		if (!isdigit((unsigned char)id[i]))
			return 0;
	return 1;
}

int
release_make_id(char *out, size_t n, int64_t when, const char *hex)
{
	struct tm tm;
	time_t t = (time_t)when;

	if (gmtime_r(&t, &tm) == NULL || strlen(hex) < 7)
		return -1;
	if (strftime(out, n, "%Y%m%dT%H%M%SZ-", &tm) == 0 ||
	    strlen(out) + 8 > n)
		return -1;
	strncat(out, hex, 7);
	return 0;
}

int
release_meta_format(const struct release *r, char *buf, size_t n)
{
	int len = snprintf(buf, n, "id=%s\ncommit=%s\nref=%s\npusher=%s\n"
	    "time=%" PRId64 "\nserial=%ld\nresult=%s\nfiles=%ld\nbuild=%s\n"
	    "prev=%s\nentries=%ld\n", r->id, r->commit, r->ref, r->pusher,
	    r->time, r->serial, r->result, r->files, r->build, r->prev,
	    r->entries);

	if (len >= 0 && (size_t)len < n && r->reason[0] != '\0') {
		char clean[sizeof(r->reason)];
		size_t i;

		/* one line, whatever the agent or the pusher said */
		for (i = 0; r->reason[i] != '\0' && i + 1 < sizeof(clean); i++)
			clean[i] = (unsigned char)r->reason[i] < 0x20 ? ' ' :
			    r->reason[i];
		clean[i] = '\0';
		len += snprintf(buf + len, n - (size_t)len, "reason=%s\n",
		    clean);
	}
	return len < 0 || (size_t)len >= n ? -1 : len;
}

static void
meta_copy(char *dst, size_t n, const char *v, size_t len)
{
	if (len >= n)
		len = n - 1;
	memcpy(dst, v, len);
	dst[len] = '\0';
}

int
release_meta_parse(struct release *r, const char *text)
{
	const char *line = text, *end, *eq;
	char num[32];
	size_t klen, vlen;

	while (*line != '\0') {
		end = strchrnul(line, '\n');
		eq = memchr(line, '=', (size_t)(end - line));
		if (eq != NULL) {
			klen = (size_t)(eq - line);
			vlen = (size_t)(end - eq - 1);
#define KEY(k) (klen == sizeof(k) - 1 && memcmp(line, k, klen) == 0)
			if (KEY("commit"))
				meta_copy(r->commit, sizeof(r->commit), eq + 1,
				    vlen);
			else if (KEY("ref"))
				meta_copy(r->ref, sizeof(r->ref), eq + 1, vlen);
			else if (KEY("pusher"))
				meta_copy(r->pusher, sizeof(r->pusher), eq + 1,
				    vlen);
			else if (KEY("result"))
				meta_copy(r->result, sizeof(r->result), eq + 1,
				    vlen);
			else if (KEY("prev"))
				meta_copy(r->prev, sizeof(r->prev), eq + 1,
				    vlen);
			else if (KEY("build"))
				meta_copy(r->build, sizeof(r->build), eq + 1,
				    vlen);
			else if (KEY("reason"))
				meta_copy(r->reason, sizeof(r->reason), eq + 1,
				    vlen);
			else if (KEY("time") || KEY("files") ||
			    KEY("serial") || KEY("entries")) {
				meta_copy(num, sizeof(num), eq + 1, vlen);
				if (KEY("time"))
					r->time = strtoll(num, NULL, 10);
				else if (KEY("serial"))
					r->serial = strtol(num, NULL, 10);
				else if (KEY("entries"))
					r->entries = strtol(num, NULL, 10);
				else
					r->files = strtol(num, NULL, 10);
			}
#undef KEY
		}
		line = *end ? end + 1 : end;
	}
	return strlen(r->commit) == GIT_OID_HEXSZ ? 0 : -1;
}

int
release_meta_read(int releasesfd, const char *id, struct release *r)
{
	char name[RELEASE_IDLEN + 8], *text = NULL;
	int rc;

	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(name, sizeof(name), "%s.meta", id);
	if (fs_read_small(releasesfd, name, META_MAX, &text, NULL) == -1)
		return -1;
	rc = release_meta_parse(r, text);
	free(text);
	if (rc == -1)
		errno = EINVAL;
	return rc;
}

int
release_meta_write(int releasesfd, const struct release *r, uid_t uid,
    gid_t gid)
{
	char name[RELEASE_IDLEN + 8], buf[META_MAX];
	int len;

	snprintf(name, sizeof(name), "%s.meta", r->id);
	if ((len = release_meta_format(r, buf, sizeof(buf))) == -1) {
		errno = EOVERFLOW;
		return -1;
	}
	return fs_write_atomic(releasesfd, name, buf, (size_t)len, 0644, uid,
	    gid);
}

/* 0 and the id, 1 when there is no current release yet, -1 on error. */
int
release_current(int pathfd, char *id, size_t n)
{
	char target[256];
	ssize_t len;

	len = readlinkat(pathfd, "current", target, sizeof(target) - 1);
	if (len == -1)
		return errno == ENOENT ? 1 : -1;
	target[len] = '\0';
	if (strncmp(target, "releases/", 9) != 0 ||
	    !release_id_valid(target + 9) || strlen(target + 9) >= n) {
		errno = EINVAL;
		return -1;
	}
	memcpy(id, target + 9, strlen(target + 9) + 1);
	return 0;
}

/* Newest first: by serial (two deploys in one second, or a clock stepped
 * back, still sort right), then by id. */
static int
release_cmp(const void *a, const void *b)
{
	const struct release *x = a, *y = b;

	if (x->serial != y->serial)
		return x->serial < y->serial ? 1 : -1;
	return strcmp(y->id, x->id);
}

int
release_list(int pathfd, struct release_list *out)
{
	struct release *v = NULL, *nv;
	struct dirent *de;
	struct stat st;
	char cur[RELEASE_IDLEN] = "";
	size_t n = 0, i;
	DIR *d = NULL;
	int fd;

	memset(out, 0, sizeof(*out));
	if (release_current(pathfd, cur, sizeof(cur)) != 0)
		cur[0] = '\0';
	fd = openat(pathfd, "releases", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (!release_id_valid(de->d_name) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISDIR(st.st_mode))
			continue;
		if ((nv = realloc(v, (n + 1) * sizeof(*v))) == NULL)
			goto fail;
		v = nv;
		if (release_meta_read(dirfd(d), de->d_name, &v[n]) == -1) {
			memset(&v[n], 0, sizeof(v[n]));
			snprintf(v[n].id, sizeof(v[n].id), "%s", de->d_name);
			snprintf(v[n].result, sizeof(v[n].result), "unknown");
		}
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), release_cmp);
	for (i = 0; i < n; i++)
		v[i].current = strcmp(v[i].id, cur) == 0;
	out->v = v;
	out->n = n;
	return 0;
fail:
	closedir(d);
	free(v);
	return -1;
}

void
release_list_free(struct release_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

int
release_switch(int pathfd, const char *id, uid_t uid, gid_t gid)
{
	char target[RELEASE_IDLEN + 16];

	snprintf(target, sizeof(target), "releases/%s", id);
	if (fs_symlink_atomic(pathfd, target, "current", uid, gid) == -1)
		return -1;
	return fsync(pathfd);
}

static int
release_good(const struct release *r)
{
	return strcmp(r->result, "deployed") == 0;
}

/*
 * Mark in doomed[] the releases to remove: keep current, the previous good
 * release (the rollback target), the newest `keep` good releases besides
 * current and the newest `keep` failed ones, at least one: the release
 * that failed last stays for inspection even with keep = 0.  Returns how
 * many are doomed.
 */
int
release_prune_plan(const struct release_list *l, int keep,
    unsigned char *doomed)
{
	size_t i, cur = l->n, prev = l->n;
	int good = 0, failed = 0, count = 0;

	for (i = 0; i < l->n; i++)
		if (l->v[i].current)
			cur = i;
	for (i = cur + 1; cur < l->n && i < l->n; i++)
		if (release_good(&l->v[i])) {
			prev = i;
			break;
		}
	for (i = 0; i < l->n; i++) {
		doomed[i] = 0;
		if (i == cur)
			continue;
		if (i == prev) {
			good++;
			continue;
		}
		if (release_good(&l->v[i]) ? good++ < keep :
		    failed++ < (keep > 0 ? keep : 1))
			continue;
		doomed[i] = 1;
		count++;
	}
	return count;
}

/* Move a release out of sight first, then delete it at leisure. */
int
release_remove(int releasesfd, const char *id)
{
	char trash[32], hex[17], meta[RELEASE_IDLEN + 8];

	if (fs_random_hex(hex, 8) == -1)
		return -1;
	snprintf(trash, sizeof(trash), ".trash-%s", hex);
	snprintf(meta, sizeof(meta), "%s.meta", id);
	if (renameat(releasesfd, id, releasesfd, trash) == -1)
		return -1;
	crashpoint("housekeeping");
	if ((unlinkat(releasesfd, meta, 0) == -1 && errno != ENOENT) ||
	    links_remove(releasesfd, id) == -1)
		return -1;
	return fs_remove_tree(releasesfd, trash);
}

int
release_prune(int pathfd, int keep, size_t *removed)
{
	struct release_list l;
	unsigned char *doomed = NULL;
	size_t i;
	int fd = -1, rc = -1;

	*removed = 0;
	if (release_list(pathfd, &l) == -1)
		return -1;
	if (l.n == 0) {
		rc = 0;
		goto out;
	}
	if ((doomed = calloc(l.n, 1)) == NULL)
		goto out;
	if (release_prune_plan(&l, keep, doomed) == 0) {
		rc = 0;
		goto out;
	}
	fd = openat(pathfd, "releases", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1)
		goto out;
	for (i = 0; i < l.n; i++) {
		if (!doomed[i])
			continue;
		if (release_remove(fd, l.v[i].id) == -1)
			goto out;
		(*removed)++;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	free(doomed);
	release_list_free(&l);
	return rc;
}

static int
release_is_debris(const char *name, const char *live)
{
	size_t n = strlen(name);

	/* the spare of the live release is kept for the next deploy */
	if (strncmp(name, ".spare-", 7) == 0)
		return strcmp(name + 7, live) != 0;
	return strncmp(name, ".incoming-", 10) == 0 ||
	    strncmp(name, ".trash-", 7) == 0 ||
	    (name[0] == '.' && strstr(name, ".tmp-") != NULL) ||
	    (n > 5 && strcmp(name + n - 5, ".meta") == 0) ||
	    (n > 6 && strcmp(name + n - 6, ".links") == 0);
}

/*
 * Remove what a killed deploy left behind: partial releases, trash, temp
 * files, and metadata whose release never got its final name.  Runs under
 * the lock, so nothing here is in use.
 */
int
release_clean_debris(int pathfd)
{
	struct dirent *de;
	struct stat st;
	char id[RELEASE_IDLEN], live[RELEASE_IDLEN] = "";
	DIR *d;
	int fd, rc = 0;

	if (release_current(pathfd, live, sizeof(live)) != 0)
		live[0] = '\0';

	if ((d = fdopendir(dup(pathfd))) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (strncmp(de->d_name, ".current.tmp-", 13) == 0 &&
			    unlinkat(dirfd(d), de->d_name, 0) == -1)
				rc = -1;
		closedir(d);
	}
	fd = openat(pathfd, "releases", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT ? rc : -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    !release_is_debris(de->d_name, live))
			continue;
		if (de->d_name[0] != '.') {	/* <id>.meta, <id>.links */
			size_t n = strlen(de->d_name) - (strcmp(de->d_name +
			    strlen(de->d_name) - 5, ".meta") == 0 ? 5 : 6);

			if (n >= sizeof(id))
				continue;
			memcpy(id, de->d_name, n);
			id[n] = '\0';
			if (!release_id_valid(id) ||
			    fstatat(dirfd(d), id, &st, AT_SYMLINK_NOFOLLOW) == 0)
				continue;
		}
		if (fs_remove_tree(dirfd(d), de->d_name) == -1)
			rc = -1;
	}
	closedir(d);
	return rc;
}
