#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t3100-live-agent: a push when the agent cannot restart the service for
# it (stopped, or its token file is wrong, readable by others, or a
# symlink, or it runs another path's release) never leaves the new release live: current goes back (or away,
# with nothing to go back to), and the pusher reads why.  Once the agent is
# back, pushes deploy again.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# The hook's word that no agent answers: "not running" when the token file
# is there but nothing listens (an agent run as root leaves it), "does not
# exist (is redeployd running?)" when the stopped agent removed it (as a
# normal user it can).
agent_down_said() {	# [FILE]
	local f=${1:-$T/push.out}
	grep -qE 'not running|does not exist \(is redeployd running\?\)' "$f" && return 0
	fail "expected the agent to be reported down in $f, which says:
$(sed 's/^/| /' "$f")"
}

# Stop the agent with SIGTERM and wait until it and its service are gone.
stop_agent() {
	local svc
	svc=$(agent_field pid)
	kill -TERM "$AGENT_PID"
	agent_wait_gone "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null || true
	[ "$svc" = null ] || agent_wait_gone "$svc"
	! live_page >/dev/null 2>&1 || fail "the site still answers without its agent"
}

agent_down_rolls_back() {
	live_setup
	agent_start
	live_version 1
	push
	local good bad id
	good=$(live_id)
	live_runs "$good" >/dev/null
	live_serves 1
	stop_agent

	live_version 2
	push
	bad=$(live_pushed_id)
	[ -n "$bad" ] || fail "no release was made: $(cat "$T/push.out")"
	agent_down_said
	# "not running" names the address it tried
	if grep -q 'not running' "$T/push.out"; then
		output_has "127.0.0.1:$AGENT_PORT"
	fi
	output_has "release $bad was not started"
	output_has "rolled back to release $good"
	output_lacks "ready in"
	assert_current "$good"
	# nothing was started: the release is not condemned (t3170)
	! grep -qx 'result=failed' "$LIVE/releases/$bad.meta" ||
		fail "$bad.meta: $(cat "$LIVE/releases/$bad.meta")"

	# by hand the same failure is exit status 1, and says so
	expect_exit 1 -c "$CONFIG" deploy
	agent_down_said "$T/cmd.err"
	assert_current "$good"

	# the agent again: it starts the live release, and a push works
	agent_start
	agent_wait_state ready
	live_runs "$good" >/dev/null
	live_serves 1
	live_version 3
	push
	output_has "ready in"
	output_lacks "failed"
	id=$(live_id)
	[ "$id" != "$good" ] || fail "the push did not go live: $(cat "$T/push.out")"
	live_runs "$id" >/dev/null
	live_serves 3
	assert_deployed HEAD
}

agent_down_first_push() {
	live_setup
	agent_start
	agent_wait_state stopped
	stop_agent
	live_version 1
	push
	local bad id
	bad=$(live_pushed_id)
	[ -n "$bad" ] || fail "no release was made: $(cat "$T/push.out")"
	agent_down_said
	output_has "release $bad was not started"
	output_has "nothing is live"
	output_lacks "ready in"
	if [ -e "$LIVE/current" ] || [ -L "$LIVE/current" ]; then
		fail "current is left: $(ls -l "$LIVE/current")"
	fi
	# nothing was started: the release is not condemned (t3170)
	! grep -qx 'result=failed' "$LIVE/releases/$bad.meta" ||
		fail "$bad.meta: $(cat "$LIVE/releases/$bad.meta")"

	agent_start
	agent_wait_state stopped
	live_version 2
	push
	output_has "ready in"
	id=$(live_id)
	live_runs "$id" >/dev/null
	live_serves 2
	assert_deployed HEAD
}

# After a push that the agent refused (or that the hook refused to send):
# the old release is current and still served by the very same process.
assert_untouched() {	# GOOD-ID PID VERSION
	local bad
	bad=$(live_pushed_id)
	if [ -z "$bad" ] || [ "$bad" = "$1" ]; then
		fail "no new release was made: $(cat "$T/push.out")"
	fi
	output_has "release $bad was not started"
	output_has "rolled back"
	output_lacks "ready in"
	# the agent was not asked to restart anything: the old process still
	# serves the old release, and the pusher must not be told otherwise
	output_lacks "did not start"
	assert_current "$1"
	live_serves "$3"
	[ "$(live_runs "$1")" = "$2" ] ||
		fail "the service was restarted although the agent was not asked"
	# nothing was started: the release is not condemned (t3170)
	! grep -qx 'result=failed' "$LIVE/releases/$bad.meta" ||
		fail "$bad.meta: $(cat "$LIVE/releases/$bad.meta")"
}

bad_token_files() {
	live_setup
	agent_start
	live_version 1
	push
	local good pid mode other
	good=$(live_id)
	pid=$(live_runs "$good")
	mode=$(stat -c '%a %U %G' "$AGENT_TOKEN")
	cp -p "$AGENT_TOKEN" "$T/token.saved"

	# another well-formed token, same file, same mode
	other=$("$AGENT_PY" -c 'import secrets; print(secrets.token_hex(32))')
	printf '%s\n' "$other" >"$AGENT_TOKEN"
	[ "$(stat -c '%a %U %G' "$AGENT_TOKEN")" = "$mode" ] ||
		fail "the token file's mode changed"
	live_version 2
	push
	output_has "refused the token"
	output_has "$AGENT_TOKEN"
	output_lacks "$other"
	assert_untouched "$good" "$pid" 1
	grep -q 'refused .*path=/restart' "$AGENT_ERR" ||
		fail "the agent did not log the refusal: $(tail -n 5 "$AGENT_ERR")"

	# the right token, readable by others
	cat "$T/token.saved" >"$AGENT_TOKEN"
	chmod 0644 "$AGENT_TOKEN"
	live_version 3
	push
	output_has "readable or writable by others"
	output_has "chmod"
	output_has "$AGENT_TOKEN"
	assert_untouched "$good" "$pid" 1

	# the right token behind a symlink
	chmod "${mode%% *}" "$AGENT_TOKEN"
	mv "$AGENT_TOKEN" "$AGENT_TOKEN.real"
	ln -s "$AGENT_TOKEN.real" "$AGENT_TOKEN"
	live_version 4
	push
	output_has "symlink"
	output_has "$AGENT_TOKEN"
	assert_untouched "$good" "$pid" 1

	# the file as the agent wrote it: pushes deploy again
	rm "$AGENT_TOKEN"
	mv "$AGENT_TOKEN.real" "$AGENT_TOKEN"
	[ "$(stat -c '%a %U %G' "$AGENT_TOKEN")" = "$mode" ] ||
		fail "could not restore the token file"
	live_version 5
	push
	output_has "ready in"
	live_runs "$(live_id)" >/dev/null
	live_serves 5
	assert_deployed HEAD
}

# The agent on the configured port supervises another deploy path (a copy
# of this one as it was at version 1): it answers 200, but runs the wrong
# release.  "Switched but still old code" must not pass for a deploy.
agent_of_another_path() {
	live_setup
	agent_start
	live_version 1
	push
	local good bad
	good=$(live_id)
	stop_agent
	cp -a "$LIVE" "$T/other"
	sed "s|^path = .*|path = $T/other|" "$CONFIG" >"$T/other.ini"
	chmod 644 "$T/other.ini"
	at_exit "rm -rf '$T/other'"
	AGENT_CONFIG=$T/other.ini agent_start
	agent_wait_state ready
	live_serves 1

	live_version 2
	push
	bad=$(live_pushed_id)
	[ -n "$bad" ] || fail "no release was made: $(cat "$T/push.out")"
	output_has "release $bad failed"
	output_has "the agent restarted release '$good', not '$bad'"
	output_has "rolled back"
	output_lacks "ready in"
	assert_current "$good"
	grep -qx 'result=failed' "$LIVE/releases/$bad.meta" ||
		fail "$bad.meta: $(cat "$LIVE/releases/$bad.meta")"
	live_serves 1
	agent_kill_all
	rm -rf "$T/other"
}

test_expect "agent stopped: the push rolls back, says 'not running'; by hand exit 1; agent back: push works" agent_down_rolls_back
test_expect "agent stopped before the first push: current removed, 'not running'; agent back: push works" agent_down_first_push
test_expect "wrong token, token readable by others, token symlink: refused, rolled back, service untouched" bad_token_files
test_expect "an agent that runs another path's release: the push is rolled back" agent_of_another_path
agent_kill_all
test_done
