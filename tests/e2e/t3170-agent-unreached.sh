#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t3170-agent-unreached: an agent that cannot be reached restarted nothing,
# so it condemns no release: a push or a rollback goes back to what was
# live, and the release stays a rollback target, its reason kept.  A
# release that really failed is marked failed, and `redeploy releases`
# says why; in pre-receive mode the push is refused.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

agent_down_condemns_nothing() {
	local r1 r2 r3
	live_setup
	agent_start
	live_version 1
	push
	r1=$(live_id)
	live_version 2
	push
	r2=$(live_id)
	live_serves 2
	agent_kill "$AGENT_PID"
	# a rollback with the agent gone: back to r2, r1 still good
	expect_exit 1 -c "$CONFIG" rollback
	assert_current "$r2"
	grep -qx 'result=deployed' "$LIVE/releases/$r1.meta" ||
		fail "r1 was condemned: $(cat "$LIVE/releases/$r1.meta")"
	grep -q '^reason=not started: ' "$LIVE/releases/$r1.meta" ||
		fail "no reason for r1: $(cat "$LIVE/releases/$r1.meta")"
	# a push with the agent gone: not started, not failed
	live_version 3
	push
	r3=$(live_pushed_id)
	output_has "release $r3 was not started"
	output_has "the service was not restarted"
	assert_current "$r2"
	# never started: pending (not yet proven), never failed
	! grep -qx 'result=failed' "$LIVE/releases/$r3.meta" ||
		fail "r3 was condemned: $(cat "$LIVE/releases/$r3.meta")"
	expect_exit 0 -c "$CONFIG" releases
	grep -E "^  $r3 .* (deployed|pending) .*not started: " "$T/cmd.out" ||
		fail "releases does not say why: $(cat "$T/cmd.out")"
	# the agent is back: rollback to r1 works, r1 never lost its standing
	agent_start
	agent_wait_state ready
	expect_exit 0 -c "$CONFIG" rollback "$r1"
	assert_current "$r1"
	live_serves 1
	grep -q '^reason=' "$LIVE/releases/$r1.meta" &&
		fail "r1 kept an old reason: $(cat "$LIVE/releases/$r1.meta")"
	return 0
}

failed_release_says_why() {
	local bad
	live_setup
	agent_start
	live_version 1
	push
	live_broken 2 "no DATABASE_URL"
	push
	bad=$(live_pushed_id)
	grep -qx 'result=failed' "$LIVE/releases/$bad.meta" ||
		fail "not marked failed: $(cat "$LIVE/releases/$bad.meta")"
	expect_exit 0 -c "$CONFIG" releases
	grep -E "^  $bad .* failed .* exited" "$T/cmd.out" ||
		fail "releases does not say why $bad failed: $(cat "$T/cmd.out")"
}

pre_receive_refuses_broken() {
	local id before
	live_setup
	"$REDEPLOY" install-hook --pre-receive -c "$CONFIG" "$REPO" >/dev/null 2>&1
	agent_start
	live_version 1
	push || fail "first push failed: $(cat "$T/push.out")"
	live_serves 1
	id=$(live_id)
	before=$(git -C "$REPO" rev-parse master)
	live_broken 2 "no DATABASE_URL"
	! push || fail "a release that did not start was accepted"
	output_has "the service's last lines:"
	output_has "no DATABASE_URL"
	output_has "! [remote rejected] HEAD -> master (pre-receive hook declined)"
	[ "$(git -C "$REPO" rev-parse master)" = "$before" ] || fail "the branch moved"
	# shellcheck disable=SC2016 # expanded by wait_for
	wait_for '[ -z "$(pgrep -f -- "-c $CONFIG hook")" ]' 30
	assert_current "$id"
	live_serves 1
}

test_expect "an unreachable agent condemns no release, in a push or a rollback" agent_down_condemns_nothing
test_expect "a release that failed is marked so, and releases says why" failed_release_says_why
test_expect "pre-receive: a release that does not start refuses the push" pre_receive_refuses_broken
test_done
