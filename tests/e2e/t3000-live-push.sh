#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t3000-live-push: a real push reaches the live site through the hook, a
# real redeployd and a real python3 service (server.py in the pushed tree):
# the new page is served by a new process of the new release; a release
# whose service cannot start is rolled back and marked failed.  The agent
# and the service keep no descriptor of whoever started the agent.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

push_goes_live() {
	live_setup
	agent_start
	agent_wait_state stopped
	live_version 1
	push
	output_has "ready in"
	local id1 pid1 id2 pid2 sha
	id1=$(live_id)
	pid1=$(live_runs "$id1")
	live_serves 1

	live_version 2
	sha=$(git -C "$WORK" rev-parse HEAD)
	push
	id2=$(live_id)
	[ "$id2" != "$id1" ] || fail "current still points at $id1"
	[ "$(live_pushed_id)" = "$id2" ] ||
		fail "the push made '$(live_pushed_id)', current is $id2"
	live_serves 2
	pid2=$(live_runs "$id2")
	[ "$pid2" != "$pid1" ] || fail "the service pid did not change ($pid1)"
	! agent_alive "$pid1" || fail "the old service $pid1 still runs"
	[ "$(live_status commit)" = "$sha" ] ||
		fail "/status commit is not $sha: $(cat "$T/status.json")"
	# the process itself was started for the pushed commit
	[ "$(live_environ "$pid2" REDEPLOY_COMMIT)" = "$sha" ] ||
		fail "REDEPLOY_COMMIT of pid $pid2 is '$(live_environ "$pid2" REDEPLOY_COMMIT)', pushed $sha"
	[ "$(live_environ "$pid2" REDEPLOY_RELEASE)" = "$id2" ] ||
		fail "REDEPLOY_RELEASE of pid $pid2 is '$(live_environ "$pid2" REDEPLOY_RELEASE)'"
	output_has "ready in"
	output_has "(pid $pid2, release $id2)"
	grep -q "ready in [0-9.]* s (pid $pid2, release $id2)" "$T/push.out" ||
		fail "no 'ready in N s (pid $pid2, release $id2)' line: $(cat "$T/push.out")"
	output_lacks "failed"
	grep -qx 'result=deployed' "$LIVE/releases/$id2.meta" ||
		fail "$id2.meta: $(cat "$LIVE/releases/$id2.meta")"
	# the service runs as configured: www-data as root, never root
	if is_root; then
		[ "$(stat -c %U "/proc/$pid2")" = www-data ] ||
			fail "the service runs as $(stat -c %U "/proc/$pid2")"
	fi
}

MSG="version 2 cannot start: missing setting DATABASE_URL $$"

failed_release_rolls_back() {
	live_setup
	agent_start
	live_version 1
	push
	local good pid1 bad out
	good=$(live_id)
	pid1=$(live_runs "$good")
	live_serves 1

	live_broken 2 "$MSG"
	push
	bad=$(live_pushed_id)
	if [ -z "$bad" ] || [ "$bad" = "$good" ]; then
		fail "no new release in the push output: $(cat "$T/push.out")"
	fi
	assert_current "$good"
	live_serves 1
	output_has "failed"
	output_has "$MSG"
	output_has "rolled back"
	output_has "$good"
	output_lacks "ready in"
	# the block names the failed release and says what is served again
	grep -q "release $bad failed" "$T/push.out" ||
		fail "the output does not name release $bad as failed"
	grep -qx 'result=failed' "$LIVE/releases/$bad.meta" ||
		fail "$bad.meta: $(cat "$LIVE/releases/$bad.meta")"
	local pid
	pid=$(live_runs "$good")
	[ "$(live_environ "$pid" REDEPLOY_RELEASE)" = "$good" ] ||
		fail "the service runs release '$(live_environ "$pid" REDEPLOY_RELEASE)'"
	echo "service pid before $pid1, after the rollback $pid"

	out=$("$REDEPLOY" -c "$CONFIG" releases)
	echo "$out"
	printf '%s\n' "$out" | grep -q "^  $bad .* failed " ||
		fail "releases does not mark $bad failed"
	printf '%s\n' "$out" | grep -q "^\* $good .* deployed " ||
		fail "releases does not mark $good current"
	[ "$(printf '%s\n' "$out" | grep -c '^\*')" -eq 1 ] ||
		fail "more than one release is marked current"

	# a later good push deploys normally
	live_version 3
	push
	local third
	third=$(live_id)
	if [ "$third" = "$good" ] || [ "$third" = "$bad" ]; then
		fail "current is $third after a good push"
	fi
	output_has "ready in"
	output_lacks "rolled back"
	live_serves 3
	live_runs "$third" >/dev/null
	assert_deployed HEAD

	# rollback by default goes to the previous good release, not the
	# failed one in between
	expect_exit 0 -c "$CONFIG" rollback
	assert_current "$good"
	live_serves 1
	live_runs "$good" >/dev/null
	grep -qx 'result=failed' "$LIVE/releases/$bad.meta" ||
		fail "the rollback changed $bad.meta: $(cat "$LIVE/releases/$bad.meta")"
}

# Whatever starts the agent (init, an operator's shell) may have more
# descriptors open than 0-2.  Neither the agent (past its privilege drop)
# nor the service it starts may keep them: here a file opened for writing
# before the agent started.
no_inherited_descriptors() {
	live_setup
	exec 9>"$T/starter-fd"
	agent_start
	exec 9>&-
	live_version 1
	push
	local pid p f l leaks=
	pid=$(live_runs "$(live_id)")
	for p in "$AGENT_PID" "$pid"; do
		for f in "/proc/$p/fd/"*; do
			l=$(readlink "$f") || continue
			[ "$l" != "$T/starter-fd" ] ||
				leaks="$leaks pid $p ($(tr '\0' ' ' <"/proc/$p/cmdline")) fd ${f##*/};"
		done
	done
	[ -z "$leaks" ] || fail "descriptors of the agent's starter kept:$leaks"
}

test_expect "push: new page served by a new pid of the pushed commit; 'ready in (pid, release)'" push_goes_live
test_expect "a release that exits at once is rolled back, marked failed, reported; then a good push works" failed_release_rolls_back
test_expect "neither the agent nor the service keeps a descriptor the agent was started with" no_inherited_descriptors
agent_kill_all
test_done
