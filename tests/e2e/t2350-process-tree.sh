#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t2350-process-tree: nothing a start of the service starts outlives it, and
# "ready" is never the old start answering.  A service behind `CMD & wait`,
# a setsid server, setsid/setpgid children, a double fork and a daemon that
# ignores TERM: after each restart and stop, none of them is left, and a
# broken new release behind the same wrapper is not reported ready by what
# the old one left listening.  kill -9 of the agent, then a new agent: one
# listener, ten rounds; and a process that forks and exits as it is
# stopped leaves no child behind, 15 rounds.
# shellcheck source=lib.sh
# shellcheck disable=SC2016 # wait_for evaluates its single-quoted conditions
. "$(dirname "$0")/lib.sh"

# holder.py PORT: listen on PORT after a start-up delay, serve nothing else.
# It ignores SIGTERM (as a server that drains would, for a while), and a
# helper in a process group of its own keeps the listening socket too: what
# signals only the service's group leaves it listening.
holder_py() {
	cat <<'PY'
import os, signal, socket, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
time.sleep(0.3)                 # a fresh start takes a while
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
if os.fork() == 0:
    os.setpgid(0, 0)
    while True:
        time.sleep(60)
print("holding", sys.argv[1], flush=True)
while True:
    c, _ = s.accept()
    c.close()
PY
}

# The processes whose environment names this script's scene ($LIVE).
leftovers() {
	local p
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		grep -qaF "TREE_MARK=$$" "/proc/$p/environ" 2>/dev/null || continue
		agent_alive "$p" && echo "$p"
	done
	return 0
}

# What a failed case left (a process that escaped the agent) goes too.
at_exit 'leftovers | xargs -r kill -KILL'

tree_setup() {	# COMMAND [CONFIG LINES...]
	local cmd=$1
	shift
	agent_fresh
	agent_config "environment = PYTHONUNBUFFERED=1 TREE_MARK=$$" \
		"command = ${cmd//@PORT@/$AGENT_SVC_PORT}" "$@"
	local id
	id=$(agent_release 1)
	holder_py >"$LIVE/releases/$id/holder.py"
	agent_switch "$id"
}

wrapper_ready_is_new() {
	tree_setup "$AGENT_PY ./holder.py @PORT@ & wait"
	agent_start
	agent_wait_state ready
	local i t0 ms
	for i in 1 2 3; do
		t0=$(agent_ms)
		agent_expect 200 POST /restart
		ms=$(($(agent_ms) - t0))
		# the holder needs 300 ms before it listens: a faster "ready"
		# was the old group answering
		[ "$ms" -ge 300 ] || fail "restart $i was ready in $ms ms"
	done
}

wrapper_broken_not_ready() {
	tree_setup "$AGENT_PY ./holder.py @PORT@ & wait" "ready_timeout = 2"
	agent_start
	agent_wait_state ready
	local id2
	id2=$(agent_release 2)
	printf 'raise SystemExit("v2 is broken")\n' >"$LIVE/releases/$id2/holder.py"
	agent_switch "$id2"
	agent_expect 503 POST /restart
	[ "$(agent_json status)" = failed ] || fail "not failed: $(cat "$T/resp.body")"
}

setsid_server_not_ready() {
	# v1 leaves a setsid copy behind that holds the port
	tree_setup "setsid $AGENT_PY ./holder.py @PORT@ & wait" "ready_timeout = 2"
	agent_start
	agent_wait_state ready
	wait_for '[ "$(leftovers | wc -l)" -ge 3 ]'
	local before p
	before=$(leftovers)
	agent_expect 200 POST /restart
	for p in $before; do
		! agent_alive "$p" || fail "process $p of the old start survived"
	done
	# every start's setsid copy is gone before the next one starts: the
	# new one binds, and exactly one holder runs
	local n
	n=$(pgrep -fc "^$AGENT_PY ./holder.py $AGENT_SVC_PORT" || true)
	[ "$n" = 2 ] || fail "$n holders run (one and its helper expected): $(pgrep -fa holder.py)"
}

# A service that starts one child of each kind, then serves.
escapers_sh() {
	cat <<EOF
sleep 300 &
setsid sleep 301 &
$AGENT_PY -c 'import os; os.setpgid(0, 0); os.execvp("sleep", ["sleep", "302"])' &
sh -c 'sleep 303 & exit 0' &
sh -c 'setsid sleep 305 & exit 0' &
sh -c 'trap "" TERM; exec setsid sleep 304' &
exec $AGENT_PY -m http.server $AGENT_SVC_PORT --bind 127.0.0.1
EOF
}

nothing_outlives() {
	tree_setup "exec sh ./escapers.sh"
	escapers_sh >"$LIVE/current/escapers.sh"
	agent_start
	agent_wait_state ready
	wait_for '[ "$(leftovers | wc -l)" -ge 7 ]'
	local before
	before=$(leftovers | sort)
	agent_expect 200 POST /restart
	local p
	for p in $before; do
		! agent_alive "$p" || fail "process $p of the old start survived the restart: $(tr '\0' ' ' <"/proc/$p/cmdline")"
	done
	wait_for '[ "$(leftovers | wc -l)" -ge 7 ]'
	kill -TERM "$AGENT_PID"
	agent_wait_gone "$AGENT_PID" 20
	[ -z "$(leftovers)" ] || fail "after the agent stopped: $(leftovers | while read -r p; do tr '\0' ' ' <"/proc/$p/cmdline"; echo; done)"
}

kill9_race() {
	tree_setup "sh -c '$AGENT_PY ./holder.py @PORT@ & wait'"
	local n i
	# killed at any moment: while the service starts, and once it serves
	for i in 0 1 2 3 4 5 6 7 8 9; do
		agent_start
		sleep "0.0$i"
		[ "$i" -lt 5 ] || agent_wait_state ready 30
		kill -KILL "$AGENT_PID"
		agent_wait_gone "$AGENT_PID"
	done
	agent_start
	agent_wait_state ready 30
	# a holder and its helper
	wait_for '[ "$(pgrep -fc "^$AGENT_PY ./holder.py $AGENT_SVC_PORT")" = 2 ]' 10
	n=$(pgrep -fc "^$AGENT_PY ./holder.py $AGENT_SVC_PORT" || true)
	[ "$n" = 2 ] || fail "$n holders after 10 rounds: $(pgrep -fa holder.py)"
}

# forker.py PORT: listen on PORT; on the first SIGTERM, a moment later,
# fork a child that keeps the socket (in a process group of its own,
# ignoring TERM) and exit at once.  A scan of /proc that lists the
# processes first and reads each one after can see the parent gone and
# miss the child, born after the listing.
forker_py() {
	cat <<'PY'
import os, random, signal, socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
fired = False
def on_term(sig, frame):
    global fired
    if fired:
        return
    fired = True
    time.sleep(random.uniform(0, 0.06))
    if os.fork() == 0:
        os.setpgid(0, 0)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            time.sleep(60)
    os._exit(0)
signal.signal(signal.SIGTERM, on_term)
while True:
    c, _ = s.accept()
    c.close()
PY
}

# kill -9 of the agent, then a new agent that stops what the old one left:
# a process that forks and exits as it is stopped leaves no child holding
# the port, 15 rounds.
kill9_fork_on_stop() {
	tree_setup "sh -c '$AGENT_PY ./forker.py @PORT@ & wait'" "stop_timeout = 0.2"
	forker_py >"$LIVE/current/forker.py"
	local i n sleepers=()
	# 400 idle processes with lower pids than the forker's make a scan
	# read /proc for a few milliseconds before it reaches the forker:
	# the moment when a fork and exit is missed
	for i in $(seq 400); do
		sleep 600 &
		sleepers+=("$!")
	done
	at_exit "kill ${sleepers[*]}"
	agent_start
	agent_wait_state ready
	for i in $(seq 15); do
		kill -KILL "$AGENT_PID"
		agent_wait_gone "$AGENT_PID"
		agent_start
		agent_wait_state ready 10 || { fail "round $i: $(pgrep -fa forker.py)"; return 1; }
		n=$(pgrep -fc "^$AGENT_PY ./forker.py $AGENT_SVC_PORT" || true)
		[ "$n" = 1 ] || { fail "round $i: $n forkers run: $(pgrep -fa forker.py)"; return 1; }
	done
	kill "${sleepers[@]}"
}

# slow.py: a web server on the held socket (fd 3) that takes 1 s to start.
slow_py() {
	cat <<'PY'
import http.server, socket, time
time.sleep(1)
sock = socket.socket(fileno=3)
srv = http.server.HTTPServer(sock.getsockname()[:2],
    http.server.SimpleHTTPRequestHandler, bind_and_activate=False)
srv.socket = sock
srv.serve_forever()
PY
}

kill9_during_overlap() {
	tree_setup "exec $AGENT_PY ./slow.py" "listen = 127.0.0.1:@PORT@" \
		"restart = overlap" "ready = http://127.0.0.1:@PORT@/"
	sed -i "s/@PORT@/$AGENT_SVC_PORT/g" "$CONFIG"
	slow_py >"$LIVE/current/slow.py"
	agent_start
	agent_wait_state ready
	agent_curl POST /restart >/dev/null &
	local curl_pid=$! n
	# the new one starts beside the old one: both in the pid file
	wait_for '[ "$(agent_field old_pid)" != 0 ]'
	wait_for '[ "$(wc -l <"$AGENT_TOKEN.service.pid")" = 2 ]'
	kill -KILL "$AGENT_PID"
	agent_wait_gone "$AGENT_PID"
	wait "$curl_pid" || true
	agent_start
	agent_wait_state ready 20
	n=$(leftovers | wc -l)
	[ "$n" = 1 ] || fail "$n service processes after the new agent started: $(leftovers)"
	curl -sf --max-time 5 "http://127.0.0.1:$AGENT_SVC_PORT/" >/dev/null ||
		fail "nothing serves"
}

test_expect "'CMD & wait': a restart is ready only when the new one listens" wrapper_ready_is_new
test_expect "'CMD & wait', broken v2: not ready from the old listener" wrapper_broken_not_ready
test_expect "a setsid server: gone before the next start; one holder" setsid_server_not_ready
test_expect "setsid, setpgid, double fork, TERM-ignoring daemon: none outlives" nothing_outlives
test_expect "kill -9 of the agent then a new one, 10 rounds: one listener" kill9_race
test_expect "kill -9, new agent: a process that forks and exits as it stops leaves nothing" kill9_fork_on_stop
test_expect "kill -9 of the agent during an overlap: the next one stops both" kill9_during_overlap
test_done
