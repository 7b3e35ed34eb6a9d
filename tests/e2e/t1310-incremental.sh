#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t1310-incremental: a deploy starts from the spare copy of the live release
# and applies only the diff.  Unchanged files are shared inodes, changed ones
# are new inodes, no release is ever written through, and links that did not
# change are vetted again against the new tree.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

inode() {
	stat -c %i "$1"
}

unchanged_shared_changed_new() {
	local old new
	setup_repo
	make_site 1
	push
	old=$(readlink -f "$LIVE/current")
	[ -d "$LIVE/releases/.spare-$(basename "$old")" ] ||
		fail "no spare of the live release was prepared"
	echo "changed" >"$WORK/css/site.css"
	git -C "$WORK" commit -q -a -m "one file"
	push
	new=$(readlink -f "$LIVE/current")
	[ "$old" != "$new" ] || fail "no new release"
	assert_live_is HEAD
	[ "$(inode "$old/index.html")" = "$(inode "$new/index.html")" ] ||
		fail "an unchanged file was copied instead of shared"
	[ "$(inode "$old/css/site.css")" != "$(inode "$new/css/site.css")" ] ||
		fail "the changed file shares the old inode"
	grep -q "1 written" "$T/push.out" || fail "expected 1 file written: $(cat "$T/push.out")"
	# the previous release is exactly its commit still
	[ "$(cat "$old/css/site.css")" = "body { color: black }" ] ||
		fail "the previous release was written through"
}

type_changes_apply() {
	# a file becomes a directory, a directory becomes a file, a file
	# becomes a symlink, and a directory disappears, in one push
	rm "$WORK/index.html"
	mkdir "$WORK/index.html"
	echo inner >"$WORK/index.html/x"
	rm -r "$WORK/deep"
	echo "now a file" >"$WORK/deep"
	rm "$WORK/bin/run"
	ln -s ../css/site.css "$WORK/bin/run"
	rm -r "$WORK/css"
	mkdir -p "$WORK/css2" && echo moved >"$WORK/css2/site.css"
	ln -sfn ../css2/site.css "$WORK/bin/run"
	ln -sfn ../css2/site.css "$WORK/bin/style.css"
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m "types"
	push
	assert_live_is HEAD
	assert_no_debris
}

unchanged_link_escaping_through_changed_one_refused() {
	local before
	mkdir -p "$WORK/d"
	echo x >"$WORK/d/file"
	ln -sfn d/.. "$WORK/e"	# inside while d is a directory
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m "e -> d/.."
	push
	assert_live_is HEAD
	before=$(live_id)
	# d becomes "d -> ." and e is unchanged: e now resolves outside
	rm -r "$WORK/d"
	ln -s . "$WORK/d"
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m "d -> ."
	push
	grep -q "deploy failed" "$T/push.out" || fail "not refused: $(cat "$T/push.out")"
	assert_current "$before"
	assert_no_debris
	[ -d "$LIVE/releases/.spare-$before" ] ||
		fail "the failed deploy consumed the spare and none is left"
}

missing_spare_falls_back() {
	local id
	git -C "$WORK" rm -q -r d e
	git -C "$WORK" commit -q -m "clean"
	push
	id=$(live_id)
	rm -rf "$LIVE/releases/.spare-$id"
	echo again >>"$WORK/css2/site.css"
	git -C "$WORK" commit -q -a -m "again"
	push
	assert_live_is HEAD
	[ "$(inode "$LIVE/releases/$id/deep")" = \
	  "$(inode "$LIVE/current/deep")" ] ||
		fail "an unchanged link was not reused from the live release"
	[ "$(inode "$LIVE/releases/$id/css2/site.css")" != \
	  "$(inode "$LIVE/current/css2/site.css")" ] || fail "changed file shared"
}

# A link two directories away from the change: site/static resolves
# through lib/v1, which becomes a symlink to "." (itself inside), and
# site/static, unchanged, then leads out of the release.
deep_link_escaping_through_retyped_dir_refused() {
	local before
	new_repo
	make_site 1
	mkdir -p "$WORK/lib/v1" "$WORK/site"
	echo v1 >"$WORK/lib/v1/app.js"
	ln -s ../lib/v1/../.. "$WORK/site/static"	# the root, inside
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m "site/static -> ../lib/v1/../.."
	push
	assert_live_is HEAD
	echo "a one-file change" >"$WORK/index.html"
	git -C "$WORK" commit -q -a -m "one file"
	push
	assert_live_is HEAD
	before=$(live_id)
	rm -r "$WORK/lib/v1"
	ln -s . "$WORK/lib/v1"
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m "lib/v1 -> ."
	push
	output_has "deploy failed"
	output_has "site/static"
	assert_current "$before"
	assert_no_debris
}

# The same with the base release's symlink index gone (a release made by
# an older redeploy): the tree is walked, and the link still caught.
deep_link_refused_without_index() {
	local before
	new_repo
	make_site 1
	mkdir -p "$WORK/lib/v1" "$WORK/site"
	echo v1 >"$WORK/lib/v1/app.js"
	ln -s ../lib/v1/../.. "$WORK/site/static"
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m "site/static -> ../lib/v1/../.."
	push
	before=$(live_id)
	[ -f "$LIVE/releases/$before.links" ] || fail "no symlink index for $before"
	# gone, or naming a path that is no link: both mean "walk"
	if [ "${1:-}" = wrong ]; then
		printf 'index.html\0' >"$LIVE/releases/$before.links"
	else
		rm "$LIVE/releases/$before.links"
	fi
	rm -r "$WORK/lib/v1"
	ln -s . "$WORK/lib/v1"
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m "lib/v1 -> ."
	push
	output_has "deploy failed"
	assert_current "$before"
}

# Files added and removed in many pushes: the count in the metadata comes
# from the diff and is still every file of the release.
count_from_diff() {
	local i id
	new_repo
	make_site 1
	push
	for i in 1 2 3 4; do
		mkdir -p "$WORK/more$i"
		echo "$i" >"$WORK/more$i/a.txt"
		echo "$i" >"$WORK/more$i/b.txt"
		[ "$i" -lt 3 ] || git -C "$WORK" rm -q -r "more$((i - 2))"
		echo "v$i" >"$WORK/index.html"
		git -C "$WORK" add -A
		git -C "$WORK" commit -q -m "more $i"
		push
		assert_live_is HEAD
		id=$(live_id)
		[ "$(sed -n 's/^files=//p' "$LIVE/releases/$id.meta")" = \
		  "$(find "$LIVE/current/" -type f | wc -l)" ] ||
			fail "files= in $id.meta is not the number of files"
	done
}

test_expect "unchanged files are shared inodes, the changed one is new" unchanged_shared_changed_new
test_expect "file<->directory, file->symlink and removals apply in one push" type_changes_apply
test_expect "an unchanged link that now escapes through a changed one is refused" unchanged_link_escaping_through_changed_one_refused
test_expect "without a spare the deploy links from the live release" missing_spare_falls_back
test_expect "a link made to escape by a directory turned symlink elsewhere is refused" deep_link_escaping_through_retyped_dir_refused
test_expect "the same is refused when the symlink index is missing" deep_link_refused_without_index
wrong_index() { deep_link_refused_without_index wrong; }
test_expect "the same is refused when the symlink index is wrong" wrong_index
test_expect "the file count follows the diff" count_from_diff
test_done
