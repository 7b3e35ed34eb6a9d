#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t2740-probes: readiness probes that tell the truth.  A host name the
# probe would never resolve is refused by -n; an IPv6 probe sends its
# address in brackets in Host, as HTTP wants.
. "$(dirname "$0")/lib.sh"

names_refused_at_check() {
	agent_fresh "ready = tcp:example.org:80"
	local rc=0
	"$REDEPLOYD" -n -c "$CONFIG" >"$T/n.out" 2>&1 || rc=$?
	[ "$rc" -eq 2 ] || fail "-n exited $rc: $(cat "$T/n.out")"
	grep -q "ready host 'example.org' is not an IP address" "$T/n.out" ||
		fail "$(cat "$T/n.out")"
	agent_fresh "ready = http://localhost:8080/health"
	"$REDEPLOYD" -n -c "$CONFIG" >"$T/n.out" 2>&1 || fail "localhost: $(cat "$T/n.out")"
}

ipv6_host_bracketed() {
	"$AGENT_PY" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null ||
		{ echo "no IPv6 loopback"; return 0; }
	agent_fresh
	local id
	id=$(agent_release 1)
	# answers 200 only to the Host a client must send for [::1]:PORT
	cat >"$LIVE/releases/$id/v6.py" <<'PY'
import http.server, socket, sys
port = int(sys.argv[1])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.headers.get("Host") == "[::1]:%d" % port
        print("probe Host: %s" % self.headers.get("Host"), flush=True)
        self.send_response(200 if ok else 400)
        self.end_headers()
class S(http.server.HTTPServer):
    address_family = socket.AF_INET6
S(("::1", port), H).serve_forever()
PY
	chmod 644 "$LIVE/releases/$id/v6.py"
	agent_config "command = exec $AGENT_PY v6.py $AGENT_SVC_PORT" \
		"ready = http://[::1]:$AGENT_SVC_PORT/" "ready_timeout = 5"
	agent_switch "$id"
	agent_start
	agent_wait_state ready 10
	grep -q "probe Host: \[::1\]:$AGENT_SVC_PORT" "$AGENT_ERR" ||
		fail "no bracketed Host: $(grep 'probe Host' "$AGENT_ERR" | head -n 3)"
}

probe_error_said() {
	agent_fresh
	agent_switch "$(agent_release 1)"
	# the service listens elsewhere: the probe is refused every time
	agent_config "ready = tcp:127.0.0.1:$(agent_free_ports 1)" "ready_timeout = 1"
	agent_start
	agent_expect 503 POST /restart
	grep -q 'not ready within 1 s (last probe: connect to 127.0.0.1:[0-9]*: Connection refused)' "$T/resp.body" ||
		fail "the answer does not say why: $(cat "$T/resp.body")"
}

test_expect "a probe that fails says why in the answer" probe_error_said
test_expect "a ready host name is refused at -n (never resolved)" names_refused_at_check
test_expect "http://[::1]:PORT/ probes send Host: [::1]:PORT" ipv6_host_bracketed
agent_kill_all
test_done
