#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t2400-agent-root: started as root, the agent drops to the service user for
# good and runs the service as www-data with only www-data's groups; a port
# below 512 (80, 443) works through authbind; the agent's and the service's lines
# arrive in a real syslog (rsyslogd) under the right tags.
# shellcheck disable=SC2016 # wait_for evaluates its single-quoted conditions
. "$(dirname "$0")/lib.sh"
ns_isolate		# as root: private /etc, /run, /var, /dev, network

SERVE="$AGENT_PY -m http.server"

# Fail unless /proc/PID/status shows uid and gid www-data (all four of
# each), only www-data's groups and no capabilities.
assert_www_data() {	# PID WHAT
	local st=/proc/$1/status uid gid want got
	uid=$(id -u www-data) gid=$(id -g www-data)
	grep -Eq "^Uid:\s+$uid\s+$uid\s+$uid\s+$uid\s*$" "$st" ||
		fail "$2: $(grep ^Uid: "$st")"
	grep -Eq "^Gid:\s+$gid\s+$gid\s+$gid\s+$gid\s*$" "$st" ||
		fail "$2: $(grep ^Gid: "$st")"
	want=$(id -G www-data | tr ' ' '\n' | sort -n | tr '\n' ' ')
	got=$(sed -n 's/^Groups:\s*//p' "$st" | tr ' ' '\n' | sed '/^$/d' |
		sort -n | tr '\n' ' ')
	[ "$got" = "$want" ] || fail "$2: groups '$got', www-data has '$want'"
	grep -Eq '^CapEff:\s+0+$' "$st" || fail "$2: $(grep ^CapEff: "$st")"
	grep -Eq '^CapPrm:\s+0+$' "$st" || fail "$2: $(grep ^CapPrm: "$st")"
}

runs_as_www_data() {
	agent_fresh
	agent_config "command = sleep 1000 & exec $SERVE $AGENT_SVC_PORT --bind 127.0.0.1"
	agent_switch "$(agent_release 1)"
	# the caller's supplementary groups must not leak to the service
	agent_start
	agent_wait_state ready
	local pid p
	pid=$(agent_json pid "$T/status.json")
	for p in $(agent_group_pids "$pid"); do
		assert_www_data "$p" "service process $p ($(cat "/proc/$p/comm"))"
	done
	assert_www_data "$AGENT_PID" "the agent after start"
	agent_expect 200 POST /restart
	assert_www_data "$(agent_json pid)" "the restarted service"
}

service_user_required() {
	agent_fresh -user -group
	agent_switch "$(agent_release 1)"
	local rc=0
	timeout 10 "$REDEPLOYD" -f -c "$CONFIG" >"$T/f.out" 2>&1 </dev/null || rc=$?
	case "$rc" in
	0 | 124) fail "as root, a [service] without user started (exit $rc)" ;;
	esac
	output_has user "$T/f.out"
	[ -z "$(agent_servers)" ] || fail "a service runs: $(agent_servers)"
}

authbind_low_port() {
	local low
	low=$(agent_free_low_port)
	[ -n "$low" ] || { fail "no free port in 400-511"; return 1; }
	agent_fresh
	agent_config "command = exec $SERVE $low --bind 127.0.0.1" \
		"ready = tcp:127.0.0.1:$low" "authbind = yes" "ready_timeout = 5"
	install -o www-data -m 0500 /dev/null "/etc/authbind/byport/$low"
	at_exit "rm -f /etc/authbind/byport/$low"
	agent_switch "$(agent_release 1)"
	agent_start
	agent_wait_state ready
	local pid
	pid=$(agent_json pid "$T/status.json")
	curl -sf "http://127.0.0.1:$low/" | grep -q 'release 1' ||
		fail "the service does not answer on port $low"
	assert_www_data "$pid" "the service behind authbind"
	# without authbind the same service cannot bind the port
	agent_config "command = exec $SERVE $low --bind 127.0.0.1" \
		"ready = tcp:127.0.0.1:$low" "authbind = no" "ready_timeout = 5"
	kill -HUP "$AGENT_PID"
	[ "$(agent_health)" = 200 ] || fail "no /health after SIGHUP"
	agent_expect 503 POST /restart
	grep -qi 'permission denied' "$T/resp.body" ||
		fail "the 503 does not show the bind error: $(cat "$T/resp.body")"
	agent_config "command = exec $SERVE $low --bind 127.0.0.1" \
		"ready = tcp:127.0.0.1:$low" "authbind = yes" "ready_timeout = 5"
	kill -HUP "$AGENT_PID"
	[ "$(agent_health)" = 200 ] || fail "no /health after SIGHUP"
	agent_expect 200 POST /restart
	curl -sf "http://127.0.0.1:$low/" >/dev/null ||
		fail "the service does not answer on port $low"
}

syslog_lines() {
	agent_fresh
	start_rsyslog
	local id sha pid rc=0 apid tag=$AGENT_TAG
	id=$(agent_release 1)
	sha=$(agent_sha "$id")
	agent_switch "$id"
	# as init starts it: as root, without -f (it detaches)
	timeout 20 "$REDEPLOYD" -c "$CONFIG" </dev/null >"$T/daemon.out" 2>&1 ||
		rc=$?
	[ "$rc" -eq 0 ] || fail "redeployd (daemon) exited $rc: $(cat "$T/daemon.out")"
	wait_for '[ "$(agent_health)" = 200 ]' 10
	agent_auth
	agent_wait_state ready
	apid=$(agent_json agent_pid "$T/status.json")
	AGENT_PID=$apid
	echo "$apid" >>"$T/agent.pids"
	at_exit "agent_kill $apid"
	pid=$(agent_json pid "$T/status.json")
	# the agent's own lines, under its own tag
	wait_syslog "start pid=$pid release=$id commit=$sha"
	wait_syslog "ready pid=$pid release=$id commit=$sha"
	grep "start pid=$pid release=$id" "$SYSLOG_FILE" | grep -qv "$tag" ||
		fail "the agent's line is under the service's tag"
	# the service's stdout (info) and stderr (err) under log_tag
	wait_syslog "\.info $tag\(\[[0-9]*\]\)\?: Serving HTTP on 127.0.0.1 port $AGENT_SVC_PORT"
	agent_service_answers
	wait_syslog "\.err $tag\(\[[0-9]*\]\)\?: 127.0.0.1 - - .*\"GET / HTTP/1.1\" 200"
	# an exit is one line with exit=, signal=, uptime=
	kill -KILL "$pid"
	wait_syslog "pid=$pid.*signal=9"
	[ "$(grep -c "pid=$pid.*signal=9" "$SYSLOG_FILE")" -eq 1 ] ||
		fail "not one line for the exit: $(grep "pid=$pid" "$SYSLOG_FILE")"
	grep "pid=$pid.*signal=9" "$SYSLOG_FILE" | grep 'exit=' | grep -q 'uptime=' ||
		fail "exit line lacks exit= or uptime=: $(grep "pid=$pid.*signal=9" "$SYSLOG_FILE")"
	agent_wait_state ready
	# the token is in no syslog line
	! grep -qF -f "$AGENT_TOKEN" "$SYSLOG_FILE" || fail "the token is in syslog"
	# TERM: stops, and says so
	kill -TERM "$apid"
	agent_wait_gone "$apid" 15
	[ -z "$(agent_servers)" ] || fail "servers left: $(agent_servers)"
	! grep -qF -f "$AGENT_TOKEN" "$SYSLOG_FILE" || fail "the token is in syslog"
	sed 's/^/| /' "$SYSLOG_FILE"
}

if ! is_root; then
	test_skip "the service runs as www-data with only its groups" "needs root"
	test_skip "as root a [service] without user is refused" "needs root"
	test_skip "a port below 512 through authbind" "needs root"
	test_skip "syslog lines of the agent and the service" "needs root"
	test_done
fi
test_expect "the service (and the agent) run as www-data with only its groups" runs_as_www_data
test_expect "as root a [service] without user is refused" service_user_required
if ! command -v authbind >/dev/null || [ ! -d /etc/authbind/byport ]; then
	test_skip "a port below 512 through authbind" "authbind is not installed (apt-get install authbind)"
elif [ -z "$(agent_free_low_port)" ]; then
	test_skip "a port below 512 through authbind" "no free port in 400-511"
else
	test_expect "a port below 512 through authbind (and not without)" authbind_low_port
fi
why=$(syslog_unavailable)
if [ -n "$why" ]; then
	test_skip "syslog lines of the agent and the service" "$why"
else
	test_expect "syslog: the agent's lines, the service's under log_tag, no token" syslog_lines
fi
agent_kill_all
test_done
