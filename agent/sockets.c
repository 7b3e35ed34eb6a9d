/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * sockets.c - the service's public sockets, held by the agent.
 *
 * `[service] listen` names them.  The agent binds and listens on each one
 * while it is still root (so port 80 needs no authbind), with the largest
 * backlog the kernel allows (net.core.somaxconn), and keeps them for its
 * whole life: connections that arrive while no service process accepts
 * wait in the backlog instead of being refused.  Every service process
 * gets them as fds 3, 4, ... with LISTEN_FDS, LISTEN_PID and
 * LISTEN_FDNAMES (sd_listen_fds(3)).
 *
 * restart = overlap needs more than one shared socket: an old process
 * that still accepts on it takes connections it will not serve once it is
 * told to stop (Twisted, for one, resets what it holds at stop).  So each
 * IPv4 address is a pair of sockets in one SO_REUSEPORT group, both bound
 * as root (a group admits only sockets of the same user, so the service
 * cannot join it), and a classic BPF program on the group says which of
 * the two gets new connections: the one the serving start accepts on.  A
 * new start gets the other one; connections from 127.0.0.2 (the agent's
 * readiness probe) go to it before it serves.  When it is ready, new
 * connections go to it, the old start drains what it accepted, and only
 * then is told to stop.  IPv6 and unix sockets are one shared socket.
 *
 * Rules: IPv6 sockets are IPV6_V6ONLY, so `0.0.0.0:80 [::]:80` is two
 * sockets that do not clash; a unix socket replaces only a stale socket
 * file (never a regular file or a link), is created with no access for
 * anyone, then given to the service user with listen_mode; the agent's
 * own copies are close-on-exec, and the child moves them into place.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "redeployd.h"

static int
sockets_backlog(void)
{
	char buf[32];
	ssize_t n;
	long v;
	int fd;

	if ((fd = open("/proc/sys/net/core/somaxconn", O_RDONLY |
	    O_CLOEXEC)) == -1)
		return SOMAXCONN;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return SOMAXCONN;
	buf[n] = '\0';
	v = strtol(buf, NULL, 10);
	return v > 0 && v < INT_MAX ? (int)v : SOMAXCONN;
}

static int
sockets_unix(const char *path, uid_t uid, gid_t gid, mode_t mode, char *err,
    size_t n)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	int fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, n, "listen 'unix:%s' exists and is not a "
			    "socket (remove it or choose another path)", path);
			return -1;
		}
		if (unlink(path) == -1) {
			snprintf(err, n, "listen 'unix:%s': cannot remove the "
			    "old socket: %s", path, strerror(errno));
			return -1;
		}
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, n, "listen 'unix:%s': %s", path,
		    strerror(errno));
		return -1;
	}
	old = umask(0777);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc == -1 || (uid != (uid_t)-1 && fchownat(AT_FDCWD, path, uid, gid,
	    AT_SYMLINK_NOFOLLOW) == -1) || fchmodat(AT_FDCWD, path, mode, 0)
	    == -1 || listen(fd, sockets_backlog()) == -1) {
		snprintf(err, n, "listen 'unix:%s': %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int
sockets_tcp(const char *word, int reuseport, int *is4, int *port_out,
    char *err, size_t n)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	char host[64];
	const char *colon;
	socklen_t len;
	int fd, one = 1, v6 = word[0] == '[';
	long port;

	memset(&ss, 0, sizeof(ss));
	colon = v6 ? strstr(word, "]:") : strrchr(word, ':');
	if (colon == NULL || (size_t)(colon - word) >= sizeof(host)) {
		snprintf(err, n, "listen '%s' is not ADDR:PORT", word);
		return -1;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - word - v6),
	    word + v6);
	port = strtol(colon + (v6 ? 2 : 1), NULL, 10);
	*is4 = !v6;
	*port_out = (int)port;
	if (v6) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		len = sizeof(*in6);
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			goto bad;
	} else {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		len = sizeof(*in4);
		if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
			goto bad;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, n, "listen '%s': %s", word, strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
	    sizeof(one)) == -1) ||
	    (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
	    sizeof(one)) == -1) ||
	    bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, sockets_backlog()) == -1) {
		snprintf(err, n, "listen '%s': %s%s", word, strerror(errno),
		    errno == EADDRINUSE ? " (is the service, or an old one, "
		    "still running outside redeployd? stop it first)" : "");
		close(fd);
		return -1;
	}
	return fd;
bad:
	snprintf(err, n, "listen '%s': '%s' is not an IP address", word, host);
	return -1;
}

/* LISTEN_FDNAMES entries are split at ':', so names must not hold one. */
static void
sockets_name(char *dst, size_t n, const char *word)
{
	size_t i;

	snprintf(dst, n, "%s", word);
	for (i = 0; dst[i] != '\0'; i++)
		if (dst[i] == ':' || dst[i] == '[' || dst[i] == ']' ||
		    dst[i] == ' ')
			dst[i] = '_';
}

int
sockets_open(struct sockets *ss, const struct config *cfg, uid_t uid,
    gid_t gid, char *err, size_t n)
{
	size_t i, off = 0;
	int fd, is4 = 0, port = 0;
	char name[128];

	memset(ss, 0, sizeof(*ss));
	for (i = 0; i < SOCKETS_MAX; i++)
		ss->fd[i] = ss->alt[i] = -1;
	if (cfg->svc_listen.n > SOCKETS_MAX) {
		snprintf(err, n, "listen names %zu sockets (at most %d)",
		    cfg->svc_listen.n, SOCKETS_MAX);
		return -1;
	}
	off = (size_t)snprintf(ss->names, sizeof(ss->names), "LISTEN_FDNAMES=");
	for (i = 0; i < cfg->svc_listen.n; i++) {
		const char *w = cfg->svc_listen.v[i];

		is4 = 0;
		fd = strncmp(w, "unix:", 5) == 0 ? sockets_unix(w + 5, uid, gid,
		    cfg->listen_mode, err, n) : sockets_tcp(w, 1, &is4, &port,
		    err, n);
		if (fd == -1) {
			sockets_close(ss);
			return -1;
		}
		ss->fd[ss->n++] = fd;
		ss->port[ss->n - 1] = port;
		if (is4 && (ss->alt[ss->n - 1] = sockets_tcp(w, 1, &is4, &port,
		    err, n)) == -1) {
			sockets_close(ss);
			return -1;
		}
		sockets_name(name, sizeof(name), w);
		off += (size_t)snprintf(ss->names + off, off <
		    sizeof(ss->names) ? sizeof(ss->names) - off : 0, "%s%s",
		    i ? ":" : "", name);
	}
	/* A kernel that refuses the program: one shared socket each. */
	if (sockets_paired(ss) && sockets_steer(ss, 0, 0) == -1) {
		log_warn("SO_ATTACH_REUSEPORT_CBPF (restart = overlap shares "
		    "one socket per address instead)");
		for (i = 0; i < ss->n; i++)
			if (ss->alt[i] != -1) {
				close(ss->alt[i]);
				ss->alt[i] = -1;
			}
	}
	snprintf(ss->count, sizeof(ss->count), "LISTEN_FDS=%zu", ss->n);
	ss->listen[0] = '\0';
	for (i = 0, off = 0; i < cfg->svc_listen.n; i++)
		off += (size_t)snprintf(ss->listen + off, off <
		    sizeof(ss->listen) ? sizeof(ss->listen) - off : 0, "%s%s",
		    i ? " " : "", cfg->svc_listen.v[i]);
	return 0;
}

/* Does cfg name the sockets we hold, in the same order? */
int
sockets_same(const struct sockets *ss, const struct config *cfg)
{
	char want[sizeof(ss->listen)];
	size_t i, off = 0;

	want[0] = '\0';
	for (i = 0; i < cfg->svc_listen.n; i++)
		off += (size_t)snprintf(want + off, off < sizeof(want) ?
		    sizeof(want) - off : 0, "%s%s", i ? " " : "",
		    cfg->svc_listen.v[i]);
	return strcmp(want, ss->listen) == 0;
}

void
sockets_close(struct sockets *ss)
{
	size_t i;

	for (i = 0; i < ss->n; i++) {
		if (ss->fd[i] != -1)
			close(ss->fd[i]);
		if (ss->alt[i] != -1)
			close(ss->alt[i]);
	}
	ss->n = 0;
}

/* The socket of pair i that start side `side` (0 or 1) accepts on. */
int
sockets_fd(const struct sockets *ss, size_t i, int side)
{
	return side && ss->alt[i] != -1 ? ss->alt[i] : ss->fd[i];
}

/*
 * New connections go to side `serve`, the probe's (from 127.0.0.2) to side
 * `probe`.  Indexes in a reuseport group follow the order of listen(),
 * fd first.  Returns -1 when the kernel refuses the program: then the
 * group spreads connections by hash, and overlap is not clean.
 */
int
sockets_steer(const struct sockets *ss, int serve, int probe)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_NET_OFF + 12)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x7f000002, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, (uint32_t)probe),
		BPF_STMT(BPF_RET | BPF_K, (uint32_t)serve),
	};
	struct sock_fprog prog = { .len = 4, .filter = code };
	size_t i;
	int rc = 0;

	for (i = 0; i < ss->n; i++)
		if (ss->alt[i] != -1 && setsockopt(ss->fd[i], SOL_SOCKET,
		    SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)) == -1)
			rc = -1;
	return rc;
}

/* Anything waiting in the accept queue of side `side`? */
int
sockets_queued(const struct sockets *ss, int side)
{
	struct stat st;
	size_t i;

	for (i = 0; i < ss->n; i++) {
		if (ss->alt[i] == -1)
			continue;
		if (fstat(sockets_fd(ss, i, side), &st) == 0 &&
		    tree_listen_queue(ss->port[i], (unsigned long)st.st_ino) > 0)
			return 1;
	}
	return 0;
}

int
sockets_paired(const struct sockets *ss)
{
	size_t i;

	for (i = 0; i < ss->n; i++)
		if (ss->alt[i] != -1)
			return 1;
	return 0;
}
