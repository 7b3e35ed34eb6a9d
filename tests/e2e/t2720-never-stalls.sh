#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t2720-never-stalls: nothing the service or syslog does stalls the agent's
# loop.  A service flooding its output (`yes`, without end) does not delay
# /health; a syslog reader that stops reading (in a private mount namespace
# the agent's /dev/log is a socket that nobody reads; the host's /dev is
# untouched) neither: /health and /restart answer, and the lines syslog
# could not take are counted in /status.
# shellcheck disable=SC2016 # wait_for evaluates its argument later
. "$(dirname "$0")/lib.sh"

FAKEDEV=$T/dev

# A redeployd that sees $FAKEDEV as /dev (its device nodes bound in).
make_wrapper() {
	mkdir -p "$FAKEDEV"
	local n
	for n in null zero full random urandom tty; do
		[ -e "/dev/$n" ] && : >"$FAKEDEV/$n"
	done
	cat >"$T/ns-redeployd" <<SH
#!/bin/sh
exec unshare -m sh -c 'mount --make-rprivate / &&
for n in null zero full random urandom tty; do
	[ -e "$FAKEDEV/\$n" ] && mount --bind "/dev/\$n" "$FAKEDEV/\$n"
done
mount --bind "$FAKEDEV" /dev && exec "\$0" "\$@"' "$REDEPLOYD" "\$@"
SH
	chmod 755 "$T/ns-redeployd"
}

# A datagram socket at $FAKEDEV/log that is never read.
stalled_reader() {
	"$AGENT_PY" -c 'import signal, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[1] + ".ready", "w").close()
signal.pause()' "$FAKEDEV/log" &
	echo $! >"$T/reader.pid"
	at_exit "kill $!"
	wait_for '[ -e "$FAKEDEV/log.ready" ]'
	chmod 666 "$FAKEDEV/log"
}

health_within() {	# SECONDS
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time "$1" \
		"http://127.0.0.1:$AGENT_PORT/health" 2>/dev/null) || true
	[ "$code" = 200 ] || fail "/health answered '$code' within $1 s"
}

stalled_syslog() {
	make_wrapper
	stalled_reader
	agent_fresh
	agent_config "command = exec $AGENT_PY flood.py $AGENT_SVC_PORT"
	local id
	id=$(agent_release 1)
	cat >"$LIVE/releases/$id/flood.py" <<'PY'
import http.server, sys, threading
def flood():
    while True:
        sys.stdout.write("flood line with some text in it\n")
        sys.stdout.flush()
threading.Thread(target=flood, daemon=True).start()
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])),
                                http.server.SimpleHTTPRequestHandler).serve_forever()
PY
	chmod 644 "$LIVE/releases/$id/flood.py"
	agent_switch "$id"
	REDEPLOYD=$T/ns-redeployd agent_start
	agent_wait_state ready 20
	local i
	for i in 1 2 3 4 5; do
		health_within 2
	done
	agent_expect 200 POST /restart --max-time 20
	health_within 2
	local lost
	lost=$(agent_field syslog_lost)
	[ "$lost" -gt 0 ] || fail "no line counted as lost: $lost"
	echo "lost: $lost"
}

output_flood() {
	agent_fresh
	agent_config "command = yes 'a flood of output' & exec $AGENT_PY -m http.server $AGENT_SVC_PORT --bind 127.0.0.1"
	agent_switch "$(agent_release 1)"
	# its stderr carries every line: gigabytes
	AGENT_ERR=/dev/null agent_start
	local i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		health_within 1
	done
	agent_wait_state ready 10
	agent_kill "$AGENT_PID"
}

test_expect "a service flooding its output: /health within 1 s" output_flood
if ! is_root; then
	test_skip "a stalled syslog reader" "needs root"
elif ! command -v unshare >/dev/null; then
	test_skip "a stalled syslog reader" "needs unshare"
else
	test_expect "a syslog reader that never reads: /health and /restart answer, lines counted" stalled_syslog
fi
agent_kill_all
test_done
