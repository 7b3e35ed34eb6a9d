#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t1370-durability: strace of real pushes, as root (releases owned by the
# configured owner) and as an unprivileged repository owner.  Whichever
# user runs the hook: the release is synced, its root's owner and mode
# included, before it is renamed into place and its parent is synced
# after; every metadata file is synced before its rename and its
# directory after; `current` is synced after its switch; the spare copy
# the next deploy trusts is synced before it gets its name.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

command -v strace >/dev/null || { test_skip "durability" "needs strace"; test_done; }
# LeakSanitizer cannot work under ptrace; other tests look for leaks
export ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0"

# Check the trace (strace -f -y) of pushes to $LIVE.
check_trace() {	# FILE
	python3 - "$1" "$LIVE" <<'PY'
import re, sys

trace, live = sys.argv[1], sys.argv[2]
ev = []                         # (pid, syscall, text)
pending = {}
for line in open(trace, errors="replace"):
    m = re.match(r"(\d+) +(.*)", line.rstrip("\n"))
    if not m:
        continue
    pid, rest = m.groups()
    if rest.endswith("<unfinished ...>"):
        pending[pid] = rest[:-len("<unfinished ...>")]
        continue
    r = re.match(r"<\.\.\. (\w+) resumed>(.*)", rest)
    if r:
        rest = pending.pop(pid, r.group(1) + "(") + r.group(2)
    c = re.match(r"(\w+)\((.*)", rest)
    if c and live in rest and not re.search(r"= -1 E", rest):
        ev.append((pid, c.group(1), rest))

bad = []
MUT = {"fchmod", "fchown", "fchownat", "fchmodat", "symlinkat", "linkat",
       "mkdirat"}

def mutates(e, inside):
    name, text = e[1], e[2]
    if inside not in text:
        return False
    return name in MUT or (name == "openat" and "O_CREAT" in text)

def synced_since_change(i, inside):
    """a syncfs after the last change inside `inside`, before event i"""
    for j in range(i - 1, -1, -1):
        if ev[j][1] == "syncfs":
            return True
        if mutates(ev[j], inside):
            return False
    return True

def next_in_pid(i, names):
    for j in range(i + 1, len(ev)):
        if ev[j][0] == ev[i][0] and ev[j][1] in names:
            return ev[j]
    return None

renames = 0
for i, (pid, name, text) in enumerate(ev):
    if name not in ("rename", "renameat", "renameat2"):
        continue
    args = re.findall(r'"([^"]*)"', text)
    if len(args) < 2:
        continue
    old, new = args[0].split("/")[-1], args[1].split("/")[-1]
    renames += 1
    nxt = next_in_pid(i, {"fsync", "fdatasync", "syncfs", "rename",
                          "renameat", "renameat2"})
    if old.startswith(".incoming-"):
        if not synced_since_change(i, "/" + old):
            bad.append("%s -> %s renamed without a sync since it was "
                       "last changed" % (old, new))
        if not new.startswith(".spare-") and (nxt is None or
                                              nxt[1] != "fsync"):
            bad.append("releases/ not synced after %s -> %s (next: %s)"
                       % (old, new, nxt and nxt[2]))
    elif new == "current" or new.endswith(".meta"):
        if new.endswith(".meta"):
            fs = [e for e in ev[:i] if e[0] == pid and e[1] == "fsync"
                  and old in e[2]]
            if not fs:
                bad.append("%s renamed to %s without an fsync of it"
                           % (old, new))
        if nxt is None or nxt[1] != "fsync":
            bad.append("directory not synced after %s -> %s (next: %s)"
                       % (old, new, nxt and nxt[2]))
if renames < 4:
    bad.append("only %d renames traced: is the trace complete?" % renames)
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PY
}

# Two pushes (a first deploy, then one onto the spare), traced.
traced_pushes() {	# [setpriv ARGS...]
	local trace=$T/tr/trace v
	rm -rf "$T/tr"
	mkdir -m 1777 "$T/tr"
	# a first deploy, then one from the spare
	for v in 1 2; do
		make_site "$v"
		[ $# -eq 0 ] || chown -R nobody: "$WORK"
		"$@" strace -f -y -o "$trace.$v" -e trace=fsync,fdatasync,syncfs,rename,renameat,renameat2,fchmod,fchown,fchownat,fchmodat,openat,symlinkat,linkat,mkdirat \
			git -C "$WORK" push -q origin HEAD:master >"$T/push.out" 2>&1 ||
			fail "push failed: $(cat "$T/push.out")"
		wait_unlocked
	done
	assert_deployed HEAD
	cat "$trace.1" "$trace.2" >"$trace"
	check_trace "$trace" || fail "see above"
}

as_caller() {
	new_repo
	traced_pushes
}

as_unprivileged_owner() {
	new_repo "owner = nobody"
	sed -i '/^owner/d' "$CONFIG"
	chmod 711 "$T"
	chmod 1777 "$T/san"
	chmod 755 "$CONFIG"
	chown -R nobody: "$REPO" "$WORK" "$LIVE"
	git config --global --add safe.directory "$WORK"
	git config --global --add safe.directory "$REPO"
	traced_pushes setpriv --reuid=nobody --regid="$(id -g nobody)" \
		--clear-groups
	[ "$(stat -c %U "$LIVE/releases")" = nobody ] || fail "not run as nobody"
}

test_expect "the hook's deploys sync before each rename and after (as $(id -un))" as_caller
if is_root; then
	test_expect "the same when the hook runs unprivileged" as_unprivileged_owner
else
	test_skip "the same when the hook runs unprivileged" "needs root to become another user"
fi
test_done
