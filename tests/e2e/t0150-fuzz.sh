#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t0150-fuzz: every libFuzzer target in fuzz/ runs for FUZZ_CHECK_TIME
# seconds (30 unless set) from its seed corpus, and any crash, leak or
# sanitizer report fails the test.  It runs beside the other suites, so
# `make check` pays for it only once.  Longer runs: `make fuzz FUZZ_TIME=N`.
. "$(dirname "$0")/lib.sh"
ns_isolate
cd "$TEST_ROOT" || exit 3

FUZZ_O=$T/fuzz
FUZZ_CHECK_TIME=${FUZZ_CHECK_TIME:-30}

fuzz_builds() {
	make -s --no-print-directory FUZZ_O="$FUZZ_O" fuzz-build \
		>"$T/build.log" 2>&1 || fail "fuzz-build: $(tail -n 20 "$T/build.log")"
}

fuzz_runs() {	# TARGET
	[ -x "$FUZZ_O/fuzz_$1" ] || fail "fuzz_$1 was not built"
	make -s --no-print-directory FUZZ_O="$FUZZ_O" FUZZ_TARGETS="$1" \
		FUZZ_TIME="$FUZZ_CHECK_TIME" fuzz >"$T/$1.out" 2>&1 ||
		fail "fuzz_$1: $(tail -n 40 "$T/$1.out")"
	grep -q 'number_of_executed_units' "$T/$1.out" ||
		fail "fuzz_$1 ran nothing: $(tail -n 20 "$T/$1.out")"
}

targets=$(sed -n 's/^FUZZ_TARGETS = //p' Makefile)
if ! command -v "${FUZZ_CC:-clang}" >/dev/null 2>&1; then
	for t in $targets; do
		test_skip "fuzz_$t for ${FUZZ_CHECK_TIME} s" "needs clang"
	done
else
	test_expect "the fuzz targets build with libFuzzer" fuzz_builds
	for t in $targets; do
		eval "fuzz_$t() { fuzz_runs $t; }"
		test_expect "fuzz_$t for ${FUZZ_CHECK_TIME} s: no crash, leak or report" "fuzz_$t"
	done
fi
test_done
