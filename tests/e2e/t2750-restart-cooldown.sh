#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t2750-restart-cooldown: valid restarts come at most every
# restart_min_interval seconds; the requests in between wait and share one
# restart, and every answer says how long it waited.
# shellcheck disable=SC2016 # wait_for evaluates its argument later
. "$(dirname "$0")/lib.sh"

starts() {
	grep -c 'redeployd: start pid=' "$AGENT_ERR" || true
}

cooldown_coalesces() {
	agent_fresh	# the default: restart_min_interval = 1
	agent_switch "$(agent_release 1)"
	agent_start
	agent_wait_state ready
	local before i n pids=() t0 secs
	before=$(starts)
	t0=$(agent_ms)
	# 20 valid restarts in about a second
	for i in $(seq 1 20); do
		AGENT_RESP=$T/r$i agent_curl POST /restart >"$T/code$i" &
		pids+=($!)
		sleep 0.05	# spread the requests over a second, on purpose
	done
	wait "${pids[@]}"
	secs=$(( ($(agent_ms) - t0) / 1000 ))
	for i in $(seq 1 20); do
		[ "$(cat "$T/code$i")" = 200 ] || fail "request $i: $(cat "$T/code$i") $(cat "$T/r$i.body")"
		agent_json min_interval "$T/r$i.body" >/dev/null
		agent_json cooldown_ms "$T/r$i.body" >/dev/null
	done
	n=$(( $(starts) - before ))
	echo "20 requests in $secs s: $n restarts"
	# one a second, and one that was in flight or queued at the end
	if [ "$n" -lt 1 ] || [ "$n" -gt $((secs + 2)) ]; then
		fail "20 requests in $secs s restarted $n times"
	fi
	# some waited for the interval, and said so
	grep -h -o '"cooldown_ms":[0-9]*' "$T"/r*.body | grep -qv '"cooldown_ms":0$' ||
		fail "no answer says it waited: $(cat "$T"/r*.body | head -c 600)"
}

no_cooldown_when_zero() {
	agent_fresh "restart_min_interval = 0"
	agent_switch "$(agent_release 1)"
	agent_start
	agent_wait_state ready
	agent_expect 200 POST /restart
	agent_expect 200 POST /restart
	[ "$(agent_json cooldown_ms)" = 0 ] || fail "waited with 0: $(cat "$T/resp.body")"
}

test_expect "20 valid restarts in a second: a few restarts, all answered" cooldown_coalesces
test_expect "restart_min_interval = 0: no waiting" no_cooldown_when_zero
agent_kill_all
test_done
