#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t1980-unsafe-setups: the hook refuses, and `check` explains in the same
# one line, setups where someone else could change what goes live: a
# directory from / to the deploy path or releases/ writable by others or
# owned by the service user, a
# repository owned by another user (git's safe.directory rule, opt-in
# allow_other_owner), a `current` that is a directory or a file (refused
# before anything is built, never replaced).  Verdicts: a rollback removes
# the spare of the release it left; a typo in [deploy] branch fails check
# naming the branches; numeric ids are users; shared paths end up
# writable by the service for a hook that is not root (INSTALL's setup:
# the hook's user in the service's group), or the deploy says what to run.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# Fail unless the last push and `redeploy check` both refused with LINE.
refused_by_both() {	# LINE
	output_has "$1"
	expect_exit 2 check -c "$CONFIG"
	output_has "$1" "$T/cmd.err"
}

world_writable_releases() {
	local id
	new_repo
	make_site 1
	push
	id=$(live_id)
	chmod o+w "$LIVE/releases"
	make_site 2
	push
	refused_by_both "'$LIVE/releases' is writable by everyone, who could replace what deploys below it (chmod o-w '$LIVE/releases')"
	assert_current "$id"
	chmod o-w "$LIVE/releases"
	redeploy deploy -c "$CONFIG" 2>/dev/null
	assert_deployed HEAD
}

writable_parent() {
	local id
	new_repo
	make_site 1
	push
	id=$(live_id)
	chmod g+w "$T"
	at_exit "chmod g-w '$T'"
	make_site 2
	push
	refused_by_both "'$T' is writable by its group, who could replace what deploys below it (chmod g-w '$T')"
	assert_current "$id"
	chmod g-w "$T"
	# a sticky world-writable directory (/tmp) is fine: ours below it
	redeploy deploy -c "$CONFIG" 2>/dev/null
	assert_deployed HEAD
}

other_owner_of_path() {
	is_root || { echo "needs root"; return 0; }
	new_repo
	# the service's user named (nothing listens: no deploy gets that far)
	printf '[agent]\nlisten = 127.0.0.1:9\ntoken_file = %s/run/token\n[service]\ncommand = true\nuser = www-data\n' "$T" >>"$CONFIG"
	make_site 1
	chown www-data "$LIVE"
	push
	refused_by_both "'$LIVE' is owned by the service user 'www-data', who could replace what deploys below it (chown nobody '$LIVE')"
	chown root "$LIVE"
	expect_exit 2 check -c "$CONFIG"
	output_lacks "is owned by the service user" "$T/cmd.err"
}

repository_of_another_user() {
	is_root || { echo "needs root"; return 0; }
	new_repo
	make_site 1
	push
	rm -rf "$LIVE"
	mkdir "$LIVE"
	chown -R nobody "$REPO"
	at_exit "chown -R root '$REPO'"
	expect_exit 2 deploy -c "$CONFIG"
	output_has "repository '$REPO' is owned by nobody, not by root who runs this: deploy as nobody, or set allow_other_owner = yes in [deploy] of '$CONFIG' if that is intended (as git's safe.directory)" "$T/cmd.err"
	[ ! -e "$LIVE/current" ] || fail "it deployed"
	expect_exit 2 check -c "$CONFIG"
	output_has "repository '$REPO' is owned by nobody" "$T/cmd.err"
	write_config "allow_other_owner = yes"
	expect_exit 0 deploy -c "$CONFIG"
	chown -R root "$REPO"	# git itself refuses to read it otherwise
	assert_deployed master
}

current_is_a_directory() {
	local n
	new_repo
	make_site 1
	mkdir "$LIVE/current"
	echo "hand made" >"$LIVE/current/index.html"
	push
	refused_by_both "'$LIVE/current' is a directory, not a symlink: redeploy replaces only its own link (move it away once: mv '$LIVE/current' '$LIVE/current.old')"
	n=$(find "$LIVE/releases" -mindepth 1 -maxdepth 1 ! -name '.*' | wc -l)
	[ "$n" -eq 0 ] || fail "a release was built for it: $(ls -a "$LIVE/releases")"
	grep -q "hand made" "$LIVE/current/index.html" || fail "current changed"
	mv "$LIVE/current" "$LIVE/current.old"
	redeploy deploy -c "$CONFIG" 2>/dev/null
	assert_deployed HEAD
}

current_is_a_file() {
	new_repo
	make_site 1
	echo "not a link" >"$LIVE/current"
	push
	refused_by_both "'$LIVE/current' is a regular file, not a symlink"
	if [ -L "$LIVE/current" ] || [ ! -f "$LIVE/current" ]; then
		fail "current was replaced"
	fi
	[ "$(cat "$LIVE/current")" = "not a link" ] || fail "current changed"
	[ "$(find "$LIVE/releases" -name '*.meta' | wc -l)" -eq 0 ] ||
		fail "a release was built for it"
}

rollback_removes_the_spare_it_left() {
	local r1 r2
	new_repo
	make_site 1
	push
	r1=$(live_id)
	make_site 2
	push
	r2=$(live_id)
	wait_unlocked
	[ -d "$LIVE/releases/.spare-$r2" ] || fail "no spare of $r2 to begin with"
	redeploy rollback -c "$CONFIG" >/dev/null
	assert_current "$r1"
	[ ! -e "$LIVE/releases/.spare-$r2" ] ||
		fail "the spare of $r2 stayed after the rollback"
	assert_no_debris
}

branch_typo() {
	new_repo
	sed -i 's/^branch = master$/branch = mastre/' "$CONFIG"
	make_site 1
	push
	output_has "ignoring refs/heads/master: only branch 'mastre' deploys, and this repository has no such branch (it has 'master'; fix [deploy] branch in '$CONFIG')"
	expect_exit 2 check -c "$CONFIG"
	output_has "[deploy] branch 'mastre' does not exist in '$REPO', which has 'master' (fix branch in '$CONFIG')" "$T/cmd.err"
	# the right branch, another pushed: says which branch deploys
	write_config
	git -C "$WORK" push -q origin HEAD:refs/heads/other >"$T/push.out" 2>&1
	output_has "ignoring refs/heads/other: only branch 'master' deploys ([deploy] branch in '$CONFIG')"
	# the same with every ref packed (git gc): found in packed-refs, and a
	# typo is still told apart
	git --git-dir="$REPO" pack-refs --all
	[ ! -e "$REPO/refs/heads/master" ] || fail "master was not packed"
	git -C "$WORK" push -q origin HEAD:refs/heads/other2 >"$T/push.out" 2>&1
	output_has "ignoring refs/heads/other2: only branch 'master' deploys ([deploy] branch in '$CONFIG')"
	git --git-dir="$REPO" pack-refs --all
	sed -i 's/^branch = master$/branch = mastre/' "$CONFIG"
	git -C "$WORK" push -q origin HEAD:refs/heads/other3 >"$T/push.out" 2>&1
	output_has "ignoring refs/heads/other3: only branch 'mastre' deploys, and this repository has no such branch"
}

numeric_ids() {
	is_root || { echo "needs root"; return 0; }
	local nobody
	nobody=$(id -u nobody)
	new_repo "owner = $nobody" "group = $(id -g nobody)"
	make_site 1
	push
	assert_deployed HEAD
	[ "$(stat -c %U "$LIVE/current/index.html")" = nobody ] ||
		fail "not owned by nobody: $(stat -c %U "$LIVE/current/index.html")"
	mkdir -p "$T/run"
	cat >"$T/agent.ini" <<EOF
[deploy]
path = $LIVE
[agent]
listen = 127.0.0.1:0
token_file = $T/run/token
[service]
command = true
user = $(id -u www-data)
group = $(id -g www-data)
EOF
	"$REDEPLOYD" -n -c "$T/agent.ini" >"$T/n.out" 2>&1 ||
		fail "redeployd -n refused user = $(id -u www-data): $(cat "$T/n.out")"
	output_has "configuration OK" "$T/n.out"
}

# INSTALL's setup: the hook runs as its own user (here nobody), which is
# in the service's group (www-data): shared paths become nobody:www-data
# 2775 and the service writes there.  Without the group the deploy and
# check say what to run.
shared_for_a_hook_not_root() {
	is_root || { echo "needs root"; return 0; }
	command -v setpriv >/dev/null || { echo "needs setpriv"; return 0; }
	local as_hook
	rm -rf "$LIVE" "$REPO" "$WORK"
	setup_repo "shared = cache uploads" "owner = nobody"
	# INSTALL's sections; nothing listens there: the restart fails,
	# after the shared paths were made
	printf '[agent]\nlisten = 127.0.0.1:9\ntoken_file = %s/run/token\n[service]\ncommand = true\nuser = www-data\ngroup = www-data\n' "$T" >>"$CONFIG"
	chmod 711 "$T"
	chmod 644 "$CONFIG"
	make_site 1
	git -C "$WORK" push -q origin HEAD:master >/dev/null 2>&1 || true
	chown -R nobody:nogroup "$REPO" "$LIVE"
	rm -rf "${LIVE:?}"/* "$LIVE/.lock"
	# without the group: refused, with the command
	as_hook=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
	"${as_hook[@]}" "$REDEPLOY" deploy -c "$CONFIG" >"$T/cmd.out" 2>"$T/cmd.err" &&
		fail "deployed without the group: $(cat "$T/cmd.err")"
	output_has "shared paths must be writable by the service user 'www-data', but nobody is not in its group 'www-data' and cannot give them to it (as root: adduser nobody www-data)" "$T/cmd.err"
	"${as_hook[@]}" "$REDEPLOY" check -c "$CONFIG" >"$T/cmd.out" 2>"$T/cmd.err" &&
		fail "check passed without the group"
	output_has "(as root: adduser nobody www-data)" "$T/cmd.err"
	# with it (what adduser gives a login): shared dirs for www-data
	as_hook=(setpriv --reuid=nobody --regid=nogroup
		--groups="$(getent group www-data | cut -d: -f3)")
	"${as_hook[@]}" "$REDEPLOY" deploy -c "$CONFIG" >"$T/cmd.out" 2>"$T/cmd.err" &&
		fail "the restart did not fail: $(cat "$T/cmd.err")"
	output_lacks "shared" "$T/cmd.err"
	wait_unlocked
	[ "$(stat -c '%U:%G %a' "$LIVE/shared/cache")" = "nobody:www-data 2775" ] ||
		fail "shared/cache is $(stat -c '%U:%G %a' "$LIVE/shared/cache")"
	runuser -u www-data -- touch "$LIVE/shared/cache/x" "$LIVE/shared/uploads/y" ||
		fail "www-data cannot write the shared paths"
	"${as_hook[@]}" "$REDEPLOY" check -c "$CONFIG" >"$T/cmd.out" 2>"$T/cmd.err" || true
	output_lacks "shared" "$T/cmd.err"
	# a shared dir made the old way (nobody:nogroup 2775) is mended
	chgrp nogroup "$LIVE/shared/cache"
	chmod 2775 "$LIVE/shared/cache"
	make_site 2
	git -C "$WORK" push -q origin HEAD:master >/dev/null 2>&1 || true
	"${as_hook[@]}" "$REDEPLOY" deploy -c "$CONFIG" >"$T/cmd.out" 2>"$T/cmd.err" || true
	wait_unlocked
	[ "$(stat -c '%G %a' "$LIVE/shared/cache")" = "www-data 2775" ] ||
		fail "shared/cache was not mended: $(stat -c '%G %a' "$LIVE/shared/cache")"
}

test_expect "a world-writable releases/ is refused by deploy and check (chmod o-w)" world_writable_releases
test_expect "a group-writable parent of the deploy path is refused (chmod g-w)" writable_parent
test_expect "a deploy path owned by the service user is refused (chown)" other_owner_of_path
test_expect "a repository owned by another user needs allow_other_owner" repository_of_another_user
test_expect "a real directory as current: refused before a release is built" current_is_a_directory
test_expect "a regular file as current: refused, not replaced" current_is_a_file
test_expect "a rollback removes the spare of the release it left" rollback_removes_the_spare_it_left
test_expect "branch = mastre: check names the branches, a push says which deploys" branch_typo
test_expect "numeric owner and service user are accepted" numeric_ids
test_expect "shared paths for a hook not root: the service's group, 2775, or the command" shared_for_a_hook_not_root
test_done
