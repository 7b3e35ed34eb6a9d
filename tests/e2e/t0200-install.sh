#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t0200-install: make install puts both programs (redeploy in bin, redeployd
# in sbin), the man pages, the docs with the example config, the systemd
# units and the init script under DESTDIR with explicit modes and with the
# paths it was given (PREFIX, SYSCONFDIR, RUNSTATEDIR, SYSTEMDUNITDIR);
# nothing under /etc but the init script, which it never overwrites; make
# uninstall removes exactly what install created, directories included,
# and leaves the admin's configs and a changed init script.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

D=$T/dest

# make TARGET into $D, as a user would: the tree's own build, not the
# sanitized binaries the test run may point at.
# (A build directory of its own: other suites build and install at once.)
make_dest() {	# TARGET [PREFIX]
	local b=$T/build
	env -u O -u SAN -u HOOK_BIN -u AGENT_BIN \
		make -s -C "$TEST_ROOT" "$1" DESTDIR="$D" PREFIX="${2:-/usr}" \
		O="$b" HOOK_BIN="$b/redeploy" AGENT_BIN="$b/redeployd"
}

UNIT=lib/systemd/system/redeployd@.service
GROUP_UNIT=lib/systemd/system/redeployd.service
INIT=etc/init.d/redeployd
EXAMPLE=usr/share/doc/redeploy/examples/redeploy.ini
VERSION=$(cat "$TEST_ROOT/VERSION")

install_into_destdir() {
	make_dest install >"$T/make.out" 2>&1 || fail "make install: $(cat "$T/make.out")"
	[ "$(stat -c %a "$D/usr/bin/redeploy")" = 755 ] || fail "binary mode"
	"$D/usr/bin/redeploy" --version | grep -q "^redeploy $VERSION " ||
		fail "installed binary does not run, or not version $VERSION"
	[ "$(stat -c %a "$D/usr/share/man/man1/redeploy.1")" = 644 ] ||
		fail "redeploy.1 missing or mode"
	[ "$(stat -c %a "$D/usr/share/man/man5/redeploy.ini.5")" = 644 ] ||
		fail "redeploy.ini.5 missing or mode"
	[ "$(stat -c %a "$D/usr/sbin/redeployd")" = 755 ] ||
		fail "redeployd missing from sbin, or mode"
	[ "$("$D/usr/sbin/redeployd" --version)" = "redeployd $VERSION" ] ||
		fail "installed redeployd does not run, or not version $VERSION"
	[ "$(stat -c %a "$D/usr/share/man/man8/redeployd.8")" = 644 ] ||
		fail "redeployd.8 missing or mode"
	grep -q "^\.TH REDEPLOYD 8 .*\"redeploy $VERSION\"" \
		"$D/usr/share/man/man8/redeployd.8" || fail "redeployd.8 is not $VERSION"
	cmp -s "$TEST_ROOT/conf/redeploy.ini" "$D/$EXAMPLE" ||
		fail "example config not installed as $EXAMPLE"
	[ ! -e "$D/etc/redeploy" ] || fail "make install made $D/etc/redeploy"
	[ "$(cd "$D/etc" && find . -mindepth 1 | sort | tr '\n' ' ')" = \
		"./init.d ./init.d/redeployd " ] ||
		fail "under /etc: $(cd "$D/etc" && find . -mindepth 1)"
	[ "$(stat -c %a "$D/$UNIT")" = 644 ] ||
		fail "redeployd@.service missing or mode"
	cmp -s "$TEST_ROOT/scripts/redeployd@.service" "$D/$UNIT" ||
		fail "redeployd@.service differs from scripts/redeployd@.service"
	cmp -s "$TEST_ROOT/scripts/redeployd.service" "$D/$GROUP_UNIT" ||
		fail "redeployd.service differs from scripts/redeployd.service"
	[ "$(stat -c %a "$D/$INIT")" = 755 ] || fail "init script missing or mode"
	cmp -s "$TEST_ROOT/scripts/redeployd.init" "$D/$INIT" ||
		fail "init script differs from scripts/redeployd.init"
}

# Other paths: they reach the binaries' defaults, the units, the init
# script and the man pages.  (Its own build directory: other defaults.)
paths_everywhere() {
	local D=$T/dest-paths b=$T/build-paths
	env -u O -u SAN -u HOOK_BIN -u AGENT_BIN make -s -C "$TEST_ROOT" \
		install DESTDIR="$D" PREFIX=/opt/rd SYSCONFDIR=/opt/rd/etc \
		RUNSTATEDIR=/var/run SYSTEMDUNITDIR=/opt/rd/units \
		O="$b" HOOK_BIN="$b/redeploy" AGENT_BIN="$b/redeployd" \
		>"$T/make.out" 2>&1 || fail "make install: $(cat "$T/make.out")"
	local unit=$D/opt/rd/units/redeployd@.service init=$D/opt/rd/etc/init.d/redeployd
	grep -qx 'ExecStart=/opt/rd/sbin/redeployd -f -c /opt/rd/etc/redeploy/%i.ini' \
		"$unit" || fail "unit: $(grep Exec "$unit")"
	! grep -Eq '/usr/sbin/|(^|[^a-z])/etc/redeploy' "$unit" ||
		fail "unit names /usr/sbin or /etc/redeploy"
	grep -q '^REDEPLOYD=.*:-/opt/rd/sbin/redeployd}$' "$init" ||
		fail "init script: $(grep '^REDEPLOYD=' "$init")"
	grep -q '^CONFDIR=.*:-/opt/rd/etc/redeploy}$' "$init" ||
		fail "init script: $(grep '^CONFDIR=' "$init")"
	grep -q '^RUNDIR=.*:-/var/run/redeploy}$' "$init" ||
		fail "init script: $(grep '^RUNDIR=' "$init")"
	grep -q '/opt/rd/etc/redeploy/redeploy.ini' "$D/opt/rd/share/man/man8/redeployd.8" ||
		fail "redeployd.8 does not name /opt/rd/etc/redeploy"
	! grep -Eq '(^|[^a-z])/(etc|run)/redeploy' "$D/opt/rd/share/man/man5/redeploy.ini.5" ||
		fail "redeploy.ini.5 names /etc/redeploy or /run/redeploy"
	"$D/opt/rd/sbin/redeployd" --help | grep -qF /opt/rd/etc/redeploy/redeploy.ini ||
		fail "redeployd's default config: $("$D/opt/rd/sbin/redeployd" --help)"
	printf '[deploy]\npath = /srv/x\n[agent]\n[service]\ncommand = true\n' >"$T/p.ini"
	[ "$("$D/opt/rd/sbin/redeployd" -c "$T/p.ini" --print agent.token_file)" = \
		/var/run/redeploy/token ] || fail "token_file default is not in /var/run"
	"$D/opt/rd/bin/redeploy" --help 2>&1 | grep -qF /opt/rd/etc/redeploy/redeploy.ini ||
		fail "redeploy's default config: $("$D/opt/rd/bin/redeploy" --help 2>&1)"
}

# The builder's flags are added to the project's, never replace them
# (dpkg-buildflags passes CPPFLAGS=-D_FORTIFY_SOURCE=2 and a CFLAGS).
builder_flags_added() {
	local b=$T/build-flags
	env -u O -u SAN -u HOOK_BIN -u AGENT_BIN make -n -C "$TEST_ROOT" \
		CPPFLAGS=-D_FORTIFY_SOURCE=2 CFLAGS='-O1 -gline' LDFLAGS=-Wl,-z,now \
		O="$b" HOOK_BIN="$b/redeploy" AGENT_BIN="$b/redeployd" \
		>"$T/make.out" 2>&1 || fail "make -n: $(cat "$T/make.out")"
	local cc
	# one command a line (make -n keeps the recipe's continuation lines)
	sed -i -e :a -e '/\\$/N; s/\\\n//; ta' -e 's/\t/ /g' "$T/make.out"
	cc=$(grep -- ' -c -o .*hook/lock\.o' "$T/make.out") ||
		fail "no compile of hook/lock.c: $(cat "$T/make.out")"
	for f in -Icommon -Iconf -D_GNU_SOURCE -D_FORTIFY_SOURCE=2 -std=c11 -Wall \
		-O1 -gline '-DREDEPLOY_VERSION='; do
		case " $cc " in *" $f"*) ;; *) fail "compile lacks $f: $cc" ;; esac
	done
	grep -- '-o .*/redeployd ' "$T/make.out" | grep -q -- '-Wl,-z,now' ||
		fail "link lacks LDFLAGS"
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
	[ ! -e "$D/$UNIT" ] || fail "uninstall left the unit"
}

# The admin's config in the config directory survives a second install
# and the uninstall.
config_kept() {
	mkdir -p "$D/etc/redeploy"
	printf '; the admin'"'"'s own\n[deploy]\npath = /srv/x\n' >"$D/etc/redeploy/site.ini"
	cp "$D/etc/redeploy/site.ini" "$T/admin.ini"
	make_dest install >"$T/make.out" 2>&1 || fail "second make install failed"
	cmp -s "$T/admin.ini" "$D/etc/redeploy/site.ini" ||
		fail "make install changed the admin's config"
}

uninstall_removes() {
	make_dest uninstall >"$T/make.out" 2>&1 || fail "make uninstall failed"
	cmp -s "$T/admin.ini" "$D/etc/redeploy/site.ini" ||
		fail "make uninstall removed or changed the admin's config"
	left=$(cd "$D" && find . -mindepth 1 ! -path ./etc ! -path ./etc/redeploy \
		! -path ./etc/redeploy/site.ini)
	[ -z "$left" ] || fail "left behind: $left"
	! grep -q "No such" "$T/make.out" || fail "uninstall said: $(cat "$T/make.out")"
	# a fresh DESTDIR: install made every directory, uninstall removes all
	rm -r "$D"
	make_dest install >"$T/make.out" 2>&1 || fail "third make install failed"
	make_dest uninstall >"$T/make.out" 2>&1 || fail "make uninstall failed"
	[ ! -e "$D" ] || fail "uninstall left: $(find "$D")"
}

test_expect "make install DESTDIR= PREFIX=/usr: programs, man pages, docs, example, units, init script; nothing else in /etc" install_into_destdir
test_expect "a second make install keeps the admin's config" config_kept
test_expect "make uninstall removes what install made, directories too, and keeps the config" uninstall_removes
test_expect "PREFIX, SYSCONFDIR, RUNSTATEDIR, SYSTEMDUNITDIR reach binaries, units, init script, man pages" paths_everywhere
test_expect "CPPFLAGS, CFLAGS, LDFLAGS of the builder are added to the project's" builder_flags_added
test_expect "make install keeps an admin's init script, make uninstall leaves it" init_script_never_overwritten
test_done
