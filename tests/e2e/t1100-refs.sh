#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t1100-refs: only the configured branch deploys; other branches, tags and
# deletions are a no-op saying so; pushing the live commit again is a no-op.
. "$(dirname "$0")/lib.sh"

# A deployed v1; sets the caller's id to its release id.
deployed_v1() {
	new_repo
	make_site 1
	push
	id=$(live_id) || fail "first push deployed nothing: $(cat "$T/push.out")"
}

unchanged_since_v1() {
	assert_current "$id"
	[ "$(count_releases)" -eq 1 ] ||
		fail "$(count_releases) release directories, expected 1"
	assert_no_debris
}

other_branch() {
	local id
	deployed_v1
	make_site 2
	push HEAD:refs/heads/other
	output_has "ignoring refs/heads/other"
	output_lacks "deploy failed"
	unchanged_since_v1
}
test_expect "a push to another branch is ignored" other_branch

tags() {
	local id
	deployed_v1
	make_site 2
	git -C "$WORK" tag v1
	push refs/tags/v1
	output_has "ignoring refs/tags/v1"
	unchanged_since_v1
	git -C "$WORK" tag -a -m "annotated" v2
	push refs/tags/v2
	output_has "ignoring refs/tags/v2"
	unchanged_since_v1
}
test_expect "lightweight and annotated tags are ignored" tags

delete_master() {
	local id sha
	deployed_v1
	sha=$(git -C "$WORK" rev-parse HEAD)
	git -C "$REPO" config receive.denyDeleteCurrent ignore
	push :refs/heads/master
	git -C "$REPO" rev-parse -q --verify refs/heads/master >/dev/null &&
		fail "the push did not delete master"
	output_has "was deleted"
	unchanged_since_v1
	assert_deployed "$sha"
	# the same commit pushed again is the live one: nothing to do
	push
	output_has "already live"
	unchanged_since_v1
}
test_expect "deleting the branch is ignored; pushing it back is a no-op" delete_master

delete_other() {
	local id
	deployed_v1
	push HEAD:refs/heads/other
	push :refs/heads/other
	grep -q '^remote: redeploy: .*refs/heads/other' "$T/push.out" ||
		fail "redeploy said nothing about refs/heads/other: $(cat "$T/push.out")"
	output_lacks "deploy failed"
	unchanged_since_v1
}
test_expect "deleting another branch is ignored" delete_other

redeploy_live_sha() {
	local id
	deployed_v1
	expect_exit 0 -c "$CONFIG" deploy "$(git -C "$WORK" rev-parse HEAD)"
	output_has "already live" "$T/cmd.err"
	unchanged_since_v1
	expect_exit 0 -c "$CONFIG" deploy
	output_has "already live" "$T/cmd.err"
	unchanged_since_v1
}
test_expect "redeploy deploy of the live commit is a no-op" redeploy_live_sha

hook_again() {
	local id
	deployed_v1
	# what git runs after a push that left master as it was
	(cd "$REPO" && GIT_DIR=. expect_exit 0 -c "$CONFIG" hook refs/heads/master)
	output_has "already live" "$T/cmd.err"
	unchanged_since_v1
}
test_expect "the hook run again for the live commit is a no-op" hook_again

master_and_other() {
	local id
	deployed_v1
	make_site 2
	push HEAD:refs/heads/other HEAD:refs/heads/master
	output_has "ignoring refs/heads/other"
	assert_deployed HEAD
	[ "$(count_releases)" -eq 2 ] ||
		fail "$(count_releases) release directories, expected 2"
}
test_expect "one push of the branch and another deploys the branch" master_and_other

other_configured_branch() {
	local id
	new_repo
	sed -i 's/^branch = master$/branch = prod/' "$CONFIG"
	grep -qx 'branch = prod' "$CONFIG" || fail "config not rewritten"
	make_site 1
	push
	output_has "ignoring refs/heads/master"
	if [ -e "$LIVE/current" ] || [ -L "$LIVE/current" ]; then
		fail "a push to master deployed with branch = prod"
	fi
	push HEAD:refs/heads/prod
	assert_deployed "$(git -C "$WORK" rev-parse HEAD)"
	grep -qx 'ref=refs/heads/prod' "$LIVE/releases/$(live_id).meta" ||
		fail "metadata lacks ref=refs/heads/prod"
}
test_expect "branch = prod: master is ignored and prod deploys" other_configured_branch

post_receive_refs() {
	local id
	deployed_v1
	rm -f "$REPO/hooks/post-update"
	printf '#!/bin/sh\nexec "%s" -c "%s" hook\n' "$REDEPLOY" "$CONFIG" \
		>"$REPO/hooks/post-receive"
	chmod 755 "$REPO/hooks/post-receive"
	make_site 2
	git -C "$WORK" tag v2
	push refs/tags/v2 HEAD:refs/heads/other
	output_has "ignoring refs/tags/v2"
	output_has "ignoring refs/heads/other"
	unchanged_since_v1
	push :refs/heads/other
	unchanged_since_v1
	push
	assert_deployed HEAD
}
test_expect "post-receive: tags, other branches, deletions ignored from stdin" post_receive_refs

test_done
