#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t3500-live-crash: the hook is killed (SIGKILL, at a step named by the
# testing aid REDEPLOY_TEST_CRASH) after the switch, during the restart
# request, during a rollback and during housekeeping.  `status` and `check`
# show what is wrong, and the next run heals it: each case ends with
# current = the release the service runs = a release that succeeded, the
# next push going through as well.  Some cases restart the agent before
# the next push.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# Push with the hook killed at STEP (git ignores what the hook ends with).
crash_push() {	# STEP
	REDEPLOY_TEST_CRASH=$1 push || true
}

# current = the release the service runs, ready, marked deployed, serving
# version N.
assert_healed() {	# N
	local id
	id=$(live_id) || return 1
	live_runs "$id" >/dev/null || return 1
	grep -qx 'result=deployed' "$LIVE/releases/$id.meta" ||
		fail "current $id is not marked deployed: $(cat "$LIVE/releases/$id.meta")"
	live_serves "$1"
	assert_no_debris
}

agent_restart() {
	agent_kill "$AGENT_PID"
	agent_sweep
	agent_start
}

# v1 live; then v2 pushed with the hook killed at STEP.
crash_scene() {	# STEP [broken]
	live_setup
	agent_start
	agent_wait_state stopped
	live_version 1
	push
	V1=$(live_id)
	live_runs "$V1" >/dev/null
	if [ "${2:-}" = broken ]; then
		live_broken 2 "version 2 cannot start $$"
	else
		live_version 2
	fi
	crash_push "$1"
	wait_unlocked
	V2=$(live_pushed_id)
	if [ -z "$V2" ] || [ "$V2" = "$V1" ]; then
		fail "the killed push made no release: $(cat "$T/push.out")"
	fi
}

killed_after_switch() {
	crash_scene switched
	# the broken state: current moved, the service runs the old release
	assert_current "$V2"
	live_runs "$V1" >/dev/null
	grep -qx 'result=pending' "$LIVE/releases/$V2.meta" ||
		fail "$V2.meta: $(cat "$LIVE/releases/$V2.meta")"
	# status and check say so
	"$REDEPLOY" -c "$CONFIG" status >"$T/status.out" 2>&1 || true
	output_has "warning" "$T/status.out"
	output_has "$V2" "$T/status.out"
	expect_exit 2 -c "$CONFIG" check
	output_has "$V2, marked pending" "$T/cmd.err"
	# a deploy of the same tip finishes the step instead of "already live"
	expect_exit 0 -c "$CONFIG" deploy
	output_has "found release $V2 current but unconfirmed" "$T/cmd.err"
	assert_current "$V2"
	assert_healed 2
	"$REDEPLOY" -c "$CONFIG" check >"$T/check.out" 2>&1 || true
	output_lacks "marked pending" "$T/check.out"
	output_lacks "the service runs" "$T/check.out"
	live_version 3
	push
	output_lacks "found release"
	assert_healed 3
}

killed_during_restart() {
	crash_scene restart
	# the agent restarted into v2 and answered; nobody recorded it
	grep -qx 'result=pending' "$LIVE/releases/$V2.meta" ||
		fail "$V2.meta: $(cat "$LIVE/releases/$V2.meta")"
	live_version 3
	push
	output_has "found release $V2 current but unconfirmed"
	output_has "marking it deployed"
	grep -qx 'result=deployed' "$LIVE/releases/$V2.meta" ||
		fail "$V2.meta: $(cat "$LIVE/releases/$V2.meta")"
	assert_healed 3
}

# The same, killed from outside while the agent is still starting the new
# release (a service that takes a while to listen), the request unanswered.
killed_mid_restart() {
	local pids bg
	live_setup
	agent_start
	live_version 1
	push
	V1=$(live_id)
	live_version 2
	sed -i '1i import time; time.sleep(1.5)' "$WORK/server.py"
	git -C "$WORK" commit -q -a --amend -m "version 2, slow to start"
	git -C "$WORK" push -q origin HEAD:master >"$T/push.out" 2>&1 &
	bg=$!
	wait_for "[ \"\$(agent_field state 2>/dev/null)\" = starting ]" 30
	pids=$(pgrep -f -- "-c $CONFIG hook") || fail "no hook process"
	# shellcheck disable=SC2086 # one or more pids
	kill -9 $pids
	wait "$bg" || true
	wait_unlocked
	V2=$(live_id)
	[ "$V2" != "$V1" ] || fail "the killed push did not switch"
	grep -qx 'result=pending' "$LIVE/releases/$V2.meta" ||
		fail "$V2.meta: $(cat "$LIVE/releases/$V2.meta")"
	agent_wait_state ready 15
	live_version 3
	push
	output_has "found release $V2 current but unconfirmed"
	output_has "marking it deployed"
	assert_healed 3
}

killed_during_rollback() {
	crash_scene rollback broken
	# current stays on the release just marked failed
	assert_current "$V2"
	grep -qx 'result=failed' "$LIVE/releases/$V2.meta" ||
		fail "$V2.meta: $(cat "$LIVE/releases/$V2.meta")"
	# the same tip again: not "already live"; the rollback is finished,
	# then the broken tip is tried once more and rolled back again
	expect_exit 1 -c "$CONFIG" deploy
	output_has "found release $V2 current but marked failed" "$T/cmd.err"
	output_has "switching back to release $V1" "$T/cmd.err"
	output_lacks "already live" "$T/cmd.err"
	assert_current "$V1"
	assert_healed 1
	live_version 3
	push
	assert_healed 3
}

killed_after_switching_back() {
	crash_scene rolled-back broken
	# current is back on v1, the service still tries v2
	assert_current "$V1"
	# the agent's own backoff may already have started current again:
	# either way the next push ends healed
	live_version 3
	push
	assert_healed 3
}

# Kill, restart the agent (it starts whatever current names), then push.
agent_restart_after_switch() {
	crash_scene switched
	agent_restart
	agent_wait_state ready 15
	live_version 3
	push
	output_has "found release $V2 current but unconfirmed"
	assert_healed 3
}

agent_restart_after_rollback_kill() {
	crash_scene rollback broken
	agent_restart
	# it starts the failed release, which keeps failing
	wait_for "[ \"\$(agent_field release 2>/dev/null)\" = '$V2' ]" 15
	live_version 3
	push
	output_has "switching back to release $V1"
	assert_healed 3
}

killed_during_housekeeping() {
	live_setup "keep = 0"
	agent_start
	live_version 1
	push
	live_version 2
	push
	live_version 3
	crash_push housekeeping
	wait_unlocked
	# the push itself went through: the hook's child was killed while
	# pruning the oldest release (what it left is checked below)
	local id
	id=$(live_id) || return 1
	live_runs "$id" >/dev/null || return 1
	grep -qx 'result=deployed' "$LIVE/releases/$id.meta" ||
		fail "current $id is not marked deployed: $(cat "$LIVE/releases/$id.meta")"
	live_serves 3
	# (removing it, or recycling it into the next spare)
	compgen -G "$LIVE/releases/.trash-*" >/dev/null ||
		compgen -G "$LIVE/releases/.incoming-*" >/dev/null ||
		fail "no pruning was under way: $(ls -a "$LIVE/releases")"
	live_version 4
	push
	assert_healed 4
	[ "$(count_releases)" -le 3 ] ||
		fail "$(count_releases) releases left: $(ls "$LIVE/releases")"
}

# A first deploy that never gets ready, the hook killed during its
# rollback: there is nothing to go back to.  The next run (a tag push)
# removes current and stops the service at once: the agent does not go on
# retrying the broken release.
killed_during_first_rollback() {
	live_setup
	agent_start
	agent_wait_state stopped
	live_body 1 >"$WORK/index.html"
	printf 'import time\ntime.sleep(600)  # never listens\n' >"$WORK/server.py"
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m "version 1 (never ready)"
	crash_push rollback
	wait_unlocked
	local bad
	bad=$(live_id) || return 1
	grep -qx 'result=failed' "$LIVE/releases/$bad.meta" ||
		fail "$bad.meta: $(cat "$LIVE/releases/$bad.meta")"
	git -C "$WORK" tag v1
	push refs/tags/v1
	output_has "found release $bad current but marked failed"
	output_has "stopping the service"
	if [ -e "$LIVE/current" ] || [ -L "$LIVE/current" ]; then
		fail "current is left: $(ls -l "$LIVE/current")"
	fi
	# stopped when the hook returns, and nothing of the release runs
	[ "$(agent_field state)" = stopped ] ||
		fail "the agent still runs it: $(cat "$T/status.json")"
	! pgrep -f "$AGENT_PY server.py $LIVE_WEB" >/dev/null ||
		fail "the broken release runs: $(pgrep -fa server.py)"
	live_version 2
	push
	assert_healed 2
}

# A push that deploys nothing (a tag) heals it too.
tag_push_heals() {
	crash_scene switched
	git -C "$WORK" tag v2
	push refs/tags/v2
	output_has "found release $V2 current but unconfirmed"
	assert_current "$V2"
	assert_healed 2
}

test_expect "killed after the switch: status/check show it; deploy restarts into it" killed_after_switch
test_expect "killed after the switch: a tag push heals it" tag_push_heals
test_expect "killed during the restart request: the next push marks it deployed" killed_during_restart
test_expect "killed while the agent starts the new release: the next push marks it deployed" killed_mid_restart
test_expect "killed during a rollback: deploy of the same tip switches back, not 'already live'" killed_during_rollback
test_expect "killed during the rollback of a first deploy: the next run stops it" killed_during_first_rollback
test_expect "killed after switching back: the next push restarts the good release" killed_after_switching_back
test_expect "killed after the switch, agent restarted, then a push" agent_restart_after_switch
test_expect "killed during a rollback, agent restarted, then a push" agent_restart_after_rollback_kill
test_expect "killed during housekeeping: the next push removes what it left" killed_during_housekeeping
agent_kill_all
test_done
