#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t1900-shared: `shared` paths are replaced in every release by symlinks
# into PATH/shared/, which outlive releases; what others can write there is
# never followed by the hook.
. "$(dirname "$0")/lib.sh"

# Fail unless release path P (under current) is a symlink resolving to
# PATH/shared/P, a directory.
assert_shared() {	# P
	local p=$1 got want
	[ -L "$LIVE/current/$p" ] ||
		fail "$p in the release is not a symlink: $(ls -ld "$LIVE/current/$p" 2>&1)"
	want=$(readlink -f "$LIVE/shared/$p")
	got=$(readlink -f "$LIVE/current/$p")
	[ "$got" = "$want" ] ||
		fail "$p in the release resolves to '$got', not '$want'"
	if [ ! -d "$LIVE/shared/$p" ] || [ -L "$LIVE/shared/$p" ]; then
		fail "shared/$p is not a directory"
	fi
}

# The release equals git archive but for the shared paths (log, cache).
assert_rest_is() {	# COMMIT
	local exp=$T/expect-shared
	rm -rf "$exp" && mkdir "$exp"
	git -C "$REPO" archive "$1" | tar -x -C "$exp"
	diff -r --no-dereference -x log -x cache "$exp" "$LIVE/current/" ||
		fail "the release differs from git archive $1 outside shared paths"
	rm -rf "$exp"
}

site_with_cache() {	# VERSION
	mkdir -p "$WORK/tmp/cache"
	echo "cached by git $1" >"$WORK/tmp/cache/old.txt"
	make_site "$1"
}

shared_links() {
	new_repo "shared = log tmp/cache"
	site_with_cache 1
	push
	output_lacks "deploy failed"
	assert_shared log
	assert_shared tmp/cache
	assert_rest_is HEAD
	if [ ! -d "$LIVE/current/tmp" ] || [ -L "$LIVE/current/tmp" ]; then
		fail "tmp in the release is not a directory of its own"
	fi
	[ "$(stat -c %a "$LIVE/shared/log")" = 2775 ] ||
		fail "shared/log is mode $(stat -c %a "$LIVE/shared/log"), not 2775"
}
test_expect "shared = log tmp/cache: links into PATH/shared/, rest as in git" shared_links

shared_persists() {
	local old
	new_repo "shared = log tmp/cache"
	site_with_cache 1
	push
	old=$(live_id)
	echo "written by the service" >"$LIVE/current/log/app.log"
	echo "cache entry" >"$LIVE/current/tmp/cache/entry"
	site_with_cache 2
	push
	[ "$(live_id)" != "$old" ] || fail "the second push deployed nothing"
	assert_shared log
	assert_shared tmp/cache
	assert_rest_is HEAD
	grep -qx "written by the service" "$LIVE/current/log/app.log" ||
		fail "log/app.log did not survive the deploy"
	grep -qx "cache entry" "$LIVE/current/tmp/cache/entry" ||
		fail "tmp/cache/entry did not survive the deploy"
	[ "$(readlink -f "$LIVE/releases/$old/log")" = \
	    "$(readlink -f "$LIVE/current/log")" ] ||
		fail "old and new release do not share log"
}
test_expect "what is written through shared links survives the next deploy" shared_persists

# A tree with a shared path as a link out of the release: refused, or
# replaced by the shared link; never a way out.
shared_path_hostile() {
	local id
	new_repo "shared = log"
	make_site 1
	push
	id=$(live_id)
	ln -s /etc "$WORK/log"
	git -C "$WORK" add log
	git -C "$WORK" commit -q -m "log -> /etc"
	push
	if [ "$(live_id)" = "$id" ]; then
		output_has "deploy failed"
	else
		assert_shared log
	fi
	[ "$(readlink -f "$LIVE/current/log")" != /etc ] ||
		fail "current/log leads to /etc"
}
test_expect "a shared path pushed as a link to /etc never leads there" shared_path_hostile

# shared/ is writable by the service: a link planted there in place of a
# shared directory (or of shared/ itself) is not followed by the next
# deploy (no chown, chmod or mkdir through it).
shared_planted() {
	local scratch=$T/scratch before after where
	for where in shared/tmp/cache shared/log shared; do
		new_repo "shared = log tmp/cache"
		site_with_cache 1
		push
		rm -rf "$scratch"
		mkdir -p "$scratch/dir"
		chmod 700 "$scratch/dir"
		echo precious >"$scratch/dir/keep"
		before=$(find "$scratch" -printf '%p %m %U:%G %s\n' | sort)
		rm -rf "${LIVE:?}/$where"
		ln -s "$scratch/dir" "$LIVE/$where"
		site_with_cache 2
		push
		after=$(find "$scratch" -printf '%p %m %U:%G %s\n' | sort)
		[ "$before" = "$after" ] ||
			fail "the link planted as $where was followed; before:
$before
after:
$after
the push said: $(cat "$T/push.out")"
	done
}
test_expect "links planted in place of shared directories are not followed" shared_planted


# The parent of a shared path comes and goes in the tree: incremental
# deploys (from the spare) keep the link and never trip over the directory
# that holds it.
# The live release is HEAD, its files as in git (the link aside).
assert_live_commit() {
	[ "$(live_commit)" = "$(git -C "$REPO" rev-parse HEAD)" ] ||
		fail "not live: $(cat "$T/push.out")"
	cmp -s "$WORK/index.html" "$LIVE/current/index.html" ||
		fail "index.html differs"
}

shared_parent_comes_and_goes() {
	new_repo "shared = tmp/cache"
	make_site 1			# no tmp/ in the tree
	push
	assert_shared tmp/cache
	mkdir -p "$WORK/tmp"
	echo keep >"$WORK/tmp/keep"
	make_site 2			# tmp/ arrives, beside the link
	push
	output_lacks "deploy failed"
	assert_live_commit
	assert_shared tmp/cache
	[ "$(cat "$LIVE/current/tmp/keep")" = keep ] || fail "tmp/keep missing"
	make_site 3			# and once more from the new spare
	push
	output_lacks "deploy failed"
	assert_shared tmp/cache
	git -C "$WORK" rm -q -r tmp
	make_site 4			# tmp/ leaves the tree again
	push
	output_lacks "deploy failed"
	assert_live_commit
	assert_shared tmp/cache
}
test_expect "a shared path's parent added to and removed from the tree: link kept" shared_parent_comes_and_goes

# A link through a shared path whose parent is not in the tree still leaves
# the release (into shared/): refused under symlinks = inside.
link_through_shared_refused() {
	local before
	new_repo "shared = tmp/cache"
	make_site 1
	push
	before=$(live_id)
	ln -s tmp/cache/../x "$WORK/l"
	make_site 2
	push
	output_has "deploy failed"
	output_has "points outside the release"
	assert_current "$before"
}
test_expect "a link through a shared path (parent not in the tree) is refused" link_through_shared_refused
test_done
