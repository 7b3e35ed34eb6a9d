/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * config.h - the one configuration schema of redeploy and redeployd.
 *
 * Both programs load the same INI file through config_load().  Every rule
 * of DESIGN.md "Config" is enforced there: unknown sections or keys,
 * duplicate keys, bad numbers, modes or booleans, relative paths, empty
 * values and overlong lines are errors naming file:line and the key.  A
 * partial config is never returned.
 */
#ifndef REDEPLOY_CONFIG_H
#define REDEPLOY_CONFIG_H

#include <stddef.h>
#include <sys/types.h>

/* SYSCONFDIR and RUNSTATEDIR come from the Makefile (make SYSCONFDIR=...). */
#ifndef REDEPLOY_SYSCONFDIR
#define REDEPLOY_SYSCONFDIR	"/etc"
#endif
#ifndef REDEPLOY_RUNSTATEDIR
#define REDEPLOY_RUNSTATEDIR	"/run"
#endif
#define CONFIG_DEFAULT_PATH	REDEPLOY_SYSCONFDIR "/redeploy/redeploy.ini"
#define CONFIG_DEFAULT_TOKEN	REDEPLOY_RUNSTATEDIR "/redeploy/token"
#define CONFIG_ERRLEN		512

enum config_symlinks {
	SYMLINKS_INSIDE = 0,	/* links that leave the release fail a deploy */
	SYMLINKS_ANY
};

enum config_ready {
	READY_NONE = 0,
	READY_TCP,		/* connect to host:port succeeds */
	READY_HTTP,		/* GET http://host:port/path answers 2xx */
	READY_NOTIFY		/* READY=1 over NOTIFY_SOCKET (sd_notify) */
};

enum config_restart {
	RESTART_STOP_FIRST = 0,	/* stop the old process, then start */
	RESTART_OVERLAP		/* start beside the old; stop it when ready */
};

struct config_list {
	char	**v;		/* NULL-terminated */
	size_t	  n;
};

struct config {
	char	*file;		/* absolute path of the file loaded */

	/* [deploy] */
	char	*repository;	/* absolute, or NULL: the hook's GIT_DIR */
	char	*path;		/* absolute; required */
	char	*branch;	/* default "master" */
	int	 keep;		/* default 5, 0..1000 */
	mode_t	 dir_mode;	/* default 0755 */
	mode_t	 file_mode;	/* default 0644, at most 0777 */
	char	*owner;		/* NULL: the caller; never root */
	char	*group;		/* NULL: owner's primary group */
	struct config_list shared;	/* normalised relative paths */
	enum config_symlinks symlinks;	/* default SYMLINKS_INSIDE */
	char	*syslog_tag;	/* default "redeploy" */
	/* Limits on a pushed tree, checked before or while it is written. */
	unsigned long long max_bytes;	/* file bytes a deploy writes, 2G */
	unsigned long long max_file;	/* largest file, default 100M */
	int	 max_entries;	/* files, links, dirs; default 100000 */
	int	 max_depth;	/* path components; default 64 */
	int	 allow_other_owner;	/* repository owned by another user */

	/* [agent]; has_agent is 1 when the section is present */
	int	 has_agent;
	char	*listen;	/* as written, default "127.0.0.1:8421" */
	char	*listen_host;	/* "127.0.0.1", "::1" or "localhost" */
	int	 listen_port;	/* 0..65535 (0: any free port) */
	char	*token_file;	/* absolute, default "/run/redeploy/token" */
	char	*token_group;	/* NULL: [deploy] group */

	/* [service]; has_service is 1 when the section is present */
	int	 has_service;
	char	*command;	/* required when [service] is present */
	char	*user;		/* NULL: the caller */
	char	*svc_group;	/* [service] group; NULL: user's primary */
	int	 authbind;	/* default 0 (no) */
	mode_t	 umask;		/* default 0002 */
	int	 stop_signal;	/* signal number, default SIGTERM */
	double	 stop_timeout;	/* seconds, default 10 */
	double	 restart_delay;	/* default 0.1 */
	double	 restart_max_delay;	/* default 30 */
	double	 stable_after;	/* default 10 */
	enum config_ready ready;	/* default READY_NONE */
	char	*ready_host;	/* for READY_TCP and READY_HTTP */
	int	 ready_port;
	char	*ready_path;	/* READY_HTTP: begins with '/' */
	double	 ready_timeout;	/* default 30 */
	char	*log_tag;	/* default "www" */
	struct config_list environment;	/* "KEY=VALUE" entries */
	struct config_list svc_listen;	/* [service] listen, as written */
	mode_t	 listen_mode;	/* unix sockets, default 0660 */
	enum config_restart restart;	/* default overlap with listen */
};

/*
 * Load and validate the file at path into *cfg (zeroed first).  Returns 0,
 * or -1 with a one-line message "FILE:LINE: ..." (or "FILE: ...") in err.
 * On error *cfg holds nothing that needs freeing.
 */
int	config_load(struct config *cfg, const char *path, char *err, size_t errlen);

/* Free everything config_load() allocated; safe on a zeroed config. */
void	config_free(struct config *cfg);

/* Parse helpers, exposed for the unit tests and the command line. */
int	config_parse_mode(const char *s, mode_t max, mode_t *out);
int	config_parse_seconds(const char *s, double max, double *out);
int	config_parse_bool(const char *s, int *out);
int	config_parse_signal(const char *s, int *out);

#endif
