#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t4050-authbind-script: scripts/setup-authbind gives one user one low port
# through authbind (/etc/authbind/byport/PORT, or !PORT for 512-1023, owned
# by the user, mode 0500), changes nothing on a second run, removes the file
# with --remove, and refuses bad arguments with exit status 2.
. "$(dirname "$0")/lib.sh"
ns_isolate		# as root: private /etc, /run, /var, /dev, network

SCRIPT=$TEST_ROOT/scripts/setup-authbind
BYPORT=/etc/authbind/byport
SVC_USER=www-data

# A port in [LOW, HIGH] that is free on loopback and has no authbind file
# of either name, so that the test touches nothing that is already there.
free_authbind_port() {	# LOW HIGH
	"$AGENT_PY" - "$1" "$2" "$BYPORT" <<'PY'
import os, socket, sys
low, high, d = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
for p in range(low, high + 1):
    if os.path.lexists("%s/%d" % (d, p)) or os.path.lexists("%s/!%d" % (d, p)):
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
PY
}

# Can USER bind 127.0.0.1:PORT through authbind right now?
can_bind() {	# USER PORT
	runuser -u "$1" -- authbind "$AGENT_PY" -c 'import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))' "$2" 2>/dev/null
}

# Run the script; its output in $T/out, its exit status in $rc.
run() {	# ARGS...
	rc=0
	"$SCRIPT" "$@" >"$T/out" 2>&1 || rc=$?
}

out_has() {	# STRING
	grep -qF -- "$1" "$T/out" ||
		fail "expected '$1' in the output, which says: $(cat "$T/out")"
}

assert_file() {	# FILE
	if [ ! -f "$1" ] || [ -L "$1" ]; then
		fail "$1 is not a regular file"
		return 1
	fi
	[ "$(stat -c '%U %a' "$1")" = "$SVC_USER 500" ] ||
		fail "$1 is $(stat -c '%U %a' "$1"), expected '$SVC_USER 500'"
}

# create, check, run again (nothing changes), remove: for PORT whose
# authbind file is NAME
cycle() {	# PORT NAME
	local port=$1 file=$BYPORT/$2 before after
	at_exit "rm -f '$file'"
	can_bind "$SVC_USER" "$port" && fail "$SVC_USER binds $port before the script ran"
	run "$port" "$SVC_USER" --dry-run
	[ "$rc" -eq 0 ] || fail "--dry-run exited $rc: $(cat "$T/out")"
	out_has "would create $file"
	[ ! -e "$file" ] || fail "--dry-run created $file"
	run "$port" "$SVC_USER"
	[ "$rc" -eq 0 ] || fail "exited $rc: $(cat "$T/out")"
	out_has "created $file"
	assert_file "$file"
	[ ! -s "$file" ] || fail "$file is not empty"
	can_bind "$SVC_USER" "$port" || fail "$SVC_USER cannot bind $port through authbind"
	can_bind nobody "$port" && fail "nobody can bind $port through authbind"
	# no stray temporary files
	[ -z "$(find "$BYPORT" -name '.setup-authbind.*')" ] ||
		fail "temporary files left in $BYPORT"
	before=$(stat -c '%i %Y %U %a' "$file")
	run "$port" "$SVC_USER"
	[ "$rc" -eq 0 ] || fail "second run exited $rc: $(cat "$T/out")"
	out_has "nothing changed"
	after=$(stat -c '%i %Y %U %a' "$file")
	[ "$before" = "$after" ] || fail "second run changed $file: $before -> $after"
	# a wrong mode is repaired in place
	chmod 0555 "$file"
	run "$port" "$SVC_USER"
	[ "$rc" -eq 0 ] || fail "repair exited $rc: $(cat "$T/out")"
	out_has "fixed $file"
	assert_file "$file"
	run "$port" "$SVC_USER" --remove --dry-run
	[ -e "$file" ] || fail "--remove --dry-run removed $file"
	run "$port" "$SVC_USER" --remove
	[ "$rc" -eq 0 ] || fail "--remove exited $rc: $(cat "$T/out")"
	[ ! -e "$file" ] || fail "--remove left $file"
	can_bind "$SVC_USER" "$port" && fail "$SVC_USER still binds $port after --remove"
	run "$port" "$SVC_USER" --remove
	[ "$rc" -eq 0 ] || fail "second --remove exited $rc: $(cat "$T/out")"
	out_has "nothing to remove"
}

below_512() {
	local port
	port=$(free_authbind_port 400 511)
	[ -n "$port" ] || { fail "no free port in 400-511"; return 1; }
	cycle "$port" "$port"
	[ ! -e "$BYPORT/!$port" ] || fail "a !$port file for a port below 512"
}

from_512() {
	local port
	port=$(free_authbind_port 512 1023)
	[ -n "$port" ] || { fail "no free port in 512-1023"; return 1; }
	cycle "$port" "!$port"
	[ ! -e "$BYPORT/$port" ] || fail "a plain $port file for a port in 512-1023"
}

refusals() {
	local port a
	port=$(free_authbind_port 400 511)
	for a in "0 $SVC_USER" "1024 $SVC_USER" "65536 $SVC_USER" "-1 $SVC_USER" \
		"08 $SVC_USER" "http $SVC_USER" "$port no-such-user-$$" "$port root" \
		"$port" "" "$port $SVC_USER extra" "$port $SVC_USER --bogus"; do
		# shellcheck disable=SC2086 # the words are the arguments
		run $a
		[ "$rc" -eq 2 ] || fail "'$a' exited $rc, not 2: $(cat "$T/out")"
		[ "$(wc -l <"$T/out")" -eq 1 ] ||
			fail "'$a' printed more than one line: $(cat "$T/out")"
	done
	[ ! -e "$BYPORT/$port" ] || fail "a refused run created $BYPORT/$port"
	# a symlink in the way is neither followed nor replaced
	ln -s "$T/target" "$BYPORT/$port"
	at_exit "rm -f '$BYPORT/$port'"
	run "$port" "$SVC_USER"
	[ "$rc" -eq 1 ] || fail "a symlink in the way: exit $rc, not 1: $(cat "$T/out")"
	out_has "symlink"
	if [ ! -L "$BYPORT/$port" ] || [ -e "$T/target" ]; then
		fail "the symlink was replaced or followed"
	fi
	run "$port" "$SVC_USER" --remove
	[ "$rc" -eq 1 ] || fail "--remove on a symlink: exit $rc, not 1"
	[ -L "$BYPORT/$port" ] || fail "--remove removed someone's symlink"
	rm -f "$BYPORT/$port"
	run --help
	[ "$rc" -eq 0 ] || fail "--help exited $rc"
	out_has "usage: scripts/setup-authbind PORT USER"
}

not_root() {
	run 80 "$SVC_USER"
	[ "$rc" -eq 1 ] || fail "as $(id -un): exit $rc, not 1"
	out_has "needs root"
}

if ! is_root; then
	test_expect "as a user, it says it needs root" not_root
	test_skip "byport file for a port below 512" "needs root"
	test_skip "!PORT file for a port in 512-1023" "needs root"
	test_skip "bad arguments and a symlink in the way are refused" "needs root"
elif ! command -v authbind >/dev/null || [ ! -d "$BYPORT" ]; then
	test_skip "setup-authbind" "authbind is not installed (scripts/deps)"
elif ! getent passwd "$SVC_USER" >/dev/null; then
	test_skip "setup-authbind" "no user $SVC_USER"
else
	test_expect "byport file for a port below 512: create, again, repair, remove" below_512
	test_expect "!PORT file for a port in 512-1023: create, again, repair, remove" from_512
	test_expect "bad arguments exit 2; a symlink in the way is refused" refusals
fi
test_done
