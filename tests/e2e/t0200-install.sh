#!/bin/bash
# t0200-install: make install puts both programs (redeploy in bin, redeployd
# in sbin), the man pages and the example config under DESTDIR/PREFIX with
# explicit modes, never overwrites an existing config, and make uninstall
# removes what it installed.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

D=$T/dest

# make TARGET into $D, as a user would: the tree's own build, not the
# sanitized binaries the test run may point at.
make_dest() {
	env -u O -u SAN -u HOOK_BIN -u AGENT_BIN \
		make -s -C "$TEST_ROOT" "$1" DESTDIR="$D" PREFIX=/usr
}

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
	[ -f "$D/etc/redeploy/redeploy.ini" ] || fail "uninstall removed the config"
}

test_expect "make install DESTDIR= PREFIX= installs both programs, man pages, config" install_into_destdir
test_expect "a second make install keeps the admin's config" config_never_overwritten
test_expect "make uninstall removes everything but the config" uninstall_removes
test_done
