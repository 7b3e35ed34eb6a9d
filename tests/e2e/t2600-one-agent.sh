#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t2600-one-agent: a second redeployd on the same config is refused before
# it touches anything: the first agent keeps its token, its service runs on.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

second_agent_refused() {
	local id svc token err=$T/second.err rc=0
	agent_fresh
	id=$(agent_release 1)
	agent_switch "$id"
	agent_start
	agent_wait_state ready
	svc=$(agent_field pid)
	token=$(sha256sum <"$AGENT_RUN/token")
	timeout 20 "$REDEPLOYD" -f -c "${AGENT_CONFIG:-$CONFIG}" </dev/null \
		>/dev/null 2>"$err" || rc=$?
	[ "$rc" -ne 0 ] || fail "a second agent started"
	grep -q "another redeployd runs with this config" "$err" ||
		fail "no clear refusal: $(cat "$err")"
	[ "$(sha256sum <"$AGENT_RUN/token")" = "$token" ] ||
		fail "the second agent rewrote the token"
	agent_alive "$svc" || fail "the first agent's service $svc was stopped"
	[ "$(agent_field pid)" = "$svc" ] || fail "the service changed"
}

test_expect "a second agent on one config is refused; the first runs on" second_agent_refused
test_done
