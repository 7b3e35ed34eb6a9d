#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t1970-tree-limits: a pushed tree is bounded by [deploy] max_file,
# max_bytes, max_entries and max_depth: a blob over max_file is refused
# from its header without being inflated (the hook's memory stays small;
# 21 MB under ASan where a blob held whole would add its size),
# a tree over a limit stops with one line naming the key, the live release
# stays and nothing is left behind; a large blob within the limit is
# streamed, not held whole.  Empty trees make no directory (git archive).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# Peak RSS in KiB of `redeploy ARGS...` (stdout, stderr as expect_exit).
rss_of() {	# STATUS ARGS...
	python3 - "$@" >"$T/rss" <<'PY'
import resource, subprocess, sys
want, args = int(sys.argv[1]), sys.argv[2:]
import os
with open(os.environ["T"] + "/cmd.out", "w") as o, \
        open(os.environ["T"] + "/cmd.err", "w") as e:
    rc = subprocess.run([os.environ["REDEPLOY"]] + args, stdout=o, stderr=e,
                        stdin=subprocess.DEVNULL).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(0 if rc == want else 1)
PY
}

# Make master of $REPO the site plus a zero blob of SIZE bytes as big.bin,
# written straight into the repository (a loose object, as a small push
# leaves it), for `redeploy deploy`.
big_blob() {	# SIZE
	local blob tree c
	blob=$(head -c "$1" /dev/zero | git -C "$REPO" hash-object -w --stdin)
	tree=$( {
		git -C "$REPO" ls-tree master
		printf '100644 blob %s\tbig.bin\n' "$blob"
	} | git -C "$REPO" mktree)
	c=$(git -C "$REPO" commit-tree "$tree" -p master -m "big $1")
	git -C "$REPO" update-ref refs/heads/master "$c"
}

refused_cleanly() {	# ID KEY
	output_has "deploy failed:" "${3:-$T/push.out}"
	output_has "$2 = " "${3:-$T/push.out}"
	[ "$(grep -c "deploy failed" "${3:-$T/push.out}")" -eq 1 ] ||
		fail "not one line"
	assert_current "$1"
	assert_no_debris
}

huge_blob_refused_from_its_header() {
	local id
	new_repo
	make_site 1
	push
	id=$(live_id)
	export T
	# 150 MiB of zeros (0.15 MB packed): over the default max_file = 100M
	big_blob 157286400
	rss_of 1 deploy -c "$CONFIG" ||
		fail "deploy did not fail: $(cat "$T/cmd.err")"
	output_has "'big.bin' is 157286400 bytes, more than max_file = 100M" "$T/cmd.err"
	refused_cleanly "$id" max_file "$T/cmd.err"
	echo "peak RSS $(cat "$T/rss") KiB"
	[ "$(cat "$T/rss")" -lt 76800 ] ||
		fail "the hook grew to $(cat "$T/rss") KiB: the blob was inflated"
}

large_blob_streamed() {
	new_repo "max_file = 1G"
	make_site 1
	push
	export T
	big_blob 83886080		# 80 MiB
	rss_of 0 deploy -c "$CONFIG" ||
		fail "deploy failed: $(cat "$T/cmd.err")"
	wait_unlocked
	[ "$(stat -c %s "$LIVE/current/big.bin")" -eq 83886080 ] ||
		fail "big.bin is not whole"
	cmp -s -n 83886080 /dev/zero "$LIVE/current/big.bin" ||
		fail "big.bin is not zeros"
	echo "peak RSS $(cat "$T/rss") KiB"
	[ "$(cat "$T/rss")" -lt 61440 ] ||
		fail "the hook grew to $(cat "$T/rss") KiB: the blob was held whole"
}

too_many_entries() {
	local id i
	new_repo "max_entries = 50"
	make_site 1
	push
	id=$(live_id)
	mkdir -p "$WORK/many"
	for i in $(seq 1 60); do echo "$i" >"$WORK/many/f$i"; done
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m "60 more files"
	push
	refused_cleanly "$id" max_entries
	# check says so too, of the branch tip
	expect_exit 2 check -c "$CONFIG"
	output_has "the branch tip has more than max_entries = 50" "$T/cmd.err"
	# the incremental path counts the whole tree too
	git -C "$WORK" rm -q -r many
	git -C "$WORK" commit -q -m "fewer"
	push
	assert_deployed HEAD
	wait_unlocked
	id=$(live_id)
	for i in $(seq 1 45); do echo "$i" >"$WORK/f$i"; done
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m "45 more at the top"
	push
	refused_cleanly "$id" max_entries
}

too_deep() {
	local id
	new_repo "max_depth = 4"
	make_site 1			# deep/er/est/file.txt is 4 deep
	push
	assert_deployed HEAD
	id=$(live_id)
	commit_file a/b/c/d/e.txt deeper
	push
	refused_cleanly "$id" max_depth
	output_has "'a/b/c/d/e.txt' is 5 directories deep"
	expect_exit 2 check -c "$CONFIG"
	output_has "'a/b/c/d/e.txt' in the branch tip is 5 deep, more than max_depth = 4" "$T/cmd.err"
}

too_many_bytes() {
	local id
	new_repo "max_bytes = 8K"
	make_site 1
	push
	id=$(live_id)
	head -c 5000 /dev/urandom >"$WORK/one.bin"
	head -c 5000 /dev/urandom >"$WORK/two.bin"
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m "10 KB"
	push
	refused_cleanly "$id" max_bytes
}

bad_limit_values() {
	new_repo
	write_config "max_file = 10X"
	expect_exit 2 check -c "$CONFIG"
	grep -q "max_file '10X' is not a size" "$T/cmd.err" ||
		fail "no message: $(cat "$T/cmd.err")"
	write_config "max_entries = -1"
	expect_exit 2 check -c "$CONFIG"
	grep -q "max_entries" "$T/cmd.err" || fail "no message: $(cat "$T/cmd.err")"
}

empty_trees_make_nothing() {
	local empty sub tree c
	new_repo
	make_site 1
	push
	empty=$(git -C "$WORK" hash-object -t tree -w --stdin </dev/null)
	sub=$(printf '040000 tree %s\tinner\n' "$empty" | git -C "$WORK" mktree)
	tree=$( {
		git -C "$WORK" ls-tree HEAD
		printf '040000 tree %s\tempty\n' "$empty"
		printf '040000 tree %s\tnested\n' "$sub"
	} | git -C "$WORK" mktree)
	c=$(commit_tree "$tree" "empty trees")
	git -C "$WORK" reset -q --hard "$c"
	push
	assert_deployed HEAD
	if [ -e "$LIVE/current/empty" ] || [ -e "$LIVE/current/nested" ]; then
		fail "empty trees became directories: $(ls "$LIVE/current")"
	fi
	# and the incremental path: a directory whose files all go
	commit_file gone/a.txt a
	push
	[ -d "$LIVE/current/gone" ] || fail "gone/ was not written"
	tree=$( {
		git -C "$WORK" ls-tree HEAD | grep -v "	gone$"
		printf '040000 tree %s\tgone\n' "$sub"
	} | git -C "$WORK" mktree)
	git -C "$WORK" reset -q --hard "$(commit_tree "$tree" "gone emptied")"
	push
	assert_deployed HEAD
	[ ! -e "$LIVE/current/gone" ] || fail "an emptied tree stayed a directory"
}

test_expect "a 150 MiB blob is refused by max_file from its header, memory small" huge_blob_refused_from_its_header
test_expect "an 80 MiB blob within max_file is streamed to disk" large_blob_streamed
test_expect "more entries than max_entries: one line, current kept, no debris" too_many_entries
test_expect "deeper than max_depth: one line naming the path" too_deep
test_expect "more bytes than max_bytes: one line" too_many_bytes
test_expect "bad limit values are config errors" bad_limit_values
test_expect "empty trees make no directory, as git archive" empty_trees_make_nothing
test_done
