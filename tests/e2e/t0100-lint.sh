#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t0100-lint: the scripts pass shellcheck and the man pages render without
# warnings, as the project promises.
. "$(dirname "$0")/lib.sh"
cd "$TEST_ROOT" || exit 3

scripts_pass_shellcheck() {
	local files
	files=$(git ls-files scripts tests .ci | while read -r f; do
		case "$f" in
		*.sh | tests/run | .ci/run) echo "$f" ;;
		*) if head -n1 "$f" | grep -q '^#!.*sh'; then echo "$f"; fi ;;
		esac
	done)
	[ -n "$files" ] || fail "no scripts found"
	# shellcheck disable=SC2086 # one file per word
	shellcheck -x -s bash $files
}

man_pages_render_cleanly() {
	local page out
	for page in doc/*.[1-8]; do
		out=$(LC_ALL=C.UTF-8 groff -ww -man -Tutf8 "$page" 2>&1 >/dev/null)
		[ -z "$out" ] || fail "$page: $out"
		if command -v mandoc >/dev/null; then
			mandoc -T lint -W warning "$page" || fail "$page: mandoc lint"
		fi
	done
}

# One version number: VERSION; the man pages and debian/changelog say it.
one_version() {
	local v page
	v=$(cat VERSION)
	case $v in [0-9]*.[0-9]*) ;; *) fail "VERSION is '$v'" ;; esac
	for page in doc/*.[1-8]; do
		grep -q "^\.TH .* \"redeploy $v\" " "$page" ||
			fail "$page: $(grep '^\.TH' "$page"), not redeploy $v"
	done
	head -n 1 debian/changelog | grep -q "^redeploy ($v) " ||
		fail "debian/changelog: $(head -n 1 debian/changelog), not $v"
	grep -q "^## $v\b" NEWS || fail "NEWS has no section for $v"
}

test_expect "scripts pass shellcheck" scripts_pass_shellcheck
test_expect "VERSION, the man pages, debian/changelog and NEWS agree" one_version
test_expect "man pages render without warnings" man_pages_render_cleanly
test_done
