#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t2360-notify: ready = notify.  The service gets its own NOTIFY_SOCKET per
# start; READY=1 from a process outside the start (same user, address read
# from the service's environment) is ignored and logged; READY=1 from the
# service makes it ready; STATUS= shows in /status; gunicorn's own READY=1
# works.  Config: tcp: on a held socket is an error that names http:// and
# notify.  As root, port 80 is served as www-data with no authbind, inside
# a private network namespace.
# shellcheck source=lib.sh
# shellcheck disable=SC2016 # wait_for evaluates its single-quoted conditions
. "$(dirname "$0")/lib.sh"

# notifier.py: READY=1 (and a STATUS=) once the file "go" exists.
notifier_py() {
	cat <<'PY'
import os, socket, time
addr = os.environ["NOTIFY_SOCKET"]
if addr.startswith("@"):
    addr = "\0" + addr[1:]
print("waiting for go", flush=True)
while not os.path.exists("go"):
    time.sleep(0.01)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"STATUS=serving 42 things\nREADY=1", addr)
while True:
    time.sleep(1)
PY
}

# send.py PID: READY=1 to the NOTIFY_SOCKET in PID's environment.
send_py() {
	cat <<'PY'
import socket, sys
env = open("/proc/%s/environ" % sys.argv[1], "rb").read().split(b"\0")
addr = [e[14:] for e in env if e.startswith(b"NOTIFY_SOCKET=")][0]
if addr.startswith(b"@"):
    addr = b"\0" + addr[1:]
socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"READY=1", addr)
PY
}

forged_ready() {
	agent_fresh
	agent_config "ready = notify" "command = exec $AGENT_PY ./notifier.py"
	local id pid
	id=$(agent_release 1)
	notifier_py >"$LIVE/releases/$id/notifier.py"
	agent_switch "$id"
	agent_start
	agent_wait_state starting
	pid=$(agent_field pid)
	wait_for 'grep -qa NOTIFY_SOCKET=@ /proc/$pid/environ'
	send_py >"$T/send.py"
	# as the service's user, but not one of its processes
	if is_root; then
		chmod 644 "$T/send.py"
		setpriv --reuid=www-data --regid=www-data --clear-groups \
			"$AGENT_PY" "$T/send.py" "$pid"
	else
		"$AGENT_PY" "$T/send.py" "$pid"
	fi
	wait_for 'grep -q "notify-ignored" "$AGENT_ERR"'
	[ "$(agent_field state)" = starting ] ||
		fail "a forged READY=1 made it $(agent_field state)"
	touch "$LIVE/current/go"
	agent_wait_state ready
	[ "$(agent_field service_status)" = "serving 42 things" ] ||
		fail "STATUS= is not in /status: $(cat "$T/status.json")"
}

gunicorn_notify() {
	[ -x /usr/bin/gunicorn ] || { echo "SKIP: no gunicorn"; return 0; }
	agent_fresh
	agent_config "ready = notify" "listen = 127.0.0.1:$AGENT_SVC_PORT" \
		"restart = overlap" \
		"command = exec $AGENT_PY /usr/bin/gunicorn -w 1 app:app"
	local id pid
	id=$(agent_release 1)
	printf 'def app(env, start):\n    start("200 OK", [])\n    return [b"notified\\n"]\n' \
		>"$LIVE/releases/$id/app.py"
	agent_switch "$id"
	agent_start
	agent_wait_state ready 20
	pid=$(agent_field pid)
	agent_expect 200 POST /restart
	[ "$(agent_json pid)" != "$pid" ] || fail "the pid did not change"
	[ "$(curl -s "http://127.0.0.1:$AGENT_SVC_PORT/")" = notified ] ||
		fail "gunicorn does not answer on the held socket"
}

tcp_on_held() {
	agent_fresh
	agent_config "listen = 0.0.0.0:$AGENT_SVC_PORT" "restart = stop-first"
	local rc=0
	"$REDEPLOYD" -n -c "$CONFIG" 2>"$T/n.err" || rc=$?
	[ "$rc" = 2 ] || fail "redeployd -n exited $rc, not 2"
	grep -q "redeploy.ini:[0-9]*: ready 'tcp:127.0.0.1:$AGENT_SVC_PORT' is a socket redeployd holds.*use ready = http://... or notify" "$T/n.err" ||
		fail "no hint: $(cat "$T/n.err")"
	# the hook's check says the same
	expect_exit 2 check -c "$CONFIG"
	grep -q "or notify" "$T/cmd.err" || fail "check: $(cat "$T/cmd.err")"
}

# fds.py: print the descriptors it was started with, then wait.
fds_py() {
	cat <<'PY'
import os, socket, sys, time
fds = sorted(int(f) for f in os.listdir("/proc/self/fd"))
kinds = []
for f in fds:
    try:
        kinds.append("%d:%s" % (f, os.readlink("/proc/self/fd/%d" % f).split(":")[0]))
    except OSError:
        pass
s = socket.socket(fileno=3)
print("fds", " ".join(kinds), "fd3", s.getsockname()[1],
      os.environ["LISTEN_FDS"], os.environ["LISTEN_PID"] == str(os.getpid()),
      os.environ["LISTEN_FDNAMES"], flush=True)
time.sleep(300)
PY
}

handover_fds() {
	agent_fresh
	agent_config "listen = 127.0.0.1:$AGENT_SVC_PORT" "restart = stop-first" \
		"ready = none" "command = exec $AGENT_PY ./fds.py"
	local id
	id=$(agent_release 1)
	fds_py >"$LIVE/releases/$id/fds.py"
	agent_switch "$id"
	agent_start
	wait_for 'grep -q " fds " "$AGENT_ERR"'
	grep " fds " "$AGENT_ERR"
	# 0-2 and the held socket as 3, nothing else
	grep -q " fds 0:/dev/null 1:pipe 2:pipe 3:socket fd3 $AGENT_SVC_PORT 1 True 127.0.0.1_$AGENT_SVC_PORT\$" "$AGENT_ERR" ||
		fail "the service started with other descriptors, or without fd 3"
}

hup_keeps_sockets() {
	agent_fresh
	agent_config "listen = 127.0.0.1:$AGENT_SVC_PORT" "restart = stop-first" \
		"ready = http://127.0.0.1:$AGENT_SVC_PORT/" \
		"command = exec $AGENT_PY /usr/bin/twistd3 -n --pidfile= web --listen systemd:domain=INET:index=0 --path ."
	local id other
	id=$(agent_release 1)
	agent_switch "$id"
	agent_start
	agent_wait_state ready 20
	other=$(agent_free_ports 1)
	sed -i "s/^listen = 127.0.0.1:$AGENT_SVC_PORT\$/listen = 127.0.0.1:$other/" "$CONFIG"
	kill -HUP "$AGENT_PID"
	wait_for 'grep -q "listen changed; redeployd keeps the sockets it holds (127.0.0.1:$AGENT_SVC_PORT)" "$AGENT_ERR"'
	agent_expect 200 POST /restart
	grep -q "release 1" <(curl -s "http://127.0.0.1:$AGENT_SVC_PORT/") ||
		fail "the held socket does not serve after the reload"
}

port80_no_authbind() {
	[ ! -e /etc/authbind/byport/80 ] || { echo "SKIP: /etc/authbind/byport/80 exists"; return 0; }
	agent_fresh
	agent_config "listen = 127.0.0.1:80" "restart = stop-first" \
		"ready = http://127.0.0.1:80/" \
		"command = exec $AGENT_PY /usr/bin/twistd3 -n --pidfile= web --listen systemd:domain=INET:index=0 --path ."
	local id
	id=$(agent_release 1)
	agent_switch "$id"
	# a private network namespace: port 80 and loopback are its own
	unshare --net bash -c '
		ip link set lo up
		"$1" -f -c "$2" 2>"$3" &
		a=$!
		for _ in $(seq 500); do
			curl -s --max-time 1 http://127.0.0.1:80/ >"$4" && [ -s "$4" ] && break
			sleep 0.02
		done
		pid=$(pgrep -P "$a" | head -n 1)
		stat -c %U "/proc/$pid" >"$4.user"
		kill -TERM "$a"; wait "$a"' _ "$REDEPLOYD" "$CONFIG" "$AGENT_ERR" "$T/page"
	grep -q "release 1" "$T/page" || fail "port 80 did not serve: $(cat "$T/page"; tail "$AGENT_ERR")"
	[ "$(cat "$T/page.user")" = www-data ] || fail "served by $(cat "$T/page.user")"
}

test_expect "a forged READY=1 from another process is ignored; the real one counts" forged_ready
test_expect "gunicorn's own READY=1 over NOTIFY_SOCKET, overlap" gunicorn_notify
test_expect "fd 3 is the held socket, LISTEN_*, nothing else leaks" handover_fds
test_expect "ready = tcp: on a socket redeployd holds: config error" tcp_on_held
test_expect "SIGHUP that changes listen keeps the held sockets and says so" hup_keeps_sockets
if is_root; then
	test_expect "port 80 as www-data, no authbind (private netns)" port80_no_authbind
else
	test_skip "port 80 as www-data, no authbind" "needs root"
fi
test_done
