#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t1350-replay: a generated history (files changed, added, removed, made
# executable, turned into directories and back, symlinks added and moved,
# contents reverted, rollbacks) pushed one commit at a time, with the hook
# killed (SIGKILL injected by strace at a chosen link, unlink or rename)
# in the middle of deploys and of the background housekeeping that
# recycles the release falling out of `keep` into the next spare.  After
# every push: every release is exactly its commit (nothing was written
# through a shared inode), the spare is exactly the live commit, keep is
# honoured, current and the rollback target are there; after every push
# that was not killed, nothing else is left in releases/.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

KEEP=2

# One step of the history: a few random edits of the work tree, the same
# for the same step every run.  Contents come from a small set, so a path
# often goes back to what it held a few commits ago.
mutate() {	# STEP
	python3 - "$WORK" "$1" <<'PY'
import os, random, shutil, sys

root, step = sys.argv[1], int(sys.argv[2])
rng = random.Random(step * 7919)

def walk():
    files, dirs = [], []
    for d, ds, fs in os.walk(root):
        if ".git" in ds:
            ds.remove(".git")
        rel = os.path.relpath(d, root)
        if rel != ".":
            dirs.append(rel)
        for f in fs:
            p = os.path.join(rel, f) if rel != "." else f
            if not os.path.islink(os.path.join(root, p)):
                files.append(p)
    return sorted(files), sorted(dirs)

def write(p, v):
    full = os.path.join(root, p)
    os.makedirs(os.path.dirname(full) or root, exist_ok=True)
    with open(full, "w") as f:
        f.write(f"{p} content {v}\n" * (1 + v))

for _ in range(rng.randint(2, 6)):
    files, dirs = walk()
    op = rng.choice(["edit", "edit", "edit", "add", "add", "rm", "chmod",
                     "link", "rmdir", "retype"])
    if op == "edit" and files:
        write(rng.choice(files), rng.randint(0, 2))
    elif op == "add" or not files:
        d = rng.choice(dirs + ["", f"n{step}"])
        write(os.path.join(d, f"f{step}_{rng.randint(0, 99)}.txt"),
              rng.randint(0, 2))
    elif op == "rm" and len(files) > 3:
        os.unlink(os.path.join(root, rng.choice(files)))
    elif op == "chmod":
        p = os.path.join(root, rng.choice(files))
        os.chmod(p, os.stat(p).st_mode ^ 0o111)
    elif op == "link":
        target = rng.choice(files)
        d = os.path.dirname(target)
        link = os.path.join(root, d, f"l{rng.randint(0, 3)}")
        if os.path.lexists(link) and not os.path.islink(link):
            continue
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(os.path.basename(target), link)
    elif op == "rmdir" and dirs:
        d = rng.choice(dirs)
        if d.count("/") > 0:
            shutil.rmtree(os.path.join(root, d))
    elif op == "retype":
        p = rng.choice(files)
        full = os.path.join(root, p)
        os.unlink(full)
        write(os.path.join(p, "inner.txt"), rng.randint(0, 2))
PY
	git -C "$WORK" add -A
	git -C "$WORK" commit -q --allow-empty -m "step $1"
}

# The hook, run under strace when $T/inject names an injection.
write_hook() {
	cat >"$REPO/hooks/post-update" <<SH
#!/bin/sh
inj=\$(cat '$T/inject' 2>/dev/null)
if [ -n "\$inj" ]; then
	# LeakSanitizer cannot run under ptrace; the rest of ASan can
	ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}detect_leaks=0" \\
	exec strace -f -qq -o /dev/null -e trace=linkat,unlinkat,renameat,renameat2 \\
		-e "inject=\$inj" '$REDEPLOY' -c '$CONFIG' hook "\$@"
fi
exec '$REDEPLOY' -c '$CONFIG' hook "\$@"
SH
	chmod 0755 "$REPO/hooks/post-update"
}

# Every release holds exactly its commit; the spare the live commit.
assert_all_releases() {
	local id c spare
	for id in $(cd "$LIVE/releases" && find . -mindepth 1 -maxdepth 1 \
	    -type d ! -name '.*' -printf '%f\n'); do
		# any result (a killed deploy's release may be pending or
		# failed): its files are its commit's
		c=$(sed -n 's/^commit=//p' "$LIVE/releases/$id.meta")
		[ -n "$c" ] || fail "release $id has no commit= in its metadata"
		rm -rf "$T/expect-rel" && mkdir "$T/expect-rel"
		git -C "$REPO" archive "$c" | tar -x -C "$T/expect-rel"
		diff -r --no-dereference "$T/expect-rel" "$LIVE/releases/$id" ||
			fail "release $id differs from git archive $c"
		[ "$(cd "$T/expect-rel" && find . -type f -perm -u+x | sort)" = \
		  "$(cd "$LIVE/releases/$id" && find . -type f -perm -u+x | sort)" ] ||
			fail "release $id: executables differ from git archive $c"
		# counted from the diff, not by walking: still every file
		[ "$(sed -n 's/^files=//p' "$LIVE/releases/$id.meta")" = \
		  "$(find "$LIVE/releases/$id" -type f | wc -l)" ] ||
			fail "release $id: files= in its metadata is not its count"
		[ "$(sed -n 's/^entries=//p' "$LIVE/releases/$id.meta")" = \
		  "$(find "$LIVE/releases/$id" -mindepth 1 | wc -l)" ] ||
			fail "release $id: entries= in its metadata is not its count"
		# the symlink index, kept from the diff too, is every link
		[ ! -e "$LIVE/releases/$id.links" ] ||
		[ "$(tr '\0' '\n' <"$LIVE/releases/$id.links" | sort)" = \
		  "$(cd "$LIVE/releases/$id" && find . -type l | sed 's|^\./||' | sort)" ] ||
			fail "release $id: $id.links is not its symlinks"
	done
	spare=$LIVE/releases/.spare-$(live_id)
	[ -d "$spare" ] || return 0
	c=$(live_commit)
	rm -rf "$T/expect-spare" && mkdir "$T/expect-spare"
	git -C "$REPO" archive "$c" | tar -x -C "$T/expect-spare"
	diff -r --no-dereference "$T/expect-spare" "$spare" ||
		fail "the spare differs from git archive $c"
	want=$(cd "$T/expect-spare" && find . -type f -perm -u+x | sort)
	got=$(cd "$spare" && find . -type f -perm -u+x | sort)
	[ "$want" = "$got" ] || fail "the spare has executables '$got', not '$want'"
}

incomplete() {	# debris left, or no spare ready
	compgen -G "$LIVE/releases/.incoming-*" >/dev/null ||
		compgen -G "$LIVE/releases/.trash-*" >/dev/null ||
		[ ! -d "$LIVE/releases/.spare-$(live_id)" ]
}

replay() {
	local step inj prev good killed=0 hk=0 injections
	injections=("linkat:signal=KILL:when=1" "linkat:signal=KILL:when=3"
		"unlinkat:signal=KILL:when=2" "unlinkat:signal=KILL:when=4"
		"renameat,renameat2:signal=KILL:when=5"
		"renameat,renameat2:signal=KILL:when=1")
	new_repo "keep = $KEEP"
	write_hook
	make_site 0
	push
	assert_live_is HEAD
	for step in $(seq 1 36); do
		mutate "$step"
		prev=$(live_id)
		inj=
		if [ $((step % 2)) -eq 0 ]; then
			inj=${injections[$(((step / 2) % ${#injections[@]}))]}
		fi
		printf '%s' "$inj" >"$T/inject"
		push || true
		: >"$T/inject"
		echo "# step $step inject '${inj:-none}' live $(live_id)"
		# current and the rollback target are never pruned
		[ -d "$LIVE/releases/$prev" ] ||
			fail "step $step: release $prev (live before) was removed"
		[ -d "$LIVE/current/" ] || fail "step $step: current is broken"
		assert_all_releases
		if [ -z "$inj" ]; then
			assert_live_is HEAD
			assert_no_debris
			[ -d "$LIVE/releases/.spare-$(live_id)" ] ||
				fail "step $step: no spare after a clean push"
			# keep counts good releases; failed or interrupted
			# ones are kept up to keep on their own
			good=$(grep -lx 'result=deployed' "$LIVE"/releases/*.meta | wc -l)
			if [ "$good" -gt $((KEEP + 1)) ] ||
			    [ "$(count_releases)" -gt $((2 * KEEP + 1)) ]; then
				fail "step $step: $good good of $(count_releases) releases, keep = $KEEP"
			fi
		elif [ "$(live_commit)" = "$(git -C "$WORK" rev-parse HEAD)" ]; then
			# the deploy went through: was its housekeeping killed?
			! incomplete || hk=$((hk + 1))
		else
			killed=$((killed + 1))
		fi
		if [ $((step % 9)) -eq 0 ]; then
			prev=$(live_id)
			redeploy -c "$CONFIG" rollback >"$T/rollback.out" 2>&1 ||
				fail "rollback failed: $(cat "$T/rollback.out")"
			[ "$(live_id)" != "$prev" ] || fail "rollback did not switch"
			assert_all_releases
			# a rollback is no deploy: debris of a kill just
			# before waits for the next one
			[ -n "$inj" ] || assert_no_debris
			[ -d "$LIVE/releases/$prev" ] ||
				fail "the release rolled back from was removed"
		fi
	done
	echo "# $killed deploys and $hk housekeepings killed"
	[ "$hk" -ge 2 ] || fail "only $hk kills landed in housekeeping"
	[ "$killed" -ge 1 ] || fail "no kill landed in a deploy"
	# and the end: one clean push, nothing left over
	mutate 99
	push
	assert_live_is HEAD
	assert_no_debris
	assert_all_releases
}

if command -v strace >/dev/null; then
	test_expect "a replayed history with kills keeps every release its commit" replay
else
	test_skip "replay with kills" "needs strace (scripts/deps)"
fi
test_done
