#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t1400-kill: a killed deploy leaves current as it was; the next deploy
# succeeds and removes the debris, without following a symlink in it.
. "$(dirname "$0")/lib.sh"

# A commit with 3000 more files, so that checking it out takes a while.
make_big() {
	mkdir -p "$WORK"/big/{01..30}
	awk -v dir="$WORK/big" 'BEGIN {
		for (d = 1; d <= 30; d++)
			for (f = 1; f <= 100; f++) {
				p = sprintf("%s/%02d/%03d.txt", dir, d, f)
				printf "file %02d/%03d\n", d, f >p
				close(p)
			}
	}'
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m big
}

# The pids of the hook processes of this script's repository.
hook_pids() {
	pgrep -f -- "-c $CONFIG hook"
}

push_bg() {	# FILE
	timeout -k 5 120 git -C "$WORK" push -q origin HEAD:refs/heads/master \
		>"$1" 2>&1 &
	bg_pid=$!
}

incoming() {
	compgen -G "$LIVE/releases/.incoming-*" >/dev/null
}

kill_mid_checkout() {
	local id v1 pids
	new_repo
	make_site 1
	push
	id=$(live_id)
	v1=$(git -C "$WORK" rev-parse HEAD)
	make_big
	push_bg "$T/push.big"
	# find the hook first, so that it can be stopped as soon as its
	# work in progress appears
	# shellcheck disable=SC2016 # expanded by wait_for
	wait_for 'pids=$(hook_pids)' 60
	wait_for incoming 60
	# shellcheck disable=SC2086 # one or more pids
	kill -STOP $pids
	if ! incoming; then
		# shellcheck disable=SC2086
		kill -9 $pids
		fail "the deploy finished its checkout before it was stopped;" \
			"make the tree in make_big bigger"
	fi
	# stopped inside the checkout: current has not moved
	assert_current "$id"
	# shellcheck disable=SC2086
	kill -9 $pids
	wait "$bg_pid" || true
	wait_unlocked
	assert_current "$id"
	assert_deployed "$v1"
	[ "$(count_releases)" -eq 1 ] ||
		fail "$(count_releases) release directories, expected 1"
	# the next deploy goes through and leaves nothing behind (a small
	# tree again: assert_deployed checks every file)
	git -C "$WORK" rm -rq big
	make_site 2
	push
	output_lacks "deploy failed"
	assert_deployed HEAD
	assert_no_debris
	[ "$(count_releases)" -eq 2 ] ||
		fail "$(count_releases) release directories, expected 2"
}
test_expect "kill -9 mid-checkout: current unchanged; next push deploys, no debris" kill_mid_checkout

kill_waiting() {
	local id v1 pids
	new_repo
	make_site 1
	push
	id=$(live_id)
	v1=$(git -C "$WORK" rev-parse HEAD)
	hold_lock
	make_site 2
	push_bg "$T/push.wait"
	wait_for "grep -qF 'waiting for' '$T/push.wait'" 30
	pids=$(hook_pids) || fail "no hook process matches '-c $CONFIG hook'"
	# shellcheck disable=SC2086
	kill -9 $pids
	wait "$bg_pid" || true
	release_lock
	wait_unlocked
	assert_current "$id"
	assert_deployed "$v1"
	assert_no_debris
	make_site 3
	push
	assert_deployed HEAD
}
test_expect "kill -9 of a hook waiting for the lock: no harm, next push deploys" kill_waiting

# Debris as a killed deploy could leave it, with symlinks planted in it by
# whoever can write there: the next deploy removes the links, not what they
# point at.
planted_debris() {
	local scratch before after
	new_repo
	make_site 1
	push
	scratch=$T/scratch
	mkdir -p "$scratch/dir"
	echo precious >"$scratch/keep"
	echo precious >"$scratch/dir/keep"
	chmod 700 "$scratch/dir"
	before=$(find "$scratch" -printf '%p %m %U:%G %s\n' | sort)
	ln -s "$scratch" "$LIVE/releases/.incoming-evil"
	mkdir -p "$LIVE/releases/.incoming-abc123/sub"
	ln -s "$scratch" "$LIVE/releases/.incoming-abc123/link"
	ln -s "$scratch/dir" "$LIVE/releases/.incoming-abc123/sub/dirlink"
	ln -s "$scratch/keep" "$LIVE/releases/.incoming-abc123/sub/filelink"
	echo junk >"$LIVE/releases/.incoming-abc123/sub/file"
	make_site 2
	push
	output_lacks "deploy failed"
	assert_deployed HEAD
	after=$(find "$scratch" -printf '%p %m %U:%G %s\n' | sort)
	[ "$before" = "$after" ] ||
		fail "a symlink in the debris was followed; before:
$before
after:
$after"
	if [ -e "$LIVE/releases/.incoming-evil" ] ||
	    [ -L "$LIVE/releases/.incoming-evil" ]; then
		fail "the .incoming-evil link was left"
	fi
	assert_no_debris
}
test_expect "debris with planted symlinks is removed without following them" planted_debris

# releases/ belongs to the deploying user: a symlink planted there under
# the name of the live release's spare copy must not become the place the
# next release is written to.
planted_spare() {
	local scratch before after id
	new_repo
	make_site 1
	push
	id=$(live_id)
	scratch=$T/scratch
	rm -rf "$scratch"
	mkdir -p "$scratch/dir"
	echo precious >"$scratch/dir/keep"
	before=$(find "$scratch" -printf '%p %m %U:%G %s\n' | sort)
	rm -rf "$LIVE/releases/.spare-$id"
	ln -s "$scratch/dir" "$LIVE/releases/.spare-$id"
	make_site 2
	push
	after=$(find "$scratch" -printf '%p %m %U:%G %s\n' | sort)
	[ "$before" = "$after" ] || fail "the planted .spare-$id link was followed; before:
$before
after:
$after
the push said: $(cat "$T/push.out")"
	if [ "$(live_id)" != "$id" ]; then
		assert_deployed HEAD
		case "$(readlink -f "$LIVE/current")" in
		"$scratch"*) fail "current leads into the planted target" ;;
		esac
	fi
}
test_expect "a symlink planted as the live release's spare is not followed" planted_spare

# A static site (no agent): killed between the switch and marking the
# release deployed, the next run marks it and says so; the tip is then
# live, not deployed a second time.
killed_after_switch_static() {
	local id
	new_repo
	make_site 1
	push
	make_site 2
	REDEPLOY_TEST_CRASH=switched push || true
	wait_unlocked
	id=$(live_id)
	grep -qx 'result=pending' "$LIVE/releases/$id.meta" ||
		fail "$id.meta: $(cat "$LIVE/releases/$id.meta")"
	expect_exit 2 -c "$CONFIG" check
	output_has "$id, marked pending" "$T/cmd.err"
	expect_exit 0 -c "$CONFIG" deploy
	output_has "found release $id current but unconfirmed (an interrupted deploy): marking it deployed" "$T/cmd.err"
	output_has "already live" "$T/cmd.err"
	assert_current "$id"
	assert_release_complete "$id"
	assert_deployed HEAD
	assert_no_debris
}
test_expect "static site killed after the switch: the next run marks it deployed" killed_after_switch_static

test_done
