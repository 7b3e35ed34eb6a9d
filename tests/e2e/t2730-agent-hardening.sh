#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t2730-agent-hardening: the token's directory and file are trusted only
# when nobody but root (or the agent's own user) can have put them there,
# by the agent and by the hook; the agent leaves no core and cannot be
# read through /proc by its own user, while the service keeps the core
# limit the agent was started with; a port that is taken leaves no
# fresh token or pid file behind.
# shellcheck disable=SC2016 # wait_for evaluates its argument later
. "$(dirname "$0")/lib.sh"

start_fails_with() {	# MESSAGE
	local rc=0
	# refused at once, or it started (still running after 10 s)
	timeout 10 "$REDEPLOYD" -f -c "$CONFIG" </dev/null >"$T/start.out" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then
		fail "redeployd started: $(cat "$T/start.out")"
	fi
	grep -q -- "$1" "$T/start.out" || fail "no '$1' in: $(cat "$T/start.out")"
}

token_dir_of_www_data() {
	agent_fresh
	agent_switch "$(agent_release 1)"
	chown www-data "$AGENT_RUN"
	start_fails_with "token directory '$AGENT_RUN' belongs to uid $(id -u www-data)"
	[ ! -e "$AGENT_TOKEN" ] || fail "a token was written"
	chown root:www-data "$AGENT_RUN"
	chmod 0775 "$AGENT_RUN"
	start_fails_with "token directory '$AGENT_RUN' is writable by group"
	chmod 0755 "$AGENT_RUN"
	agent_start
}

hook_refuses_foreign_token() {
	agent_fresh
	agent_switch "$(agent_release 1)"
	agent_start
	agent_wait_state ready
	"$REDEPLOY" -c "$CONFIG" status >"$T/st.out" 2>&1 || fail "status: $(cat "$T/st.out")"
	# a token file owned by someone else
	chown www-data "$AGENT_TOKEN"
	if "$REDEPLOY" -c "$CONFIG" status >"$T/st.out" 2>&1; then
		fail "status with www-data's token file: $(cat "$T/st.out")"
	fi
	grep -q "belongs to uid $(id -u www-data)" "$T/st.out" || fail "$(cat "$T/st.out")"
	chown root "$AGENT_TOKEN"
	# a directory its group can write
	chgrp www-data "$AGENT_RUN"
	chmod 0775 "$AGENT_RUN"
	if "$REDEPLOY" -c "$CONFIG" status >"$T/st.out" 2>&1; then
		fail "status with a group-writable token dir: $(cat "$T/st.out")"
	fi
	grep -q "is writable by group" "$T/st.out" || fail "$(cat "$T/st.out")"
	chmod 0755 "$AGENT_RUN"
	"$REDEPLOY" -c "$CONFIG" status >"$T/st.out" 2>&1 || fail "status: $(cat "$T/st.out")"
}

no_core_not_dumpable() {
	# started by a normal user with cores allowed
	agent_fresh -user -group -agent.token_group
	agent_switch "$(agent_release 1)"
	chown nobody "$AGENT_RUN"
	cat >"$T/as-nobody" <<SH
#!/bin/sh
# runuser's PAM session sets the soft limit to 0: raise it to the hard
# one after.  The sanitizer runtime would lower it too, before main: not
# in this test.
export ASAN_OPTIONS="\$ASAN_OPTIONS:disable_coredump=0"
exec runuser -u nobody -- sh -c 'ulimit -S -c "\$(ulimit -H -c)" || exit 99
	exec "\$0" "\$@"' "$REDEPLOYD" "\$@"
SH
	chmod 755 "$T/as-nobody"
	REDEPLOYD=$T/as-nobody agent_start
	local pid
	pid=$(tail -n 1 "$T/agent.pids")
	wait_for '[ "$(stat -c %U "/proc/$pid/status" 2>/dev/null)" != "" ]'
	pid=$(pgrep -u nobody -f "redeployd.*$CONFIG" | head -n 1)
	[ -n "$pid" ] || fail "no redeployd running as nobody"
	# soft limit 0; the hard one stays, for the service
	local hard svc
	hard=$(awk '/^Max core file size/ { print $6 }' "/proc/$$/limits")
	[ "$hard" != 0 ] || fail "the hard core limit is 0 here: nothing to give back"
	grep -qE "^Max core file size +0 +$hard " "/proc/$pid/limits" ||
		fail "core limit: $(grep core "/proc/$pid/limits")"
	# the service gets the limit the agent was started with
	agent_wait_state ready
	svc=$(agent_field pid)
	grep -qE "^Max core file size +$hard +$hard " "/proc/$svc/limits" ||
		fail "the service's core limit: $(grep core "/proc/$svc/limits")"
	# not dumpable: /proc/PID is root's, not nobody's
	[ "$(stat -c %U "/proc/$pid/environ")" = root ] ||
		fail "/proc/$pid/environ belongs to $(stat -c %U "/proc/$pid/environ")"
	if runuser -u nobody -- cat "/proc/$pid/environ" >/dev/null 2>&1; then
		fail "nobody can read the agent's /proc/$pid/environ"
	fi
}

port_taken() {
	agent_fresh
	agent_switch "$(agent_release 1)"
	"$AGENT_PY" -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
open(sys.argv[2], "w").close(); time.sleep(60)' "$AGENT_PORT" "$T/taken" &
	local sp=$!
	at_exit "kill $sp"
	wait_for '[ -e "$T/taken" ]'
	start_fails_with "listen on '127.0.0.1:$AGENT_PORT'"
	kill "$sp"
	[ ! -e "$AGENT_TOKEN" ] || fail "a token was left behind"
	[ ! -e "$AGENT_TOKEN.service.pid" ] || fail "a pid file was left behind"
}

if is_root; then
	test_expect "a token directory www-data owns or can write: refused" token_dir_of_www_data
	test_expect "the hook refuses a token file or directory others control" hook_refuses_foreign_token
	test_expect "no core file, not dumpable, when started by a normal user" no_core_not_dumpable
else
	test_skip "token directory owners" "needs root"
	test_skip "the hook and foreign token files" "needs root"
	test_skip "no core file, not dumpable" "needs root"
fi
test_expect "a port already taken: no token or pid file left" port_taken
agent_kill_all
test_done
