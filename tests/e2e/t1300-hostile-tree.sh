#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t1300-hostile-tree: a pushed tree cannot reach outside its release.
# Escaping symlinks fail the deploy under symlinks=inside; '.git' and '..'
# entries are refused by git's fsck (set up by install-hook) and, when that
# is off, by redeploy itself.  A refused deploy leaves current as it was
# and nothing behind.
. "$(dirname "$0")/lib.sh"

# v1 deployed; sets the caller's id (release) and v1 (commit).
deployed_v1() {	# [EXTRA DEPLOY LINES...]
	new_repo "$@"
	make_site 1
	push
	id=$(live_id) || fail "first push deployed nothing: $(cat "$T/push.out")"
	v1=$(git -C "$WORK" rev-parse HEAD)
}

# The last push was accepted but its deploy failed and changed nothing.
refused() {	# [WORD THE MESSAGE MUST NAME]
	output_has "deploy failed"
	output_has "current release unchanged"
	[ $# -eq 0 ] || output_has "$1"
	assert_current "$id"
	assert_deployed "$v1"
	[ "$(count_releases)" -eq 1 ] ||
		fail "$(count_releases) release directories, expected 1"
	assert_no_debris
}

commit_all() {
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m "$1"
}

relative_escape() {
	local id v1
	deployed_v1
	ln -s ../../../etc/passwd "$WORK/leak"
	commit_all leak
	push
	refused leak
}
test_expect "a symlink escaping with ../ fails the deploy" relative_escape

absolute_escape() {
	local id v1
	deployed_v1
	mkdir -p "$WORK/a/b"
	ln -s /etc/passwd "$WORK/a/b/abslink"
	commit_all abs
	push
	refused abslink
}
test_expect "an absolute symlink fails the deploy" absolute_escape

parent_link() {
	local id v1
	deployed_v1
	ln -s .. "$WORK/uplink"
	commit_all uplink
	push
	refused uplink
}
test_expect "a symlink to .. of the release root fails the deploy" parent_link

# Each link alone looks inside, read as text; followed, l2 leaves the
# release: a/l1 is the release root, so l1/../.. is its parent.
escape_through_link() {
	local id v1
	deployed_v1
	mkdir -p "$WORK/a"
	ln -s .. "$WORK/a/l1"
	ln -s l1/../../etc/passwd "$WORK/a/l2"
	commit_all "link through link"
	push
	refused l2
}
test_expect "a symlink escaping through another symlink fails the deploy" escape_through_link

inside_links() {
	local id v1
	deployed_v1
	ln -s deep/er "$WORK/docs"
	ln -s ../../../index.html "$WORK/deep/er/est/home.html"
	ln -s ./css/../index.html "$WORK/roundabout"
	ln -s not-there "$WORK/dangling"
	commit_all "inside links"
	push
	output_lacks "deploy failed"
	assert_deployed HEAD
}
test_expect "symlinks that stay inside deploy (no false alarm)" inside_links

symlinks_any() {
	local id v1
	deployed_v1 "symlinks = any"
	ln -s ../../../etc/passwd "$WORK/leak"
	ln -s /etc/passwd "$WORK/abslink"
	commit_all leak
	push
	output_lacks "deploy failed"
	assert_deployed HEAD
	[ "$(readlink "$LIVE/current/leak")" = ../../../etc/passwd ] ||
		fail "leak -> $(readlink "$LIVE/current/leak")"
}
test_expect "symlinks = any deploys escaping symlinks as they are" symlinks_any

# HEAD's tree plus one more entry, through git mktree; prints a commit.
commit_with_entry() {	# MODE TYPE ID NAME
	local tree
	tree=$({ git -C "$WORK" ls-tree HEAD
		printf '%s %s %s\t%s\n' "$1" "$2" "$3" "$4"; } |
		git -C "$WORK" mktree) || fail "git mktree refused $4"
	commit_tree "$tree" "add $4"
}

# With receive.fsckObjects (install-hook sets it) git refuses the push.
fsck_refuses() {	# NAME
	local id v1 blob c
	deployed_v1
	[ "$(git -C "$REPO" config receive.fsckObjects)" = true ] ||
		fail "install-hook did not set receive.fsckObjects=true"
	blob=$(echo hostile | git -C "$WORK" hash-object -w --stdin)
	c=$(commit_with_entry 100644 blob "$blob" "$1")
	if push "$c:refs/heads/master"; then
		fail "git accepted a tree with '$1': $(cat "$T/push.out")"
	fi
	output_has "fsck"
	[ "$(git -C "$REPO" rev-parse master)" = "$v1" ] ||
		fail "master moved in the repository"
	output_lacks "redeploy:"
	assert_current "$id"
	assert_deployed "$v1"
	assert_no_debris
}

# With fsck off in the bare repository, redeploy itself must refuse.
redeploy_refuses() {	# COMMIT-MAKING COMMAND...
	local id v1 c
	deployed_v1
	git -C "$REPO" config receive.fsckObjects false
	c=$("$@")
	push "$c:refs/heads/master" ||
		fail "push refused with fsck off: $(cat "$T/push.out")"
	[ "$(git -C "$REPO" rev-parse master)" = "$c" ] ||
		fail "the push did not update master"
	refused
	# nothing was written next to the release or above it
	local f
	for f in "$LIVE/escape" "$LIVE/releases/escape" "$LIVE/etc" \
	    "$LIVE/releases/config" "$LIVE/releases/.git" "$T/escape"; do
		if [ -e "$f" ] || [ -L "$f" ]; then
			fail "$f was written outside the release"
		fi
	done
}

hostile_blob() {
	echo hostile | git -C "$WORK" hash-object -w --stdin
}

with_dotgit() {
	commit_with_entry 100644 blob "$(hostile_blob)" .git
}

with_dotdot() {
	commit_with_entry 100644 blob "$(hostile_blob)" ..
}

with_DOTGIT() {
	commit_with_entry 100644 blob "$(hostile_blob)" .GIT
}

# sub/.git/config and sub/.git/hooks/post-checkout: a nested repository
with_nested_dotgit() {
	local hooks dotgit sub
	hooks=$(printf '100755 blob %s\tpost-checkout\n' "$(hostile_blob)" |
		git -C "$WORK" mktree)
	dotgit=$(printf '100644 blob %s\tconfig\n040000 tree %s\thooks\n' \
		"$(hostile_blob)" "$hooks" | git -C "$WORK" mktree)
	sub=$(printf '040000 tree %s\t.git\n100644 blob %s\tindex.html\n' \
		"$dotgit" "$(hostile_blob)" | git -C "$WORK" mktree)
	commit_with_entry 040000 tree "$sub" sub
}

# Entry names with a slash: git mktree refuses them, so the tree is
# written by hand.
with_slash_names() {
	local top b
	b=$(hostile_blob)
	top=$(raw_tree 100644 ../../escape "$b" 100644 ../escape "$b" \
		100644 index.html "$b")
	commit_tree "$top" "slash names"
}

# A '..' directory whose entries would land next to the release.
with_dotdot_dir() {
	local inner
	inner=$(printf '100644 blob %s\tescape\n' "$(hostile_blob)" |
		git -C "$WORK" mktree)
	commit_with_entry 040000 tree "$inner" ..
}

fsck_dotgit() { fsck_refuses .git; }
test_expect "git's fsck refuses a tree with a .git entry" fsck_dotgit
fsck_dotdot() { fsck_refuses ..; }
test_expect "git's fsck refuses a tree with a .. entry" fsck_dotdot

own_dotgit() { redeploy_refuses with_dotgit; }
test_expect "fsck off: redeploy refuses a .git entry" own_dotgit
own_DOTGIT() { redeploy_refuses with_DOTGIT; }
test_expect "fsck off: redeploy refuses a .GIT entry" own_DOTGIT
own_nested() { redeploy_refuses with_nested_dotgit; }
test_expect "fsck off: redeploy refuses sub/.git/..." own_nested
own_dotdot() { redeploy_refuses with_dotdot; }
test_expect "fsck off: redeploy refuses a .. entry" own_dotdot
own_dotdot_dir() { redeploy_refuses with_dotdot_dir; }
test_expect "fsck off: redeploy refuses a .. directory" own_dotdot_dir
own_slash() { redeploy_refuses with_slash_names; }
test_expect "fsck off: redeploy refuses entry names with a slash" own_slash

test_done
