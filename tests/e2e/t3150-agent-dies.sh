#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t3150-agent-dies: the agent is killed while the hook waits for its
# restart.  The hook cannot know what was stopped, so it switches back AND
# asks for a restart again; with the agent gone that fails too, and the
# pusher reads both.  A new agent then serves the release current names.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

agent_killed_mid_restart() {
	local good bad pushpid before
	live_setup
	agent_start
	live_version 1
	push
	good=$(live_id)
	live_serves 1
	# version 2 takes its time to become ready: room to kill the agent
	live_version 2
	{ echo 'import time; time.sleep(3)'; live_server_py; } >"$WORK/server.py"
	git -C "$WORK" commit -q -a -m "version 2, slow to start"
	# shellcheck disable=SC2034 # read by the wait_for below
	before=$(grep -c "restart requested" "$AGENT_ERR")
	git -C "$WORK" push -q origin HEAD:master >"$T/push.out" 2>&1 &
	pushpid=$!
	# shellcheck disable=SC2016 # wait_for evaluates it
	wait_for '[ "$(grep -c "restart requested" "$AGENT_ERR")" -gt "$before" ]' 20
	kill -KILL "$AGENT_PID"
	wait "$pushpid" || true
	wait_unlocked
	bad=$(live_pushed_id)
	output_has "release $bad failed"
	output_has "rolled back to release $good"
	output_lacks "the service was not restarted"
	output_has "did not start either"
	assert_current "$good"
	grep -qx 'result=failed' "$LIVE/releases/$bad.meta" ||
		fail "$bad.meta: $(cat "$LIVE/releases/$bad.meta")"
	# a new agent stops the old service group and runs the current release
	agent_start
	agent_wait_state ready
	live_runs "$good" >/dev/null
	live_serves 1
}

test_expect "agent killed mid-restart: back to the last release, restart asked again" agent_killed_mid_restart
test_done
