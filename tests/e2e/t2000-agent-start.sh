#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t2000-agent-start: redeployd -n checks a config without side effects; at
# start the agent writes a fresh token file with the right mode, refuses a
# token directory others can write, starts the live release's service (or
# nothing before the first deploy) and re-reads its config on SIGHUP.
. "$(dirname "$0")/lib.sh"

check_good_config() {
	agent_fresh
	local rc=0
	"$REDEPLOYD" -n -c "$CONFIG" >"$T/n.out" 2>&1 </dev/null || rc=$?
	[ "$rc" -eq 0 ] || fail "redeployd -n exited $rc: $(cat "$T/n.out")"
	output_has "configuration OK" "$T/n.out"
	[ "$(agent_health)" = 000 ] || fail "redeployd -n left something listening"
}

check_does_not_touch_token() {
	agent_fresh
	echo "the running agent's token" >"$AGENT_TOKEN"
	chmod 600 "$AGENT_TOKEN"
	cp -p "$AGENT_TOKEN" "$T/token.before"
	"$REDEPLOYD" -n -c "$CONFIG" >"$T/n.out" 2>&1 </dev/null ||
		fail "redeployd -n failed: $(cat "$T/n.out")"
	cmp "$T/token.before" "$AGENT_TOKEN" ||
		fail "redeployd -n rewrote the token file (the running agent's)"
	[ ! -e "$AGENT_TOKEN.service.pid" ] ||
		fail "redeployd -n created $AGENT_TOKEN.service.pid"
}

check_public_listen() {
	agent_fresh "agent.listen = 0.0.0.0:80"
	local rc=0 line
	line=$(grep -n '^listen' "$CONFIG" | cut -d: -f1)
	timeout 10 "$REDEPLOYD" -n -c "$CONFIG" >"$T/n.out" 2>&1 </dev/null ||
		rc=$?
	[ "$rc" -eq 2 ] || fail "redeployd -n exited $rc, expected 2: $(cat "$T/n.out")"
	output_has "$CONFIG:$line:" "$T/n.out"
	output_has "listen" "$T/n.out"
	output_lacks "configuration OK" "$T/n.out"
	# and the agent proper refuses it the same way, binding nothing
	rc=0
	timeout 10 "$REDEPLOYD" -f -c "$CONFIG" >"$T/f.out" 2>&1 </dev/null ||
		rc=$?
	[ "$rc" -eq 2 ] || fail "redeployd -f exited $rc, expected 2: $(cat "$T/f.out")"
	output_has "$CONFIG:$line:" "$T/f.out"
	[ ! -e "$AGENT_TOKEN" ] || fail "a token file was written for a bad config"
}

check_bad_key() {
	agent_fresh "stop_timeout = soon"
	local rc=0 line
	line=$(grep -n '^stop_timeout' "$CONFIG" | cut -d: -f1)
	"$REDEPLOYD" -n -c "$CONFIG" >"$T/n.out" 2>&1 </dev/null || rc=$?
	[ "$rc" -eq 2 ] || fail "redeployd -n exited $rc, expected 2: $(cat "$T/n.out")"
	output_has "$CONFIG:$line:" "$T/n.out"
	output_has "stop_timeout" "$T/n.out"
}

token_file_written() {
	agent_fresh
	agent_start
	if [ ! -f "$AGENT_TOKEN" ] || [ -L "$AGENT_TOKEN" ]; then
		fail "no regular token file at $AGENT_TOKEN"
	fi
	grep -Eqx '[0-9a-f]{64}' "$AGENT_TOKEN" ||
		fail "token file is not 64 hex characters: $(wc -c <"$AGENT_TOKEN") bytes"
	if [ "$(wc -l <"$AGENT_TOKEN")" -ne 1 ] ||
		[ "$(wc -c <"$AGENT_TOKEN")" -ne 65 ]; then
		fail "token file is not one line of 64 characters and a newline"
	fi
	local mode owner
	mode=$(stat -c %a "$AGENT_TOKEN")
	owner=$(stat -c %U:%G "$AGENT_TOKEN")
	if is_root; then
		[ "$mode" = 640 ] || fail "token file mode $mode, expected 640 as root"
		[ "$owner" = root:nogroup ] ||
			fail "token file owned by $owner, expected root:nogroup (token_group)"
	else
		[ "$mode" = 600 ] || fail "token file mode $mode, expected 600"
		[ "$(stat -c %u "$AGENT_TOKEN")" = "$(id -u)" ] ||
			fail "token file owned by $owner, not by the agent's user"
	fi
	# nothing else left behind in the token directory (no temp files)
	local extra
	extra=$(find "$AGENT_RUN" -mindepth 1 ! -name token ! -name token.service.pid)
	[ -z "$extra" ] || fail "left in the token directory: $extra"
}

fresh_token_every_start() {
	agent_fresh
	agent_start
	cp "$AGENT_TOKEN" "$T/token.1"
	agent_expect 200 GET /status
	agent_kill "$AGENT_PID"
	agent_start
	! cmp -s "$T/token.1" "$AGENT_TOKEN" ||
		fail "the second agent start kept the token of the first"
	agent_expect 200 GET /status
	AGENT_HDR=$T/old.hdr
	(umask 077 && { printf 'Authorization: Bearer '; cat "$T/token.1"; } \
		>"$AGENT_HDR")
	agent_expect 401 GET /status
}

refuse_dir() {	# MODE
	agent_fresh "agent.token_file = $T/open/token"
	rm -rf "$T/open"
	mkdir "$T/open"
	chmod "$1" "$T/open"
	local rc=0
	timeout 10 "$REDEPLOYD" -f -c "$CONFIG" >"$T/f.out" 2>&1 </dev/null ||
		rc=$?
	case "$rc" in
	0) fail "redeployd started with a token directory of mode $1" ;;
	124) fail "redeployd kept running with a token directory of mode $1" ;;
	esac
	output_has "$T/open" "$T/f.out"
	[ -z "$(ls -A "$T/open")" ] ||
		fail "files written in the open directory: $(ls -A "$T/open")"
	[ "$(agent_health)" = 000 ] || fail "something listens on the agent port"
}
refuse_world_writable() { refuse_dir 0777; }
refuse_sticky_world_writable() { refuse_dir 1777; }

stopped_before_first_deploy() {
	agent_fresh
	agent_start
	[ "$(agent_field state)" = stopped ] ||
		fail "state before the first deploy: $(cat "$T/status.json")"
	[ "$(agent_json agent_pid "$T/status.json")" = "$AGENT_PID" ] ||
		fail "agent_pid is not $AGENT_PID: $(cat "$T/status.json")"
	[ -z "$(agent_servers)" ] || fail "a service runs before the first deploy"
	# the first restart starts the service
	local id
	id=$(agent_release 1)
	agent_switch "$id"
	agent_expect 200 POST /restart
	[ "$(agent_json status)" = ready ] || fail "restart: $(cat "$T/resp.body")"
	[ "$(agent_json release)" = "$id" ] || fail "restart: $(cat "$T/resp.body")"
	agent_service_answers
	[ "$(agent_field state)" = ready ] || fail "status: $(cat "$T/status.json")"
}

starts_live_release() {
	agent_fresh
	local id pid
	id=$(agent_release 1)
	agent_switch "$id"
	agent_start
	agent_wait_state ready
	agent_service_answers
	pid=$(agent_json pid "$T/status.json")
	[ "$(agent_json release "$T/status.json")" = "$id" ] ||
		fail "release is not $id: $(cat "$T/status.json")"
	[ "$(agent_json commit "$T/status.json")" = "$(agent_sha "$id")" ] ||
		fail "commit is not the one in $id.meta: $(cat "$T/status.json")"
	[ "$(agent_json agent_pid "$T/status.json")" = "$AGENT_PID" ] ||
		fail "agent_pid is not $AGENT_PID: $(cat "$T/status.json")"
	[ -n "$(agent_json version "$T/status.json")" ] || fail "no version"
	agent_json uptime "$T/status.json" | grep -Eqx '[0-9]+(\.[0-9]+)?' ||
		fail "uptime is not a number: $(cat "$T/status.json")"
	[ "$(agent_json restarts "$T/status.json")" = 0 ] ||
		fail "restarts is not 0 at start: $(cat "$T/status.json")"
	[ "$(agent_json last_exit "$T/status.json")" = null ] ||
		fail "last_exit is not null at start: $(cat "$T/status.json")"
	[ "$(agent_servers)" = "$pid" ] ||
		fail "servers running: '$(agent_servers)', /status says pid $pid"
	[ "$(readlink "/proc/$pid/cwd")" = "$LIVE/releases/$id" ] ||
		fail "the service runs in $(readlink "/proc/$pid/cwd"), not the release"
}

sighup_rereads_config() {
	agent_fresh "environment = PYTHONUNBUFFERED=1 GREETING=one"
	local id pid
	id=$(agent_release 1)
	agent_switch "$id"
	agent_start
	agent_wait_state ready
	pid=$(agent_json pid "$T/status.json")
	grep -qaxz GREETING=one "/proc/$pid/environ" || fail "GREETING=one not set"
	agent_config "environment = PYTHONUNBUFFERED=1 GREETING=two"
	kill -HUP "$AGENT_PID"
	# one round trip: the agent has handled the signal (one thread, one
	# loop); a reload alone restarts nothing, the next restart applies it
	[ "$(agent_health)" = 200 ] || fail "no /health after SIGHUP"
	agent_alive "$pid" || fail "SIGHUP stopped the service"
	agent_expect 200 POST /restart
	pid=$(agent_json pid)
	grep -qaxz GREETING=two "/proc/$pid/environ" ||
		fail "after SIGHUP and a restart the service lacks GREETING=two: $(tr '\0' ' ' <"/proc/$pid/environ")"
}

sighup_bad_config_keeps_old() {
	agent_fresh "environment = PYTHONUNBUFFERED=1 GREETING=one"
	local id pid
	id=$(agent_release 1)
	agent_switch "$id"
	agent_start
	agent_wait_state ready
	cp "$AGENT_ERR" "$T/before.err"
	echo "bogus_key = 1" >>"$CONFIG"
	kill -HUP "$AGENT_PID"
	# the agent says so, naming file:line, and keeps serving the old config
	wait_for "diff '$T/before.err' '$AGENT_ERR' | grep -q '$CONFIG:[0-9]*:'" 5 ||
		fail "no file:line error for the bad config on SIGHUP; stderr:
$(sed 's/^/| /' "$AGENT_ERR")"
	agent_alive "$AGENT_PID" || fail "a bad config on SIGHUP killed the agent"
	[ "$(agent_health)" = 200 ] || fail "no /health after a bad SIGHUP"
	agent_expect 200 POST /restart
	pid=$(agent_json pid)
	grep -qaxz GREETING=one "/proc/$pid/environ" ||
		fail "the old config is not in force after a bad SIGHUP"
}

test_expect "redeployd -n on a good config prints configuration OK, exit 0" check_good_config
test_expect "redeployd -n does not rewrite the running agent's token" check_does_not_touch_token
test_expect "listen = 0.0.0.0:80 is refused with file:line, exit 2" check_public_listen
test_expect "a bad number is refused with file:line and the key" check_bad_key
test_expect "the token file: 64 hex + newline, 0600 (0640 token_group as root)" token_file_written
test_expect "every start writes a fresh token; the old one is refused" fresh_token_every_start
test_expect "a world-writable (0777) token directory is refused" refuse_world_writable
test_expect "a sticky world-writable (1777) token directory is refused" refuse_sticky_world_writable
test_expect "before the first deploy: state stopped; the first restart starts it" stopped_before_first_deploy
test_expect "at start the live release's service runs; /status describes it" starts_live_release
test_expect "SIGHUP re-reads the config; the next restart applies it" sighup_rereads_config
test_expect "SIGHUP with a bad config: file:line, the old config stays" sighup_bad_config_keeps_old
agent_kill_all
test_done
