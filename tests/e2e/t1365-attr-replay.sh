#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t1365-attr-replay: a generated history rich in .gitattributes (root and
# nested files appearing, changing and going; text, eol, text=auto, ident,
# export-ignore, export-subst; CRLF and binary contents; executables,
# symlinks, files turned into directories and back) replayed: each of the
# last N commits deployed in order, so that most deploys take the
# incremental path, and every release, the live one and the ones kept,
# equal to `git archive` of its commit byte for byte.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

HISTORY=${REPLAY_HISTORY:-60}
LAST=${REPLAY_LAST:-25}

# shellcheck disable=SC2016,SC2034 # file contents; read through pick
ATTR_LINES=(
	'*.txt text eol=crlf'
	'*.txt text=auto'
	'*.bat text eol=crlf'
	'*.c ident'
	'*.md -text'
	'*.md text eol=crlf'
	'gen/ export-ignore'
	'*.tmp export-ignore'
	'ver.txt export-subst'
	'*.dat binary'
	'* text=auto eol=lf'
)
# shellcheck disable=SC2034 # read through pick
EXTS=(txt bat c md tmp dat cfg)

pick() {	# ARRAY-NAME: one element at random
	local -n arr=$1
	printf '%s' "${arr[RANDOM % ${#arr[@]}]}"
}

random_file() {
	local f
	f=$(cd "$WORK" && find . -path ./.git -prune -o -type f ! -name .gitattributes \
		-print | sort | sed -n "$((RANDOM % 40 + 1))p")
	printf '%s' "${f#./}"
}

# shellcheck disable=SC2016 # $Id and $Format are the files' own text
content() {	# PATH
	case $((RANDOM % 5)) in
	0) printf 'line %s\r\nwith crlf %s\r\n' "$RANDOM" "$1" ;;
	1) printf 'bin\0%s\n' "$RANDOM" ;;
	2) printf '/* $Id$ */ %s\n' "$RANDOM" ;;
	3) printf 'v $Format:%%H %%h %%ci %%an$ %s\n' "$RANDOM" ;;
	*) printf 'plain %s\n%s\n' "$RANDOM" "$1" ;;
	esac
}

# shellcheck disable=SC2016 # $Format is the file's own text
one_change() {
	local d f n
	d=$(pick DIRS)
	case $((RANDOM % 9)) in
	0 | 1)	# a new file
		mkdir -p "$WORK/$d"
		f="$d/f$RANDOM.$(pick EXTS)"
		content "$f" >"$WORK/$f" ;;
	2)	# a changed file
		f=$(random_file)
		[ -n "$f" ] && [ -f "$WORK/$f" ] && content "$f" >"$WORK/$f" ;;
	3)	# a removed file
		f=$(random_file)
		[ -n "$f" ] && rm -f "$WORK/$f" ;;
	4)	# attributes at the root or below
		[ $((RANDOM % 2)) -eq 0 ] && d=.
		mkdir -p "$WORK/$d"
		n=$((RANDOM % 4))
		: >"$WORK/$d/.gitattributes"
		while [ "$n" -gt 0 ]; do
			pick ATTR_LINES >>"$WORK/$d/.gitattributes"
			echo >>"$WORK/$d/.gitattributes"
			n=$((n - 1))
		done
		[ -s "$WORK/$d/.gitattributes" ] || rm "$WORK/$d/.gitattributes" ;;
	5)	# executable bit
		f=$(random_file)
		[ -n "$f" ] && [ -f "$WORK/$f" ] && chmod a+x "$WORK/$f" ;;
	6)	# a symlink inside the tree
		mkdir -p "$WORK/$d"
		f=ver.txt
		[ "$d" = . ] || f=$(printf '%s' "$d" | sed 's|[^/]*|..|g')/ver.txt
		ln -sfn "$f" "$WORK/$d/link$((RANDOM % 3))" ;;
	7)	# a file becomes a directory, or back
		if [ -d "$WORK/gen/x" ]; then
			rm -rf "$WORK/gen/x" && content gen/x >"$WORK/gen/x"
		else
			mkdir -p "$WORK/gen"
			rm -f "$WORK/gen/x" && mkdir "$WORK/gen/x" &&
				content gen/x/y >"$WORK/gen/x/y.txt"
		fi ;;
	8)	# the version file
		printf 'version $Format:%%H$ %s\n' "$RANDOM" >"$WORK/ver.txt" ;;
	esac
	return 0
}

# shellcheck disable=SC2016 # $Format is the file's own text
make_history() {
	local i k
	# shellcheck disable=SC2034 # read through pick
	DIRS=(. a a/b c gen docs docs/deep)
	RANDOM=9
	printf 'version $Format:%%H$\n' >"$WORK/ver.txt"
	for i in $(seq 1 "$HISTORY"); do
		for k in 1 2 3; do one_change; done
		git -C "$WORK" add -A 2>/dev/null
		GIT_COMMITTER_DATE="$((1700000000 + i * 3600)) +0200" \
			git -C "$WORK" commit -q --allow-empty -m "change $i"
	done
}

replay() {
	local c id n=0
	new_repo keep=3
	make_history
	push
	# the post-update hook deployed the tip: start the replay from scratch
	rm -rf "${LIVE:?}"/* "$LIVE"/.lock
	for c in $(git -C "$REPO" rev-list --reverse -n "$LAST" master); do
		expect_exit 0 -c "$CONFIG" deploy "$c"
		assert_live_is "$c"
		n=$((n + 1))
		# the kept releases still hold their own commits: nothing was
		# written through an inode shared with them
		for id in $(cd "$LIVE/releases" && ls -d 2*[0-9a-f] 2>/dev/null); do
			grep -qx 'result=deployed' "$LIVE/releases/$id.meta" &&
				assert_release_complete "$id"
		done
	done
	[ "$n" -eq "$LAST" ] || fail "replayed $n commits, expected $LAST"
}

test_expect "the last $LAST of $HISTORY commits, each release == git archive" replay
test_done
