#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t2200-restart: POST /restart answers once the new process is ready (the
# service answers right then), concurrent restarts coalesce and leave one
# service, a release that does not come up is a 503 with its log.
. "$(dirname "$0")/lib.sh"

# The service starts only when the release holds a file "ok"; it says why
# on stderr otherwise.
GATED="[ -e ok ] || { echo \"no ok file in \$REDEPLOY_RELEASE\" >&2; exit 3; }; exec $AGENT_PY -m http.server"

restart_waits_for_ready() {
	agent_fresh
	local id old new t0 t1
	id=$(agent_release 1)
	agent_switch "$id"
	agent_start
	agent_wait_state ready
	old=$(agent_json pid "$T/status.json")
	t0=$(agent_ms)
	agent_expect 200 POST /restart
	t1=$(agent_ms)
	# the service answers at once, without a retry
	agent_service_answers
	grep -qi '^content-type: *application/json' "$T/resp.head" ||
		fail "not application/json: $(cat "$T/resp.head")"
	[ "$(agent_json status)" = ready ] || fail "answer: $(cat "$T/resp.body")"
	new=$(agent_json pid)
	[ "$new" != "$old" ] || fail "the pid did not change ($old)"
	[ "$(agent_json release)" = "$id" ] || fail "answer: $(cat "$T/resp.body")"
	[ "$(agent_json commit)" = "$(agent_sha "$id")" ] ||
		fail "answer: $(cat "$T/resp.body")"
	local ms
	ms=$(agent_json ready_ms)
	echo "$ms" | grep -Eqx '[0-9]+' || fail "ready_ms '$ms' is not a number"
	[ "$ms" -le $((t1 - t0)) ] ||
		fail "ready_ms $ms is more than the request took ($((t1 - t0)) ms)"
	agent_json log | grep -q '^\[' || fail "log is not a list: $(cat "$T/resp.body")"
	! agent_alive "$old" || fail "the old service $old still runs"
	[ "$(agent_field pid)" = "$new" ] || fail "/status pid is not $new"
	[ "$(agent_json state "$T/status.json")" = ready ] ||
		fail "status: $(cat "$T/status.json")"
	[ "$(agent_servers)" = "$new" ] || fail "servers: $(agent_servers)"
}

# ready = http://...: the restart waits for a 2xx to a GET of the path.
restart_ready_http() {
	agent_fresh
	agent_config "ready = http://127.0.0.1:$AGENT_SVC_PORT/ready.txt"
	local id
	id=$(agent_release 1)
	echo ready >"$LIVE/releases/$id/ready.txt"
	agent_switch "$id"
	agent_start
	agent_wait_state ready
	agent_expect 200 POST /restart
	[ "$(agent_json status)" = ready ] || fail "answer: $(cat "$T/resp.body")"
	curl -sf "http://127.0.0.1:$AGENT_SVC_PORT/ready.txt" >/dev/null ||
		fail "ready.txt is not served"
}

restart_switches_release() {
	agent_fresh
	local r1 r2
	r1=$(agent_release 1)
	r2=$(agent_release 2)
	agent_switch "$r1"
	agent_start
	agent_wait_state ready
	agent_switch "$r2"
	agent_expect 200 POST /restart
	[ "$(agent_json release)" = "$r2" ] || fail "answer: $(cat "$T/resp.body")"
	[ "$(agent_json commit)" = "$(agent_sha "$r2")" ] ||
		fail "answer: $(cat "$T/resp.body")"
	curl -s "http://127.0.0.1:$AGENT_SVC_PORT/" | grep -q 'release 2' ||
		fail "the service does not serve release 2"
	[ "$(readlink "/proc/$(agent_json pid)/cwd")" = "$LIVE/releases/$r2" ] ||
		fail "the service does not run in $r2"
}

# The service takes 0.5 s to start: all 20 requests arrive while the first
# restart is in flight, so at most one more restart may follow it.
concurrent_restarts() {
	agent_fresh
	agent_config "command = sleep 0.5; exec $AGENT_PY -m http.server $AGENT_SVC_PORT --bind 127.0.0.1"
	local id before r0 r1 i pids=() codes pidset n
	id=$(agent_release 1)
	agent_switch "$id"
	agent_start
	agent_wait_state ready
	before=$(agent_json pid "$T/status.json")
	r0=$(agent_json restarts "$T/status.json")
	for i in $(seq 20); do
		AGENT_RESP=$T/c$i agent_curl POST /restart >"$T/c$i.code" &
		pids+=($!)
	done
	wait "${pids[@]}"
	codes=$(for i in $(seq 20); do cat "$T/c$i.code"; echo; done |
		sort | uniq -c | sed 's/^ *//')
	[ "$codes" = "20 200" ] || fail "answers: $codes"
	for i in $(seq 20); do
		[ "$(agent_json status "$T/c$i.body")" = ready ] ||
			fail "answer $i: $(cat "$T/c$i.body")"
	done
	pidset=$(for i in $(seq 20); do agent_json pid "$T/c$i.body"; done | sort -u)
	n=$(echo "$pidset" | wc -l)
	echo "pids answered: $(echo "$pidset" | tr '\n' ' ')"
	[ "$n" -le 3 ] || fail "$n different pids: the restarts did not coalesce"
	agent_status
	r1=$(agent_json restarts "$T/status.json")
	[ $((r1 - r0)) -le 3 ] ||
		fail "restarts went from $r0 to $r1: 20 requests were not coalesced"
	local now
	now=$(agent_json pid "$T/status.json")
	[ "$now" != "$before" ] || fail "the service was not restarted"
	echo "$pidset" | grep -qx "$now" ||
		fail "the running pid $now was answered to no one"
	[ "$(agent_json state "$T/status.json")" = ready ] ||
		fail "status: $(cat "$T/status.json")"
	# the service runs once: one live process in its group, one server
	[ "$(agent_group_pids "$now")" = "$now" ] ||
		fail "process group $now: $(agent_group_pids "$now" | tr '\n' ' ')"
	[ "$(agent_servers)" = "$now" ] ||
		fail "servers running: $(agent_servers | tr '\n' ' ')"
	agent_service_answers
	wait_for "[ -z \"\$(agent_zombies)\" ]" 5
}

failed_restart_503() {
	agent_fresh
	agent_config "command = $GATED $AGENT_SVC_PORT --bind 127.0.0.1" \
		"ready_timeout = 5" "restart_delay = 5" "restart_max_delay = 10"
	local good bad t0 t1
	good=$(agent_release 1 ok)
	bad=$(agent_release 2)
	agent_switch "$good"
	agent_start
	agent_wait_state ready
	agent_switch "$bad"
	t0=$(agent_ms)
	agent_expect 503 POST /restart
	t1=$(agent_ms)
	[ "$(agent_json status)" = failed ] || fail "answer: $(cat "$T/resp.body")"
	[ -n "$(agent_json error)" ] || fail "no error in: $(cat "$T/resp.body")"
	agent_json log | grep -q "no ok file in $bad" ||
		fail "the answer lacks the service's last words: $(cat "$T/resp.body")"
	# an exit before readiness fails the restart then, not at ready_timeout
	[ $((t1 - t0)) -lt 4000 ] ||
		fail "the 503 took $((t1 - t0)) ms although the service exited at once"
	# switched back (as the hook does), a restart brings it up again
	agent_switch "$good"
	agent_expect 200 POST /restart
	[ "$(agent_json release)" = "$good" ] || fail "answer: $(cat "$T/resp.body")"
	agent_service_answers
}

not_ready_in_time() {
	# listens on another port than the one probed: never ready
	local other
	agent_fresh
	other=$(agent_free_ports 1)
	agent_config "ready = tcp:127.0.0.1:$other" "ready_timeout = 1"
	agent_switch "$(agent_release 1)"
	agent_start
	local t0 t1
	t0=$(agent_ms)
	agent_expect 503 POST /restart
	t1=$(agent_ms)
	[ "$(agent_json status)" = failed ] || fail "answer: $(cat "$T/resp.body")"
	[ $((t1 - t0)) -ge 1000 ] || fail "503 after $((t1 - t0)) ms, before ready_timeout"
	[ $((t1 - t0)) -lt 8000 ] || fail "503 after $((t1 - t0)) ms, ready_timeout is 1 s"
}

test_expect "POST /restart answers when the new process is ready; pid changes" restart_waits_for_ready
test_expect "ready = http://...: the restart waits for a 2xx" restart_ready_http
test_expect "a restart after a release switch runs the new release" restart_switches_release
test_expect "20 concurrent restarts: all answered 200, coalesced, one service" concurrent_restarts
test_expect "a release that exits at once: 503 failed with its log; back: 200" failed_restart_503
test_expect "a service never ready: 503 after ready_timeout" not_ready_in_time
agent_kill_all
test_done
