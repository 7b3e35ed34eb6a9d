#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t0200-install: make install puts both programs (redeploy in bin, redeployd
# in sbin), the man pages, the example config, the systemd unit and the
# init script under DESTDIR/PREFIX with explicit modes, never overwrites an
# existing config or init script, and make uninstall removes what it
# installed (an init script only if it is still ours).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

D=$T/dest

# make TARGET into $D, as a user would: the tree's own build, not the
# sanitized binaries the test run may point at.
make_dest() {	# TARGET [PREFIX]
	env -u O -u SAN -u HOOK_BIN -u AGENT_BIN \
		make -s -C "$TEST_ROOT" "$1" DESTDIR="$D" PREFIX="${2:-/usr}"
}

UNIT=lib/systemd/system/redeployd@.service
INIT=etc/init.d/redeployd

install_into_destdir() {
	make_dest install >"$T/make.out" 2>&1 || fail "make install: $(cat "$T/make.out")"
	[ "$(stat -c %a "$D/usr/bin/redeploy")" = 755 ] || fail "binary mode"
	"$D/usr/bin/redeploy" --version | grep -q '^redeploy ' ||
		fail "installed binary does not run"
	[ "$(stat -c %a "$D/usr/share/man/man1/redeploy.1")" = 644 ] ||
		fail "redeploy.1 missing or mode"
	[ "$(stat -c %a "$D/usr/share/man/man5/redeploy.ini.5")" = 644 ] ||
		fail "redeploy.ini.5 missing or mode"
	[ "$(stat -c %a "$D/usr/sbin/redeployd")" = 755 ] ||
		fail "redeployd missing from sbin, or mode"
	"$D/usr/sbin/redeployd" --version | grep -q '^redeployd ' ||
		fail "installed redeployd does not run"
	[ "$(stat -c %a "$D/usr/share/man/man8/redeployd.8")" = 644 ] ||
		fail "redeployd.8 missing or mode"
	cmp -s "$TEST_ROOT/doc/redeployd.8" "$D/usr/share/man/man8/redeployd.8" ||
		fail "redeployd.8 differs from doc/redeployd.8"
	cmp -s "$TEST_ROOT/conf/redeploy.ini" "$D/etc/redeploy/redeploy.ini" ||
		fail "example config not installed"
	[ "$(stat -c %a "$D/usr/$UNIT")" = 644 ] ||
		fail "redeployd@.service missing or mode"
	cmp -s "$TEST_ROOT/scripts/redeployd@.service" "$D/usr/$UNIT" ||
		fail "redeployd@.service differs from scripts/redeployd@.service"
	[ "$(stat -c %a "$D/$INIT")" = 755 ] || fail "init script missing or mode"
	cmp -s "$TEST_ROOT/scripts/redeployd.init" "$D/$INIT" ||
		fail "init script differs from scripts/redeployd.init"
}

# PREFIX=/usr/local: the unit and the init script run /usr/local/sbin's.
prefix_in_unit_and_init() {
	local D=$T/dest-local
	make_dest install /usr/local >"$T/make.out" 2>&1 ||
		fail "make install: $(cat "$T/make.out")"
	grep -qx 'ExecStart=/usr/local/sbin/redeployd -f -c /etc/redeploy/%i.ini' \
		"$D/usr/local/$UNIT" || fail "unit: $(grep Exec "$D/usr/local/$UNIT")"
	! grep -q /usr/sbin/ "$D/usr/local/$UNIT" || fail "unit names /usr/sbin"
	grep -q '^REDEPLOYD=.*:-/usr/local/sbin/redeployd}$' "$D/$INIT" ||
		fail "init script: $(grep '^REDEPLOYD=' "$D/$INIT")"
	make_dest uninstall /usr/local >"$T/make.out" 2>&1 ||
		fail "make uninstall: $(cat "$T/make.out")"
	[ ! -e "$D/usr/local/$UNIT" ] || fail "uninstall left the unit"
	[ ! -e "$D/$INIT" ] || fail "uninstall left the init script"
}

# An init script that differs from ours is the admin's: install keeps it,
# uninstall leaves it.
init_script_never_overwritten() {
	local D=$T/dest-admin
	mkdir -p "$D/etc/init.d"
	printf '#!/bin/sh\n# the admin'"'"'s own\n' >"$D/$INIT"
	chmod 750 "$D/$INIT"
	cp "$D/$INIT" "$T/admin.init"
	make_dest install >"$T/make.out" 2>&1 ||
		fail "make install: $(cat "$T/make.out")"
	cmp -s "$T/admin.init" "$D/$INIT" ||
		fail "make install overwrote the admin's init script"
	[ "$(stat -c %a "$D/$INIT")" = 750 ] || fail "make install changed its mode"
	grep -q "keeping existing $D/$INIT" "$T/make.out" ||
		fail "no word about keeping it: $(cat "$T/make.out")"
	make_dest uninstall >"$T/make.out" 2>&1 || fail "make uninstall failed"
	cmp -s "$T/admin.init" "$D/$INIT" ||
		fail "make uninstall removed the admin's init script"
	grep -q "left $D/$INIT in place" "$T/make.out" ||
		fail "no word about leaving it: $(cat "$T/make.out")"
	[ ! -e "$D/usr/$UNIT" ] || fail "uninstall left the unit"
}

config_never_overwritten() {
	echo "; the admin's own" >>"$D/etc/redeploy/redeploy.ini"
	cp "$D/etc/redeploy/redeploy.ini" "$T/admin.ini"
	make_dest install >"$T/make.out" 2>&1 || fail "second make install failed"
	cmp -s "$T/admin.ini" "$D/etc/redeploy/redeploy.ini" ||
		fail "make install overwrote the admin's config"
	grep -q "keeping existing" "$T/make.out" || fail "no word about keeping it"
}

uninstall_removes() {
	make_dest uninstall >"$T/make.out" 2>&1 || fail "make uninstall failed"
	left=$(find "$D" -type f ! -path "$D/etc/redeploy/redeploy.ini")
	[ -z "$left" ] || fail "left behind: $left"
	[ ! -e "$D/usr/sbin/redeployd" ] || fail "uninstall left redeployd"
	[ ! -e "$D/usr/share/man/man8/redeployd.8" ] ||
		fail "uninstall left redeployd.8"
	[ ! -e "$D/usr/$UNIT" ] || fail "uninstall left redeployd@.service"
	[ ! -e "$D/$INIT" ] || fail "uninstall left the init script"
	[ -f "$D/etc/redeploy/redeploy.ini" ] || fail "uninstall removed the config"
}

test_expect "make install DESTDIR= PREFIX= installs both programs, man pages, config, unit, init script" install_into_destdir
test_expect "a second make install keeps the admin's config" config_never_overwritten
test_expect "make uninstall removes everything but the config" uninstall_removes
test_expect "PREFIX=/usr/local: the unit and the init script name its redeployd" prefix_in_unit_and_init
test_expect "make install keeps an admin's init script, make uninstall leaves it" init_script_never_overwritten
test_done
