#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t3400-live-syslog: a push to live leaves its trail in a real syslog
# (rsyslogd with a private config): the hook's deploy line under
# syslog_tag, the agent's restart/start/ready lines, the service's own
# output under log_tag, and result=rolled-back (with the agent's exit line
# and the service's last words) for a release that failed.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
ns_isolate		# as root: private /etc, /run, /var, /dev, network

TAG=rdlive$$

# The lines of the captured syslog that match PATTERN, or fail.
syslog_has() {	# PATTERN
	wait_syslog "$1" || {
		echo "the syslog says:"
		sed 's/^/| /' "$SYSLOG_FILE"
		return 1
	}
}

push_is_logged() {
	live_setup "syslog_tag = $TAG"
	agent_start
	live_version 1
	GL_USER=alice push
	output_has "ready in"
	local id sha pid
	id=$(live_id)
	sha=$(git -C "$REPO" rev-parse master)
	pid=$(live_runs "$id")
	syslog_has "^user.notice $TAG\[[0-9]*\]: deploy release=$id commit=$sha .*pusher=alice .*ms=[0-9]* result=deployed$"
	[ "$(grep -c "$TAG\[[0-9]*\]: deploy .*commit=$sha" "$SYSLOG_FILE")" -eq 1 ] ||
		fail "not one deploy line: $(grep "commit=$sha" "$SYSLOG_FILE")"
	syslog_has "redeployd\[$AGENT_PID\]: restart requested"
	syslog_has "redeployd\[$AGENT_PID\]: start pid=$pid release=$id commit=$sha"
	syslog_has "redeployd\[$AGENT_PID\]: ready pid=$pid release=$id commit=$sha ready_ms=[0-9]*"
	# what the service itself says, under log_tag
	syslog_has "$AGENT_TAG\[$pid\]: serving release $id"
	# the token is in no line
	! grep -qF "$(cat "$AGENT_TOKEN")" "$SYSLOG_FILE" ||
		fail "the token is in the syslog"
}

failed_push_is_logged() {
	live_setup "syslog_tag = $TAG"
	agent_start
	live_version 1
	push
	local good bad sha msg="cannot start: no DATABASE_URL ($$)"
	good=$(live_id)
	live_broken 2 "$msg"
	GL_USER=bob push
	bad=$(live_pushed_id)
	sha=$(git -C "$REPO" rev-parse master)
	assert_current "$good"
	output_has "rolled back"
	syslog_has "^user.err $TAG\[[0-9]*\]: deploy release=$bad commit=$sha .*pusher=bob .*ms=[0-9]* result=rolled-back reason=\".*\"$"
	! grep -q "$TAG\[[0-9]*\]: deploy release=$bad .*result=deployed" "$SYSLOG_FILE" ||
		fail "the failed release was also logged as deployed"
	syslog_has "redeployd\[$AGENT_PID\]: exit pid=[0-9]* exit=1 .*release=$bad"
	syslog_has "$AGENT_TAG\[[0-9]*\]: .*$msg"
	# and the rollback's restart
	syslog_has "redeployd\[$AGENT_PID\]: ready pid=[0-9]* release=$good "
}

every_line_parses() {
	# other agents on the machine may log under redeployd too: ours only
	local pid specs=("$TAG")
	while read -r pid; do
		specs+=("redeployd[$pid]")
	done <"$T/agent.pids"
	"$TEST_ROOT/tests/kvcheck" "$SYSLOG_FILE" "${specs[@]}"
}

why=$(syslog_unavailable)
if [ -n "$why" ]; then
	test_skip "a push to live in a real rsyslogd" "$why"
	test_done
fi
start_rsyslog
test_expect "a push: deploy line (release, commit, pusher, ms, result=deployed), agent's restart/start/ready" push_is_logged
test_expect "a failed push: result=rolled-back with the reason, the agent's exit line, the service's words" failed_push_is_logged
agent_kill_all
test_expect "every line of the hook and the agent parses as strict key=value" every_line_parses
test_done
