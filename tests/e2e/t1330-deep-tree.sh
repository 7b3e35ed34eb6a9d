#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t1330-deep-tree: removing a tree needs no descriptor per level.  A
# 2,100-level tree, refused part way under `ulimit -n 1024`, leaves no
# .incoming-* behind, and such a directory left by an older run is removed
# by the next deploy under the same limit.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

DEPTH=2100

# A commit on top of HEAD with deeper/d/d/.../d/f, DEPTH levels, written as
# loose objects (git mktree would take a process per level).
deep_commit() {
	local tree
	tree=$(python3 - "$WORK" "$DEPTH" <<'PY'
import hashlib, os, subprocess, sys, zlib

work, depth = sys.argv[1], int(sys.argv[2])
objdir = subprocess.run(["git", "-C", work, "rev-parse", "--git-path",
                         "objects"], check=True, capture_output=True,
                        text=True).stdout.strip()
objdir = os.path.join(work, objdir) if not os.path.isabs(objdir) else objdir

def put(kind, body):
    raw = b"%s %d\0" % (kind, len(body)) + body
    oid = hashlib.sha1(raw).hexdigest()
    d = os.path.join(objdir, oid[:2])
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, oid[2:])
    if not os.path.exists(p):
        with open(p, "wb") as f:
            f.write(zlib.compress(raw))
    return oid

oid = put(b"tree", b"100644 f\0" + bytes.fromhex(put(b"blob", b"deep\n")))
for _ in range(depth - 1):
    oid = put(b"tree", b"40000 d\0" + bytes.fromhex(oid))
top = subprocess.run(["git", "-C", work, "ls-tree", "HEAD"], check=True,
                     capture_output=True, text=True).stdout
lines = top.splitlines() + ["040000 tree %s\tdeeper" % oid]
print(subprocess.run(["git", "-C", work, "mktree"], input="\n".join(lines)
                     + "\n", check=True, capture_output=True,
                     text=True).stdout.strip())
PY
) || return 1
	commit_tree "$tree" "deep"
}

refused_deep_tree_leaves_nothing() {
	local id c
	new_repo
	make_site 1
	push
	id=$(live_id)
	c=$(deep_commit) || fail "could not write the deep tree"
	(ulimit -n 1024 && push "$c:refs/heads/master") || true
	output_has "deploy failed"
	assert_current "$id"
	assert_no_debris
	make_site 2
	(ulimit -n 1024 && push +HEAD:master)
	output_lacks "deploy failed"
	assert_deployed HEAD
	assert_no_debris
}

# What an older run left: .incoming-old, DEPTH levels deep, a read-only
# directory half way down.
left_deep_debris_removed() {
	new_repo
	make_site 1
	push
	python3 - "$LIVE/releases/.incoming-0123456789abcdef" "$DEPTH" <<'PY'
import os, sys
top, depth = sys.argv[1], int(sys.argv[2])
os.mkdir(top)
fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
for i in range(depth):
    os.mkdir("d", dir_fd=fd)
    with open(os.open("f", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as f:
        f.write("x")
    nfd = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    if i == depth // 2:
        os.fchmod(fd, 0o555)
    os.close(fd)
    fd = nfd
os.close(fd)
PY
	make_site 2
	(ulimit -n 1024 && push)
	output_lacks "deploy failed"
	assert_deployed HEAD
	assert_no_debris
}

test_expect "a refused $DEPTH-level tree leaves no .incoming-* under ulimit -n 1024" refused_deep_tree_leaves_nothing
test_expect "a $DEPTH-level .incoming-* left behind is removed under ulimit -n 1024" left_deep_debris_removed
test_done
