#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t1360-attributes: a release is `git archive` of its commit, .gitattributes
# applied (export-ignore, export-subst, text/eol/text=auto, ident, nested
# files, info/attributes), in both hook modes; an attribute change rewrites
# files whose blobs did not change, without writing through the earlier
# release; a filter driver (LFS) refuses the deploy; the pusher's ~/.gitconfig
# and XDG attributes count for nothing.  Every comparison is byte for byte
# against `git archive` extracted into an empty directory (assert_live_is).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

mode_repo() {	# MODE: post-update | pre-receive
	rm -rf "$LIVE" "$REPO" "$WORK"
	mkdir -p "$LIVE"
	git init -q --bare "$REPO"
	write_config
	if [ "$1" = pre-receive ]; then
		"$REDEPLOY" install-hook --pre-receive -c "$CONFIG" "$REPO" >/dev/null
	else
		"$REDEPLOY" install-hook -c "$CONFIG" "$REPO" >/dev/null
	fi
	git init -q "$WORK"
	git -C "$WORK" remote add origin "$REPO"
}

# shellcheck disable=SC2016 # $Format and $Id are the files' own text
rich_tree() {
	mkdir -p "$WORK/sub/deeper" "$WORK/tests" "$WORK/docs/dev"
	printf 'echo a\necho b\n' >"$WORK/run.bat"
	printf 'lf\nonly\n' >"$WORK/auto.txt"
	printf 'has\r\ncrlf\r\n' >"$WORK/crlf.txt"
	printf 'bin\0ary\nlf\n' >"$WORK/data.txt"
	printf 'plain\nlf\n' >"$WORK/plain.cfg"
	{
		printf 'v=$Format:%%H %%h %%T %%t %%P %%p$\n'
		printf 'a=$Format:%%an <%%ae> %%ad|%%aD|%%ai|%%aI|%%at$\n'
		printf 'c=$Format:%%cn <%%ce> %%cd|%%cD|%%ci|%%cI|%%ct$\n'
		printf 's=$Format:%%s%%n%%%%$ no $Format: end\n'
	} >"$WORK/version.txt"
	printf '/* $Id$ */\nint x;\n' >"$WORK/id.c"
	printf 'test\n' >"$WORK/tests/t1"
	printf 'dev\n' >"$WORK/docs/dev/notes"
	printf 'docs\n' >"$WORK/docs/index.md"
	printf 'secret\n' >"$WORK/local.cfg"
	printf 'a\nb\n' >"$WORK/sub/page.md"
	printf 'x\ny\n' >"$WORK/sub/deeper/more.md"
	printf 'keep\nlf\n' >"$WORK/sub/deeper/keep.md"
	cat >"$WORK/.gitattributes" <<-'EOF'
	*.bat text eol=crlf
	*.txt text=auto eol=crlf
	version.txt export-subst
	*.c ident
	tests/ export-ignore
	docs/dev export-ignore
	local.cfg export-ignore
	.gitattributes export-ignore
	EOF
	printf '*.md text eol=crlf\n' >"$WORK/sub/.gitattributes"
	printf 'keep.md -text\n' >"$WORK/sub/deeper/.gitattributes"
	git -C "$WORK" add -A
	GIT_COMMITTER_DATE='1700000000 +0530' GIT_AUTHOR_DATE='1690000000 -0700' \
		git -C "$WORK" commit -q -m "rich tree
second line"
}

# The conversions really happened (not only "equal to git archive").
assert_converted() {
	local c=$LIVE/current
	grep -q $'\r$' "$c/run.bat" || fail "run.bat has no CRLF"
	grep -q $'\r$' "$c/auto.txt" || fail "auto.txt has no CRLF"
	! grep -q $'\r$' "$c/plain.cfg" || fail "plain.cfg got CRLF"
	grep -q $'\r$' "$c/sub/page.md" || fail "nested attributes not applied"
	! grep -q $'\r$' "$c/sub/deeper/keep.md" || fail "deeper -text ignored"
	grep -q "v=$(git -C "$REPO" rev-parse HEAD) " "$c/version.txt" ||
		fail "export-subst not expanded: $(cat "$c/version.txt")"
	grep -q "Id: $(git -C "$REPO" rev-parse HEAD:id.c) " "$c/id.c" ||
		fail "ident not expanded: $(cat "$c/id.c")"
	if [ -e "$c/tests" ] || [ -e "$c/docs/dev" ] || [ -e "$c/local.cfg" ] ||
		[ ! -e "$c/docs/index.md" ]; then
		fail "export-ignore not applied"
	fi
}

attributes_both_modes() {
	local mode
	for mode in post-update pre-receive; do
		mode_repo "$mode"
		rich_tree
		push || fail "$mode: push failed: $(cat "$T/push.out")"
		assert_deployed HEAD
		assert_converted
	done
}

# Blobs unchanged, attributes changed: the new release is rewritten, and
# the release it was linked from keeps its own bytes.
attribute_change_rewrites() {
	local mode old
	for mode in post-update pre-receive; do
		mode_repo "$mode"
		mkdir -p "$WORK/a/b"
		printf 'one\ntwo\n' >"$WORK/a/b/f.txt"
		printf 'top\n' >"$WORK/top.txt"
		printf 'lfs\n' >"$WORK/x.html"
		git -C "$WORK" add -A
		git -C "$WORK" commit -q -m plain
		push
		assert_deployed HEAD
		old=$(live_id)
		# nested .gitattributes only: no blob of a file changes
		printf '*.txt text eol=crlf\n' >"$WORK/a/.gitattributes"
		git -C "$WORK" add -A
		git -C "$WORK" commit -q -m "crlf below a/"
		push
		assert_deployed HEAD
		grep -q $'\r$' "$LIVE/current/a/b/f.txt" || fail "$mode: not rewritten"
		assert_release_complete "$old"
		# info/attributes of the repository, with an empty commit
		old=$(live_id)
		mkdir -p "$REPO/info"
		printf '*.html export-ignore\n' >"$REPO/info/attributes"
		git -C "$WORK" commit -q --allow-empty -m "info/attributes"
		push
		assert_deployed HEAD
		[ ! -e "$LIVE/current/x.html" ] || fail "$mode: info/attributes ignored"
		[ -e "$LIVE/releases/$old/x.html" ] || fail "$mode: old release changed"
		# and back: the file returns
		rm "$REPO/info/attributes"
		git -C "$WORK" commit -q --allow-empty -m "no info/attributes"
		push
		assert_deployed HEAD
	done
}

lfs_refused() {
	local id before
	mode_repo post-update
	make_site 1
	push
	id=$(live_id)
	printf 'version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 3\n' \
		>"$WORK/logo.png"
	printf '*.png filter=lfs diff=lfs merge=lfs -text\n' >"$WORK/.gitattributes"
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m lfs
	push || fail "post-update: push failed"
	output_has "'logo.png' is a Git LFS pointer (filter=lfs)"
	output_has "remove filter=lfs"
	assert_current "$id"
	assert_no_debris

	mode_repo pre-receive
	make_site 1
	push
	id=$(live_id)
	before=$(git -C "$REPO" rev-parse master)
	printf 'x\n' >"$WORK/a.dat"
	printf '*.dat filter=crypt\n' >"$WORK/.gitattributes"
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m crypt
	! push || fail "pre-receive: push of a filter driver succeeded"
	output_has "'a.dat' needs the filter driver 'crypt'"
	output_has "! [remote rejected] HEAD -> master (pre-receive hook declined)"
	[ "$(git -C "$REPO" rev-parse master)" = "$before" ] ||
		fail "the branch moved"
	assert_current "$id"
}

# shellcheck disable=SC2016 # $Format is the file's own text
subst_unknown_refused() {
	mode_repo pre-receive
	printf 'v=$Format:%%d$\n' >"$WORK/v.txt"
	printf 'v.txt export-subst\n' >"$WORK/.gitattributes"
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m subst
	! push || fail "an unknown placeholder deployed"
	output_has "'v.txt' (export-subst) uses placeholder '%d'"
	[ ! -e "$LIVE/current" ] || fail "something went live"
}

# The pusher's HOME: core.autocrlf, core.attributesFile, XDG attributes,
# all of which `git archive` run by that user would apply.  Not us.
hostile_home() {
	local h=$T/hostile mode
	for mode in post-update pre-receive; do
		mode_repo "$mode"
		rm -rf "$h" && mkdir -p "$h/.config/git"
		printf '[core]\n\tautocrlf = true\n\teol = crlf\n\tattributesFile = %s/attrs\n' \
			"$h" >"$h/.gitconfig"
		printf '* export-ignore\n' >"$h/attrs"
		printf '*.html export-ignore\n*.css text eol=crlf\n' \
			>"$h/.config/git/attributes"
		make_site 1
		printf 'x\n' >"$WORK/x.bat"
		printf '*.bat text eol=crlf\n' >"$WORK/.gitattributes"
		git -C "$WORK" add -A
		git -C "$WORK" commit -q -m "with attributes"
		HOME=$h XDG_CONFIG_HOME=$h/.config git -C "$WORK" push -q origin \
			HEAD:master >"$T/push.out" 2>&1 || fail "$mode: push failed"
		wait_unlocked
		# the reference: git archive with a clean HOME (lib.sh's)
		assert_deployed HEAD
		[ -e "$LIVE/current/index.html" ] || fail "$mode: a HOME file applied"
		! grep -q $'\r' "$LIVE/current/css/site.css" ||
			fail "$mode: core.autocrlf or XDG attributes applied"
	done
}

# Without any attribute source the writer makes no attribute lookup.
no_attributes_no_lookups() {
	mode_repo post-update
	make_site 1
	push
	assert_deployed HEAD
	grep -q '^build=.* attrs=' "$LIVE/releases/$(live_id).meta" &&
		fail "attributes recorded for a tree without any"
	printf '*.css text eol=crlf\n' >"$WORK/.gitattributes"
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m attrs
	push
	assert_deployed HEAD
	grep -q '^build=.* attrs=' "$LIVE/releases/$(live_id).meta" ||
		fail "attributes in use but not in the build signature"
}

test_expect "every attribute case equals git archive, in both modes" attributes_both_modes
test_expect "an attribute change rewrites unchanged blobs, never the old release" attribute_change_rewrites
test_expect "a filter driver (LFS) refuses the deploy, naming path and driver" lfs_refused
test_expect "an export-subst placeholder we cannot expand refuses the deploy" subst_unknown_refused
test_expect "the pusher's ~/.gitconfig and XDG attributes are ignored" hostile_home
test_expect "a tree without attributes records none (no lookups)" no_attributes_no_lookups
test_done
