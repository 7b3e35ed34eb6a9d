/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * redeployd.h - the agent: one section per file.
 *
 * One thread, one epoll loop: the HTTP endpoint's fds (libmicrohttpd in
 * external-epoll mode), a signalfd for SIGCHLD/SIGTERM/SIGINT/SIGHUP, the
 * service's output pipes, readiness probes and timers.  The service is
 * forked only from that thread.
 * Exit codes (doc/redeployd.8): 0 stopped by a signal, 2 usage or config
 * error, 3 system error at startup.
 */
#ifndef REDEPLOYD_H
#define REDEPLOYD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

#define EXIT_USAGE	2
#define EXIT_SYSTEM	3
#define ERRLEN		512

/* loop.c - epoll, fds with callbacks, one-shot timers */
typedef void	(*loop_cb)(void *arg, uint32_t events);
typedef void	(*timer_cb)(void *arg);
struct loop_timer {
	struct loop_timer *next;
	double		 at;		/* monotonic seconds; 0: not armed */
	timer_cb	 cb;
	void		*arg;
};
struct loop;
struct loop *loop_new(void);
void	loop_free(struct loop *l);
int	loop_add(struct loop *l, int fd, uint32_t events, loop_cb cb,
	    void *arg);
int	loop_mod(struct loop *l, int fd, uint32_t events, loop_cb cb,
	    void *arg);
void	loop_del(struct loop *l, int fd);
void	loop_timer_set(struct loop *l, struct loop_timer *t, double after,
	    timer_cb cb, void *arg);
void	loop_timer_cancel(struct loop *l, struct loop_timer *t);
/* Called before every wait; returns the most it may sleep (ms, -1: any). */
void	loop_set_idle(struct loop *l, long (*idle)(void *), void *arg);
int	loop_run(struct loop *l);
int	loop_once(struct loop *l, long max_ms);
void	loop_stop(struct loop *l);
double	loop_now(void);

/* ring.c - the service's recent output lines */
#define RING_LINES	1000
#define RING_LINE_MAX	1024
enum ring_stream { RING_STDOUT = 0, RING_STDERR = 1 };
struct ring;
typedef void	(*ring_line_cb)(void *arg, enum ring_stream s,
	    const char *line);
struct ring *ring_new(size_t lines);
void	ring_free(struct ring *r);
/* Feed raw bytes of one stream; complete lines (made printable, split at
 * RING_LINE_MAX) go into the ring and to cb. */
void	ring_feed(struct ring *r, enum ring_stream s, const char *buf,
	    size_t len, ring_line_cb cb, void *arg);
/* End of a stream: a partial last line becomes a line. */
void	ring_flush(struct ring *r, enum ring_stream s, ring_line_cb cb,
	    void *arg);
/* The last n lines, oldest first. */
size_t	ring_count(const struct ring *r);
size_t	ring_total(const struct ring *r);	/* lines ever, a mark */
const char *ring_line(const struct ring *r, size_t back); /* 0 = newest */

/* privdrop.c - become the service user for good */
struct privdrop {
	uid_t	 uid;
	gid_t	 gid;
	char	 name[64];
	char	 home[256];
};
int	privdrop_resolve(const char *user, const char *group,
	    struct privdrop *pd, char *err, size_t n);
int	privdrop_apply(const struct privdrop *pd, char *err, size_t n);

/* pidfile.c - the service's process group, found again after a kill -9 */
int	pidfile_open(const char *path, uid_t uid, gid_t gid, char *err,
	    size_t n);
int	pidfile_write(int fd, pid_t pgid);
int	pidfile_write2(int fd, pid_t pgid, pid_t other);
int	pidfile_clear(int fd);
int	pidfile_reap_stale(int fd, double timeout, char *msg, size_t n);
int	proc_starttime(pid_t pid, unsigned long long *out);

/* tree.c - the processes of one start, and the sockets they hold */
#define TREE_MAX	256
struct tree {
	pid_t		 leader;	/* the forked pid, leads its session */
	unsigned long long leader_start;
	size_t		 n;
	pid_t		 pid[TREE_MAX];
	unsigned long long start[TREE_MAX];
};
int	tree_scan(struct tree *t);
int	tree_member(const struct tree *t, pid_t pid);
int	tree_adopt_orphans(struct tree *t, const pid_t *leaders,
	    size_t nleaders, unsigned long long before);
void	tree_kill(const struct tree *t, int sig);
int	tree_holds_inode(const struct tree *t, unsigned long inode);
unsigned long tree_tcp_inode(int lport, int rport);
int	tree_holds_listener(const struct tree *t, int port);
long	tree_listen_queue(int port, unsigned long inode);
int	tree_serving(const struct tree *t, int port);

/* sockets.c - the service's public sockets, held by the agent */
#define SOCKETS_MAX	16
struct sockets {
	size_t	 n;
	int	 fd[SOCKETS_MAX];
	int	 alt[SOCKETS_MAX];	/* IPv4: the pair's other socket */
	int	 port[SOCKETS_MAX];
	char	 count[32];		/* "LISTEN_FDS=N" */
	char	 names[2048];		/* "LISTEN_FDNAMES=a:b" */
	char	 listen[2048];		/* the words, for a reload */
};
int	sockets_open(struct sockets *ss, const struct config *cfg, uid_t uid,
	    gid_t gid, char *err, size_t n);
int	sockets_same(const struct sockets *ss, const struct config *cfg);
void	sockets_close(struct sockets *ss);
int	sockets_fd(const struct sockets *ss, size_t i, int side);
int	sockets_steer(const struct sockets *ss, int serve, int probe);
int	sockets_queued(const struct sockets *ss, int side);
int	sockets_paired(const struct sockets *ss);

/* notify.c - ready = notify: sd_notify datagrams, sender checked */
enum notify_kind { NOTIFY_READY, NOTIFY_STOPPING, NOTIFY_STATUS,
	NOTIFY_MAINPID, NOTIFY_ERRNO };
struct notify;
typedef void	(*notify_cb)(void *arg, enum notify_kind k, pid_t pid,
	    const char *value);
int	notify_open(struct notify **out, struct loop *l, uid_t uid,
	    const struct tree *t, long serial, notify_cb cb, void *arg,
	    char *err, size_t n);
const char *notify_env(const struct notify *nt);
void	notify_drain(struct notify *nt);
void	notify_close(struct notify *nt);

/* probe.c - is the new process ready: tcp connect or http 2xx */
struct probe;
typedef void	(*probe_cb)(void *arg, int ok);
int	probe_start(struct probe **out, struct loop *l,
	    const struct config *cfg, struct tree *t, int steered, probe_cb done,
	    void *arg, char *err, size_t n);
void	probe_cancel(struct probe *p);
const char *probe_error(const struct probe *p);

/* supervise.c - the service: start, readiness, stop, backoff, restarts */
enum svc_state {
	SVC_STOPPED = 0,	/* nothing deployed yet, or shut down */
	SVC_STARTING,
	SVC_READY,
	SVC_STOPPING,
	SVC_BACKOFF,		/* waiting to start again after an exit */
	SVC_FAILED		/* cannot start (see the last error) */
};
struct svc_result {
	int	 ok;
	pid_t	 pid;
	long	 ready_ms;
	size_t	 mark;		/* ring_total() when this process started */
	long	 drain_ms;	/* overlap: the old one's stop; -1: none */
	int	 untouched;	/* failed, and the old process serves on */
	char	 mode[16];	/* classic, stop-first, overlap */
	char	 release[64];
	char	 commit[48];
	char	 error[256];
};
struct svc_status {
	enum svc_state state;
	pid_t	 pid;
	double	 uptime;
	long	 restarts;
	int	 has_exit, exit_code, exit_signal;
	pid_t	 old_pid;	/* overlap: the old process, still there */
	char	 mode[16];
	char	 text[128];	/* the service's STATUS= */
	char	 release[64];
	char	 commit[48];
	char	 error[256];
};
typedef void	(*svc_done_cb)(void *arg, const struct svc_result *res);
struct svc;
struct rlimit;
struct svc *svc_new(struct loop *l, const struct config *cfg,
	    const char *home, int pidfd);
void	svc_free(struct svc *s);
void	svc_set_config(struct svc *s, const struct config *cfg);
void	svc_set_sockets(struct svc *s, const struct sockets *ss);
void	svc_set_core_limit(struct svc *s, const struct rlimit *rl);
const char *svc_mode_name(const struct config *cfg);
void	svc_boot(struct svc *s);
int	svc_restart(struct svc *s, svc_done_cb cb, void *arg);
void	svc_shutdown(struct svc *s, void (*done)(void *), void *arg);
void	svc_reap(struct svc *s);
void	svc_status(const struct svc *s, struct svc_status *st);
const struct ring *svc_ring(const struct svc *s);
const struct ring *svc_fresh_ring(const struct svc *s);
const char *svc_state_name(enum svc_state st);

/* authbind.c - why authbind would fail the service: 0 none seen, -1 */
int	authbind_diagnose(const struct config *cfg, uid_t uid, gid_t gid,
	    char *why, size_t n);

/* startcheck.c - can the [service] command run at all */
int	startcheck_command(const struct config *cfg, uid_t uid, gid_t gid,
	    char *err, size_t n);

/* httpcheck.c - requests whose framing or bytes are ambiguous: 400 */
struct MHD_Connection;
int	httpcheck_uri(const char *uri, size_t max);
int	httpcheck_head(struct MHD_Connection *c, const char *method,
	    const char *uri, const char *uri_end, const char *version,
	    const char **why);

/* http.c - the loopback endpoint */
struct http;
struct http *http_new(struct loop *l, int listen_fd, const char *token,
	    struct svc *svc, const struct config *cfg, char *err, size_t n);
void	http_free(struct http *h);
int	http_listen(const struct config *cfg, int *port, char *err, size_t n);
void	http_set_config(struct http *h, const struct config *cfg);

/* print.c: redeployd --print KEY */
int	agent_print(const struct config *cfg, const char *key);

#endif
