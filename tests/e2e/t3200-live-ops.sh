#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t3200-live-ops: the operator's commands on a live site: rollback (to the
# previous good release, or to an id), deploy of an old commit, status, log
# and restart, each checked against the page served and the agent's view.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

by_hand() {
	live_setup
	agent_start
	local r1 r2 r3 sha1 sha2 pid id
	live_version 1
	sha1=$(git -C "$WORK" rev-parse HEAD)
	push
	r1=$(live_id)
	live_version 2
	sha2=$(git -C "$WORK" rev-parse HEAD)
	push
	r2=$(live_id)
	live_version 3
	push
	r3=$(live_id)
	pid=$(live_runs "$r3")
	live_serves 3
	[ "$(printf '%s\n' "$r1" "$r2" "$r3" | sort -u | wc -l)" -eq 3 ] ||
		fail "releases $r1 $r2 $r3"

	# rollback: the previous good release
	expect_exit 0 -c "$CONFIG" rollback
	assert_current "$r2"
	live_serves 2
	[ "$(live_status release)" = "$r2" ] ||
		fail "/status release is not $r2: $(cat "$T/status.json")"
	[ "$(live_status pid)" != "$pid" ] || fail "the service was not restarted"
	pid=$(live_runs "$r2")
	[ "$(live_environ "$pid" REDEPLOY_COMMIT)" = "$sha2" ] ||
		fail "the service's REDEPLOY_COMMIT is not $sha2"
	output_has "ready in" "$T/cmd.err"

	# rollback ID
	expect_exit 0 -c "$CONFIG" rollback "$r1"
	assert_current "$r1"
	live_serves 1
	[ "$(live_status release)" = "$r1" ] ||
		fail "/status release is not $r1: $(cat "$T/status.json")"
	pid=$(live_runs "$r1")
	[ "$(live_environ "$pid" REDEPLOY_COMMIT)" = "$sha1" ] ||
		fail "the service's REDEPLOY_COMMIT is not $sha1"

	# deploy an old commit: a new release of it goes live
	expect_exit 0 -c "$CONFIG" deploy "$sha2"
	id=$(live_id)
	if [ "$id" = "$r1" ] || [ "$id" = "$r3" ]; then
		fail "current is $id"
	fi
	live_serves 2
	[ "$(live_status release)" = "$id" ] ||
		fail "/status release is not $id: $(cat "$T/status.json")"
	[ "$(live_status commit)" = "$sha2" ] ||
		fail "/status commit is not $sha2: $(cat "$T/status.json")"
	live_runs "$id" >/dev/null
	assert_deployed "$sha2"
	output_has "ready in" "$T/cmd.err"

	# an id that does not exist: one line, non-zero, nothing changes
	pid=$(live_status pid)
	local rc=0
	"$REDEPLOY" -c "$CONFIG" rollback 20200101T000000Z-0000000 \
		>"$T/cmd.out" 2>"$T/cmd.err" || rc=$?
	[ "$rc" -ne 0 ] || fail "rollback to an unknown id exited 0"
	[ "$(wc -l <"$T/cmd.err")" -eq 1 ] ||
		fail "expected one line, got: $(cat "$T/cmd.err")"
	[ ! -s "$T/cmd.out" ] || fail "stdout: $(cat "$T/cmd.out")"
	output_has "20200101T000000Z-0000000" "$T/cmd.err"
	assert_current "$id"
	live_serves 2
	[ "$(live_status pid)" = "$pid" ] || fail "the service was restarted"
	# and a word that is no id at all
	rc=0
	"$REDEPLOY" -c "$CONFIG" rollback nonsense >"$T/cmd.out" 2>"$T/cmd.err" ||
		rc=$?
	[ "$rc" -ne 0 ] || fail "rollback nonsense exited 0"
	[ "$(wc -l <"$T/cmd.err")" -eq 1 ] ||
		fail "expected one line, got: $(cat "$T/cmd.err")"
	assert_current "$id"
}

# A live site at version 1 for one test; sets ID and PID.
one_live() {
	live_setup
	agent_start
	live_version 1
	push
	ID=$(live_id)
	PID=$(live_runs "$ID")
}

status_human() {
	one_live
	expect_exit 0 -c "$CONFIG" status
	cat "$T/cmd.out"
	output_has "ready" "$T/cmd.out"
	output_has "pid $PID" "$T/cmd.out"
	output_lacks "stopped" "$T/cmd.out"
	grep -q "^ *release *$ID " "$T/cmd.out" ||
		fail "no release line for $ID: $(cat "$T/cmd.out")"
}

status_json() {
	one_live
	expect_exit 0 -c "$CONFIG" status --json
	[ "$(agent_json state "$T/cmd.out")" = ready ] ||
		fail "status --json: $(cat "$T/cmd.out")"
	[ "$(agent_json pid "$T/cmd.out")" = "$PID" ] ||
		fail "status --json: $(cat "$T/cmd.out")"
	[ "$(agent_json release "$T/cmd.out")" = "$ID" ] ||
		fail "status --json: $(cat "$T/cmd.out")"
}

log_last_lines() {
	one_live
	local i n
	# more output than 5 lines: one line per request served
	for i in 1 2 3 4 5 6 7 8; do
		curl -sf -o /dev/null "http://127.0.0.1:$LIVE_WEB/?req=$i"
	done
	# shellcheck disable=SC2016 # wait_for evaluates it
	wait_for '[ "$("$REDEPLOY" -c "$CONFIG" log | grep -c "req=")" -eq 8 ]'
	expect_exit 0 -c "$CONFIG" log -n 5
	cat "$T/cmd.out"
	n=$(wc -l <"$T/cmd.out")
	[ "$n" -le 5 ] || fail "log -n 5 printed $n lines"
	[ "$n" -eq 5 ] || fail "log -n 5 printed $n lines of the 8+ there are"
	grep -q 'req=8 ' "$T/cmd.out" || fail "the last request is not in the last lines"
	! grep -q 'req=3 ' "$T/cmd.out" || fail "log -n 5 printed an older line"
}

restart_by_hand() {
	one_live
	local new
	expect_exit 0 -c "$CONFIG" restart
	output_has "ready in" "$T/cmd.err"
	new=$(live_runs "$ID")
	[ "$new" != "$PID" ] || fail "the pid did not change ($PID)"
	! agent_alive "$PID" || fail "the old service $PID still runs"
	output_has "(pid $new, release $ID)" "$T/cmd.err"
	live_serves 1
}

test_expect "rollback, rollback ID, deploy OLD_SHA by hand; unknown id: one line, exit != 0" by_hand
test_expect "status: state ready, the pid and the release" status_human
test_expect "status --json: the agent's JSON" status_json
test_expect "log -n 5: the last 5 lines of the service's output" log_last_lines
test_expect "restart: 'ready in', a new pid, the same release" restart_by_hand
agent_kill_all
test_done
