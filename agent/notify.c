/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * notify.c - `ready = notify`: the sd_notify protocol (sd_notify(3)).
 *
 * Each start of the service gets its own datagram socket, in the abstract
 * namespace ("@redeployd/AGENTPID/N/RANDOM", so no file to clean up),
 * named to the service by NOTIFY_SOCKET.  SO_PASSCRED makes the kernel
 * attach the sender's pid, uid and gid to every datagram; a message counts
 * only when that sender is one of the start's processes (tree.c) running
 * as the service user.  Anything else is ignored and logged, so a process
 * that learnt the address cannot make a broken start look ready.
 *
 * Understood: READY=1, STATUS=..., STOPPING=1, MAINPID=N (a member of the
 * start), ERRNO=N.  Other lines are ignored, as systemd does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "redeployd.h"

#define NOTIFY_MSG_MAX	4096

struct notify {
	struct loop	*loop;
	int		 fd;
	uid_t		 uid;
	const struct tree *tree;
	notify_cb	 cb;
	void		*arg;
	char		 env[128];	/* NOTIFY_SOCKET=@... */
	long		 ignored;
};

/* Make a printable copy of a status text for the log and /status. */
static void
notify_clean(char *dst, size_t n, const char *src, size_t len)
{
	size_t i, j = 0;

	for (i = 0; i < len && j + 1 < n; i++)
		dst[j++] = (unsigned char)src[i] < ' ' || src[i] == 0x7f ||
		    src[i] == '"' || src[i] == '\\' ? '?' : src[i];
	dst[j] = '\0';
}

static void
notify_line(struct notify *nt, pid_t sender, const char *l, size_t len)
{
	char val[256];
	long v;
	char *end;

	if (len == 7 && memcmp(l, "READY=1", 7) == 0)
		nt->cb(nt->arg, NOTIFY_READY, sender, NULL);
	else if (len == 10 && memcmp(l, "STOPPING=1", 10) == 0)
		nt->cb(nt->arg, NOTIFY_STOPPING, sender, NULL);
	else if (len > 7 && memcmp(l, "STATUS=", 7) == 0) {
		notify_clean(val, sizeof(val), l + 7, len - 7);
		nt->cb(nt->arg, NOTIFY_STATUS, sender, val);
	} else if (len > 8 && memcmp(l, "MAINPID=", 8) == 0) {
		notify_clean(val, sizeof(val), l + 8, len - 8);
		errno = 0;
		v = strtol(val, &end, 10);
		if (errno == 0 && *end == '\0' && v > 0 && v < INT32_MAX)
			nt->cb(nt->arg, NOTIFY_MAINPID, (pid_t)v, val);
	} else if (len > 6 && memcmp(l, "ERRNO=", 6) == 0) {
		notify_clean(val, sizeof(val), l + 6, len - 6);
		nt->cb(nt->arg, NOTIFY_ERRNO, sender, val);
	}
}

static void
notify_io(void *arg, uint32_t events)
{
	struct notify *nt = arg;
	char buf[NOTIFY_MSG_MAX + 1];
	union {
		struct cmsghdr	 h;
		char		 b[CMSG_SPACE(sizeof(struct ucred)) +
		    CMSG_SPACE(sizeof(int) * 16)];
	} cbuf;
	struct iovec iov = { buf, NOTIFY_MSG_MAX };
	struct msghdr mh;
	struct cmsghdr *c;
	struct ucred cred, *cr = NULL;
	ssize_t n;
	char *p, *nl;
	int *fds;
	size_t i, nfd;

	for (;;) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf.b;
		mh.msg_controllen = sizeof(cbuf.b);
		n = recvmsg(nt->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return;
		cr = NULL;
		for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET)
				continue;
			if (c->cmsg_type == SCM_CREDENTIALS &&
			    c->cmsg_len == CMSG_LEN(sizeof(cred))) {
				memcpy(&cred, CMSG_DATA(c), sizeof(cred));
				cr = &cred;
			} else if (c->cmsg_type == SCM_RIGHTS) {
				/* FDSTORE is not ours to keep. */
				fds = (int *)(void *)CMSG_DATA(c);
				nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				for (i = 0; i < nfd; i++)
					close(fds[i]);
			}
		}
		if (cr == NULL || cr->pid <= 0 || cr->uid != nt->uid ||
		    !tree_member(nt->tree, cr->pid)) {
			nt->ignored++;
			log_event(LOG_WARNING, "notify-ignored sender_pid=%ld "
			    "sender_uid=%ld reason=\"not a process of this "
			    "start of the service\"", cr ? (long)cr->pid : -1L,
			    cr ? (long)cr->uid : -1L);
			continue;
		}
		buf[n] = '\0';
		for (p = buf; p < buf + n; p = nl + 1) {
			if ((nl = memchr(p, '\n', (size_t)(buf + n - p))) ==
			    NULL)
				nl = buf + n;
			notify_line(nt, cr->pid, p, (size_t)(nl - p));
		}
	}
}

int
notify_open(struct notify **out, struct loop *l, uid_t uid,
    const struct tree *t, long serial, notify_cb cb, void *arg, char *err,
    size_t n)
{
	struct notify *nt = NULL;
	struct sockaddr_un sun;
	unsigned int rnd = 0;
	socklen_t len;
	int one = 1;
	char name[96];

	*out = NULL;
	if ((nt = calloc(1, sizeof(*nt))) == NULL) {
		snprintf(err, n, "notify socket: %s", strerror(errno));
		return -1;
	}
	nt->loop = l;
	nt->uid = uid;
	nt->tree = t;
	nt->cb = cb;
	nt->arg = arg;
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (unsigned int)getpid() ^ (unsigned int)serial;
	snprintf(name, sizeof(name), "redeployd/%ld/%ld/%08x",
	    (long)getpid(), serial, rnd);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path + 1, name, strlen(name));
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
	    strlen(name));
	if ((nt->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1 ||
	    setsockopt(nt->fd, SOL_SOCKET, SO_PASSCRED, &one,
	    sizeof(one)) == -1 ||
	    bind(nt->fd, (struct sockaddr *)&sun, len) == -1 ||
	    loop_add(l, nt->fd, EPOLLIN, notify_io, nt) == -1) {
		snprintf(err, n, "notify socket: %s", strerror(errno));
		if (nt->fd != -1)
			close(nt->fd);
		free(nt);
		return -1;
	}
	snprintf(nt->env, sizeof(nt->env), "NOTIFY_SOCKET=@%s", name);
	*out = nt;
	return 0;
}

const char *
notify_env(const struct notify *nt)
{
	return nt->env;
}

/* Read what is queued (a READY=1 sent just before the sender exited). */
void
notify_drain(struct notify *nt)
{
	if (nt != NULL)
		notify_io(nt, EPOLLIN);
}

void
notify_close(struct notify *nt)
{
	if (nt == NULL)
		return;
	loop_del(nt->loop, nt->fd);
	close(nt->fd);
	free(nt);
}
