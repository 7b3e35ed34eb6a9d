#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t2650-stopping: requests that arrive while the agent stops (SIGTERM, the
# service slow to die) are answered at once, and the agent still exits 0
# within stop_timeout of the TERM, not of the last request.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

SERVE="$AGENT_PY -m http.server"

restart_while_stopping() {
	local t0 t1 rc=0
	agent_fresh
	agent_config "command = trap '' TERM; exec $SERVE $AGENT_SVC_PORT --bind 127.0.0.1" \
		"stop_timeout = 2"
	agent_switch "$(agent_release 1)"
	agent_start
	agent_wait_state ready
	t0=$(agent_ms)
	kill -TERM "$AGENT_PID"
	agent_wait_state stopping
	agent_expect 503 POST /restart
	grep -q "the agent is stopping" "$T/resp.body" ||
		fail "answer: $(cat "$T/resp.body")"
	agent_expect 503 POST /restart	# a second one changes no deadline
	wait "$AGENT_PID" || rc=$?
	t1=$(agent_ms)
	[ "$rc" -eq 0 ] || fail "the agent exited $rc"
	[ $((t1 - t0)) -lt 4000 ] ||
		fail "stopping took $((t1 - t0)) ms (stop_timeout is 2 s)"
}

test_expect "a restart while the agent stops: 503 at once, agent exits 0 in time" restart_while_stopping
test_done
