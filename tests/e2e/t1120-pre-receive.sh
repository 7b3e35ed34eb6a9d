#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t1120-pre-receive: `redeploy install-hook --pre-receive`.  The deploy runs
# before git moves the ref: a failed deploy refuses the push (git push exits
# non-zero, "[remote rejected] ... (pre-receive hook declined)", the branch
# and the site stay), deletions of the branch are refused, other refs pass,
# nothing is written into the repository from the quarantine, and after
# concurrent pushes or a pusher killed mid-deploy live == branch tip.
# status and check say when the tip is not live (post-update mode).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# shellcheck disable=SC2120 # config lines, when a test needs them
pre_repo() {	# [EXTRA DEPLOY LINES...]
	rm -rf "$LIVE" "$REPO" "$WORK"
	mkdir -p "$LIVE"
	git init -q --bare "$REPO"
	write_config "$@"
	"$REDEPLOY" install-hook --pre-receive -c "$CONFIG" "$REPO" \
		>"$T/install.out" 2>&1
	git init -q "$WORK"
	git -C "$WORK" remote add origin "$REPO"
}

tip() {
	git -C "$REPO" rev-parse "refs/heads/master" 2>/dev/null
}

hook_pids() {
	pgrep -f -- "-c $CONFIG hook" || true
}

# Every hook process (watchers included) has ended and the lock is free.
settled() {
	[ -z "$(hook_pids)" ] && wait_unlocked
}

assert_live_is_tip() {
	wait_for settled 60
	[ "$(live_commit)" = "$(tip)" ] ||
		fail "live is $(live_commit), branch tip is $(tip)"
	assert_live_is master
}

# An escaping symlink fails the deploy (symlinks = inside).
make_bad() {
	ln -sfn /etc/passwd "$WORK/escape"
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m "escaping link"
}

install_writes_both() {
	pre_repo
	output_has "pre-receive' and 'post-update" "$T/install.out"
	grep -q -- "hook --pre-receive" "$REPO/hooks/pre-receive" ||
		fail "pre-receive does not run 'hook --pre-receive'"
	grep -q -- 'hook "\$@"' "$REPO/hooks/post-update" ||
		fail "post-update is not ours"
	# back to post-update mode: our pre-receive goes away
	"$REDEPLOY" install-hook -c "$CONFIG" "$REPO" >/dev/null
	[ ! -e "$REPO/hooks/pre-receive" ] || fail "pre-receive left behind"
	# someone else's pre-receive is never replaced
	printf '#!/bin/sh\nexit 0\n' >"$REPO/hooks/pre-receive"
	expect_exit 2 install-hook --pre-receive -c "$CONFIG" "$REPO"
	output_has "exists and was not written by redeploy" "$T/cmd.err"
	grep -q "exit 0" "$REPO/hooks/pre-receive" || fail "replaced"
}

good_and_failed_push() {
	local id before objs
	pre_repo
	make_site 1
	push || fail "first push failed: $(cat "$T/push.out")"
	output_has "release "
	assert_live_is_tip
	id=$(live_id)
	before=$(tip)
	objs=$(cd "$REPO/objects" && find . -type f | sort)
	make_bad
	rc=0
	push || rc=$?
	[ "$rc" -ne 0 ] || fail "git push exited 0 after a failed deploy"
	output_has "remote: redeploy: deploy failed:"
	output_has "! [remote rejected] HEAD -> master (pre-receive hook declined)"
	[ "$(tip)" = "$before" ] || fail "the branch moved to $(tip)"
	assert_current "$id"
	assert_no_debris
	# the refused objects were never written into the repository
	[ "$(cd "$REPO/objects" && find . -type f | sort)" = "$objs" ] ||
		fail "objects of the refused push are in the repository"
	[ ! -e "$REPO/index" ] || fail "an index was written into the repository"
	# fixed: the push goes through
	git -C "$WORK" rm -q escape
	git -C "$WORK" commit -q -m "no link"
	push || fail "push after the fix failed"
	assert_live_is_tip
}

branch_and_tag() {
	pre_repo
	make_site 1
	push
	make_site 2
	git -C "$WORK" tag v2
	git -C "$WORK" push -q origin HEAD:master v2 >"$T/push.out" 2>&1 ||
		fail "push of branch + tag failed"
	output_has "ignoring refs/tags/v2: only branch 'master' deploys"
	assert_live_is_tip
	[ "$(git -C "$REPO" rev-parse "v2^{commit}")" = "$(tip)" ] || fail "tag missing"
	# a tag alone deploys nothing
	make_site 3
	git -C "$WORK" tag v3
	git -C "$WORK" push -q origin v3 >"$T/push.out" 2>&1 || fail "tag push failed"
	output_lacks "deploying"
	assert_live_is_tip
	# another branch alone passes untouched
	git -C "$WORK" push -q origin HEAD:other >"$T/push.out" 2>&1 ||
		fail "push of another branch failed"
	assert_live_is_tip
}

deletion_refused() {
	local id
	pre_repo
	make_site 1
	push
	id=$(live_id)
	! git -C "$WORK" push -q origin :master >"$T/push.out" 2>&1 ||
		fail "deleting the deployed branch succeeded"
	output_has "refusing to delete refs/heads/master: it is the deployed branch"
	output_has "! [remote rejected] master (pre-receive hook declined)"
	tip >/dev/null || fail "the branch is gone"
	assert_current "$id"
	# another branch may be deleted
	git -C "$WORK" push -q origin HEAD:other >/dev/null 2>&1
	git -C "$WORK" push -q origin :other >"$T/push.out" 2>&1 ||
		fail "deleting another branch failed"
}

nonff_denied() {
	local id
	pre_repo
	git -C "$REPO" config receive.denyNonFastForwards true
	make_site 1
	push
	make_site 2
	push
	id=$(live_id)
	git -C "$WORK" reset -q --hard HEAD~1
	make_site 3
	! git -C "$WORK" push -q -f origin HEAD:master >"$T/push.out" 2>&1 ||
		fail "a denied non-fast-forward went through"
	output_has "is not a fast-forward"
	output_lacks "deploying"
	assert_current "$id"
	assert_live_is_tip
}

# Two clones push different commits on the same tip at once.
concurrent_pushes() {
	local w2=$T/work2 p1 p2 rc1=0 rc2=0 loser
	pre_repo
	make_site 1
	push
	rm -rf "$w2"
	git clone -q "$REPO" "$w2"
	make_site 2
	echo "other" >"$w2/other.txt"
	git -C "$w2" add -A
	git -C "$w2" commit -q -m "from the second clone"
	hold_lock
	git -C "$WORK" push -q origin HEAD:master >"$T/push1.out" 2>&1 &
	p1=$!
	git -C "$w2" push -q origin HEAD:master >"$T/push2.out" 2>&1 &
	p2=$!
	# both wait for the deploy lock, then go one after the other
	# shellcheck disable=SC2016 # expanded by wait_for
	wait_for '[ "$(hook_pids | wc -l)" -ge 2 ]' 30
	release_lock
	wait "$p1" || rc1=$?
	wait "$p2" || rc2=$?
	[ $((rc1 == 0)) -ne $((rc2 == 0)) ] ||
		fail "exactly one push must win: exits $rc1 and $rc2;
$(cat "$T/push1.out" "$T/push2.out")"
	# the loser is refused by the hook (the branch moved while it waited
	# for the lock), or deployed and then lost git's ref update, which
	# the other push's post-update or the watcher undo
	loser=$T/push1.out
	[ "$rc1" -ne 0 ] || loser=$T/push2.out
	grep -qF "while this push waited for the deploy lock" "$loser" ||
		grep -qF "(failed to update ref)" "$loser" ||
		fail "the losing push says neither: $(cat "$loser")"
	assert_live_is_tip
}

# The pusher is killed while its deploy runs: however git ends the push,
# once it has settled live == tip.
pusher_killed() {
	local pid pids
	pre_repo
	make_site 1
	push
	mkdir -p "$WORK/big"
	for i in $(seq 1 2000); do echo "$i"; done | split -l 1 - "$WORK/big/f"
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m big
	git -C "$WORK" push -q origin HEAD:master >"$T/push.out" 2>&1 &
	pid=$!
	# shellcheck disable=SC2016 # expanded by wait_for
	wait_for 'pids=$(hook_pids); [ -n "$pids" ]' 30
	# shellcheck disable=SC2016
	wait_for 'compgen -G "$LIVE/releases/.incoming-*" >/dev/null' 30
	# shellcheck disable=SC2086
	kill -STOP $pids
	# the pusher only: git push hangs up on receive-pack
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null || true
	# shellcheck disable=SC2086
	kill -CONT $pids
	assert_live_is_tip
	assert_no_debris
	# and the next push goes through as usual
	make_site 2
	push || fail "the next push failed: $(cat "$T/push.out")"
	assert_live_is_tip
}

# Post-update mode: a failed deploy leaves the tip ahead of live, and
# status and check say so.
tip_not_live_reported() {
	local live
	new_repo
	if is_root; then chown nobody "$LIVE"; fi
	make_site 1
	push
	make_bad
	push
	output_has "deploy failed"
	live=$(live_commit)
	expect_exit 1 -c "$CONFIG" check
	output_has "configuration OK" "$T/cmd.out"
	output_has "branch master is at $(git -C "$REPO" rev-parse --short=7 master); live is ${live:0:7}" "$T/cmd.err"
	"$REDEPLOY" -c "$CONFIG" status >"$T/cmd.out" 2>&1 || true
	output_has "branch master is at" "$T/cmd.out"
	# in step again: check is quiet
	git -C "$WORK" rm -q escape
	git -C "$WORK" commit -q -m fix
	push
	expect_exit 0 -c "$CONFIG" check
	output_lacks "branch master is at" "$T/cmd.err"
}

# Only GIT_QUARANTINE_PATH is read, and only a directory in objects/.
quarantine_checked() {
	pre_repo
	make_site 1
	push
	( cd "$REPO" && GIT_DIR=. GIT_QUARANTINE_PATH=/tmp \
		"$REDEPLOY" -c "$CONFIG" hook --pre-receive </dev/null ) \
		>"$T/cmd.out" 2>&1 && fail "a quarantine outside objects/ was taken"
	output_has "GIT_QUARANTINE_PATH '/tmp' is not under" "$T/cmd.out"
}

test_expect "install-hook --pre-receive writes pre-receive and post-update" install_writes_both
test_expect "a failed deploy refuses the push; branch, site and objects stay" good_and_failed_push
test_expect "branch + tag in one push; tags and other branches pass" branch_and_tag
test_expect "deleting the deployed branch is refused" deletion_refused
test_expect "a non-fast-forward the repository denies deploys nothing" nonff_denied
test_expect "two concurrent pushes: one wins, live == tip" concurrent_pushes
test_expect "the pusher killed mid-deploy: live == tip once settled" pusher_killed
test_expect "status and check say when the tip is not live" tip_not_live_reported
test_expect "GIT_QUARANTINE_PATH outside objects/ is refused" quarantine_checked
test_done
