# shellcheck shell=bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# tests/e2e/lib.sh - sourced by every end-to-end test, in the style of git's
# t/test-lib.sh: a scratch directory, a bare repository with the real hook
# installed by `redeploy install-hook`, real `git push`, TAP output.
#
#   test_expect "what it shows" function_name   runs the function under set -e
#   test_skip "what it shows" "why"
#   test_done                                   ends the script
#
# Sanitizer reports of any redeploy process (also the ones git runs as a
# hook, whose exit status git ignores) land in $T/san and fail the test.
#
# Tests that need the machine's own paths (/etc/redeploy, /etc/authbind,
# /etc/init.d, users in /etc/passwd, /usr/local, /var/www, /run/redeploy,
# /run/sshd, /dev/log, port 80) call ns_isolate on the line after sourcing
# this file:
#
#   . "$(dirname "$0")/lib.sh"
#   ns_isolate
#
# As root, ns_isolate runs the script again inside its own mount, network,
# PID, UTS and IPC namespaces (unshare(1)) and exits with its status.  In
# there /etc, /usr/local, /var and /run are overlays of the real ones whose
# changes go to a scratch tmpfs, /dev is a private tmpfs with the usual
# device nodes (so /dev/log is the test's own rsyslogd's), and the network
# is a loopback of its own (every port free, 80 too).  The test's processes
# see and use the real paths, the host's files and ports never change, two
# runs at once do not meet, and whatever the test leaves running dies with
# its PID namespace.  As a normal user it does nothing (root-only tests skip
# themselves with "SKIP name: needs root"); as root where namespaces cannot
# be made, the whole script is skipped ("1..0 # SKIP").  ns_active tells
# whether the script runs isolated.
set -u

: "${REDEPLOY:?REDEPLOY must name the redeploy binary}"
: "${TEST_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
TEST_NAME=$(basename "$0" .sh)
TEST_ARGS=("$@")
if [ -n "${REDEPLOY_NS:-}" ]; then
	T=$REDEPLOY_NS		# ns_isolate's second run: the first one's $T
else
	T=$(mktemp -d "${TMPDIR:-/tmp}/redeploy-$TEST_NAME.XXXXXX") || exit 3
fi
mkdir -p "$T/san" "$T/home"
export ASAN_OPTIONS="log_path=$T/san/asan:detect_leaks=1"
export UBSAN_OPTIONS="log_path=$T/san/ubsan:print_stacktrace=1:halt_on_error=1"
export HOME=$T/home
export GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=tester GIT_AUTHOR_EMAIL=tester@example.invalid
export GIT_COMMITTER_NAME=tester GIT_COMMITTER_EMAIL=tester@example.invalid
export GIT_AUTHOR_DATE='1700000000 +0000' GIT_COMMITTER_DATE='1700000000 +0000'
git config --global init.defaultBranch master
git config --global advice.detachedHead false
unset REDEPLOY_CONFIG GIT_DIR GIT_WORK_TREE

test_count=0
test_failed=0

# The commands live in a file, not a variable: test functions run in a
# subshell, where changes to a variable are lost when the test ends.
at_exit() {	# COMMAND: run when the script ends, last registered first
	printf '%s\0' "$*" >>"$T/at_exit"
}

run_cleanup() {
	local i cmds=()
	[ -f "$T/at_exit" ] && mapfile -d '' cmds <"$T/at_exit"
	for ((i = ${#cmds[@]} - 1; i >= 0; i--)); do
		eval "${cmds[i]}" >/dev/null 2>&1 || true
	done
	if [ -n "${REDEPLOY_NS:-}" ]; then
		:	# ns_isolate's first run removes $T, outside
	elif [ -z "${TEST_KEEP:-}" ]; then
		rm -rf "$T"
	else
		echo "# kept $T"
	fi
}
trap run_cleanup EXIT

is_root() {
	[ "$(id -u)" -eq 0 ]
}

# --- private namespaces (see the top of this file) ---

ns_active() {
	[ -n "${REDEPLOY_NS:-}" ]
}

ns_isolate() {
	is_root || return 0
	if ns_active; then
		ns_setup
		return
	fi
	local err rc=0
	if ! err=$(unshare --mount --propagation private --net --pid --fork \
		--mount-proc --uts --ipc true 2>&1); then
		echo "1..0 # SKIP $TEST_NAME: cannot make private namespaces: $err"
		trap - EXIT
		run_cleanup
		exit 0
	fi
	# pid 1 in there is a shell that waits for the test and reaps orphans
	unshare --mount --propagation private --net --pid --fork --mount-proc \
		--uts --ipc --kill-child env REDEPLOY_NS="$T" \
		bash -c '"$@"; exit $?' ns_init bash "$0" "${TEST_ARGS[@]}" ||
		rc=$?
	trap - EXIT
	if [ -z "${TEST_KEEP:-}" ]; then
		rm -rf "$T"
	else
		echo "# kept $T"
	fi
	exit "$rc"
}

# In the namespaces: overlays, a private /dev, loopback up.  Any failure
# here is a failure of the test (as root the mounts must work).
ns_setup() {
	local ns=$T/ns d n
	ns_try mkdir -p "$ns"
	ns_try mount -t tmpfs -o mode=0755 redeploy-test "$ns"
	for d in /etc /usr/local /var /run; do
		if [ ! -d "$d" ] || [ -L "$d" ]; then
			continue
		fi
		ns_try mkdir -p "$ns/upper$d" "$ns/work$d"
		ns_try mount -t overlay -o \
			"lowerdir=$d,upperdir=$ns/upper$d,workdir=$ns/work$d" \
			redeploy-test "$d"
	done
	ns_try mkdir "$ns/dev"
	ns_try mount -t tmpfs -o mode=0755,nosuid redeploy-dev "$ns/dev"
	for n in null zero full random urandom tty; do
		ns_try touch "$ns/dev/$n"
		ns_try mount --bind "/dev/$n" "$ns/dev/$n"
	done
	ns_try mkdir "$ns/dev/pts" "$ns/dev/shm"
	ns_try mount --rbind /dev/pts "$ns/dev/pts"
	ns_try mount -t tmpfs -o mode=1777,nosuid,nodev redeploy-shm "$ns/dev/shm"
	ln -s /proc/self/fd "$ns/dev/fd"
	ln -s /proc/self/fd/0 "$ns/dev/stdin"
	ln -s /proc/self/fd/1 "$ns/dev/stdout"
	ln -s /proc/self/fd/2 "$ns/dev/stderr"
	ln -s pts/ptmx "$ns/dev/ptmx"
	ns_try mount --move "$ns/dev" /dev
	ns_try ip link set lo up
}

ns_try() {	# COMMAND...: run it, or end the script as one failed test
	local err
	err=$("$@" 2>&1) && return 0
	echo "not ok 1 - private namespaces: $*: $err"
	echo "1..1"
	exit 1
}

test_expect() {	# DESCRIPTION FUNCTION
	local desc=$1 fn=$2 rc
	test_count=$((test_count + 1))
	(set -e; "$fn") >"$T/out.$test_count" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && ! compgen -G "$T/san/*" >/dev/null; then
		echo "ok $test_count - $desc"
	else
		test_failed=$((test_failed + 1))
		echo "not ok $test_count - $desc"
		sed 's/^/#   /' "$T/out.$test_count"
		if compgen -G "$T/san/*" >/dev/null; then
			echo "#   sanitizer reports:"
			cat "$T"/san/* | sed 's/^/#   /'
			rm -f "$T"/san/*
		fi
	fi
}

test_skip() {	# DESCRIPTION REASON
	test_count=$((test_count + 1))
	echo "SKIP $1: $2"
	echo "ok $test_count # SKIP $1: $2"
}

test_done() {
	echo "1..$test_count"
	[ "$test_failed" -eq 0 ]
	exit
}

fail() {	# MESSAGE: fail the current test with a reason
	echo "FAIL: $*" >&2
	return 1
}

# Wait up to $2 seconds (default 10) for the command in $1 to succeed.
wait_for() {
	local deadline=$((SECONDS + ${2:-10}))
	until eval "$1"; do
		[ "$SECONDS" -lt "$deadline" ] || { fail "timed out: $1"; return 1; }
		sleep 0.01
	done
}

# --- the scenario: a bare repository, the hook, a clone to push from ---

LIVE=$T/live
REPO=$T/site.git
WORK=$T/work
CONFIG=$T/redeploy.ini

# Run as root, redeploy needs an owner for the releases (never root): the
# tests use nobody unless the extra lines name one.
write_config() {	# [EXTRA DEPLOY LINES...]
	{
		echo "[deploy]"
		echo "repository = $REPO"
		echo "path = $LIVE"
		echo "branch = master"
		local l owner=
		for l in "$@"; do
			echo "$l"
			case "$l" in owner[\ =]*) owner=1 ;; esac
		done
		if is_root && [ -z "$owner" ]; then
			echo "owner = nobody"
		fi
	} >"$CONFIG"
}

setup_repo() {	# [EXTRA DEPLOY LINES...]: bare repo + hook + clone + config
	mkdir -p "$LIVE"
	git init -q --bare "$REPO"
	write_config "$@"
	"$REDEPLOY" install-hook -c "$CONFIG" "$REPO" >/dev/null
	git init -q "$WORK"
	git -C "$WORK" remote add origin "$REPO"
}

# A small site: nested directories, an executable and an inside symlink.
make_site() {	# VERSION
	mkdir -p "$WORK/css" "$WORK/bin" "$WORK/deep/er/est"
	echo "<h1>version $1</h1>" >"$WORK/index.html"
	echo "body { color: black }" >"$WORK/css/site.css"
	printf '#!/bin/sh\necho hi\n' >"$WORK/bin/run"
	chmod 755 "$WORK/bin/run"
	echo "deep $1" >"$WORK/deep/er/est/file.txt"
	ln -sfn ../css/site.css "$WORK/bin/style.css"
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m "version $1"
}

# Wait until no deploy holds $LIVE/.lock: pruning runs in a detached child
# after the push has returned, holding the lock (a POSIX lock conflicts
# with redeploy's open-file-description lock, so lockf blocks until then).
wait_unlocked() {
	[ -f "$LIVE/.lock" ] && [ ! -L "$LIVE/.lock" ] || return 0
	timeout 60 python3 -c 'import fcntl, sys
f = open(sys.argv[1], "rb+")
fcntl.lockf(f, fcntl.LOCK_EX)' "$LIVE/.lock"
}

push() {	# [GIT PUSH ARGS...]: push master; output in $T/push.out
	local rc=0
	git -C "$WORK" push -q origin "${@:-HEAD:master}" >"$T/push.out" 2>&1 ||
		rc=$?
	wait_unlocked
	return "$rc"
}

# redeploy by hand, then wait for its pruning like push does.
redeploy() {
	local rc=0
	"$REDEPLOY" "$@" || rc=$?
	wait_unlocked
	return "$rc"
}

# The commit the live release was made from, from its metadata.
live_commit() {
	local id
	id=$(readlink "$LIVE/current") || return 1
	sed -n 's/^commit=//p' "$LIVE/releases/${id#releases/}.meta"
}

# Assert the live release equals `git archive COMMIT` byte for byte, with
# the configured modes (default 0755 dirs, 0644 files, 0755 executables).
assert_live_is() {	# COMMIT [DIR_MODE FILE_MODE EXEC_MODE]
	local c=$1 dm=${2:-755} fm=${3:-644} xm=${4:-755} exp=$T/expect.$$
	rm -rf "$exp" && mkdir "$exp"
	git -C "$REPO" archive "$c" | tar -x -C "$exp"
	diff -r --no-dereference "$exp" "$LIVE/current/" ||
		fail "live release differs from git archive $c"
	local bad
	bad=$(cd "$LIVE/current/" && find . -type d ! -perm "$dm" -print)
	[ -z "$bad" ] || fail "directories not $dm: $bad"
	# executables in git are exactly the ones with +x in the archive
	bad=$(cd "$exp" && find . -type f -perm -u+x -print | while read -r f; do
		[ "$(stat -c %a "$LIVE/current/$f")" = "$xm" ] || echo "$f"; done)
	[ -z "$bad" ] || fail "executables not $xm: $bad"
	bad=$(cd "$exp" && find . -type f ! -perm -u+x -print | while read -r f; do
		[ "$(stat -c %a "$LIVE/current/$f")" = "$fm" ] || echo "$f"; done)
	[ -z "$bad" ] || fail "files not $fm: $bad"
	[ "$(live_commit)" = "$(git -C "$REPO" rev-parse "$c^{commit}")" ] ||
		fail "metadata commit is not $c"
	rm -rf "$exp"
}

# Release directories (dot entries are work in progress, not releases).
count_releases() {
	find "$LIVE/releases" -mindepth 1 -maxdepth 1 -type d ! -name '.*' |
		wc -l
}

# --- helpers for the t1xxx scripts ---

# A fresh scenario for one test, so that tests do not depend on each other.
new_repo() {	# [EXTRA DEPLOY LINES...]
	rm -rf "$LIVE" "$REPO" "$WORK"
	setup_repo "$@"
}

# The id of the release `current` points at.
live_id() {
	local t
	if ! t=$(readlink "$LIVE/current"); then
		fail "no current link in $LIVE; the last push said:
$(sed 's/^/| /' "$T/push.out" 2>/dev/null)"
		return 1
	fi
	basename "$t"
}

# Fail unless FILE (default: the last push's output) contains STRING.
output_has() {	# STRING [FILE]
	local f=${2:-$T/push.out}
	grep -qF -- "$1" "$f" && return 0
	fail "expected '$1' in $f, which says:
$(sed 's/^/| /' "$f")"
}

output_lacks() {	# STRING [FILE]
	local f=${2:-$T/push.out}
	grep -qF -- "$1" "$f" || return 0
	fail "did not expect '$1' in $f, which says:
$(sed 's/^/| /' "$f")"
}

# Fail unless `current` still points at release ID.
assert_current() {	# ID
	local now
	now=$(live_id) || { fail "no current link in $LIVE"; return 1; }
	[ "$now" = "$1" ] || fail "current is '$now', expected '$1'"
}

# Fail if anything but releases and their metadata is left in releases/:
# work in progress (.incoming-*), or releases being pruned.  The one
# expected hidden entry is .spare-<live id>, the copy of the live release
# that the next deploy starts from.
assert_no_debris() {
	local d spare=none
	spare=.spare-$(live_id 2>/dev/null) || spare=none
	d=$(find "$LIVE/releases" -mindepth 1 -maxdepth 1 -name '.*' \
		! -name "$spare" 2>/dev/null)
	[ -z "$d" ] || fail "work in progress left behind: $d"
}

# Fail unless release ID holds exactly `git archive` of the commit its
# metadata names, and says it was deployed.
assert_release_complete() {	# ID
	local meta=$LIVE/releases/$1.meta c exp=$T/expect-release
	c=$(sed -n 's/^commit=//p' "$meta") || true
	[ -n "$c" ] || { fail "no commit= in $meta"; return 1; }
	grep -qx 'result=deployed' "$meta" || fail "$meta: no result=deployed"
	rm -rf "$exp" && mkdir "$exp"
	git -C "$REPO" archive "$c" | tar -x -C "$exp"
	diff -r --no-dereference "$exp" "$LIVE/releases/$1" ||
		fail "release $1 differs from git archive $c"
	local want got
	want=$(cd "$exp" && find . -type f -perm -u+x | sort)
	got=$(cd "$LIVE/releases/$1" && find . -type f -perm -u+x | sort)
	[ "$want" = "$got" ] ||
		fail "release $1 has executables '$got', git archive $c has '$want'"
	rm -rf "$exp"
}

# Write FILE (relative to the work clone) with CONTENT and commit it.
commit_file() {	# FILE CONTENT
	mkdir -p "$(dirname "$WORK/$1")"
	printf '%s\n' "$2" >"$WORK/$1"
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m "$1: $2"
}

# Write a tree object with exactly these entries, names unchecked (hostile
# trees that git mktree refuses); prints its id.  Give entries sorted.
raw_tree() {	# MODE NAME ID [MODE NAME ID...]
	while [ $# -ge 3 ]; do
		printf '%s %s\0' "$1" "$2"
		printf '%b' "$(printf '%s' "$3" | sed 's/../\\x&/g')"
		shift 3
	done | git -C "$WORK" hash-object -t tree -w --literally --stdin
}

# Commit TREE on top of the work clone's HEAD; prints the commit id.
commit_tree() {	# TREE [MESSAGE]
	git -C "$WORK" commit-tree "$1" -p HEAD -m "${2:-tree $1}"
}

# Run redeploy with ARGS (stdout in $T/cmd.out, stderr in $T/cmd.err) and
# fail unless it exits with STATUS.  A hang counts as a failure.
expect_exit() {	# STATUS ARGS...
	local want=$1 rc=0
	shift
	timeout -k 5 120 "$REDEPLOY" "$@" >"$T/cmd.out" 2>"$T/cmd.err" \
		</dev/null || rc=$?
	wait_unlocked
	[ "$rc" -eq "$want" ] && return 0
	fail "redeploy $* exited $rc, expected $want; stdout:
$(sed 's/^/| /' "$T/cmd.out")
stderr:
$(sed 's/^/| /' "$T/cmd.err")"
}

# Hold the deploy lock on $LIVE/.lock, both fcntl and flock kinds, until
# release_lock; sets LOCK_PID.
hold_lock() {
	rm -f "$T/locked"
	python3 -c '
import fcntl, os, signal, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.lockf(fd, fcntl.LOCK_EX)
fcntl.flock(fd, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
signal.pause()
' "$LIVE/.lock" "$T/locked" </dev/null >/dev/null 2>&1 &
	LOCK_PID=$!
	# only if it is still ours when the script ends (pids are reused)
	at_exit "grep -qaF '$T/locked' /proc/$LOCK_PID/cmdline && kill $LOCK_PID"
	wait_for "[ -e '$T/locked' ]"
}

release_lock() {
	kill "$LOCK_PID"
	wait "$LOCK_PID" 2>/dev/null || true
}

# assert_live_is, first checking that COMMIT is the live one at all and
# showing the last push's output when it is not.
assert_deployed() {	# COMMIT [DIR_MODE FILE_MODE EXEC_MODE]
	local want got
	want=$(git -C "$REPO" rev-parse "$1^{commit}") || return 1
	got=$(live_commit 2>/dev/null) || true
	[ "$got" = "$want" ] || {
		fail "live commit is '$got', expected $1 = $want; the last push said:
$(sed 's/^/| /' "$T/push.out" 2>/dev/null)"
		return 1
	}
	assert_live_is "$@"
}

# --- syslog: a real rsyslogd with a private config on /dev/log ---
# glibc's syslog() only talks to /dev/log, so the test needs root and must
# not take over a /dev/log that already exists (someone else's logger).
SYSLOG_FILE=$T/syslog

syslog_unavailable() {	# prints why syslog tests cannot run, if so
	if ! is_root; then
		echo "needs root"
	elif [ -e /dev/log ]; then
		echo "/dev/log exists and is not ours to take over"
	elif ! command -v rsyslogd >/dev/null; then
		echo "needs rsyslogd"
	fi
}

start_rsyslog() {
	mkdir -p "$T/rsyslog"
	cat >"$T/rsyslog/rsyslog.conf" <<CONF
global(workDirectory="$T/rsyslog")
module(load="imuxsock" SysSock.Name="/dev/log" SysSock.RateLimit.Interval="0")
template(name="lines" type="string"
	string="%syslogfacility-text%.%syslogseverity-text% %syslogtag%%msg%\n")
*.* action(type="omfile" file="$SYSLOG_FILE" template="lines")
CONF
	: >"$SYSLOG_FILE"
	rsyslogd -n -f "$T/rsyslog/rsyslog.conf" -i "$T/rsyslog/pid" &
	local pid=$!
	at_exit "kill $pid; wait $pid; rm -f /dev/log"
	# shellcheck disable=SC2016 # wait_for evaluates it
	wait_for '[ -S /dev/log ] && grep -q "rsyslogd:.*start" "$SYSLOG_FILE"'
}

wait_syslog() {	# PATTERN: wait for a matching line in the captured syslog
	local deadline=$((SECONDS + 10))
	until grep -q -- "$1" "$SYSLOG_FILE"; do
		[ "$SECONDS" -lt "$deadline" ] ||
			{ fail "no syslog line matches: $1"; return 1; }
		sleep 0.01
	done
}

# --- the agent (t2xxx): redeployd helpers.  Everything added for the agent
# is named agent_* (or AGENT_* for its variables); nothing above changes. ---
# The scenario: a deploy path made by hand ($LIVE/releases/<id> + <id>.meta,
# current -> releases/<id>), a real `redeployd -f` on a free loopback port,
# and a real service (python3 -m http.server) on another free port.  curl
# gets the token only through a 0600 header file, never through its argv.

: "${REDEPLOYD:=$TEST_ROOT/agent/redeployd}"
AGENT_PY=/usr/bin/python3
[ -x "$AGENT_PY" ] || AGENT_PY=$(command -v python3)
AGENT_RUN=$T/run		# the token's directory
AGENT_TOKEN=$AGENT_RUN/token
AGENT_HDR=$T/agent.hdr		# "Authorization: Bearer <token>", 0600
AGENT_ERR=$T/agent.err		# the agents' stderr (-f logs there)
AGENT_TAG=rdsvc$$		# log_tag of the service
AGENT_PORT=
AGENT_SVC_PORT=

# Print N free loopback TCP ports, all bound at once so they differ.
agent_free_ports() {	# [N]
	"$AGENT_PY" -c 'import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "${1:-1}"
}

# A free port below 512 (binding it needs root), or nothing.  authbind
# wants "!PORT" files for 512-1023 (authbind(1)); the web's 80 and 443 are
# below 512 too.
agent_free_low_port() {
	"$AGENT_PY" -c 'import socket
for p in range(400, 512):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break'
}

# Milliseconds since the epoch.
agent_ms() {
	local t=${EPOCHREALTIME//[!0-9]/}
	echo $((t / 1000))
}

# A fresh scene for one test: no agent or service of an earlier test left,
# an empty deploy path, new ports, a config with the defaults below.
# Lines that need $AGENT_PORT or $AGENT_SVC_PORT: agent_config afterwards.
agent_fresh() {	# [CONFIG LINES, see agent_config]
	agent_kill_all
	rm -rf "$LIVE" "$AGENT_RUN" "$AGENT_HDR"
	mkdir -p "$LIVE/releases" "$AGENT_RUN"
	chmod 755 "$LIVE" "$LIVE/releases" "$AGENT_RUN"
	if is_root; then
		# the service user must reach the release and the config, and
		# the sanitizer must be able to report from the dropped agent
		chmod 711 "$T"
		chmod 1777 "$T/san"
	fi
	local p
	p=$(agent_free_ports 2)
	AGENT_PORT=${p% *} AGENT_SVC_PORT=${p#* }
	agent_config "$@"
}

# The commit of release ID: a fixed fake sha derived from the id.
agent_sha() {	# ID
	printf '%s' "$1" | sha1sum | cut -c1-40
}

# Make release number N by hand (with empty FILES in it); prints its id.
agent_release() {	# N [FILE...]
	local n=$1 sha id f
	shift
	sha=$(printf 'release %s' "$n" | sha1sum | cut -c1-40)
	id=$(printf '20261123T1515%02dZ-%s' "$n" "${sha:0:7}")
	mkdir -p "$LIVE/releases/$id"
	echo "<h1>release $n</h1>" >"$LIVE/releases/$id/index.html"
	for f in "$@"; do
		: >"$LIVE/releases/$id/$f"
	done
	chmod -R go+rX "$LIVE/releases/$id"
	printf 'commit=%s\nref=refs/heads/master\nresult=deployed\n' \
		"$(agent_sha "$id")" >"$LIVE/releases/$id.meta"
	chmod 644 "$LIVE/releases/$id.meta"
	echo "$id"
}

# Point current at release ID (symlink + rename, as the hook does).
agent_switch() {	# ID
	ln -sfn "releases/$1" "$LIVE/current.new"
	mv -T "$LIVE/current.new" "$LIVE/current"
}

# Write the config ($CONFIG, or $AGENT_CONFIG) from the defaults below.
# Each argument "[SECTION.]KEY = VALUE" (SECTION deploy, agent or service;
# default service) replaces the default of KEY or adds it; "-[SECTION.]KEY"
# removes it.  Run as root the service is www-data and the token group
# nogroup; otherwise both are left unset (the caller's).
agent_config() {	# [[SECTION.]KEY = VALUE | -[SECTION.]KEY ...]
	local lines=(
		"deploy|path = $LIVE"
		"agent|listen = 127.0.0.1:$AGENT_PORT"
		"agent|token_file = $AGENT_TOKEN"
		"service|command = exec $AGENT_PY -m http.server $AGENT_SVC_PORT --bind 127.0.0.1"
		"service|ready = tcp:127.0.0.1:$AGENT_SVC_PORT"
		"service|ready_timeout = 10"
		"service|stop_timeout = 5"
		"service|restart_delay = 0.1"
		"service|restart_max_delay = 0.4"
		"service|log_tag = $AGENT_TAG"
		"service|environment = PYTHONUNBUFFERED=1"
	)
	if is_root; then
		lines+=("agent|token_group = nogroup" "service|user = www-data"
			"service|group = www-data")
	fi
	local arg sec del l new
	for arg in "$@"; do
		del=
		case "$arg" in -*) del=1 arg=${arg#-} ;; esac
		case "$arg" in
		deploy.* | agent.* | service.*) sec=${arg%%.*} arg=${arg#*.} ;;
		*) sec=service ;;
		esac
		new=()
		for l in "${lines[@]}"; do
			[ "${l%%|*}" = "$sec" ] &&
				[ "$(agent_key "${l#*|}")" = "$(agent_key "$arg")" ] &&
				continue
			new+=("$l")
		done
		[ -n "$del" ] || new+=("$sec|$arg")
		lines=("${new[@]}")
	done
	local cfg=${AGENT_CONFIG:-$CONFIG}
	for sec in deploy agent service; do
		echo "[$sec]"
		for l in "${lines[@]}"; do
			[ "${l%%|*}" != "$sec" ] || echo "${l#*|}"
		done
	done >"$cfg"
	chmod 644 "$cfg"
}

agent_key() {	# "KEY = VALUE": prints KEY
	local k=${1%%=*}
	k=${k%"${k##*[! ]}"}
	echo "$k"
}

# "Authorization: Bearer <token>" into a 0600 header file for curl -H @FILE,
# from the token file the agent wrote.
agent_auth() {
	(umask 077 && { printf 'Authorization: Bearer '; cat "$AGENT_TOKEN"; } \
		>"$AGENT_HDR")
}

# Is PID a live process (not a zombie)?
agent_alive() {	# PID
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "${st%% *}" != Z ]
}

# Start `redeployd -f -c CONFIG ARGS` in the background (stderr appended to
# $AGENT_ERR), wait until /health answers and write the header file.  Sets
# AGENT_PID and records it in $T/agent.pids for agent_kill_all/at_exit.
agent_start() {	# [ARGS...]
	local deadline=$((SECONDS + 15))
	"$REDEPLOYD" -f -c "${AGENT_CONFIG:-$CONFIG}" "$@" </dev/null \
		>>"$T/agent.out" 2>>"$AGENT_ERR" &
	AGENT_PID=$!
	echo "$AGENT_PID" >>"$T/agent.pids"
	at_exit "agent_kill $AGENT_PID"
	until [ "$(agent_health)" = 200 ]; do
		if ! agent_alive "$AGENT_PID"; then
			fail "redeployd exited at start; stderr:
$(sed 's/^/| /' "$AGENT_ERR")"
			return 1
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			fail "redeployd does not answer /health; stderr:
$(sed 's/^/| /' "$AGENT_ERR")"
			return 1
		fi
		sleep 0.01
	done
	agent_auth
}

# GET /health without a token; prints the status code (000: no answer).
agent_health() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
		"http://127.0.0.1:$AGENT_PORT/health" 2>/dev/null || true
}

# Stop agent PID if it is still one of ours: TERM, up to 15 s, then KILL.
agent_kill() {	# PID
	local pid=$1 i
	grep -qaF "$T/" "/proc/$pid/cmdline" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 1500; i++)); do
		agent_alive "$pid" || break
		sleep 0.01
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# Stop every agent this script started, then anything still running in a
# release of this script (services orphaned by a killed agent).
agent_kill_all() {
	local pid
	if [ -f "$T/agent.pids" ]; then
		while read -r pid; do
			agent_kill "$pid"
		done <"$T/agent.pids"
	fi
	agent_sweep
}

agent_sweep() {
	local p cwd
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		case "$p" in "$$" | "$BASHPID") continue ;; esac
		cwd=$(readlink "/proc/$p/cwd" 2>/dev/null) || continue
		case "$cwd" in
		"$LIVE"/*) kill -KILL "$p" 2>/dev/null || true ;;
		esac
	done
}

# Ask the agent: METHOD PATH with the token (header file $AGENT_HDR, or
# AGENT_HDR=/dev/null for none) and CURL ARGS.  Prints the status code (000:
# no answer); body and headers in $AGENT_RESP.body/.head ($T/resp default).
agent_curl() {	# METHOD PATH [CURL ARGS...]
	local m=$1 p=$2 r=${AGENT_RESP:-$T/resp}
	shift 2
	curl -s -o "$r.body" -D "$r.head" -w '%{http_code}' --max-time 30 \
		-X "$m" -H @"$AGENT_HDR" "$@" \
		"http://127.0.0.1:$AGENT_PORT$p" 2>"$r.err" || true
}

# agent_curl, failing unless the answer is CODE.
agent_expect() {	# CODE METHOD PATH [CURL ARGS...]
	local want=$1 got r=${AGENT_RESP:-$T/resp}
	shift
	got=$(agent_curl "$@")
	[ "$got" = "$want" ] && return 0
	fail "$1 $2 answered $got, expected $want; headers and body:
$(cat "$r.head" "$r.body" "$r.err" 2>/dev/null | sed 's/^/| /')"
}

# Print field KEY (dotted: last_exit.code) of the JSON in FILE: strings
# raw, null as "null"; fails when the key is missing or FILE is not JSON.
agent_json() {	# KEY [FILE]
	"$AGENT_PY" -c 'import json, sys
try:
    v = json.load(open(sys.argv[2]))
except ValueError as e:
    sys.exit("not JSON (%s): %r" % (e, open(sys.argv[2]).read()))
for k in sys.argv[1].split("."):
    if not isinstance(v, dict) or k not in v:
        sys.exit("no %s in %s" % (sys.argv[1], open(sys.argv[2]).read()))
    v = v[k]
if isinstance(v, str):
    print(v)
else:
    print(json.dumps(v))' "$1" "${2:-${AGENT_RESP:-$T/resp}.body}"
}

# GET /status into $T/status.json (failing unless 200).
agent_status() {
	AGENT_RESP=$T/status agent_expect 200 GET /status &&
		cp "$T/status.body" "$T/status.json"
}

# A field of a fresh /status.
agent_field() {	# KEY
	agent_status && agent_json "$1" "$T/status.json"
}

# Wait until /status says state STATE (default timeout 10 s).
agent_wait_state() {	# STATE [SECONDS]
	local deadline=$((SECONDS + ${2:-10})) s=
	while :; do
		s=$(agent_field state 2>/dev/null) || s=
		[ "$s" != "$1" ] || return 0
		if [ "$SECONDS" -ge "$deadline" ]; then
			fail "state is '$s', not '$1' after ${2:-10} s; status: $(cat "$T/status.json" 2>/dev/null)
agent stderr:
$(tail -n 20 "$AGENT_ERR" | sed 's/^/| /')"
			return 1
		fi
		sleep 0.01
	done
}

# The live processes of process group PGID, one pid a line.
agent_group_pids() {	# PGID
	ps -e -o pid=,pgid=,stat= | awk -v g="$1" '$2 == g && $3 !~ /^Z/ { print $1 }'
}

# Live http.server processes running in a release of this script.
agent_servers() {
	local p cwd
	for p in /proc/[0-9]*; do
		grep -qaF http.server "$p/cmdline" 2>/dev/null || continue
		cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
		case "$cwd" in "$LIVE"/*) ;; *) continue ;; esac
		agent_alive "${p#/proc/}" && echo "${p#/proc/}"
	done
	return 0
}

# Zombie children of PID (default: $AGENT_PID).
agent_zombies() {	# [PID]
	ps -e -o pid=,ppid=,stat= |
		awk -v p="${1:-$AGENT_PID}" '$2 == p && $3 ~ /^Z/ { print $1 }'
}

# Fail unless the service answers HTTP on $AGENT_SVC_PORT right now.
agent_service_answers() {
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
		"http://127.0.0.1:$AGENT_SVC_PORT/") || true
	[ "$code" = 200 ] || fail "the service on port $AGENT_SVC_PORT answered '$code'"
}

# Wait until process PID is gone (or a zombie of someone else).
agent_wait_gone() {	# PID [SECONDS]
	wait_for "! agent_alive $1" "${2:-10}"
}

# --- push to live (t3xxx): real pushes through the hook into a real agent
# and a real python3 service.  Everything added for these tests is named
# live_* (or LIVE_WEB, the service's port); nothing above changes.  The
# scene is the one of setup_repo plus an [agent] and a [service] section in
# $CONFIG, so the agent_* helpers above (agent_start, agent_curl,
# agent_field, agent_kill_all, ...) work on it unchanged. ---

LIVE_WEB=

# The service every pushed tree carries, as scripts/demo's: it serves the
# release's files on 127.0.0.1:PORT.  It behaves as a service should on
# stop_signal (TERM): it stops accepting, answers the connections already
# queued and in flight, then closes the port and exits 0.  So a request
# that gets no answer during a restart is the restart's doing, not its.
live_server_py() {
	cat <<'PY'
# server.py - serve this release's files on 127.0.0.1:PORT.  On SIGTERM:
# stop accepting, answer what is queued and in flight, close the port, exit 0.
import http.server, os, signal, sys, threading


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = False      # server_close() waits for the handlers


port = int(sys.argv[1])
# every thread inherits the block: only sigwait below takes SIGTERM
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
srv = Server(("127.0.0.1", port), http.server.SimpleHTTPRequestHandler)
threading.Thread(target=srv.serve_forever, args=(0.02,), daemon=True).start()
print("serving release %s on port %d" % (os.environ.get("REDEPLOY_RELEASE"),
                                        port), file=sys.stderr, flush=True)
signal.sigwait({signal.SIGTERM})
srv.shutdown()                  # the accept loop ends
srv.socket.setblocking(False)   # answer the connections queued by then
while True:
    try:
        conn, addr = srv.socket.accept()
    except BlockingIOError:
        break
    conn.setblocking(True)
    srv.process_request(conn, addr)
srv.server_close()              # close the port, wait for the answers
sys.exit(0)
PY
}

# A fresh scene for one test: no agent or service of an earlier test left, a
# bare repository with the hook, an empty deploy path, new ports, and a
# config whose service is `python3 server.py PORT` from the pushed tree,
# ready for agent_start (nothing deployed yet: it will run nothing).
live_setup() {	# [EXTRA [deploy] LINES...]
	agent_kill_all
	rm -rf "$LIVE" "$REPO" "$WORK" "$AGENT_RUN" "$AGENT_HDR"
	setup_repo "$@"
	mkdir -p "$AGENT_RUN"
	chmod 755 "$AGENT_RUN" "$LIVE"
	if is_root; then
		# the service user must reach its release and the config, and
		# the sanitizer must be able to report from the dropped agent
		chmod 711 "$T"
		chmod 1777 "$T/san"
	fi
	local p
	p=$(agent_free_ports 2)
	AGENT_PORT=${p% *} LIVE_WEB=${p#* }
	{
		echo "[agent]"
		echo "listen = 127.0.0.1:$AGENT_PORT"
		echo "token_file = $AGENT_TOKEN"
		echo "token_group = $(id -gn)"
		echo "[service]"
		echo "command = exec $AGENT_PY server.py $LIVE_WEB"
		if is_root; then
			echo "user = www-data"
			echo "group = www-data"
		fi
		echo "ready = http://127.0.0.1:$LIVE_WEB/"
		echo "ready_timeout = 5"
		echo "stop_timeout = 2"
		echo "restart_delay = 0.1"
		echo "restart_max_delay = 0.4"
		echo "log_tag = $AGENT_TAG"
		echo "environment = PYTHONUNBUFFERED=1"
	} >>"$CONFIG"
	chmod 644 "$CONFIG"
}

# The page of version N, as the service serves it.
live_body() {	# N
	echo "<h1>version $1</h1>"
}

# Commit version N of the site: its page and the working server.py.
live_version() {	# N
	live_body "$1" >"$WORK/index.html"
	live_server_py >"$WORK/server.py"
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m "version $1"
}

# Commit version N whose server.py exits at once with MESSAGE.
live_broken() {	# N MESSAGE
	live_body "$1" >"$WORK/index.html"
	printf 'raise SystemExit("%s")\n' "$2" >"$WORK/server.py"
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m "version $1 (broken)"
}

# The page the service serves now (fails when there is no answer).
live_page() {
	curl -sS --max-time 5 "http://127.0.0.1:$LIVE_WEB/"
}

# Fail unless the service serves version N right now.
live_serves() {	# N
	local got
	got=$(live_page 2>&1) || true
	[ "$got" = "$(live_body "$1")" ] ||
		fail "the service serves '$got', expected version $1; the last push said:
$(sed 's/^/| /' "$T/push.out" 2>/dev/null)"
}

# The release the last push (or FILE) made: "release ID live: ...".
live_pushed_id() {	# [FILE]
	sed -n 's/.*release \([^ ]*\) live: .*/\1/p' "${1:-$T/push.out}" |
		tail -n 1
}

# A field of the agent's /status (agent_field, showing the answer on error).
live_status() {	# KEY
	local v
	v=$(agent_field "$1") || {
		fail "no $1 in /status: $(cat "$T/status.body" 2>/dev/null)"
		return 1
	}
	echo "$v"
}

# Fail unless the agent runs release ID, ready, in a live process; prints
# the pid.
live_runs() {	# ID
	local st rel pid
	agent_status || return 1
	st=$(agent_json state "$T/status.json")
	rel=$(agent_json release "$T/status.json")
	pid=$(agent_json pid "$T/status.json")
	if [ "$st" != ready ] || [ "$rel" != "$1" ]; then
		fail "the agent is '$st' in release '$rel', expected ready in $1: $(cat "$T/status.json")"
		return 1
	fi
	agent_alive "$pid" || { fail "service pid $pid is not running"; return 1; }
	[ "$(readlink "/proc/$pid/cwd")" = "$LIVE/releases/$1" ] ||
		{ fail "pid $pid runs in $(readlink "/proc/$pid/cwd")"; return 1; }
	echo "$pid"
}

# Variable NAME in the environment of process PID.
live_environ() {	# PID NAME
	tr '\0' '\n' <"/proc/$1/environ" | sed -n "s/^$2=//p"
}

# --- a real sshd on a free loopback port, for pushes over ssh ---
# sshd_start USER HOSTKEY: its own config, pid file and log in $T, the port
# in $T/ssh_port (tests run in subshells), /run/sshd made if missing.
# sshd_stop: stops it by its pid file and removes what sshd_start made.
sshd_start() {	# USER HOSTKEY
	local port
	port=$(agent_free_ports 1)
	echo "$port" >"$T/ssh_port"
	cat >"$T/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $2
PidFile $T/sshd.pid
AuthorizedKeysFile .ssh/authorized_keys
AllowUsers $1
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# $T and its parents (/tmp is 1777) are not what StrictModes accepts
StrictModes no
LogLevel VERBOSE
EOF
	if [ ! -d /run/sshd ]; then	# privilege separation needs it
		mkdir -m 0755 /run/sshd
		touch "$T/sshd.made-rundir"
	fi
	/usr/sbin/sshd -t -f "$T/sshd_config" 2>"$T/sshd.log" ||
		{ fail "sshd -t: $(cat "$T/sshd.log")"; return 1; }
	/usr/sbin/sshd -D -e -f "$T/sshd_config" </dev/null >>"$T/sshd.log" 2>&1 &
	# shellcheck disable=SC2016 # wait_for evaluates it
	wait_for 'grep -q "Server listening" "$T/sshd.log" && [ -s "$T/sshd.pid" ]' 10
}

sshd_stop() {
	local pid
	if pid=$(cat "$T/sshd.pid" 2>/dev/null) &&
	    grep -qaF "$T/sshd_config" "/proc/$pid/cmdline" 2>/dev/null; then
		kill -TERM "$pid"
		wait_for "! kill -0 $pid 2>/dev/null" 10
	fi
	if [ -e "$T/sshd.made-rundir" ]; then
		rmdir /run/sshd 2>/dev/null || true
		rm -f "$T/sshd.made-rundir"
	fi
}
