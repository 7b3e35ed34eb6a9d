#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t3600-held-sockets: [service] listen.  redeployd holds the service's socket
# and hands it to every process (LISTEN_FDS); real gunicorn with a Flask app
# and real Twisted serve on it while a client records every request during
# five pushes: restart = overlap fails no request and serves no old answer
# after the hook said ready; stop-first refuses no connection; a release that
# cannot start under overlap costs nothing and current goes back; a command
# that binds the port itself fails with a line that says what to do; kill -9
# of the agent then a new agent still serves.
# shellcheck source=lib.sh
# shellcheck disable=SC2016 # wait_for evaluates its single-quoted conditions
. "$(dirname "$0")/lib.sh"

GUNICORN=/usr/bin/gunicorn
TWISTD=/usr/bin/twistd3
LOAD="$AGENT_PY $(dirname "$0")/http-load.py"

# The scene of live_setup, the service on a socket redeployd holds.  @PORT@
# in COMMAND is the service's port; ready is http on it.
held_setup() {	# RESTART COMMAND
	live_setup
	sed -i -e '/^command = /d' -e '/^ready = /d' "$CONFIG"
	{
		echo "command = ${2//@PORT@/$LIVE_WEB}"
		echo "listen = 127.0.0.1:$LIVE_WEB"
		echo "restart = $1"
		echo "ready = http://127.0.0.1:$LIVE_WEB/"
	} >>"$CONFIG"
	sed -i 's/^ready_timeout = .*/ready_timeout = 15/; s/^stop_timeout = .*/stop_timeout = 5/' "$CONFIG"
}

flask_version() {	# N [BROKEN]
	cat >"$WORK/app.py" <<EOF
from flask import Flask
${2:+raise SystemExit("version $1 cannot start: $2")}
app = Flask(__name__)
@app.route("/")
def index():
    return "version-$1\n"
EOF
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m "version $1"
}

twisted_version() {	# N
	echo "version-$1" >"$WORK/index.html"
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m "version $1"
}

now() {
	"$AGENT_PY" -c 'import time; print("%.6f" % time.monotonic())'
}

# Start the client: 20 threads on the service until $T/stop exists.
load_start() {
	rm -f "$T/stop" "$T/load.out" "$T/marks"
	$LOAD run "http://127.0.0.1:$LIVE_WEB/" "$T/load.out" "$T/stop" 20 120 &
	LOAD_PID=$!
	at_exit "touch $T/stop"
	wait_for '[ "$(curl -s --max-time 2 http://127.0.0.1:$LIVE_WEB/)" != "" ]'
}

load_stop() {
	touch "$T/stop"
	wait "$LOAD_PID"
	$LOAD report "$T/load.out" "$T/marks" >"$T/report"
	cat "$T/report"
}

report_is() {	# KEY VALUE
	grep -qw "$1=$2" "$T/report" ||
		fail "expected $1=$2, the client saw: $(cat "$T/report"); failures:
$(awk '$3 == 0' "$T/load.out" | head -n 5)"
}

# Push versions 2..6 under load; after each success, a mark "TIME N":
# from then on every answer must be version N.
five_pushes() {	# MAKER
	local v
	: >"$T/marks.raw"
	for v in 2 3 4 5 6; do
		"$1" "$v"
		push || fail "push of version $v failed: $(cat "$T/push.out")"
		output_has "ready in"
		printf '%s %s\n' "$(now)" "$v" >>"$T/marks.raw"
	done
	cp "$T/marks.raw" "$T/marks"
}

need() {
	[ -x "$GUNICORN" ] || { echo "SKIP $TEST_NAME: needs $GUNICORN"; return 1; }
	"$AGENT_PY" -c 'import flask' 2>/dev/null ||
		{ echo "SKIP $TEST_NAME: needs python3-flask"; return 1; }
}

GUNI="exec $AGENT_PY $GUNICORN -w 2 --graceful-timeout 5 app:app"

overlap_gunicorn() {
	held_setup overlap "$GUNI"
	agent_start
	flask_version 1
	push
	output_has "ready in"
	[ "$(curl -s "http://127.0.0.1:$LIVE_WEB/")" = "version-1" ] ||
		fail "gunicorn does not serve version 1"
	# the master reads the socket redeployd holds: fd 3, LISTEN_PID its own
	local pid
	pid=$(agent_field pid)
	[ "$(tr '\0' '\n' <"/proc/$pid/environ" | sed -n 's/^LISTEN_PID=//p')" = "$pid" ] ||
		fail "LISTEN_PID is not the service's pid $pid"
	tr '\0' '\n' <"/proc/$pid/environ" | grep -qx 'LISTEN_FDS=1' ||
		fail "no LISTEN_FDS=1"
	[ "$(agent_field mode)" = overlap ] || fail "mode is not overlap"
	load_start
	five_pushes flask_version
	load_stop
	report_is failed 0
	report_is old_after 0
	output_has "only release"
	[ "$(curl -s "http://127.0.0.1:$LIVE_WEB/")" = "version-6" ] ||
		fail "not version 6 at the end"
}

stop_first_gunicorn() {
	held_setup stop-first "$GUNI"
	agent_start
	flask_version 1
	push
	output_has "ready in"
	load_start
	five_pushes flask_version
	load_stop
	report_is refused 0
	report_is reset 0
	[ "$(agent_field mode)" = stop-first ] || fail "mode is not stop-first"
	output_has "restart stop-first:"
	expect_exit 0 status -c "$CONFIG"
	output_has "restart  stop-first, sockets held by redeployd: 127.0.0.1:$LIVE_WEB" "$T/cmd.out"
}

broken_overlap() {
	held_setup overlap "$GUNI"
	agent_start
	flask_version 1
	push
	local good pid
	good=$(live_id)
	pid=$(agent_field pid)
	load_start
	flask_version 2 "missing DATABASE_URL"
	push || true
	load_stop
	report_is failed 0
	assert_current "$good"
	output_has "never stopped serving"
	# the service's own words: the push shows the last 10 lines (gunicorn's
	# traceback can fill them), the agent's log has them all
	expect_exit 0 -c "$CONFIG" log -n 400
	output_has "missing DATABASE_URL" "$T/cmd.out"
	[ "$(agent_field pid)" = "$pid" ] || fail "the old process was replaced"
	[ "$(curl -s "http://127.0.0.1:$LIVE_WEB/")" = "version-1" ] ||
		fail "not version 1 after the failed push"
}

twisted_overlap() {
	held_setup overlap \
		"exec $AGENT_PY $TWISTD -n --pidfile= web --listen systemd:domain=INET:index=0 --path ."
	agent_start
	twisted_version 1
	push
	output_has "ready in"
	load_start
	five_pushes twisted_version
	load_stop
	report_is failed 0
	report_is old_after 0
}

ignores_listen_fds() {
	held_setup stop-first \
		"exec $AGENT_PY -m http.server @PORT@ --bind 127.0.0.1"
	agent_start
	twisted_version 1
	push || true
	output_has "LISTEN_FDS"
	output_has "redeployd holds it"
}

kill9_agent() {
	held_setup overlap "$GUNI"
	agent_start
	flask_version 1
	push
	local old=$AGENT_PID
	kill -KILL "$old"
	agent_wait_gone "$old"
	agent_start
	agent_wait_state ready 20
	[ "$(curl -s --max-time 5 "http://127.0.0.1:$LIVE_WEB/")" = "version-1" ] ||
		fail "the new agent's service does not answer"
	local n
	n=$(pgrep -fc "gunicorn -w 2 --graceful-timeout 5 app:app" || true)
	# one master and two workers
	[ "$n" = 3 ] || fail "$n gunicorn processes, expected 3: $(pgrep -fa gunicorn)"
}

if need; then
	test_expect "overlap, gunicorn -w 2, 5 pushes: 0 failed, 0 old answers" overlap_gunicorn
	test_expect "stop-first, gunicorn: 0 refused, 0 reset" stop_first_gunicorn
	test_expect "overlap, a release that cannot start: 0 failed, current back" broken_overlap
	test_expect "a command that binds the port itself: says LISTEN_FDS" ignores_listen_fds
	test_expect "kill -9 of the agent, then a new agent still serves" kill9_agent
fi
if [ -x "$TWISTD" ]; then
	test_expect "overlap, twistd web on systemd:index=0: 0 failed, 0 old" twisted_overlap
else
	test_skip "overlap, twisted" "needs $TWISTD"
fi
test_done
