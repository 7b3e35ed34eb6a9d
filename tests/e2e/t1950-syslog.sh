#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t1950-syslog: each deploy and each refusal is one key=value line in a real
# syslog (rsyslogd with a private config), under the configured tag.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
ns_isolate		# as root: private /etc, /run, /var, /dev, network

TAG=rdtest$$

deploy_is_one_line() {
	local sha line
	setup_repo "syslog_tag = $TAG"
	make_site 1
	GL_USER=alice push
	sha=$(git -C "$REPO" rev-parse master)
	wait_syslog "$TAG\[[0-9]*\]: deploy .*commit=$sha"
	line=$(grep "$TAG\[[0-9]*\]: deploy .*commit=$sha" "$SYSLOG_FILE")
	[ "$(printf '%s\n' "$line" | wc -l)" -eq 1 ] ||
		fail "expected one line, got: $line"
	case "$line" in
	"user.notice ${TAG}["*"]: deploy release=$(basename "$(readlink "$LIVE/current")") commit=$sha ref=refs/heads/master pusher=alice "*" ms="*" result=deployed") ;;
	*) fail "unexpected line: $line" ;;
	esac
}

refusal_is_one_line() {
	local sha
	ln -s /etc/passwd "$WORK/leak"
	git -C "$WORK" add leak
	git -C "$WORK" commit -q -m hostile
	GL_USER=mallory push
	sha=$(git -C "$REPO" rev-parse master)
	wait_syslog "$TAG\[[0-9]*\]: deploy .*commit=$sha"
	grep "commit=$sha" "$SYSLOG_FILE" |
		grep -q "^user.err $TAG\[[0-9]*\]: deploy release=- commit=$sha ref=refs/heads/master pusher=mallory from=[0-9a-f]* to=$sha ms=[0-9]* result=failed reason=\".*leak.*\"$" ||
		fail "no failed line: $(grep "commit=$sha" "$SYSLOG_FILE")"
	[ "$(grep -c "commit=$sha" "$SYSLOG_FILE")" -eq 1 ] ||
		fail "more than one line for the refusal"
}

config_error_is_logged() {
	echo "kep = 2" >>"$CONFIG"
	make_site 2
	push
	wait_syslog "refused reason=\"config: $CONFIG:[0-9]*: unknown key 'kep'"
}

nothing_for_ignored_refs_but_one_line_for_deletion() {
	write_config "syslog_tag = $TAG"
	git -C "$WORK" push -q origin HEAD:refs/heads/other
	git -C "$WORK" push -q origin :refs/heads/other
	! grep -q "refs/heads/other" "$SYSLOG_FILE" ||
		fail "ignored refs were logged: $(grep other "$SYSLOG_FILE")"
}

every_line_parses() {
	# (a config error is logged under "redeploy", which other hooks on
	# the machine may use too: only this test's tag is checked)
	"$TEST_ROOT/tests/kvcheck" "$SYSLOG_FILE" "$TAG"
}

why=$(syslog_unavailable)
if [ -n "$why" ]; then
	test_skip "syslog lines in a real rsyslogd" "$why"
	test_done
fi
start_rsyslog
test_expect "a deploy is one user.notice line with release/commit/pusher/ms/result" deploy_is_one_line
test_expect "a refused deploy is one user.err line with result=failed and the reason" refusal_is_one_line
test_expect "a config error is logged as a refusal naming file:line" config_error_is_logged
test_expect "pushes of other refs add no syslog line" nothing_for_ignored_refs_but_one_line_for_deletion
test_expect "every line of ours parses as strict key=value (tests/kvcheck)" every_line_parses
test_done
