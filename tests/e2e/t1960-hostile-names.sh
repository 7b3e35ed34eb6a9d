#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t1960-hostile-names: names in a pushed tree with '"', '\', '=', spaces,
# newlines and ESC neither forge syslog fields or lines (every line of ours
# parses with the strict tests/kvcheck, no key twice) nor reach the
# pusher's terminal as raw control bytes.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
ns_isolate		# as root: private /etc, /run, /var, /dev, network

TAG=rdnames$$
KVCHECK=$TEST_ROOT/tests/kvcheck
FORGED='x" result=deployed release=20990101T000000Z-fake note="'

# A commit whose tree is the site plus a symlink NAME -> /etc/passwd,
# which fails the deploy with a reason naming NAME.
hostile_link() {	# NAME
	local blob tree base
	blob=$(printf '/etc/passwd' | git -C "$WORK" hash-object -w --stdin)
	base=$(git -C "$WORK" rev-parse 'HEAD^{tree}')
	tree=$( {
		git -C "$WORK" ls-tree -z "$base"
		printf '120000 blob %s\t%s\0' "$blob" "$1"
	} | git -C "$WORK" mktree -z --missing 2>/dev/null) ||
		tree=$(raw_tree 120000 "$1" "$blob")
	git -C "$WORK" reset -q --hard "$(commit_tree "$tree" hostile)"
}

# The reason= of the one failed deploy line for the last pushed commit.
failed_reason() {
	local sha line
	sha=$(git -C "$REPO" rev-parse master)
	wait_syslog "$TAG\[[0-9]*\]: deploy .*commit=$sha" || return 1
	[ "$(grep -c "commit=$sha" "$SYSLOG_FILE")" -eq 1 ] ||
		{ fail "not one line for $sha: $(grep "commit=$sha" "$SYSLOG_FILE")"; return 1; }
	line=$(grep "$TAG\[[0-9]*\]: deploy .*commit=$sha" "$SYSLOG_FILE")
	line=${line#*]: }
	[ "$("$KVCHECK" --field result "$line")" = failed ] ||
		{ fail "result is not failed: $line"; return 1; }
	[ "$("$KVCHECK" --field release "$line")" = - ] ||
		{ fail "release is not -: $line"; return 1; }
	"$KVCHECK" --field reason "$line"
}

no_raw_control_bytes() {	# FILE
	if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$1"; then
		fail "raw control bytes in $1: $(od -c "$1" | head -20)"
	fi
}

forged_fields_are_one_value() {
	new_repo "syslog_tag = $TAG"
	make_site 1
	push
	hostile_link "$FORGED"
	GL_USER=mallory push
	output_has "deploy failed:"
	local reason
	reason=$(failed_reason)
	case "$reason" in
	*"$FORGED"*) ;;
	*) fail "the reason does not name the link as it is: $reason" ;;
	esac
	! grep -q "release=20990101T000000Z-fake" "$SYSLOG_FILE" ||
		grep "20990101T000000Z-fake" "$SYSLOG_FILE" | grep -q 'reason="' ||
		fail "a forged release= field"
	"$KVCHECK" "$SYSLOG_FILE" "$TAG"
}

each_hostile_character() {
	local name c i=0
	new_repo "syslog_tag = $TAG"
	make_site 1
	push
	for c in '"' "\\" '=' ' ' $'\n' $'\e[2J\e]0;pwned\a' $'\r' $'\t'; do
		i=$((i + 1))
		name="n$i${c}x${c}"
		hostile_link "$name"
		push +HEAD:master
		no_raw_control_bytes "$T/push.out"
		output_has "deploy failed:"
		[ "$(grep -c "deploy failed" "$T/push.out")" -eq 1 ] ||
			fail "the failure is not one line: $(cat -A "$T/push.out")"
		case "$(failed_reason)" in
		*"$name"*) ;;
		*) fail "reason does not hold name $i exactly" ;;
		esac
		git -C "$WORK" reset -q --hard HEAD^
	done
	# a newline and ESC are shown to the pusher, visibly
	hostile_link $'n\nx\e[31m'
	push +HEAD:master
	output_has 'n\nx\x1b[31m'
	"$KVCHECK" "$SYSLOG_FILE" "$TAG"
}

hostile_files_deploy() {
	# plain files with such names deploy; their names are only in messages
	local c i=0
	new_repo "syslog_tag = $TAG"
	make_site 1
	push
	for c in '"' "\\" '=' ' ' $'\n' $'\e' ; do
		i=$((i + 1))
		printf 'file %s\n' "$i" >"$WORK/f$i${c}x"
	done
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m "hostile names, all files"
	GL_USER=alice push
	[ "$(live_commit)" = "$(git -C "$REPO" rev-parse master)" ] ||
		fail "not deployed: $(cat "$T/push.out")"
	if [ ! -f "$LIVE/current/f5"$'\n'"x" ] || [ ! -f "$LIVE/current/f1\"x" ]; then
		fail "the files are not there: $(ls "$LIVE/current")"
	fi
	no_raw_control_bytes "$T/push.out"
	"$KVCHECK" "$SYSLOG_FILE" "$TAG"
}

terminal_sees_no_raw_bytes() {
	# without syslog too: what the pusher reads has no raw control byte
	new_repo
	make_site 1
	push
	hostile_link $'evil\e]2;title\a\nredeploy: release 2099 live'
	push
	output_has "deploy failed:"
	no_raw_control_bytes "$T/push.out"
	output_has '\x1b]2;title\x07\nredeploy: release 2099 live'
	[ "$(grep -c '^remote: redeploy: release 2099' "$T/push.out")" -eq 0 ] ||
		fail "a forged line reached the pusher"
}

test_expect "the pusher's terminal gets control bytes made visible" terminal_sees_no_raw_bytes
why=$(syslog_unavailable)
if [ -n "$why" ]; then
	test_skip "hostile names in a real rsyslogd" "$why"
	test_done
fi
start_rsyslog
test_expect "a link named to forge result=/release= is one quoted reason" forged_fields_are_one_value
test_expect "each of \" \\ = space newline ESC CR TAB stays inside one value" each_hostile_character
test_expect "files with such names deploy and every line parses" hostile_files_deploy
test_done
