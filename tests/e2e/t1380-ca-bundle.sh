#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t1380-ca-bundle: libgit2's start, on its own, reads the system's CA
# certificates (Debian builds it with mbedTLS); a real push that deploys,
# and `redeploy deploy`, read none of them (redeploy talks to no remote),
# and still deploy the tree byte for byte.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

command -v strace >/dev/null || { test_skip "CA bundle" "needs strace"; test_done; }
# LeakSanitizer cannot work under ptrace; other tests look for leaks
export ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0"

# The certificate files a traced command opened (strace -f -o FILE).
certs_opened() {	# FILE
	grep -E 'open(at)?\(.*"/(etc|usr/share|usr/lib)/ssl/[^"]*"' "$1" |
		grep -v ' = -1 E' || true
}

# The premise: plain libgit2 does read them here.  Where it does not (no
# CA bundle, or a libgit2 built on another TLS library) there is nothing
# to avoid.
premise() {
	strace -f -e trace=open,openat -o "$T/plain.trace" python3 -c '
import ctypes, ctypes.util
git2 = ctypes.CDLL(ctypes.util.find_library("git2"))
assert git2.git_libgit2_init() >= 1' >/dev/null 2>&1 &&
		[ -n "$(certs_opened "$T/plain.trace")" ]
}

fresh() {
	rm -rf "$LIVE" "$REPO" "$WORK"
	setup_repo
}

push_reads_no_certs() {
	fresh
	make_site 1
	strace -f -e trace=open,openat -o "$T/push.trace" \
		git -C "$WORK" push -q origin HEAD:master 2>"$T/push.err" ||
		fail "push: $(cat "$T/push.err")"
	wait_unlocked
	assert_deployed HEAD
	local got
	got=$(certs_opened "$T/push.trace")
	[ -z "$got" ] || fail "the push read certificates: $got"
	# the hook did run under the trace, and libgit2 with it
	grep -q 'libgit2\.so.* = [0-9]' "$T/push.trace" ||
		fail "the trace shows no libgit2 loaded"
}

deploy_reads_no_certs() {
	fresh
	make_site 1
	make_site 2
	git -C "$WORK" push -q origin HEAD:master
	wait_unlocked
	# by hand, the version before the tip
	strace -f -e trace=open,openat -o "$T/deploy.trace" \
		"$REDEPLOY" -c "$CONFIG" deploy "$(git -C "$WORK" rev-parse HEAD~1)" \
		>"$T/deploy.out" 2>&1 || fail "deploy: $(cat "$T/deploy.out")"
	wait_unlocked
	assert_deployed HEAD~1
	local got
	got=$(certs_opened "$T/deploy.trace")
	[ -z "$got" ] || fail "redeploy deploy read certificates: $got"
}

if premise; then
	test_expect "a push that deploys reads no CA certificate" push_reads_no_certs
	test_expect "redeploy deploy reads no CA certificate" deploy_reads_no_certs
else
	test_skip "a push that deploys reads no CA certificate" "libgit2 reads none here"
	test_skip "redeploy deploy reads no CA certificate" "libgit2 reads none here"
fi
test_done
