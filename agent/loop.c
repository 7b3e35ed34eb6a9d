/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * loop.c - the agent's one event loop: epoll, fd callbacks, one-shot timers.
 *
 * Everything happens on this thread: signals arrive through a signalfd,
 * libmicrohttpd's epoll fd is one of ours, the service's pipes and probes
 * are fds too.  Timers are a short list (a handful are ever armed).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "redeployd.h"

#define LOOP_MAXFD	64

struct loop_fd {
	int	 fd;
	loop_cb	 cb;
	void	*arg;
};

struct loop {
	int		 ep;
	int		 stop;
	struct loop_fd	 fds[LOOP_MAXFD];
	struct loop_timer *timers;
	long		(*idle)(void *);
	void		*idle_arg;
};

double
loop_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct loop *
loop_new(void)
{
	struct loop *l;
	int i;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	if ((l->ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		free(l);
		return NULL;
	}
	for (i = 0; i < LOOP_MAXFD; i++)
		l->fds[i].fd = -1;
	return l;
}

void
loop_free(struct loop *l)
{
	if (l == NULL)
		return;
	close(l->ep);
	free(l);
}

static struct loop_fd *
loop_find(struct loop *l, int fd)
{
	int i;

	for (i = 0; i < LOOP_MAXFD; i++)
		if (l->fds[i].fd == fd)
			return &l->fds[i];
	return NULL;
}

int
loop_add(struct loop *l, int fd, uint32_t events, loop_cb cb, void *arg)
{
	struct epoll_event ev = { .events = events };
	struct loop_fd *slot;

	if ((slot = loop_find(l, -1)) == NULL) {
		errno = EMFILE;
		return -1;
	}
	ev.data.ptr = slot;
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) == -1)
		return -1;
	slot->fd = fd;
	slot->cb = cb;
	slot->arg = arg;
	return 0;
}

int
loop_mod(struct loop *l, int fd, uint32_t events, loop_cb cb, void *arg)
{
	struct epoll_event ev = { .events = events };
	struct loop_fd *slot;

	if ((slot = loop_find(l, fd)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	ev.data.ptr = slot;
	if (epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev) == -1)
		return -1;
	slot->cb = cb;
	slot->arg = arg;
	return 0;
}

void
loop_del(struct loop *l, int fd)
{
	struct loop_fd *slot;

	if (fd == -1 || (slot = loop_find(l, fd)) == NULL)
		return;
	(void)epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
	slot->fd = -1;
	slot->cb = NULL;
}

void
loop_timer_cancel(struct loop *l, struct loop_timer *t)
{
	struct loop_timer **p;

	for (p = &l->timers; *p != NULL; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			break;
		}
	t->next = NULL;
	t->at = 0;
}

void
loop_timer_set(struct loop *l, struct loop_timer *t, double after,
    timer_cb cb, void *arg)
{
	loop_timer_cancel(l, t);
	t->at = loop_now() + (after > 0 ? after : 0);
	t->cb = cb;
	t->arg = arg;
	t->next = l->timers;
	l->timers = t;
}

void
loop_set_idle(struct loop *l, long (*idle)(void *), void *arg)
{
	l->idle = idle;
	l->idle_arg = arg;
}

void
loop_stop(struct loop *l)
{
	l->stop = 1;
}

/* Run the timers that are due; returns ms until the next one (-1: none). */
static long
loop_timers(struct loop *l)
{
	struct loop_timer *t, *due;
	double now, next;
	long ms;

	for (;;) {
		now = loop_now();
		due = NULL;
		next = 0;
		for (t = l->timers; t != NULL; t = t->next) {
			if (t->at <= now) {
				due = t;
				break;
			}
			if (next == 0 || t->at < next)
				next = t->at;
		}
		if (due == NULL)
			break;
		loop_timer_cancel(l, due);
		due->cb(due->arg);
	}
	if (next == 0)
		return -1;
	ms = (long)((next - now) * 1000.0) + 1;
	return ms < 0 ? 0 : ms;
}

/* One turn: due timers, one wait of at most max_ms (-1: as long as
 * nothing is due), the callbacks of what is ready.  -1 on a failed wait. */
int
loop_once(struct loop *l, long max_ms)
{
	struct epoll_event evs[16];
	struct loop_fd *slot;
	long ms, idle;
	int i, n;

	ms = loop_timers(l);
	if (l->stop)
		return 0;
	if (l->idle != NULL && (idle = l->idle(l->idle_arg)) >= 0 &&
	    (ms < 0 || idle < ms))
		ms = idle;
	if (max_ms >= 0 && (ms < 0 || ms > max_ms))
		ms = max_ms;
	n = epoll_wait(l->ep, evs, 16, ms > INT32_MAX ? INT32_MAX : (int)ms);
	if (n == -1)
		return errno == EINTR ? 0 : -1;
	for (i = 0; i < n && !l->stop; i++) {
		slot = evs[i].data.ptr;
		if (slot->fd != -1 && slot->cb != NULL)
			slot->cb(slot->arg, evs[i].events);
	}
	return 0;
}

int
loop_run(struct loop *l)
{
	while (!l->stop)
		if (loop_once(l, -1) == -1)
			return -1;
	return 0;
}
