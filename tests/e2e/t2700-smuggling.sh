#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t2700-smuggling: a request that two parsers could read two ways gets 400
# and its connection closed, so nothing after it on the connection is ever
# taken for a request: one authorised request never restarts twice.  Raw
# bytes over a real socket to a real agent; restarts counted in its log.
. "$(dirname "$0")/lib.sh"

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

# Send the bytes of FILE (with TOKEN replaced by the token) in one write;
# print every status code of the answer, then "closed" when the agent
# closed the connection within 5 s or "open" when it kept it.
raw() {	# FILE
	"$AGENT_PY" - "$AGENT_PORT" "$1" "$AGENT_TOKEN" <<'PY'
import re, socket, sys, time
port, path, tokpath = int(sys.argv[1]), sys.argv[2], sys.argv[3]
data = open(path, "rb").read().replace(b"TOKEN", open(tokpath, "rb").read().strip())
s = socket.create_connection(("127.0.0.1", port))
s.sendall(data)
s.settimeout(5)
got, state = b"", "open"
deadline = time.time() + 5
while time.time() < deadline:
    try:
        b = s.recv(65536)
    except socket.timeout:
        break
    except ConnectionResetError:
        state = "closed"
        break
    if not b:
        state = "closed"
        break
    got += b
codes = re.findall(rb"^HTTP/1\.[01] (\d{3})", got, re.M)
print(" ".join(c.decode() for c in codes) + (" " if codes else "") + state)
PY
}

restarts() {
	grep -c 'restart requested' "$AGENT_ERR" || true
}

# CASE NAME, REQUEST BYTES (printf format): answered 400, closed, and no
# restart ran.
expect_400() {	# NAME FORMAT
	local before got
	# shellcheck disable=SC2059 # the case is a printf format
	printf "$2" >"$T/req"
	before=$(restarts)
	got=$(raw "$T/req")
	[ "$got" = "400 closed" ] || fail "$1: answered '$got', expected '400 closed'"
	# a restart that slipped through would be logged before the answer
	[ "$(restarts)" = "$before" ] || fail "$1: a restart ran"
	[ "$(agent_health)" = 200 ] || fail "$1: /health fails after it"
}

R='POST /restart HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer TOKEN\r\n'
NEXT='POST /restart HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer TOKEN\r\nContent-Length: 0\r\n\r\n'

cl_and_te() {
	ensure_agent
	expect_400 "CL+TE" "${R}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${NEXT}"
	expect_400 "CL+TE Chunked" "${R}Content-Length: 5\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n${NEXT}"
	expect_400 "CL+TE tab" "${R}Content-Length: 5\r\nTransfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n${NEXT}"
	expect_400 "TE first" "${R}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n${NEXT}"
	expect_400 "two TE" "${R}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n${NEXT}"
	expect_400 "TE not chunked" "${R}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n${NEXT}"
}

two_lengths() {
	ensure_agent
	expect_400 "two CL" "${R}Content-Length: 0\r\nContent-Length: 5\r\n\r\nxxxxx${NEXT}"
	# the same length twice is one length
	printf "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" >"$T/req"
	[ "$(raw "$T/req")" = "200 closed" ] || fail "same CL twice: $(raw "$T/req")"
}

duplicate_host_auth() {
	ensure_agent
	expect_400 "two Host" "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nAuthorization: Bearer TOKEN\r\n\r\n"
	expect_400 "two Host, same" "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer TOKEN\r\n\r\n"
	expect_400 "two Authorization" "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer TOKEN\r\nAuthorization: Bearer 00\r\n\r\n"
}

missing_host() {
	ensure_agent
	expect_400 "no Host on 1.1" "GET /health HTTP/1.1\r\n\r\n"
	# HTTP/1.0 needs none
	printf 'GET /health HTTP/1.0\r\n\r\n' >"$T/req"
	[ "$(raw "$T/req")" = "200 closed" ] || fail "HTTP/1.0 without Host: $(raw "$T/req")"
}

control_bytes() {
	ensure_agent
	expect_400 "%00 in path" "POST /restart%%00junk HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer TOKEN\r\nContent-Length: 0\r\n\r\n"
	expect_400 "%%0a in path" "GET /health%%0a HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
	expect_400 "NUL in path" "POST /restart\0junk HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer TOKEN\r\nContent-Length: 0\r\n\r\n"
	expect_400 "NUL in the token" "POST /restart HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer TOKEN\0junk\r\nContent-Length: 0\r\n\r\n"
	expect_400 "NUL in the last header" "POST /restart HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nAuthorization: Bearer TOKEN\0junk\r\n\r\n"
	expect_400 "NUL in Host" "GET /health HTTP/1.1\r\nHost: 127.0.0.1\0evil\r\n\r\n"
	expect_400 "control byte in a value" "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\001b\r\n\r\n"
	expect_400 "NUL in the method" "POST\0X /restart HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer TOKEN\r\nContent-Length: 0\r\n\r\n"
	# a tab in a value is fine
	printf 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\tb\r\nConnection: close\r\n\r\n' >"$T/req"
	[ "$(raw "$T/req")" = "200 closed" ] || fail "tab in a value: $(raw "$T/req")"
}

expect_continue_413() {
	ensure_agent
	local got
	# shellcheck disable=SC2059
	printf "${R}Content-Length: 100000\r\nExpect: 100-continue\r\n\r\n" >"$T/req"
	got=$(raw "$T/req")
	[ "$got" = "413 closed" ] || fail "Expect: 100-continue over the limit: '$got' (a 100 first?)"
	# within the limit, 100 Continue and the answer
	printf "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n" >"$T/req"
	got=$(raw "$T/req")
	case "$got" in "100 "*|"open") ;; *) fail "small body with Expect: '$got'" ;; esac
}

long_uri() {
	ensure_agent
	local u got
	u=$(head -c 10240 /dev/zero | tr '\0' a)
	printf 'GET /%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' "$u" >"$T/req"
	got=$(raw "$T/req")
	[ "$got" = "414 closed" ] || fail "10 KiB URI: '$got'"
}

plain_still_works() {
	ensure_agent
	local before
	before=$(restarts)
	# shellcheck disable=SC2059
	printf "${R}Content-Length: 0\r\nConnection: close\r\n\r\n" >"$T/req"
	[ "$(raw "$T/req")" = "200 closed" ] || fail "a plain restart: $(raw "$T/req")"
	[ "$(restarts)" = $((before + 1)) ] || fail "a plain restart ran $(( $(restarts) - before )) times"
	# keep-alive: two requests on one connection are two answers
	printf 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >"$T/req"
	[ "$(raw "$T/req")" = "200 200 closed" ] || fail "keep-alive: $(raw "$T/req")"
}

test_expect "Content-Length with Transfer-Encoding: 400, closed, no restart" cl_and_te
test_expect "two different Content-Length values: 400, closed" two_lengths
test_expect "a second Host or Authorization: 400, closed" duplicate_host_auth
test_expect "HTTP/1.1 without Host: 400, closed" missing_host
test_expect "NUL or control bytes in the path or a header: 400, closed" control_bytes
test_expect "Expect: 100-continue over the limit: 413 before any 100" expect_continue_413
test_expect "a 10 KiB URI: 414" long_uri
test_expect "plain requests still work, one restart each" plain_still_works
agent_kill_all
test_done
