#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t2760-startup-checks: a [service] command that cannot run is refused by
# -n and at start, naming the file, instead of an agent that starts and a
# service that never does.
. "$(dirname "$0")/lib.sh"

refused() {	# MESSAGE ARGS...: redeployd ARGS exits 2 saying MESSAGE
	local msg=$1 rc=0
	shift
	timeout 10 "$REDEPLOYD" "$@" -c "$CONFIG" </dev/null >"$T/out" 2>&1 || rc=$?
	[ "$rc" -eq 2 ] || fail "redeployd $* exited $rc: $(cat "$T/out")"
	grep -qF -- "$msg" "$T/out" || fail "no \"$msg\" in: $(cat "$T/out")"
}

command_cannot_run() {
	agent_fresh
	local id
	id=$(agent_release 1 server.py)
	agent_switch "$id"
	chmod 644 "$LIVE/releases/$id/server.py"
	agent_config "command = ./server.py"
	refused "'./server.py' is not an executable file" -n
	refused "'./server.py' is not an executable file" -f
	agent_config "command = exec bin/server --port 1"
	refused "'bin/server' does not exist in $LIVE/current" -n
	agent_config "command = NAME=1 no-such-program-here"
	refused "'no-such-program-here' is not found on the service's PATH" -n
	# what runs is accepted: an interpreter, shell syntax, an executable
	agent_config "command = python3 server.py"
	"$REDEPLOYD" -n -c "$CONFIG" >"$T/out" 2>&1 || fail "python3 server.py: $(cat "$T/out")"
	# shellcheck disable=SC2016 # the shell's $0, not ours
	agent_config 'command = cd . && exec "$0" server.py'
	"$REDEPLOYD" -n -c "$CONFIG" >"$T/out" 2>&1 || fail "shell syntax: $(cat "$T/out")"
	chmod 755 "$LIVE/releases/$id/server.py"
	agent_config "command = ./server.py"
	"$REDEPLOYD" -n -c "$CONFIG" >"$T/out" 2>&1 || fail "executable: $(cat "$T/out")"
}

test_expect "a command that cannot run: refused at -n and at start" command_cannot_run
agent_kill_all
test_done
