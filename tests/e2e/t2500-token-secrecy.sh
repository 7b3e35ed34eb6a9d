#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t2500-token-secrecy: after every kind of request, good and bad, a restart,
# a crash and a stop, the token is in no log line (the agent's stderr, the
# syslog), no response (headers or body), no argv or environment of any
# process, and no file but the token file; the service inherits neither the
# token nor the agent's sockets, and as root cannot read the token file.
# shellcheck disable=SC2016 # wait_for evaluates its single-quoted conditions
. "$(dirname "$0")/lib.sh"
ns_isolate		# as root: private /etc, /run, /var, /dev, network

SERVE="$AGENT_PY -m http.server"

# grep for the token (and its first half, in case it is cut) through FILES;
# the pattern is read from a file: it never goes into an argv.
token_in() {	# FILE...
	grep -laF -f "$T/token.pat" "$@" 2>/dev/null
}

make_pattern() {
	(umask 077
	t=$(cat "$AGENT_TOKEN")
	printf '%s\n%s\n%s\n' "$t" "${t:0:32}" "${t:32}" >"$T/token.pat")
}

n=0
ask() {	# CODE METHOD PATH [CURL ARGS...]: keeps each answer
	n=$((n + 1))
	AGENT_RESP=$T/r$n agent_curl "$@" >"$T/r$n.code"
}

secrecy() {
	agent_fresh
	agent_config "command = sleep 1000 & exec $SERVE $AGENT_SVC_PORT --bind 127.0.0.1"
	if [ -z "$(syslog_unavailable)" ]; then
		start_rsyslog
	fi
	agent_switch "$(agent_release 1)"
	agent_start -v
	agent_wait_state ready
	make_pattern
	# every kind of request, good and bad
	(umask 077
	t=$(cat "$AGENT_TOKEN")
	echo "Authorization: Bearer ${t:0:63}x" >"$T/wrong.hdr"
	echo "Authorization: Basic $t" >"$T/basic.hdr"
	printf 'url = "http://127.0.0.1:%s/status?token=%s"\n' "$AGENT_PORT" "$t" >"$T/q.curl"
	printf 'url = "http://127.0.0.1:%s/status"\ncookie = "token=%s"\n' "$AGENT_PORT" "$t" >"$T/c.curl")
	ask GET /health
	ask GET /status
	ask GET '/log?lines=1000'
	ask POST /restart
	ask GET /restart
	ask GET /nope
	ask GET /status -H "Host: evil.example"
	ask POST /restart -H "Origin: http://evil.example"
	head -c 5120 /dev/zero | tr '\0' x >"$T/body5k"
	ask POST /restart --data-binary @"$T/body5k"
	ask GET /status -H "X-Big: $(head -c 20480 /dev/zero | tr '\0' a)" --max-time 5
	AGENT_HDR=/dev/null ask GET /status
	AGENT_HDR=$T/wrong.hdr ask GET /status
	AGENT_HDR=$T/wrong.hdr ask POST /restart
	AGENT_HDR=$T/basic.hdr ask GET /status
	curl -s -o "$T/rq.body" -D "$T/rq.head" -K "$T/q.curl" || true
	curl -s -o "$T/rc.body" -D "$T/rc.head" -K "$T/c.curl" || true
	# a crash and a restart after it
	kill -KILL "$(agent_field pid)"
	wait_for '[ "$(agent_field restarts)" -ge 1 ]' 10
	agent_wait_state ready
	ask GET '/log?lines=1000'
	ask GET /status

	[ "$(cat "$T/r2.code") $(cat "$T/r4.code")" = "200 200" ] ||
		fail "GET /status, POST /restart answered $(cat "$T/r2.code") $(cat "$T/r4.code")"
	# nothing in any answer
	local leaks
	leaks=$(token_in "$T"/r*.body "$T"/r*.head) || true
	[ -z "$leaks" ] || fail "the token is in answers: $leaks"
	# nothing in the argv or environment of any process (the agent's and
	# the service's group's included)
	local p
	[ -n "$(agent_group_pids "$(agent_json pid "$T/status.json")")" ] ||
		fail "no service processes to look at"
	for p in /proc/[0-9]*; do
		[ -r "$p/environ" ] || continue
		if token_in "$p/cmdline" "$p/environ" >/dev/null; then
			fail "the token is in the argv or environment of ${p#/proc/}: $(tr '\0' ' ' <"$p/cmdline")"
		fi
	done
	# nothing in another file: the pidfile, temp files
	leaks=$(find "$AGENT_RUN" "$LIVE" -type f ! -path "$AGENT_TOKEN" \
		-exec grep -laF -f "$T/token.pat" {} + 2>/dev/null) || true
	[ -z "$leaks" ] || fail "the token is in files: $leaks"

	# stop the agent, then look at everything it logged
	kill -TERM "$AGENT_PID"
	wait "$AGENT_PID" || fail "the agent exited $?"
	[ -s "$AGENT_ERR" ] || fail "the agent logged nothing on stderr"
	leaks=$(token_in "$AGENT_ERR" "$T/agent.out") || true
	[ -z "$leaks" ] || fail "the token is in the agent's output: $leaks"
	if [ -z "$(syslog_unavailable)" ]; then
		grep -q "$AGENT_TAG" "$SYSLOG_FILE" || fail "nothing in syslog"
		! token_in "$SYSLOG_FILE" >/dev/null || fail "the token is in syslog"
	fi
}

# The service gets no fd of the agent: not the token file, not the
# listening socket or a client connection, not the pidfile.
no_inherited_fds() {
	agent_fresh
	agent_config "command = sleep 1000 & exec $SERVE $AGENT_SVC_PORT --bind 127.0.0.1"
	agent_switch "$(agent_release 1)"
	agent_start
	agent_wait_state ready
	# a restart while a connection is open (the /restart one itself)
	agent_expect 200 POST /restart
	local pid p fd target
	pid=$(agent_json pid)
	find "/proc/$AGENT_PID/fd" -mindepth 1 -printf '%l\n' 2>/dev/null |
		grep '^socket:' | sort -u >"$T/agent.sockets"
	[ -s "$T/agent.sockets" ] || fail "the agent has no sockets?"
	for p in $(agent_group_pids "$pid"); do
		for fd in /proc/"$p"/fd/*; do
			target=$(readlink "$fd") || continue
			case "$target" in
			"$AGENT_RUN"*) fail "$p ($(cat "/proc/$p/comm")) has $target open" ;;
			socket:*)
				! grep -qxF "$target" "$T/agent.sockets" ||
					fail "$p ($(cat "/proc/$p/comm")) shares the agent's $target (fd ${fd##*/})" ;;
			esac
		done
	done
}

service_cannot_read_token() {
	agent_fresh
	agent_switch "$(agent_release 1)"
	agent_start
	agent_wait_state ready
	local pid
	pid=$(agent_json pid "$T/status.json")
	# the service user, with the service's groups, cannot read it
	! setpriv --reuid www-data --regid www-data --init-groups \
		cat "$AGENT_TOKEN" >/dev/null 2>&1 ||
		fail "the service user can read the token file"
	! grep -qF -f "$AGENT_TOKEN" "/proc/$pid/environ" || fail "token in environ"
}

test_expect "the token is in no log, answer, argv, environment or other file" secrecy
test_expect "the service inherits no fd of the agent (token, sockets)" no_inherited_fds
if is_root; then
	test_expect "as root the service user cannot read the token file" service_cannot_read_token
else
	test_skip "the service user cannot read the token file" "needs root"
fi
agent_kill_all
test_done
