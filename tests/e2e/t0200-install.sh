#!/bin/bash
# t0200-install: make install puts the program, man pages and example config
# under DESTDIR/PREFIX with explicit modes, never overwrites an existing
# config, and make uninstall removes what it installed.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

D=$T/dest

install_into_destdir() {
	env -u O -u SAN -u HOOK_BIN make -s -C "$TEST_ROOT" install DESTDIR="$D" PREFIX=/usr \
		>"$T/make.out" 2>&1 || fail "make install: $(cat "$T/make.out")"
	[ "$(stat -c %a "$D/usr/bin/redeploy")" = 755 ] || fail "binary mode"
	"$D/usr/bin/redeploy" --version | grep -q '^redeploy ' ||
		fail "installed binary does not run"
	[ "$(stat -c %a "$D/usr/share/man/man1/redeploy.1")" = 644 ] ||
		fail "redeploy.1 missing or mode"
	[ -f "$D/usr/share/man/man5/redeploy.ini.5" ] || fail "redeploy.ini.5"
	cmp -s "$TEST_ROOT/conf/redeploy.ini" "$D/etc/redeploy/redeploy.ini" ||
		fail "example config not installed"
}

config_never_overwritten() {
	echo "; the admin's own" >>"$D/etc/redeploy/redeploy.ini"
	cp "$D/etc/redeploy/redeploy.ini" "$T/admin.ini"
	env -u O -u SAN -u HOOK_BIN make -s -C "$TEST_ROOT" install DESTDIR="$D" PREFIX=/usr \
		>"$T/make.out" 2>&1 || fail "second make install failed"
	cmp -s "$T/admin.ini" "$D/etc/redeploy/redeploy.ini" ||
		fail "make install overwrote the admin's config"
	grep -q "keeping existing" "$T/make.out" || fail "no word about keeping it"
}

uninstall_removes() {
	env -u O -u SAN -u HOOK_BIN make -s -C "$TEST_ROOT" uninstall DESTDIR="$D" PREFIX=/usr \
		>"$T/make.out" 2>&1 || fail "make uninstall failed"
	left=$(find "$D" -type f ! -path "$D/etc/redeploy/redeploy.ini")
	[ -z "$left" ] || fail "left behind: $left"
	[ -f "$D/etc/redeploy/redeploy.ini" ] || fail "uninstall removed the config"
}

test_expect "make install DESTDIR= PREFIX= installs binary, man pages, config" install_into_destdir
test_expect "a second make install keeps the admin's config" config_never_overwritten
test_expect "make uninstall removes everything but the config" uninstall_removes
test_done
