#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t1500-prune: after a deploy, releases beyond `keep` (besides current) are
# removed, oldest first; current and the previous release never are.
. "$(dirname "$0")/lib.sh"

# Deploy versions FROM..TO, one push each; appends each commit to shas.
deploy_versions() {	# FROM TO
	local i
	for i in $(seq "$1" "$2"); do
		make_site "$i"
		push
		output_lacks "deploy failed"
		shas+=("$(git -C "$WORK" rev-parse HEAD)")
	done
}

# The commits of the release directories left, sorted (ids of deploys in
# the same second do not sort in deploy order).
release_commits() {
	local id
	for id in $(cd "$LIVE/releases" && find . -mindepth 1 -maxdepth 1 \
	    -type d ! -name '.*' -printf '%f\n'); do
		sed -n 's/^commit=//p' "$LIVE/releases/$id.meta"
	done | sort
}

assert_releases_are() {	# COMMIT...
	local want got
	want=$(printf '%s\n' "$@" | sort)
	got=$(release_commits)
	[ "$got" = "$want" ] || fail "releases left are of commits
$got
expected
$want"
}

keep_2() {
	local shas=()
	new_repo "keep = 2"
	deploy_versions 1 6
	[ "$(count_releases)" -eq 3 ] ||
		fail "$(count_releases) release directories, expected 3 (keep 2 + current)"
	assert_deployed "${shas[5]}"
	assert_releases_are "${shas[3]}" "${shas[4]}" "${shas[5]}"
	assert_no_debris
}
test_expect "keep = 2 after 6 deploys leaves 3 releases, current the last" keep_2

keep_default() {
	local shas=()
	new_repo
	deploy_versions 1 7
	[ "$(count_releases)" -eq 6 ] ||
		fail "$(count_releases) release directories, expected 6 (keep 5 + current)"
	assert_deployed "${shas[6]}"
	assert_releases_are "${shas[@]:1}"
}
test_expect "keep defaults to 5" keep_default

keep_0() {
	local shas=()
	new_repo "keep = 0"
	deploy_versions 1 4
	[ "$(count_releases)" -eq 2 ] ||
		fail "$(count_releases) release directories, expected 2 (current + previous)"
	assert_deployed "${shas[3]}"
	assert_releases_are "${shas[2]}" "${shas[3]}"
}
test_expect "keep = 0 still keeps current and the previous release" keep_0

# Deploying an old commit by hand makes a new release; what was current
# becomes the previous one and is kept.
keep_0_redeploy_old() {
	local shas=()
	new_repo "keep = 0"
	deploy_versions 1 3
	expect_exit 0 -c "$CONFIG" deploy "${shas[0]}"
	assert_deployed "${shas[0]}"
	[ "$(count_releases)" -eq 2 ] ||
		fail "$(count_releases) release directories, expected 2"
	assert_releases_are "${shas[2]}" "${shas[0]}"
}
test_expect "keep = 0: deploying an old commit keeps the one it replaced" keep_0_redeploy_old

# Pruning removes release directories only, and never through a symlink
# that looks like an old release.
prune_no_follow() {
	local shas=() scratch before after
	new_repo "keep = 0"
	scratch=$T/scratch
	mkdir -p "$scratch/sub"
	echo precious >"$scratch/sub/keep"
	before=$(find "$scratch" -printf '%p %m %U:%G %s\n' | sort)
	deploy_versions 1 1
	mkdir -p "$LIVE/releases"
	ln -s "$scratch" "$LIVE/releases/20000101T000000Z-0000000"
	deploy_versions 2 4
	after=$(find "$scratch" -printf '%p %m %U:%G %s\n' | sort)
	[ "$before" = "$after" ] || fail "pruning followed a symlink; before:
$before
after:
$after"
	assert_deployed "${shas[3]}"
	[ "$(count_releases)" -eq 2 ] ||
		fail "$(count_releases) release directories, expected 2"
}
test_expect "pruning never follows a symlink among the releases" prune_no_follow

test_done
