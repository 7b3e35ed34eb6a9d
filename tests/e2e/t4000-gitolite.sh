#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t4000-gitolite: the scenario of the seed on a real gitolite3: a gitolite
# user of its own (set up with `gitolite setup -pk admin.pub`), repo thesite
# created server-side, redeploy installed as its repo-specific post-update
# hook by scripts/install-gitolite-hook, a real sshd on 127.0.0.1, and a push
# over ssh by a gitolite user (alice, whose key the admin adds by pushing
# gitolite-admin) that deploys, as the gitolite user, what was pushed.
# Then: the installer changes nothing when run again, refuses what would
# conflict, and --remove plus userdel leave nothing behind.
. "$(dirname "$0")/lib.sh"
ns_isolate		# as root: private /etc, /run, /var, /dev, network

INSTALLER=$TEST_ROOT/scripts/install-gitolite-hook
GLHOME=$T/glhome
GLU=			# the gitolite user, a fresh name (set below)
SSH_PORT=
KEYS=$T/keys		# admin, alice: ssh keys; hostkey: sshd's
HOOK_NAME=redeploy-thesite	# from the config's name, thesite.ini
CONFIG=$T/thesite.ini
LIVE=$T/live
REPO=$GLHOME/repositories/thesite.git
WORK=$T/work
SNAP=$T/snap		# copies of the gitolite files, to compare runs

# Run a command as the gitolite user, in its home, in a clean environment.
as_gl() {
	runuser -u "$GLU" -- env -i -C "$GLHOME" HOME="$GLHOME" USER="$GLU" \
		LOGNAME="$GLU" PATH=/usr/bin:/bin "$@"
}

# The installer for thesite and $CONFIG, as root; output in $T/inst.out,
# exit status in $rc.
install_hook() {	# [OPTIONS...]
	rc=0
	REDEPLOY=$REDEPLOY "$INSTALLER" thesite "$CONFIG" --gitolite-user "$GLU" \
		"$@" >"$T/inst.out" 2>&1 || rc=$?
}

inst_has() {	# STRING
	output_has "$1" "$T/inst.out"
}

ssh_cmd() {	# KEY: a GIT_SSH_COMMAND using that key only
	echo "ssh -F /dev/null -p $SSH_PORT -i $KEYS/$1 -o IdentitiesOnly=yes" \
		"-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null" \
		"-o BatchMode=yes -o LogLevel=ERROR"
}

# Everything the installer may touch, and how: file contents, modes,
# owners, link targets, the admin repository's head.
snapshot() {	# DIR
	local d=$1 f
	rm -rf "$d" && mkdir -p "$d"
	cp "$GLHOME/.gitolite.rc" "$d/rc"
	cp "$GLHOME/.gitolite/conf/gitolite.conf" "$d/conf"
	if [ -e "$GLHOME/local/hooks/repo-specific/$HOOK_NAME" ]; then
		cp "$GLHOME/local/hooks/repo-specific/$HOOK_NAME" "$d/hook"
	fi
	git --git-dir="$GLHOME/repositories/gitolite-admin.git" rev-parse HEAD \
		>"$d/admin-head"
	git --git-dir="$REPO" config --get receive.fsckObjects >"$d/fsck" || true
	for f in "$GLHOME/.gitolite.rc" "$GLHOME/.gitolite/conf/gitolite.conf" \
		"$GLHOME/local" "$REPO/hooks"; do
		[ -e "$f" ] || continue
		# directories without their times: a refused run may add and
		# remove an entry
		find "$f" \( -type d -printf '%p %y %m %u\n' \) -o \
			-printf '%p %y %m %u %i %T@ %l\n'
	done | sort >"$d/stat"
}

same_snapshots() {	# DIR1 DIR2
	diff -r "$1" "$2" || fail "the gitolite files changed (diff above)"
}


# ---

gitolite_setup() {
	useradd -r -m -d "$GLHOME" -s /bin/sh -c "redeploy test t4000" "$GLU"
	at_exit "userdel -r '$GLU'; groupdel '$GLU'"
	usermod -p '*' "$GLU"		# -r locks it; sshd refuses locked accounts
	chmod 711 "$T"			# the gitolite user reaches its home, the config
	mkdir -p "$KEYS"
	ssh-keygen -q -t ed25519 -N '' -C admin -f "$KEYS/admin"
	ssh-keygen -q -t ed25519 -N '' -C alice -f "$KEYS/alice"
	ssh-keygen -q -t ed25519 -N '' -C host -f "$KEYS/hostkey"
	chmod 755 "$KEYS"
	chmod 644 "$KEYS"/*.pub
	as_gl gitolite setup -pk "$KEYS/admin.pub" >"$T/setup.out" 2>&1 ||
		fail "gitolite setup -pk failed: $(cat "$T/setup.out")"
	grep -q 'gitolite-shell admin' "$GLHOME/.ssh/authorized_keys" ||
		fail "gitolite wrote no key for admin"
	# repo thesite, the server-side way (see scripts/install-gitolite-hook)
	printf '\nrepo thesite\n    RW+     =   alice\n' |
		as_gl sh -c 'cat >>.gitolite/conf/gitolite.conf'
	as_gl gitolite setup >>"$T/setup.out" 2>&1 ||
		fail "gitolite setup failed: $(cat "$T/setup.out")"
	[ -d "$REPO" ] || fail "gitolite did not create $REPO"
	# root reads the repository in the assertions
	git config --global --add safe.directory "$REPO"
	git config --global --add safe.directory "$GLHOME/repositories/gitolite-admin.git"
	# the deploy target and the config, as INSTALL says
	install -d -o "$GLU" -g "$GLU" -m 0755 "$LIVE"
	printf '[deploy]\nrepository = %s\npath = %s\nbranch = master\nowner = %s\n' \
		"$REPO" "$LIVE" "$GLU" >"$CONFIG"
	chmod 644 "$CONFIG"
	snapshot "$SNAP/fresh"
}

# Refusals come before any change: the rc stays as it was.
refused_first() {
	printf '#!/bin/sh\necho mine\n' |
		as_gl sh -c "cat >'$REPO/hooks/post-update'; chmod 755 '$REPO/hooks/post-update'"
	install_hook
	[ "$rc" -eq 1 ] || fail "a foreign post-update: exit $rc, not 1: $(cat "$T/inst.out")"
	inst_has "$REPO/hooks/post-update is a hook gitolite does not manage"
	[ "$(wc -l <"$T/inst.out")" -eq 1 ] ||
		fail "more than one line: $(cat "$T/inst.out")"
	grep -q 'echo mine' "$REPO/hooks/post-update" || fail "the foreign hook changed"
	as_gl rm "$REPO/hooks/post-update"
	snapshot "$SNAP/refused-first"
	same_snapshots "$SNAP/fresh" "$SNAP/refused-first"
}

dry_run() {
	install_hook --dry-run
	[ "$rc" -eq 0 ] || fail "--dry-run exited $rc: $(cat "$T/inst.out")"
	inst_has "would edit $GLHOME/.gitolite.rc"
	inst_has "would write $GLHOME/local/hooks/repo-specific/$HOOK_NAME"
	inst_has "option hook.post-update = $HOOK_NAME"
	inst_has "would run 'gitolite setup'"
	inst_has "would set receive.fsckObjects=true"
	snapshot "$SNAP/dry"
	same_snapshots "$SNAP/fresh" "$SNAP/dry"
	[ ! -e "$GLHOME/local" ] || fail "--dry-run created $GLHOME/local"
}

install_first() {
	local rcfile=$GLHOME/.gitolite.rc hook=$GLHOME/local/hooks/repo-specific/$HOOK_NAME
	install_hook
	[ "$rc" -eq 0 ] || fail "the installer exited $rc: $(cat "$T/inst.out")"
	inst_has "installed: pushes to thesite run $REDEPLOY -c $CONFIG hook"
	# the rc: exactly the two lines, uncommented; every other byte as it was
	# shellcheck disable=SC2016 # $ENV{HOME} is the rc's text
	sed -e 's|^\( *\)# \(LOCAL_CODE  *=>  "$ENV{HOME}/local",\)$|\1\2|' \
		-e "s|^\( *\)# \('repo-specific-hooks',\)$|\1\2|" \
		"$SNAP/fresh/rc" >"$T/rc.expected"
	[ "$(diff "$SNAP/fresh/rc" "$T/rc.expected" | grep -c '^>')" -eq 2 ] ||
		fail "the default rc lacks the two commented lines this test expects"
	cmp "$T/rc.expected" "$rcfile" || {
		diff "$SNAP/fresh/rc" "$rcfile"
		fail "the rc changed in other ways than LOCAL_CODE and repo-specific-hooks (diff above)"
	}
	[ "$(stat -c '%U %a' "$rcfile")" = "$GLU $(stat -c %a "$SNAP/fresh/rc")" ] ||
		fail "the rc is now $(stat -c '%U %a' "$rcfile")"
	[ "$(as_gl gitolite query-rc LOCAL_CODE)" = "$GLHOME/local" ] ||
		fail "gitolite says LOCAL_CODE is '$(as_gl gitolite query-rc LOCAL_CODE)'"
	# the script
	[ "$(stat -c '%U %a %F' "$hook")" = "$GLU 755 regular file" ] ||
		fail "$hook is $(stat -c '%U %a %F' "$hook")"
	grep -qxF "exec '$REDEPLOY' -c '$CONFIG' hook \"\$@\"" "$hook" ||
		fail "$hook does not exec redeploy: $(cat "$hook")"
	sh -n "$hook" || fail "$hook is not valid sh"
	# the conf: only the stanza added, compiled, and committed to gitolite-admin
	diff "$SNAP/fresh/conf" "$GLHOME/.gitolite/conf/gitolite.conf" >"$T/conf.diff" || true
	if ! grep -qx "> repo thesite" "$T/conf.diff" ||
		! grep -qx ">     option hook.post-update = $HOOK_NAME" "$T/conf.diff"; then
		fail "the conf lacks the option: $(cat "$T/conf.diff")"
	fi
	[ "$(grep -c '^<' "$T/conf.diff")" -eq 0 ] ||
		fail "the installer changed lines of the conf: $(cat "$T/conf.diff")"
	[ "$(as_gl gitolite git-config thesite gitolite-options.hook.post-update)" = "$HOOK_NAME" ] ||
		fail "gitolite did not compile the option"
	git --git-dir="$GLHOME/repositories/gitolite-admin.git" show HEAD:conf/gitolite.conf |
		cmp - "$GLHOME/.gitolite/conf/gitolite.conf" ||
		fail "the conf is not committed to gitolite-admin"
	# gitolite's links: the driver, and the driver's link to the script
	[ "$(readlink "$REPO/hooks/post-update")" = "$GLHOME/local/hooks/multi-hook-driver" ] ||
		fail "$REPO/hooks/post-update is not gitolite's driver: $(ls -l "$REPO/hooks")"
	[ "$(readlink "$REPO/hooks/post-update.h00-$HOOK_NAME")" = "$hook" ] ||
		fail "no post-update.h00-$HOOK_NAME link: $(ls -l "$REPO/hooks")"
	[ "$(as_gl git --git-dir="$REPO" config --get receive.fsckObjects)" = true ] ||
		fail "receive.fsckObjects is not true in $REPO"
	snapshot "$SNAP/installed"
}

start_sshd() {
	sshd_start "$GLU" "$KEYS/hostkey" || return 1
	at_exit sshd_stop
	SSH_PORT=$(cat "$T/ssh_port")
	# admin over ssh: gitolite answers with the repositories admin can see
	# shellcheck disable=SC2046 # the words of the command
	$(ssh_cmd admin) "$GLU@127.0.0.1" info >"$T/info.out" 2>&1 ||
		fail "ssh as admin: $(cat "$T/info.out"); sshd says: $(tail -n 5 "$T/sshd.log")"
	grep -q "hello admin, this is $GLU" "$T/info.out" ||
		fail "not gitolite's answer: $(cat "$T/info.out")"
}

# The admin clones gitolite-admin over ssh: the stanza is in it (the
# installer committed it); pushing alice's key keeps the hook.
admin_adds_alice() {
	local a=$T/gitolite-admin
	export GIT_SSH_COMMAND
	GIT_SSH_COMMAND=$(ssh_cmd admin)
	git clone -q "$GLU@127.0.0.1:gitolite-admin" "$a"
	grep -qx "    option hook.post-update = $HOOK_NAME" "$a/conf/gitolite.conf" ||
		fail "the admin's clone lacks the option: $(cat "$a/conf/gitolite.conf")"
	cp "$KEYS/alice.pub" "$a/keydir/alice.pub"
	git -C "$a" add keydir/alice.pub
	git -C "$a" commit -q -m "add alice"
	git -C "$a" push -q origin master >"$T/admin-push.out" 2>&1 ||
		fail "admin's push: $(cat "$T/admin-push.out")"
	grep -q 'gitolite-shell alice' "$GLHOME/.ssh/authorized_keys" ||
		fail "gitolite did not add alice's key"
	[ "$(as_gl gitolite git-config thesite gitolite-options.hook.post-update)" = "$HOOK_NAME" ] ||
		fail "the admin's push lost the option"
	[ "$(readlink "$REPO/hooks/post-update.h00-$HOOK_NAME")" = \
		"$GLHOME/local/hooks/repo-specific/$HOOK_NAME" ] ||
		fail "the admin's push lost the hook link: $(ls -l "$REPO/hooks")"
	snapshot "$SNAP/installed"	# the admin repo has a new head
}

alice_pushes() {
	export GIT_SSH_COMMAND
	GIT_SSH_COMMAND=$(ssh_cmd alice)
	git init -q "$WORK"
	git -C "$WORK" remote add origin "$GLU@127.0.0.1:thesite"
	make_site 1
	push || fail "push over ssh failed: $(cat "$T/push.out")"
	grep -q '^remote: redeploy: ' "$T/push.out" ||
		fail "no 'remote: redeploy:' lines: $(cat "$T/push.out")"
	output_has "live"
	assert_deployed HEAD
	local bad meta
	bad=$(find -P "$LIVE" ! -user "$GLU" -printf '%p %u\n')
	[ -z "$bad" ] || fail "not owned by $GLU under $LIVE: $bad"
	meta=$LIVE/releases/$(live_id).meta
	grep -qx 'pusher=alice' "$meta" ||
		fail "$meta does not name alice (GL_USER) as pusher: $(cat "$meta")"
	# and again, a second release
	make_site 2
	push || fail "second push failed: $(cat "$T/push.out")"
	assert_deployed HEAD
	[ "$(count_releases)" -eq 2 ] || fail "$(count_releases) releases after two pushes"
}

install_again() {
	install_hook
	[ "$rc" -eq 0 ] || fail "the second run exited $rc: $(cat "$T/inst.out")"
	inst_has "already installed; nothing changed"
	[ "$(wc -l <"$T/inst.out")" -eq 1 ] ||
		fail "the second run said more: $(cat "$T/inst.out")"
	snapshot "$SNAP/again"
	same_snapshots "$SNAP/installed" "$SNAP/again"
	install_hook --dry-run
	if [ "$rc" -ne 0 ] || grep -q 'would' "$T/inst.out"; then
		fail "--dry-run on an installed hook: $(cat "$T/inst.out")"
	fi
	# the gitolite user itself may run it too
	as_gl env REDEPLOY="$REDEPLOY" "$INSTALLER" thesite "$CONFIG" \
		--gitolite-user "$GLU" >"$T/inst.out" 2>&1 ||
		fail "as $GLU: $(cat "$T/inst.out")"
	inst_has "already installed; nothing changed"
	snapshot "$SNAP/again"
	same_snapshots "$SNAP/installed" "$SNAP/again"
}

refusals() {
	local common
	# a common post-update would replace the repo-specific one
	for common in "$GLHOME/local/hooks/common" "$GLHOME/.gitolite/hooks/common"; do
		as_gl mkdir -p "$common"
		printf '#!/bin/sh\n' | as_gl sh -c "cat >'$common/post-update'"
		install_hook
		[ "$rc" -eq 1 ] || fail "$common/post-update: exit $rc, not 1"
		inst_has "$common/post-update is a post-update hook for every repository"
		as_gl rm "$common/post-update"
	done
	as_gl rmdir "$GLHOME/local/hooks/common"
	# a user that is not there, a repository that is not there
	rc=0
	REDEPLOY=$REDEPLOY "$INSTALLER" thesite "$CONFIG" \
		--gitolite-user "no-such-user-$$" >"$T/inst.out" 2>&1 || rc=$?
	[ "$rc" -eq 2 ] || fail "an unknown user: exit $rc, not 2"
	rc=0
	REDEPLOY=$REDEPLOY "$INSTALLER" nosuchrepo "$CONFIG" \
		--gitolite-user "$GLU" >"$T/inst.out" 2>&1 || rc=$?
	[ "$rc" -eq 1 ] || fail "a missing repository: exit $rc, not 1"
	inst_has "no repository $GLHOME/repositories/nosuchrepo.git"
	rc=0
	REDEPLOY=$REDEPLOY "$INSTALLER" gitolite-admin "$CONFIG" \
		--gitolite-user "$GLU" >"$T/inst.out" 2>&1 || rc=$?
	[ "$rc" -eq 2 ] || fail "gitolite-admin: exit $rc, not 2"
	# neither root nor the gitolite user
	rc=0
	runuser -u nobody -- env REDEPLOY="$REDEPLOY" "$INSTALLER" thesite \
		"$CONFIG" --gitolite-user "$GLU" >"$T/inst.out" 2>&1 || rc=$?
	[ "$rc" -eq 1 ] || fail "as nobody: exit $rc, not 1"
	inst_has "run this as root or as $GLU"
	rc=0
	"$INSTALLER" thesite >"$T/inst.out" 2>&1 || rc=$?
	[ "$rc" -eq 2 ] || fail "no CONFIG: exit $rc, not 2"
	"$INSTALLER" --help | grep -q '^usage: scripts/install-gitolite-hook REPO CONFIG' ||
		fail "--help"
	snapshot "$SNAP/refused"
	same_snapshots "$SNAP/installed" "$SNAP/refused"
}

remove_all() {
	local uid f left
	install_hook --remove
	[ "$rc" -eq 0 ] || fail "--remove exited $rc: $(cat "$T/inst.out")"
	[ ! -e "$GLHOME/local/hooks/repo-specific/$HOOK_NAME" ] ||
		fail "--remove left the script"
	[ -z "$(find "$REPO/hooks" -name 'post-update*' ! -name '*.sample')" ] ||
		fail "--remove left hooks: $(ls -l "$REPO/hooks")"
	# the conf is the one before the installer, here and in gitolite-admin
	cmp "$SNAP/fresh/conf" "$GLHOME/.gitolite/conf/gitolite.conf" ||
		fail "the conf is not back to what it was: $(diff "$SNAP/fresh/conf" "$GLHOME/.gitolite/conf/gitolite.conf")"
	git --git-dir="$GLHOME/repositories/gitolite-admin.git" show HEAD:conf/gitolite.conf |
		cmp - "$SNAP/fresh/conf" || fail "gitolite-admin still has the option"
	as_gl gitolite git-config -q thesite gitolite-options.hook.post-update &&
		fail "gitolite still has the option compiled"
	install_hook --remove
	[ "$rc" -eq 0 ] || fail "a second --remove exited $rc"
	inst_has "nothing to remove"
	# a push now deploys nothing
	export GIT_SSH_COMMAND
	GIT_SSH_COMMAND=$(ssh_cmd alice)
	make_site 3
	push || fail "push after --remove failed: $(cat "$T/push.out")"
	output_lacks "redeploy:"
	# the rest of what this test made: sshd, the user, the deploy path
	uid=$(id -u "$GLU")
	sshd_stop
	rm -rf "$LIVE"
	userdel -r "$GLU" 2>/dev/null || true
	if getent passwd "$GLU" >/dev/null || getent group "$GLU" >/dev/null; then
		fail "user or group $GLU still exists"
	fi
	[ ! -e "$GLHOME" ] || fail "$GLHOME is still there"
	for f in "/var/mail/$GLU" "/var/spool/mail/$GLU"; do
		[ ! -e "$f" ] || fail "$f is still there"
	done
	# (other tests' scratch directories in /tmp are theirs: a test in
	# namespaces of its own may have made a user with the same uid)
	left=$({ find "$T" /var/tmp /run /etc /var/mail /var/spool -xdev \
		-uid "$uid"; find /tmp -xdev -path '/tmp/redeploy-*' -prune -o \
		-uid "$uid" -print; } 2>/dev/null | head)
	[ -z "$left" ] || fail "files of uid $uid left behind: $left"
}

# ---

need_packages() {	# prints why the test cannot run, if so
	# make test installs nothing: make check (scripts/deps) does
	if ! command -v gitolite >/dev/null; then
		echo "gitolite3 is not installed (make check or scripts/deps installs it)"
	elif [ ! -x /usr/sbin/sshd ]; then
		echo "openssh-server is not installed (make check or scripts/deps installs it)"
	elif ! command -v useradd >/dev/null || ! command -v runuser >/dev/null; then
		echo "needs useradd and runuser"
	fi
}

TESTS=(
	"gitolite setup -pk admin.pub for a fresh user; repo thesite made server-side:gitolite_setup"
	"a foreign post-update in the repository is refused before any change:refused_first"
	"--dry-run prints each change and changes nothing:dry_run"
	"the installer edits only two rc lines, writes the hook, the option, the links, fsckObjects:install_first"
	"a real sshd on 127.0.0.1 runs gitolite-shell for admin's key:start_sshd"
	"the admin's clone of gitolite-admin has the option; pushing alice's key keeps it:admin_adds_alice"
	"alice pushes over ssh: live as the gitolite user, remote: redeploy:, pusher=alice:alice_pushes"
	"a second run of the installer changes nothing and says so:install_again"
	"a common post-update, unknown users and repositories are refused:refusals"
	"--remove, sshd stopped and userdel -r leave nothing behind:remove_all"
)

why=
if ! is_root; then
	why="needs root"
else
	why=$(need_packages)
fi
if [ -n "$why" ]; then
	for t in "${TESTS[@]}"; do
		test_skip "${t%:*}" "$why"
	done
	test_done
fi

for i in 1 2 3 4 5 6 7 8 9; do
	GLU=rdgl$$x$i
	getent passwd "$GLU" >/dev/null || getent group "$GLU" >/dev/null || break
done
SSH_PORT=		# set by start_sshd, read back by the tests after it
for t in "${TESTS[@]}"; do
	[ -z "$SSH_PORT" ] && [ -s "$T/ssh_port" ] && SSH_PORT=$(cat "$T/ssh_port")
	test_expect "${t%:*}" "${t##*:}"
done
test_done
