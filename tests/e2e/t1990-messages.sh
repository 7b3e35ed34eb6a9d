#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t1990-messages: the messages a new user tripped on say what to do: a
# missing config names -c and REDEPLOY_CONFIG; rollback with no releases
# names releases/; `redeployd -c` without a file says so; `redeployd -n`
# refuses a missing token directory; root without [service] user names the
# file; install-gitolite-hook run by a user defaults to that user; the
# demo writes no colour codes into a file; counts and exits read well.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

no_config_hints() {
	local c
	for c in releases check status deploy; do
		expect_exit 2 -c "$T/nowhere.ini" "$c"
		output_has "$T/nowhere.ini: cannot open: No such file or directory (name the config with -c FILE or REDEPLOY_CONFIG=FILE; see redeploy.ini(5))" "$T/cmd.err"
	done
	"$REDEPLOYD" -n -c "$T/nowhere.ini" >"$T/d.out" 2>&1 && fail "redeployd passed"
	output_has "(name the config with -c FILE or REDEPLOY_CONFIG=FILE" "$T/d.out"
}

rollback_without_releases() {
	new_repo
	expect_exit 1 rollback -c "$CONFIG"
	output_has "no releases in '$LIVE/releases' yet: nothing to roll back to (deploy first)" "$T/cmd.err"
}

agent_options() {
	local rc=0
	"$REDEPLOYD" -c >"$T/d.out" 2>&1 || rc=$?
	[ "$rc" -eq 2 ] || fail "redeployd -c exited $rc"
	output_has "redeployd: option '-c' needs a config file (redeployd -c FILE)" "$T/d.out"
	output_lacks "unknown option" "$T/d.out"
}

agent_check_token_dir() {
	cat >"$T/agent.ini" <<EOF
[deploy]
path = $T
[agent]
listen = 127.0.0.1:0
token_file = $T/nodir/token
[service]
command = true
EOF
	is_root && echo "user = nobody" >>"$T/agent.ini"
	local rc=0
	"$REDEPLOYD" -n -c "$T/agent.ini" >"$T/d.out" 2>&1 || rc=$?
	[ "$rc" -eq 2 ] || fail "redeployd -n exited $rc: $(cat "$T/d.out")"
	output_has "token directory '$T/nodir' does not exist" "$T/d.out"
	output_lacks "configuration OK" "$T/d.out"
}

root_needs_user_names_file() {
	is_root || { echo "needs root"; return 0; }
	mkdir -p "$T/run"
	cat >"$T/agent.ini" <<EOF
[deploy]
path = $T
[agent]
listen = 127.0.0.1:0
token_file = $T/run/token
[service]
command = true
EOF
	"$REDEPLOYD" -n -c "$T/agent.ini" >"$T/d.out" 2>&1 && fail "passed"
	output_has "$T/agent.ini: [service] user is required when redeployd starts as root" "$T/d.out"
}

gitolite_user_defaults_to_caller() {
	is_root || { echo "needs root"; return 0; }
	command -v setpriv >/dev/null || { echo "needs setpriv"; return 0; }
	echo "[deploy]" >"$T/site.ini"
	chmod 711 "$T"
	chmod 644 "$T/site.ini"
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env REDEPLOY="$REDEPLOY" \
		"$TEST_ROOT/scripts/install-gitolite-hook" --dry-run thesite \
		"$T/site.ini" >"$T/g.out" 2>&1 || true
	output_lacks "gitolite3" "$T/g.out"
	output_has "nobody" "$T/g.out"
}

demo_writes_plain_text() {
	local rc=0
	# its scratch directory (kept for the user to look at) goes in ours
	TMPDIR=$T REDEPLOYD=$REDEPLOYD TERM=xterm "$TEST_ROOT/scripts/demo" \
		>"$T/demo.out" 2>&1 || rc=$?
	[ "$rc" -eq 0 ] || fail "the demo failed: $(tail -20 "$T/demo.out")"
	grep -qF "done: everything is in $T/redeploy-demo." "$T/demo.out" ||
		fail "the demo's directory is not under $T: $(tail -1 "$T/demo.out")"
	output_has "== push version 1" "$T/demo.out" ||
		output_has "== " "$T/demo.out"
	if LC_ALL=C grep -q $'\e' "$T/demo.out"; then
		fail "colour codes in the file: $(grep -c $'\e' "$T/demo.out") lines"
	fi
}

one_file_not_files() {
	new_repo
	echo "<h1>one</h1>" >"$WORK/index.html"
	git -C "$WORK" add index.html
	git -C "$WORK" commit -q -m one
	push
	output_has "live: 1 file (1 written, 0 reused)"
	output_lacks "1 files"
}

exit_by_signal_reads_well() {
	live_setup
	agent_start
	live_version 1
	push
	output_has "ready in"
	local pid
	pid=$(live_status pid)
	kill -KILL "$pid"
	# shellcheck disable=SC2016 # wait_for evaluates it
	wait_for '[ "$(agent_field pid)" != "$pid" ] && [ "$(agent_field state)" = ready ]'
	expect_exit 0 -c "$CONFIG" status
	output_has "last exit: signal 9 (Killed)" "$T/cmd.out"
	output_lacks "code -1" "$T/cmd.out"
}

test_expect "no config: every command hints at -c and REDEPLOY_CONFIG" no_config_hints
test_expect "rollback with no releases names releases/" rollback_without_releases
test_expect "redeployd -c without a file says so" agent_options
test_expect "redeployd -n refuses a missing token directory" agent_check_token_dir
test_expect "redeployd as root without [service] user names the file" root_needs_user_names_file
test_expect "install-gitolite-hook run by a user defaults --gitolite-user to it" gitolite_user_defaults_to_caller
test_expect "the demo writes no colour codes into a file" demo_writes_plain_text
test_expect "one file is '1 file'" one_file_not_files
test_expect "an exit by signal is 'signal 9 (Killed)', not 'code -1'" exit_by_signal_reads_well
agent_kill_all
test_done
