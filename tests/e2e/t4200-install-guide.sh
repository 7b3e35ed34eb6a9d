#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t4200-install-guide: the commands of INSTALL, in order, as an operator runs
# them as root on the real paths INSTALL names (make install into / with
# PREFIX=/usr/local, /etc/redeploy, /etc/init.d/redeployd, /var/www,
# /run/redeploy, /etc/authbind/byport), one test per step, up to a git push
# over ssh that puts a new page on the service port, and the removal, after
# which nothing of the test is left.  As root it runs in private namespaces
# (ns_isolate): the real paths, overlaid, so the host itself never changes.
#
# Test-only substitutions (each marked "subst:" below): the gitolite user is
# rdgl$$ with its home in $T instead of gitolite3 in /var/lib/gitolite3; the
# site is thesite-$$; the agent listens on a free loopback port instead of
# 8421; the service port is 80 when nothing uses it, else a free port below
# 512; syslog is a private rsyslogd on /dev/log writing $SYSLOG_FILE instead
# of /var/log/syslog; the developer pushes to a real sshd on a free loopback
# port; root's key is made in the scratch $HOME.
. "$(dirname "$0")/lib.sh"
ns_isolate		# as root: private /etc, /run, /var, /dev, network

SITE=thesite-$$				# subst: thesite
GLU=rdgl$$				# subst: gitolite3
GLHOME=$T/glhome			# subst: /var/lib/gitolite3
CONF=/etc/redeploy/$SITE.ini
DEPLOY=/var/www/$SITE
TOKEN=/run/redeploy/$SITE.token		# subst: /run/redeploy/thesite.token
PIDFILE=/run/redeploy/$SITE.pid
SHARE=/usr/local/share/redeploy
BYPORT=/etc/authbind/byport
KEYS=$T/keys
WORK=$T/work
LIVE=$DEPLOY				# for lib.sh's live_id & co.
REPO=$GLHOME/repositories/$SITE.git
HOOK_NAME=redeploy-$SITE
STATE=$T/state			# values tests pass on (tests run in subshells)
mkdir -p "$STATE"

# What make install writes on the real machine.
INSTALLED=(
	/usr/local/bin/redeploy /usr/local/sbin/redeployd
	/usr/local/share/man/man1/redeploy.1
	/usr/local/share/man/man5/redeploy.ini.5
	/usr/local/share/man/man8/redeployd.8
	"$SHARE/install-gitolite-hook" "$SHARE/setup-authbind"
	/usr/local/share/doc/redeploy/examples/redeploy.ini
	/lib/systemd/system/redeployd@.service /lib/systemd/system/redeployd.service
	/etc/init.d/redeployd
)
# Where the test looks for leftovers, before and after.
WATCH=(/usr/local /etc/redeploy /etc/init.d /etc/authbind /var/www
	/run/redeploy /run/sshd /lib/systemd/system)

# make in the tree, as the operator, into a build directory of its own
# (other suites build at the same time).
op_make() {	# TARGET...
	env -u REDEPLOY -u REDEPLOYD -u SAN make -s -C "$TEST_ROOT" \
		O="$T/build" HOOK_BIN="$T/build/redeploy" \
		AGENT_BIN="$T/build/redeployd" "$@"
}

# The installed tree's own commands, not the test run's binaries.
op() {	# COMMAND...: as the operator, root with the installed tools
	env -u REDEPLOY -u REDEPLOYD -u O -u SAN -u HOOK_BIN -u AGENT_BIN \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		"$@"
}

ssh_cmd() {	# KEY
	echo "ssh -F /dev/null -p $(cat "$STATE/ssh_port") -i $KEYS/$1" \
		"-o IdentitiesOnly=yes -o StrictHostKeyChecking=no" \
		"-o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR"
}

watch_list() {
	find "${WATCH[@]}" -xdev 2>/dev/null | sort
}

# --- cleanup: by pid and by exact path, whatever step failed ---

# Processes whose cmdline names our config, or whose cwd is in our deploy
# path (the service), are ours.
kill_ours() {
	local p cwd
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		case "$p" in "$$" | "$BASHPID") continue ;; esac
		if grep -qaF -- "$CONF" "/proc/$p/cmdline" 2>/dev/null; then
			kill -TERM "$p" 2>/dev/null
			continue
		fi
		cwd=$(readlink "/proc/$p/cwd" 2>/dev/null) || continue
		case "$cwd" in "$DEPLOY"/*) kill -TERM "$p" 2>/dev/null ;; esac
	done
	sleep 1
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		case "$p" in "$$" | "$BASHPID") continue ;; esac
		grep -qaF -- "$CONF" "/proc/$p/cmdline" 2>/dev/null &&
			kill -KILL "$p" 2>/dev/null
		cwd=$(readlink "/proc/$p/cwd" 2>/dev/null) || continue
		case "$cwd" in "$DEPLOY"/*) kill -KILL "$p" 2>/dev/null ;; esac
	done
	return 0
}


# What INSTALL's removal does not remove, and what a failed step left: only
# paths this test made (the .new markers say which directories were new).
clean_up() {
	kill_ours
	sshd_stop
	[ -e "$STATE/rc.new" ] && update-rc.d -f redeployd remove >/dev/null 2>&1
	if [ -e "$STATE/installed" ]; then
		op_make uninstall >/dev/null 2>&1
	fi
	[ -e "$STATE/port" ] && [ -e "$STATE/byport.new" ] &&
		rm -f "$BYPORT/$(cat "$STATE/port")"
	rm -f "$CONF" /run/redeploy/"$SITE".* "/tmp/admin-${T##*.}.pub"
	rm -rf "$DEPLOY"
	local d
	for d in /var/www /run/redeploy /etc/redeploy \
		/usr/local/share/man/man1 /usr/local/share/man/man5 \
		/usr/local/share/man/man8; do
		grep -qxF "$d" "$STATE/new-dirs" 2>/dev/null && [ -d "$d" ] &&
			rmdir "$d"
	done
	if getent passwd "$GLU" >/dev/null; then
		userdel -r "$GLU" 2>/dev/null
		getent group "$GLU" >/dev/null && groupdel "$GLU"
	fi
	return 0
}

# --- the steps ---

# 1. Packages (already there: need_packages), make, make install.
step1_install() {
	local f
	op_make >"$T/make.out" 2>&1 || fail "make: $(cat "$T/make.out")"
	touch "$STATE/installed"
	op_make install >"$T/make.out" 2>&1 ||
		fail "make install: $(cat "$T/make.out")"
	for f in "${INSTALLED[@]}"; do
		[ -f "$f" ] || fail "make install did not install $f"
	done
	for f in /usr/local/bin/redeploy /usr/local/sbin/redeployd \
		"$SHARE/install-gitolite-hook" "$SHARE/setup-authbind" \
		/etc/init.d/redeployd; do
		[ -x "$f" ] || fail "$f is not executable"
	done
	op redeploy --version | grep -q '^redeploy ' || fail "redeploy --version"
	op redeployd --version | grep -q '^redeployd ' || fail "redeployd --version"
	grep -q '^REDEPLOYD=.*:-/usr/local/sbin/redeployd}$' /etc/init.d/redeployd ||
		fail "the init script does not run /usr/local/sbin/redeployd"
}

# 2. The gitolite user, gitolite setup -pk with root's key, then the repo
# and the developer's key through the gitolite-admin repository over ssh.
step2_gitolite() {
	chmod 711 "$T"		# the gitolite user reaches its home in $T
	# subst: $GLU, home $GLHOME instead of gitolite3, /var/lib/gitolite3
	adduser --system --group --home "$GLHOME" --shell /bin/sh "$GLU" \
		>"$T/adduser.out" 2>&1 || fail "adduser: $(cat "$T/adduser.out")"
	usermod -p '*' "$GLU"
	mkdir -p "$HOME/.ssh" "$KEYS"
	ssh-keygen -q -t ed25519 -N '' -C root -f "$HOME/.ssh/id_ed25519"
	ssh-keygen -q -t ed25519 -N '' -C dev -f "$KEYS/dev"
	ssh-keygen -q -t ed25519 -N '' -C host -f "$KEYS/hostkey"
	# subst: /tmp/admin-${T##*.}.pub, not to clobber someone's /tmp/admin.pub;
	# the name before .pub is the gitolite user name: admin-${T##*.}
	cp ~/.ssh/id_ed25519.pub "/tmp/admin-${T##*.}.pub"
	chmod 644 "/tmp/admin-${T##*.}.pub"
	(cd / && su -s /bin/sh "$GLU" -c "gitolite setup -pk /tmp/admin-${T##*.}.pub") \
		>"$T/setup.out" 2>&1 || fail "gitolite setup: $(cat "$T/setup.out")"
	rm -f "/tmp/admin-${T##*.}.pub"
	grep -q "gitolite-shell admin-${T##*.}" "$GLHOME/.ssh/authorized_keys" ||
		fail "gitolite wrote no key for admin-${T##*.}"
	start_sshd
	# the admin adds the repo and the developer (gitolite's documentation)
	local a=$T/gitolite-admin
	GIT_SSH_COMMAND=$(ssh_cmd id_ed25519_copy) git clone -q \
		"$GLU@127.0.0.1:gitolite-admin" "$a" 2>"$T/clone.out" ||
		fail "clone gitolite-admin: $(cat "$T/clone.out")"
	printf '\nrepo %s\n    RW+     =   dev\n' "$SITE" >>"$a/conf/gitolite.conf"
	cp "$KEYS/dev.pub" "$a/keydir/dev.pub"
	git -C "$a" add -A
	git -C "$a" commit -q -m "add $SITE and dev"
	GIT_SSH_COMMAND=$(ssh_cmd id_ed25519_copy) git -C "$a" push -q origin \
		master >"$T/admin-push.out" 2>&1 ||
		fail "admin push: $(cat "$T/admin-push.out")"
	[ -d "$REPO" ] || fail "gitolite did not create $REPO"
	grep -q 'gitolite-shell dev' "$GLHOME/.ssh/authorized_keys" ||
		fail "gitolite did not add dev's key"
	git config --global --add safe.directory "$REPO"
}

start_sshd() {
	cp "$HOME/.ssh/id_ed25519" "$KEYS/id_ed25519_copy"
	chmod 711 "$T"
	chmod 755 "$KEYS"
	sshd_start "$GLU" "$KEYS/hostkey" || return 1
	cp "$T/ssh_port" "$STATE/ssh_port"
}

# 3. The deploy target.
step3_target() {
	install -d -o "$GLU" -g "$GLU" -m 0755 "$DEPLOY"
	[ "$(stat -c '%U %G %a' "$DEPLOY")" = "$GLU $GLU 755" ] ||
		fail "$DEPLOY is $(stat -c '%U %G %a' "$DEPLOY")"
	# (userdel at the end takes $GLU out of the group again)
	op adduser -q "$GLU" www-data
	id -nG "$GLU" | grep -qw www-data || fail "$GLU is not in www-data"
}

# 4. The config, as INSTALL shows it; redeployd -n says configuration OK.
step4_config() {
	local p
	p=$(agent_free_ports 1)
	echo "$p" >"$STATE/agent_port"
	# the installed example becomes the site's config (subst: $CONF)
	[ -d /etc/redeploy ] || echo /etc/redeploy >>"$STATE/new-dirs"
	op install -d -m 0755 /etc/redeploy
	op cp /usr/local/share/doc/redeploy/examples/redeploy.ini "$CONF"
	# subst: repository, path, owner, group, token_group: $GLU's;
	# listen: a free port (not 8421); token_file; ready: the service port
	cat >"$CONF" <<EOF
[deploy]
repository = $REPO
path = $DEPLOY
branch = master
owner = $GLU
group = $GLU
shared = cache
syslog_tag = gitolite

[agent]
listen = 127.0.0.1:$p
token_file = $TOKEN
token_group = $GLU

[service]
command = exec python3 server.py
user = www-data
group = www-data
authbind = yes
ready = tcp:127.0.0.1:$(cat "$STATE/port")
log_tag = www
EOF
	chmod 644 "$CONF"
	# step 5's first lines: -n checks the token's directory too
	[ -d /run/redeploy ] || echo /run/redeploy >>"$STATE/new-dirs"
	op install -d -m 0755 /run/redeploy
	op redeployd -n -c "$CONF" >"$T/n.out" 2>&1 ||
		fail "redeployd -n: $(cat "$T/n.out")"
	output_has "configuration OK" "$T/n.out"
}

# 5. setup-authbind, the init script starts the agent.
step5_agent() {
	local port pid code
	port=$(cat "$STATE/port")
	op "$SHARE/setup-authbind" "$port" www-data >"$T/ab.out" 2>&1 ||
		fail "setup-authbind: $(cat "$T/ab.out")"
	touch "$STATE/byport.new"
	[ "$(stat -c '%U %a' "$BYPORT/$port")" = "www-data 500" ] ||
		fail "$BYPORT/$port: $(stat -c '%U %a' "$BYPORT/$port" 2>&1)"
	op /etc/init.d/redeployd start "$SITE" >"$T/init.out" 2>&1 ||
		fail "init start: $(cat "$T/init.out")"
	output_has "redeployd $SITE started" "$T/init.out"
	op update-rc.d redeployd defaults >"$T/rc.out" 2>&1 ||
		fail "update-rc.d: $(cat "$T/rc.out")"
	touch "$STATE/rc.new"
	ls /etc/rc2.d/S*redeployd >/dev/null 2>&1 ||
		fail "update-rc.d made no /etc/rc2.d link"
	pid=$(cat "$PIDFILE") || fail "no $PIDFILE"
	[ "$(readlink "/proc/$pid/exe")" = /usr/local/sbin/redeployd ] ||
		fail "pid $pid is $(readlink "/proc/$pid/exe")"
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
		"http://127.0.0.1:$(cat "$STATE/agent_port")/health") || true
	[ "$code" = 200 ] || fail "/health answered $code"
	[ "$(stat -c '%G %a' "$TOKEN")" = "$GLU 640" ] ||
		fail "$TOKEN is $(stat -c '%U %G %a' "$TOKEN")"
}

# The gitolite files the installer touches, to compare two runs.
gl_snapshot() {	# DIR
	local d=$1 f
	rm -rf "$d" && mkdir -p "$d"
	cp "$GLHOME/.gitolite.rc" "$d/rc"
	cp "$GLHOME/.gitolite/conf/gitolite.conf" "$d/conf"
	git --git-dir="$GLHOME/repositories/gitolite-admin.git" rev-parse HEAD \
		>"$d/admin-head"
	for f in "$GLHOME/.gitolite.rc" "$GLHOME/.gitolite/conf/gitolite.conf" \
		"$GLHOME/local" "$REPO/hooks" "$REPO/config"; do
		[ -e "$f" ] || continue
		find "$f" \( -type d -printf '%p %y %m %u\n' \) -o \
			-printf '%p %y %m %u %i %T@ %l\n'
	done | sort >"$d/stat"
}

# 6. install-gitolite-hook; redeploy check as the gitolite user.
step6_hook() {
	local hook=$GLHOME/local/hooks/repo-specific/$HOOK_NAME
	# subst: --gitolite-user $GLU (INSTALL relies on the default gitolite3)
	op "$SHARE/install-gitolite-hook" "$SITE" "$CONF" --gitolite-user "$GLU" \
		>"$T/inst.out" 2>&1 || fail "install-gitolite-hook: $(cat "$T/inst.out")"
	output_has "installed: pushes to $SITE run /usr/local/bin/redeploy -c $CONF hook" \
		"$T/inst.out"
	grep -qxF "exec '/usr/local/bin/redeploy' -c '$CONF' hook \"\$@\"" "$hook" ||
		fail "$hook: $(cat "$hook")"
	(cd / && su -s /bin/sh "$GLU" -c "redeploy -c $CONF check") \
		>"$T/check.out" 2>&1 || fail "redeploy check: $(cat "$T/check.out")"
	output_has "configuration OK" "$T/check.out"
	# the installer again: nothing changes
	gl_snapshot "$T/snap1"
	op "$SHARE/install-gitolite-hook" "$SITE" "$CONF" --gitolite-user "$GLU" \
		>"$T/inst.out" 2>&1 || fail "second run: $(cat "$T/inst.out")"
	output_has "already installed; nothing changed" "$T/inst.out"
	gl_snapshot "$T/snap2"
	diff -r "$T/snap1" "$T/snap2" || fail "the second run changed files (above)"
}

server_py() {	# PORT: live_server_py listening on PORT, no argument
	live_server_py | sed "s/^port = int(sys.argv\[1\])$/port = $1/"
}

page() {
	curl -sS --max-time 5 "http://127.0.0.1:$(cat "$STATE/port")/"
}

dev_push() {	# VERSION
	echo "<h1>version $1</h1>" >"$WORK/index.html"
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m "version $1"
	GIT_SSH_COMMAND=$(ssh_cmd dev) git -C "$WORK" push origin master \
		>"$T/push.out" 2>&1 || fail "push: $(cat "$T/push.out")"
	wait_unlocked
	output_has "remote: redeploy: "
	output_has "$SITE ready in"
	[ "$(page)" = "<h1>version $1</h1>" ] ||
		fail "the page is '$(page 2>&1)', not version $1; push said: $(cat "$T/push.out")"
}

# 7. The developer pushes over ssh, twice.
step7_push() {
	git init -q "$WORK"
	git -C "$WORK" remote add origin "$GLU@127.0.0.1:$SITE"
	server_py "$(cat "$STATE/port")" >"$WORK/server.py"
	grep -q "^port = $(cat "$STATE/port")$" "$WORK/server.py" ||
		fail "server.py has no port"
	dev_push 1
	live_id >"$STATE/id1"
	dev_push 2
	[ "$(live_id)" != "$(cat "$STATE/id1")" ] || fail "no new release"
	# the shared path: the hook's user gave it to www-data's group
	[ "$(stat -c '%U %G %a' "$DEPLOY/shared/cache")" = "$GLU www-data 2775" ] ||
		fail "shared/cache is $(stat -c '%U %G %a' "$DEPLOY/shared/cache")"
	runuser -u www-data -- touch "$DEPLOY/current/cache/x" ||
		fail "www-data cannot write current/cache"
	local pid
	pid=$(fuser -n tcp "$(cat "$STATE/port")" 2>/dev/null | tr -d ' ') || true
	if [ -z "$pid" ] || [ "$(stat -c %U "/proc/$pid")" != www-data ]; then
		fail "the port is not held by www-data: '$pid'"
	fi
}

# 8. Syslog and the read-only commands.
step8_logs() {
	local id
	id=$(live_id)
	wait_syslog "gitolite\[[0-9]*\]: deploy release=$id .*result=deployed"
	# the agent's lines (other tests' agents may log here too)
	wait_syslog "redeployd\[$(cat "$PIDFILE")\]: started .*config=$CONF\$"
	wait_syslog "redeployd\[$(cat "$PIDFILE")\]: ready pid=[0-9]* release=$id "
	wait_syslog "www\[[0-9]*\]: serving release $id"
	# every line of the hook and of our agent is strict key=value
	"$TEST_ROOT/tests/kvcheck" "$SYSLOG_FILE" gitolite \
		"redeployd[$(cat "$PIDFILE")]" || fail "unparsable syslog lines"
	op redeploy -c "$CONF" status >"$T/st.out" 2>&1 || fail "status: $(cat "$T/st.out")"
	output_has "$id" "$T/st.out"
	op redeploy -c "$CONF" releases >"$T/rel.out" 2>&1 || fail "releases: $(cat "$T/rel.out")"
	output_has "$id" "$T/rel.out"
	output_has "$(cat "$STATE/id1")" "$T/rel.out"
	op redeploy -c "$CONF" log -n 50 >"$T/log.out" 2>&1 || fail "log: $(cat "$T/log.out")"
	[ -s "$T/log.out" ] || fail "log printed nothing"
}

svc_pid() {
	curl -s -H @<(printf 'Authorization: Bearer %s\n' "$(cat "$TOKEN")") \
		"http://127.0.0.1:$(cat "$STATE/agent_port")/status" >"$T/status.json"
	agent_json pid "$T/status.json"
}

# 9. Restart by hand and through the URL with the token.
step9_restart() {
	local p0 p1 p2 port
	port=$(cat "$STATE/agent_port")
	p0=$(svc_pid)
	op redeploy -c "$CONF" restart >"$T/rs.out" 2>&1 || fail "restart: $(cat "$T/rs.out")"
	p1=$(svc_pid)
	[ "$p1" != "$p0" ] || fail "redeploy restart kept pid $p0"
	output_has "$p1" "$T/rs.out"
	# as INSTALL shows (subst: port, token path), + -D for the status line
	curl -s -X POST -H @<(printf 'Authorization: Bearer %s\n' \
		"$(cat /run/redeploy/"$SITE".token)") http://127.0.0.1:"$port"/restart \
		-D "$T/rs.head" >"$T/rs.json"
	head -n 1 "$T/rs.head" | grep -q '^HTTP/1\.[01] 200' ||
		fail "restart answered: $(cat "$T/rs.head" "$T/rs.json")"
	[ "$(agent_json status "$T/rs.json")" = ready ] || fail "not ready: $(cat "$T/rs.json")"
	p2=$(agent_json pid "$T/rs.json")
	[ "$p2" != "$p1" ] || fail "the URL restart kept pid $p1"
	[ "$(page)" = "<h1>version 2</h1>" ] || fail "page after restart: $(page 2>&1)"
}

# 10. Removal as INSTALL says, then: what is left.
step10_remove() {
	local port agent
	port=$(cat "$STATE/port")
	agent=$(cat "$PIDFILE")
	op /etc/init.d/redeployd stop "$SITE" >"$T/init.out" 2>&1 ||
		fail "init stop: $(cat "$T/init.out")"
	op "$SHARE/install-gitolite-hook" --remove "$SITE" "$CONF" \
		--gitolite-user "$GLU" >"$T/inst.out" 2>&1 ||	# subst: --gitolite-user
		fail "--remove: $(cat "$T/inst.out")"
	op "$SHARE/setup-authbind" --remove "$port" www-data >"$T/ab.out" 2>&1 ||
		fail "setup-authbind --remove: $(cat "$T/ab.out")"
	op update-rc.d -f redeployd remove >"$T/rc.out" 2>&1 ||
		fail "update-rc.d remove: $(cat "$T/rc.out")"
	rm -f "$STATE/rc.new"
	op_make uninstall >"$T/make.out" 2>&1 ||
		fail "make uninstall: $(cat "$T/make.out")"
	op rm -r "$CONF" "$DEPLOY"	# subst: $CONF, $DEPLOY (/etc/redeploy: below)
	rm -f "$STATE/installed" "$STATE/byport.new"
	! ls /etc/rc?.d/*redeployd >/dev/null 2>&1 || fail "rc links left"
	if [ -e "$CONF" ] || [ -e "$DEPLOY" ]; then
		fail "config or site left"
	fi
	! agent_alive "$agent" || fail "the agent $agent still runs"
	[ -z "$(fuser -n tcp "$port" 2>/dev/null)" ] || fail "port $port still held"
	[ ! -e "$GLHOME/local/hooks/repo-specific/$HOOK_NAME" ] || fail "hook left"
	[ ! -e "$BYPORT/$port" ] || fail "$BYPORT/$port left"
	local f
	for f in "${INSTALLED[@]}"; do
		[ ! -e "$f" ] || fail "make uninstall left $f"
	done
	# what INSTALL's removal leaves: reported, then cleaned up here
	watch_list >"$T/after.list"
	# (/run/sshd is the test's sshd's, not INSTALL's; the deploy path
	# stands for the releases in it)
	comm -13 "$T/before.list" "$T/after.list" | grep -vx /run/sshd |
		grep -v "^$DEPLOY/" >"$STATE/leftovers" || true
	getent passwd "$GLU" >/dev/null &&
		echo "user and group $GLU, home $GLHOME" >>"$STATE/leftovers"
	cp "$STATE/leftovers" "$T/leftovers"
	clean_up
	watch_list >"$T/after.list"
	comm -3 "$T/before.list" "$T/after.list" >"$T/diff"
	[ ! -s "$T/diff" ] || fail "the machine differs from before: $(cat "$T/diff")"
	! getent passwd "$GLU" >/dev/null || fail "user $GLU left"
	! getent group "$GLU" >/dev/null || fail "group $GLU left"
}

# ---

STEPS=(
	"1. make install: redeploy, redeployd, man pages, scripts, init script:step1_install"
	"2. gitolite user, setup -pk, repo and developer via gitolite-admin over ssh:step2_gitolite"
	"3. the deploy target owned by the gitolite user:step3_target"
	"4. the config as INSTALL shows it passes redeployd -n:step4_config"
	"5. setup-authbind; /etc/init.d/redeployd start: /health answers:step5_agent"
	"6. install-gitolite-hook (twice: no change), redeploy check as the gitolite user:step6_hook"
	"7. two pushes over ssh change the page on the service port:step7_push"
	"8. syslog: gitolite, redeployd, www lines; status, releases, log:step8_logs"
	"9. redeploy restart and the token URL restart: new pid, ready:step9_restart"
	"10. the removal of INSTALL, then nothing of the test is left:step10_remove"
)

skip_all() {	# REASON
	local s
	for s in "${STEPS[@]}"; do
		test_skip "${s%:*}" "$1"
	done
	test_done
}

port_free() {	# PORT: nothing listens on it, no authbind file for it
	[ ! -e "$BYPORT/$1" ] && [ ! -e "$BYPORT/!$1" ] || return 1
	[ -z "$(ss -Hltn "sport = :$1" 2>/dev/null)" ] || return 1
	"$AGENT_PY" -c 'import socket, sys
for a in ("0.0.0.0", "127.0.0.1"):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a, int(sys.argv[1])))
    s.close()' "$1" 2>/dev/null
}

is_root || skip_all "needs root"
why=$(syslog_unavailable)
[ -z "$why" ] || skip_all "syslog: $why"
# make test installs nothing: make check (scripts/deps) does
command -v gitolite >/dev/null ||
	skip_all "gitolite3 is not installed (make check or scripts/deps installs it)"
[ -x /usr/sbin/sshd ] ||
	skip_all "openssh-server is not installed (make check or scripts/deps installs it)"
if ! command -v authbind >/dev/null || [ ! -d "$BYPORT" ]; then
	skip_all "authbind is not installed"
fi
for c in adduser su fuser ss curl; do
	command -v "$c" >/dev/null || skip_all "needs $c"
done
[ -x /usr/bin/python3 ] || skip_all "needs /usr/bin/python3 (the init script's PATH)"
getent passwd www-data >/dev/null || skip_all "no user www-data"
for f in "${INSTALLED[@]}" "$SHARE"; do
	[ ! -e "$f" ] || skip_all "$f exists already: not clobbering an installation"
done
getent passwd "$GLU" >/dev/null || getent group "$GLU" >/dev/null &&
	skip_all "user or group $GLU exists"
if [ -e "$DEPLOY" ] || [ -e "$CONF" ]; then
	skip_all "$DEPLOY or $CONF exists"
fi

# subst: port 80 if free, else a free port below 512 (a plain byport file)
if port_free 80; then
	echo 80 >"$STATE/port"
else
	for p in $(seq 400 511); do
		port_free "$p" && { echo "$p" >"$STATE/port"; break; }
	done
	[ -s "$STATE/port" ] || skip_all "port 80 and 400-511 are taken"
fi
echo "# service port $(cat "$STATE/port")"

# what exists before, to know what the test made
for d in /var/www /run/redeploy /usr/local/share/man/man1 \
	/usr/local/share/man/man5 /usr/local/share/man/man8; do
	[ -e "$d" ] || echo "$d" >>"$STATE/new-dirs"
done
watch_list >"$T/before.list"

start_rsyslog		# subst: its file $SYSLOG_FILE for /var/log/syslog
at_exit clean_up

for s in "${STEPS[@]}"; do
	test_expect "${s%:*}" "${s##*:}"
done
if [ -s "$STATE/leftovers" ]; then
	echo "# left by INSTALL's removal (then removed by the test):"
	sed 's/^/#   /' "$STATE/leftovers"
fi
test_done
