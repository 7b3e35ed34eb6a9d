#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t1320-one-verdict: a tree gets one verdict whichever path writes it: the
# first deploy, a full checkout, or the diff applied to the spare copy of
# the live release.  With git's fsck off in the bare repository, redeploy
# itself refuses what git fsck and libgit2 refuse: duplicate entries (also
# deep in a changed directory), modes git does not write, and names that
# mean .git on NTFS or HFS+, as blobs and as trees.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# A commit on top of HEAD whose tree is HEAD's plus an entry MODE NAME at
# directory DIR ("" for the top), written by hand (git mktree refuses
# most of these).  With DUP, the entry is added even if NAME exists.
# Prints the commit id.
hostile_commit() {	# DIR MODE NAME [dup]
	local tree
	tree=$(python3 - "$WORK" "$@" <<'PY'
import subprocess, sys

work, where, mode, name = sys.argv[1:5]
dup = len(sys.argv) > 5
git = ["git", "-C", work]

def entries(tree):
    out = subprocess.run(git + ["ls-tree", "-z", tree], check=True,
                         capture_output=True).stdout
    v = []
    for rec in out.split(b"\0"):
        if rec:
            meta, n = rec.split(b"\t", 1)
            m, _, oid = meta.split(b" ")
            v.append((m, n, oid))
    return v

def write(v):
    # git's order: a tree sorts as if its name ended in "/"; stable, so a
    # duplicate stays next to the entry it repeats
    v = sorted(v, key=lambda e: e[1] + (b"/" if e[0] == b"40000" else b""))
    raw = b"".join(m + b" " + n + b"\0" + bytes.fromhex(o.decode())
                   for m, n, o in v)
    return subprocess.run(git + ["hash-object", "-t", "tree", "-w",
                                 "--literally", "--stdin"], input=raw,
                          check=True, capture_output=True).stdout.strip()

def blob(text):
    return subprocess.run(git + ["hash-object", "-w", "--stdin"],
                          input=text, check=True,
                          capture_output=True).stdout.strip()

def sub(text):
    return write([(b"100644", b"config", blob(text))])

def edit(tree, parts):
    v = entries(tree)
    if not parts:
        oid = sub(b"[core]\n") if mode == "40000" else blob(b"hostile\n")
        if not dup:
            v = [e for e in v if e[1] != name.encode()]
        v.append((mode.encode(), name.encode(), oid))
        return write(v)
    for i, e in enumerate(v):
        if e[1] == parts[0].encode():
            v[i] = (e[0], e[1], edit(e[2].decode(), parts[1:]))
    return write(v)

print(edit("HEAD^{tree}", [p for p in where.split("/") if p]).decode())
PY
) || return 1
	commit_tree "$tree" "hostile $3"
}

# How the hostile commit C meets the hook: first (nothing deployed yet),
# full (no spare), spare (the diff onto the live release's spare copy).
# The deploy is refused and changes nothing; prints the reason line.
refused_by() {	# PATH C
	local id=
	if [ "$1" != first ]; then
		push HEAD:master
		id=$(live_id)
		[ "$1" = full ] && rm -rf "$LIVE"/releases/.spare-*
	fi
	push "$2:refs/heads/master" ||
		fail "push refused with fsck off: $(cat "$T/push.out")"
	output_has "deploy failed"
	if [ -n "$id" ]; then
		assert_current "$id"
		[ "$(count_releases)" -eq 1 ] ||
			fail "$(count_releases) releases after a refused deploy"
	else
		[ ! -e "$LIVE/current" ] || fail "current exists after the first deploy was refused"
		[ "$(count_releases)" -eq 0 ] ||
			fail "$(count_releases) releases after a refused deploy"
	fi
	assert_no_debris
	sed -n 's/.*deploy failed: //p' "$T/push.out" | sed 's/;.*//'
}

# Each case: DIR MODE NAME [dup], refused the same way on every path.
one_verdict() {	# DIR MODE NAME [dup]
	local p c why first=
	for p in first full spare; do
		new_repo
		git -C "$REPO" config receive.fsckObjects false
		make_site 1
		c=$(hostile_commit "$@") || fail "could not write the tree"
		why=$(refused_by "$p" "$c") || return 1
		[ -n "$why" ] || fail "$p: no reason given: $(cat "$T/push.out")"
		echo "# $p: $why"
		: "${first:=$why}"
		[ "$why" = "$first" ] ||
			fail "$p says '$why', the first deploy said '$first'"
	done
}

t_dup_top() { one_verdict "" 100644 index.html dup; }
t_dup_deep() { one_verdict deep/er/est 100644 file.txt dup; }
t_dup_dir() { one_verdict "" 40000 css dup; }
t_mode() { one_verdict css 100664 other.css; }
test_expect "two blobs with one name: refused on every path" t_dup_top
test_expect "a duplicate deep in a changed directory: refused on every path" t_dup_deep
test_expect "a blob and a tree with one name: refused on every path" t_dup_dir
test_expect "mode 100664: refused on every path" t_mode

# shellcheck disable=SC2016 # the name is literally .git::$INDEX_ALLOCATION
for name in .git. git~1 GIT~1 '.git::$INDEX_ALLOCATION' '.git\foo' \
    "$(printf '.g\342\200\214it')" '.git '; do
	for mode in 100644 40000; do
		eval "t_name_$mode() { one_verdict css $mode '$name'; }"
		test_expect "'$name' as a $([ $mode = 40000 ] && echo tree || echo blob): refused on every path" "t_name_$mode"
	done
done

link_gitmodules() {
	one_verdict "" 120000 .gitmodules
}
test_expect "a symlinked .gitmodules: refused on every path" link_gitmodules

# A name close to those stays allowed.
look_alike_ok() {
	new_repo
	git -C "$REPO" config receive.fsckObjects false
	make_site 1
	push
	c=$(hostile_commit css 100644 git~2) || return 1
	push "$c:refs/heads/master"
	output_lacks "deploy failed"
	assert_deployed "$c"
}
test_expect "'git~2' deploys" look_alike_ok

test_done
