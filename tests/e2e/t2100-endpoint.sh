#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t2100-endpoint: the agent's HTTP endpoint, asked with real curl: /health
# needs no token, everything else needs exactly the token of the file, and
# hostile or malformed requests get their 4xx without doing anything.
. "$(dirname "$0")/lib.sh"

# One agent and service for the whole script, started by the first test
# that needs it (tests run in subshells: the state lives in files).
ensure_agent() {
	if [ -f "$T/ports" ]; then
		read -r AGENT_PORT AGENT_SVC_PORT AGENT_PID <"$T/ports"
		agent_alive "$AGENT_PID" && [ "$(agent_health)" = 200 ] && return 0
	fi
	agent_fresh
	agent_switch "$(agent_release 1)"
	agent_start
	agent_wait_state ready
	echo "$AGENT_PORT $AGENT_SVC_PORT $AGENT_PID" >"$T/ports"
}

# Write a header file with a wrong token of the right shape.
wrong_token_hdr() {
	local t
	t=$(tr 0-9a-f 1-9a-f0 <"$AGENT_TOKEN")
	(umask 077 && echo "Authorization: Bearer $t" >"$T/wrong.hdr")
	unset t
}

health_without_token() {
	ensure_agent
	AGENT_HDR=/dev/null agent_expect 200 GET /health
	[ "$(tr -d '\n' <"$T/resp.body")" = ok ] ||
		fail "/health body: $(cat "$T/resp.body")"
}

status_needs_token() {
	ensure_agent
	AGENT_HDR=/dev/null agent_expect 401 GET /status
	[ ! -s "$T/resp.body" ] || fail "401 with a body: $(cat "$T/resp.body")"
	wrong_token_hdr
	AGENT_HDR=$T/wrong.hdr agent_expect 401 GET /status
	[ ! -s "$T/resp.body" ] || fail "401 with a body: $(cat "$T/resp.body")"
	# a prefix, an empty token, another scheme, the token twice
	(umask 077
	t=$(cat "$AGENT_TOKEN")
	echo "Authorization: Bearer ${t:0:63}" >"$T/short.hdr"
	echo "Authorization: Bearer ${t}0" >"$T/long.hdr"
	echo "Authorization: Bearer " >"$T/empty.hdr"
	echo "Authorization: Basic $t" >"$T/basic.hdr"
	echo "Authorization: Bearer $t $t" >"$T/twice.hdr")
	for h in short long empty basic twice; do
		AGENT_HDR=$T/$h.hdr agent_expect 401 GET /status ||
			fail "($h token)"
	done
	agent_expect 200 GET /status
	grep -qi '^content-type: *application/json' "$T/resp.head" ||
		fail "/status is not application/json: $(cat "$T/resp.head")"
	local k
	for k in agent_pid version state pid uptime restarts last_exit release commit; do
		agent_json "$k" >/dev/null
	done
	[ "$(agent_json state)" = ready ] || fail "state: $(cat "$T/resp.body")"
}

token_only_in_header() {
	ensure_agent
	# in the query string or a cookie it is no token (curl reads the URL
	# and the cookie from a config file: nothing in its argv)
	(umask 077
	t=$(cat "$AGENT_TOKEN")
	printf 'url = "http://127.0.0.1:%s/status?token=%s"\n' "$AGENT_PORT" "$t" >"$T/q.curl"
	printf 'url = "http://127.0.0.1:%s/status?access_token=%s"\n' "$AGENT_PORT" "$t" >>"$T/q.curl"
	printf 'url = "http://127.0.0.1:%s/status"\ncookie = "token=%s"\n' "$AGENT_PORT" "$t" >"$T/c.curl")
	local codes
	codes=$(curl -s -o /dev/null -w '%{http_code} ' -K "$T/q.curl")
	[ "$codes" = "401 401 " ] || fail "token in the query string: $codes"
	codes=$(curl -s -o /dev/null -w '%{http_code}' -K "$T/c.curl")
	[ "$codes" = 401 ] || fail "token in a cookie: $codes"
}

log_lines() {
	ensure_agent
	# make the service write a line or two (a request logged on stderr)
	agent_service_answers
	agent_service_answers
	wait_for "agent_curl GET '/log?lines=100' >/dev/null; grep -q 'GET / HTTP' '$T/resp.body'" 5 ||
		fail "/log lacks the service's request lines: $(cat "$T/resp.body")"
	agent_expect 200 GET '/log?lines=100'
	grep -qi '^content-type: *text/plain' "$T/resp.head" ||
		fail "/log is not text/plain: $(cat "$T/resp.head")"
	[ "$(wc -l <"$T/resp.body")" -ge 3 ] ||
		fail "expected 3 or more lines: $(cat "$T/resp.body")"
	agent_expect 200 GET '/log?lines=1'
	[ "$(wc -l <"$T/resp.body")" -eq 1 ] ||
		fail "lines=1 gave: $(cat "$T/resp.body")"
	grep -q 'GET / HTTP' "$T/resp.body" ||
		fail "lines=1 is not the newest line: $(cat "$T/resp.body")"
	AGENT_HDR=/dev/null agent_expect 401 GET '/log?lines=10'
	[ ! -s "$T/resp.body" ] || fail "401 /log with a body"
}

wrong_methods() {
	ensure_agent
	local before
	before=$(agent_field pid)
	agent_expect 405 GET /restart
	agent_expect 405 PUT /restart
	agent_expect 405 DELETE /status
	agent_expect 405 POST /status
	agent_expect 405 POST /log
	AGENT_HDR=/dev/null agent_expect 405 POST /health
	[ "$(agent_field pid)" = "$before" ] ||
		fail "a wrong method restarted the service"
}

hostile_host() {
	ensure_agent
	local h
	for h in evil.example "evil.example:$AGENT_PORT" 127.0.0.1.evil.example \
		localhost.evil.example "127.0.0.2:$AGENT_PORT" "[::2]:$AGENT_PORT" \
		0.0.0.0 "evil.example@127.0.0.1"; do
		agent_expect 403 GET /status -H "Host: $h" || fail "(Host: $h)"
	done
	agent_expect 403 POST /restart -H "Host: evil.example"
	for h in 127.0.0.1 "127.0.0.1:$AGENT_PORT" localhost "localhost:$AGENT_PORT" \
		"[::1]:$AGENT_PORT" "[::1]"; do
		agent_expect 200 GET /status -H "Host: $h" || fail "(Host: $h)"
	done
}

origin_refused() {
	ensure_agent
	local before o
	before=$(agent_field pid)
	for o in "http://evil.example" "http://127.0.0.1:$AGENT_PORT" null; do
		agent_expect 403 POST /restart -H "Origin: $o" || fail "(Origin: $o)"
		agent_expect 403 GET /status -H "Origin: $o" || fail "(Origin: $o)"
	done
	[ "$(agent_field pid)" = "$before" ] ||
		fail "a request with an Origin header restarted the service"
}

big_header() {
	ensure_agent
	local big
	big=$(head -c 20480 /dev/zero | tr '\0' a)
	agent_expect 431 GET /status -H "X-Big: $big" --max-time 5
	AGENT_HDR=/dev/null agent_expect 431 GET /health -H "X-Big: $big" \
		--max-time 5
	[ "$(agent_health)" = 200 ] || fail "the agent is gone after a big header"
}

big_body() {
	ensure_agent
	local before restarts
	before=$(agent_field pid)
	restarts=$(agent_json restarts "$T/status.json")
	head -c 5120 /dev/zero | tr '\0' x >"$T/body5k"
	agent_expect 413 POST /restart --data-binary @"$T/body5k"
	# also when the length is not announced (chunked)
	agent_expect 413 POST /restart --data-binary @"$T/body5k" \
		-H 'Transfer-Encoding: chunked' --max-time 5
	[ "$(agent_field pid)" = "$before" ] ||
		fail "a 5 KiB body restarted the service"
	[ "$(agent_json restarts "$T/status.json")" = "$restarts" ] ||
		fail "restarts changed: $(cat "$T/status.json")"
	# a small body is no reason to refuse
	agent_expect 200 POST /restart --data-binary '{}'
}

unknown_paths() {
	ensure_agent
	local p
	for p in /nope / /statusx /status/ /restart/x /health/.. /index.html \
		'/%2e%2e/status' /STATUS; do
		agent_expect 404 GET "$p" --path-as-is || fail "(path $p)"
	done
	agent_expect 404 POST /nope
}

agent_survives() {
	ensure_agent
	# everything above and a half-sent request: still one agent answering
	"$AGENT_PY" -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n")
s.close()' "$AGENT_PORT"
	printf 'garbage\r\n\r\n' | timeout 5 "$AGENT_PY" -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.stdin.buffer.read())
s.settimeout(5)
s.recv(1000)' "$AGENT_PORT" || true
	agent_alive "$AGENT_PID" || fail "the agent died"
	agent_expect 200 GET /status
	[ "$(agent_json state)" = ready ] || fail "state: $(cat "$T/resp.body")"
	[ "$(agent_servers | wc -l)" -eq 1 ] || fail "servers: $(agent_servers)"
}

# A client that sends half a request and waits must not hold a connection
# forever (every client is 127.0.0.1: idle ones would lock the hook out).
idle_connection_closed() {
	ensure_agent
	local t0 t1
	t0=$(agent_ms)
	timeout 25 "$AGENT_PY" -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n")
s.settimeout(15)
try:
    while s.recv(1000):
        pass
except socket.timeout:
    sys.exit("the agent kept an idle half request open for 15 s")
except ConnectionResetError:
    pass' "$AGENT_PORT"
	t1=$(agent_ms)
	echo "closed after $((t1 - t0)) ms"
	[ $((t1 - t0)) -ge 1000 ] || fail "closed at once: no time to send the rest"
}

test_expect "/health answers 200 ok without a token" health_without_token
test_expect "/status: 401 (empty) without or with a wrong token, 200 JSON with it" status_needs_token
test_expect "a token in the query string or a cookie is refused" token_only_in_header
test_expect "/log?lines=N: the service's last N lines, text/plain" log_lines
test_expect "wrong methods: 405, and nothing restarts" wrong_methods
test_expect "a Host other than loopback/localhost: 403" hostile_host
test_expect "any Origin header: 403, and nothing restarts" origin_refused
test_expect "a 20 KiB header: 431" big_header
test_expect "a 5 KiB body: 413, and nothing restarts" big_body
test_expect "unknown paths: 404" unknown_paths
test_expect "the agent survives half and garbage requests" agent_survives
test_expect "an idle half-sent request is closed within 15 s" idle_connection_closed
agent_kill_all
test_done
