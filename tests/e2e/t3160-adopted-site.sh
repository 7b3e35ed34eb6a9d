#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t3160-adopted-site: `current` was made by hand before redeploy (a site
# adopted as it was).  A first push whose service fails must put that link
# back, never leave the site without `current`.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

adopted_link_restored() {
	local old=$T/oldsite
	live_setup
	mkdir -p "$old"
	live_body 0 >"$old/index.html"
	live_server_py >"$old/server.py"
	chmod -R a+rX "$old"
	ln -s "$old" "$LIVE/current"
	agent_start
	"$REDEPLOY" -c "$CONFIG" restart >"$T/restart.out" 2>&1 ||
		fail "restart of the adopted site: $(cat "$T/restart.out")"
	live_serves 0
	live_broken 1 "boom: no settings"
	push
	output_has "failed"
	output_has "boom: no settings"
	output_has "'current' points at '$old' again"
	[ "$(readlink "$LIVE/current")" = "$old" ] ||
		fail "current is '$(readlink "$LIVE/current")', not '$old'"
	live_serves 0
}

test_expect "a failed first push puts a hand-made current back" adopted_link_restored
test_done
