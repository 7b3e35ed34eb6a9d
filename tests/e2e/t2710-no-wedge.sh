#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t2710-no-wedge: nobody on the machine can take the endpoint down for
# good: idle connections from many loopback addresses, a slowloris run of
# real slowhttptest, stopped clients and the agent's own fd limit all end
# with /health answering at once, during the attack and after it.
# shellcheck disable=SC2016 # wait_for evaluates its argument later
. "$(dirname "$0")/lib.sh"

# Hold connections to the agent: COUNT from each SOURCE address, each
# sending MODE ("half": a request line and Host, never the end; "full":
# complete keep-alive /health requests), then keep them open until killed.
# Progress goes to FILE: "opened N closed M answered K" (closed: by the
# agent; answered: connections that got some answer).
hold() {	# FILE MODE COUNT SOURCE...
	rm -f "$1"
	"$AGENT_PY" - "$AGENT_PORT" "$@" <<'PY' &
import os, select, socket, sys, time
port, out, mode, count, sources = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:]
half = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
full = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
socks, closed, answered = [], 0, set()
def report():
    with open(out + ".tmp", "w") as f:
        f.write("opened %d closed %d answered %d\n" % (len(socks), closed, len(answered)))
    os.rename(out + ".tmp", out)
for src in sources:
    for _ in range(count):
        s = socket.socket()
        s.setblocking(False)
        s.bind((src, 0))
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        socks.append(s)
report()
pending = {s: (half if mode == "half" else full) for s in socks}
live = set(socks)
while True:
    w = [s for s in live if s in pending]
    r, wr, _ = select.select(list(live), w, [], 0.2)
    for s in wr:
        try:
            s.send(pending.pop(s))
        except OSError:
            pass
    for s in r:
        try:
            b = s.recv(65536)
        except OSError:
            b = b""
        if b:
            answered.add(s)
        else:
            live.discard(s)
            pending.pop(s, None)
            closed += 1
    report()
PY
	echo $! >"$1.pid"
	at_exit "kill -CONT $! ; kill $!"
}

held() {	# FILE: prints "opened N closed M"
	cat "$1" 2>/dev/null || true
}

stop_hold() {	# FILE
	local pid
	pid=$(cat "$1.pid")
	kill -CONT "$pid" 2>/dev/null || true
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# /health answers 200 within SECONDS (default 2); the time in ms is
# appended to $T/waits.
health_within() {	# [SECONDS]
	local t0 code
	t0=$(agent_ms)
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time "${1:-2}" \
		"http://127.0.0.1:$AGENT_PORT/health" 2>/dev/null) || true
	echo $(($(agent_ms) - t0)) >>"$T/waits"
	[ "$code" = 200 ] || fail "/health answered '$code' within ${1:-2} s (held: $(held "$T/hold"))"
}

start_agent() {
	agent_fresh
	agent_switch "$(agent_release 1)"
	agent_start
	agent_wait_state ready
}

all_closed() {	# FILE COUNT: the agent closed all COUNT connections
	case "$(held "$1")" in "opened $2 closed $2 "*) return 0 ;; esac
	return 1
}

answered_at_least() {	# FILE COUNT: answered, or answered and closed
	local opened closed answered
	# shellcheck disable=SC2034 # the words are "opened N closed M answered K"
	read -r _ opened _ closed _ answered <<<"$(held "$1")"
	[ -n "$answered" ] && [ $((answered + closed)) -ge "$2" ]
}

# Connections the agent still has open to anyone but 127.0.0.1.
agent_conns() {
	ss -Htn state established "( sport = :$AGENT_PORT )" | grep -vc ' 127\.0\.0\.1:' || true
}

idle_many_addresses() {
	start_agent
	hold "$T/hold" half 80 127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5 127.0.0.6
	wait_for '[ "$(held "$T/hold")" != "" ]'
	local i
	for i in 1 2 3 4 5; do
		health_within 2
	done
	# the agent closes what it still holds at its 10 s timeout (all in
	# one run of libmicrohttpd); after that it must accept again
	wait_for 'all_closed "$T/hold" 400' 30
	for i in 1 2 3; do
		health_within 2
	done
	kill -HUP "$AGENT_PID"
	health_within 2
	stop_hold "$T/hold"
}

stopped_clients() {
	start_agent
	hold "$T/hold" full 80 127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5 127.0.0.6
	# every slot libmicrohttpd has (256) used: answered (or, on a loaded
	# machine, some pushed out by the per-peer limit first), then stopped
	wait_for 'answered_at_least "$T/hold" 250' 60
	kill -STOP "$(cat "$T/hold.pid")"
	health_within 2
	# stopped for longer than the agent's timeout: it closes them all
	wait_for '[ "$(agent_conns)" = 0 ]' 30
	health_within 2
	kill -CONT "$(cat "$T/hold.pid")"
	health_within 2
	stop_hold "$T/hold"
}

agent_health_ok() {
	[ "$(agent_health)" = 200 ]
}

fd_limit() {
	# 100 fds: libmicrohttpd would hit EMFILE on accept long before its
	# own connection limit, and take its listen socket out until a run
	# after the next close
	agent_fresh
	agent_switch "$(agent_release 1)"
	(ulimit -n 100 && agent_start)
	AGENT_PID=$(tail -n 1 "$T/agent.pids")
	agent_wait_state ready
	hold "$T/hold" half 150 127.0.0.1 127.0.0.2
	wait_for '[ "$(held "$T/hold")" != "" ]'
	health_within 2
	health_within 2
	stop_hold "$T/hold"
	health_within 2
}

slowloris() {
	command -v slowhttptest >/dev/null || { echo "no slowhttptest"; return 1; }
	start_agent
	# 1,100 connections, a header line every 5 s, for 20 s
	(ulimit -n 4096
	exec slowhttptest -H -c 1100 -r 400 -i 5 -s 8192 -t GET -x 24 -p 3 \
		-l 20 -u "http://127.0.0.1:$AGENT_PORT/health" -o "$T/slow") \
		>"$T/slow.out" 2>&1 &
	local sp=$! i
	at_exit "kill $sp"
	: >"$T/waits"
	for i in $(seq 1 30); do
		health_within 3
		sleep 0.5	# one probe every half second, on purpose
	done
	wait "$sp" || true
	health_within 2
	grep -q 'connected' "$T/slow.out" || fail "slowhttptest did not run: $(tail -n 5 "$T/slow.out")"
	echo "longest wait: $(sort -n "$T/waits" | tail -n 1) ms"
}

test_expect "400 idle half requests from 127.0.0.2-6: /health during and after" idle_many_addresses
test_expect "stopped clients with open connections: /health during and after" stopped_clients
test_expect "at the fd limit: /health still answers" fd_limit
if command -v slowhttptest >/dev/null; then
	test_expect "a 1,100-connection slowloris (slowhttptest): /health within 3 s" slowloris
else
	test_skip "slowloris" "needs slowhttptest"
fi
agent_kill_all
test_done
