#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t3300-live-readers: five pushes in a row while a reader requests the page
# without pause.  No request may get an HTTP error, a partial body or a
# page that is not one of the pushed versions, nor an older version after a
# newer one.  Connection-refused attempts during the restarts are counted
# and the longest time without an answer is measured (printed as a TAP
# comment, "# gap: N ms"): the restart stops the old process before the new
# one binds the same port, so some gap is expected; more than stop_timeout +
# ready_timeout is a failure.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

PUSHES=5
STOP_TIMEOUT=2 READY_TIMEOUT=5	# as live_setup writes them

# The reader (python3 -c "$READER" PORT STOP STARTED PAGE...): one GET after
# the other, a new connection each with a 2 s timeout, until the file STOP
# exists; STARTED is created at the first good answer (a good answer is one
# of the PAGEs and a newline).  A summary as key=value lines on stdout, each
# problem as a "bad ..." line on stderr.
READER='
import http.client, os, socket, sys, time

port, stop, started = int(sys.argv[1]), sys.argv[2], sys.argv[3]
pages = {(p + "\n").encode(): i for i, p in enumerate(sys.argv[4:])}
n = {"ok": 0, "refused": 0, "reset": 0, "bad": 0}
last_ok_end = None      # when the last good answer arrived
down = False            # attempts failed since then
gap = 0                 # longest time from a good answer to the next
newest = -1
seen = []


def bad(what):
    n["bad"] += 1
    print("bad %.3f %s" % (time.monotonic(), what), file=sys.stderr, flush=True)


while not os.path.exists(stop):
    t0 = time.monotonic()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/")
        r = c.getresponse()
        body = r.read()
        c.close()
    except ConnectionRefusedError:
        n["refused"] += 1
        down = True
        time.sleep(0.001)
        continue
    except (ConnectionResetError, http.client.RemoteDisconnected) as e:
        # the connection went away before any answer: unavailable
        n["reset"] += 1
        down = True
        print("reset %.3f %r" % (t0, e), file=sys.stderr, flush=True)
        continue
    except http.client.IncompleteRead as e:
        bad("partial body: %r" % e)
        continue
    except (socket.timeout, TimeoutError):
        bad("no answer within 2 s")
        continue
    except Exception as e:
        bad("error: %r" % e)
        continue
    t1 = time.monotonic()
    if r.status != 200:
        bad("HTTP %d: %r" % (r.status, body[:200]))
        continue
    if body not in pages:
        bad("unexpected body %r" % body[:200])
        continue
    v = pages[body]
    if v < newest:
        bad("version %d served after version %d" % (v, newest))
    if v > newest:
        newest = v
        seen.append(v)
    if down and last_ok_end is not None:
        gap = max(gap, t0 - last_ok_end)
    down = False
    last_ok_end = t1
    if n["ok"] == 0:
        open(started, "w").close()
    n["ok"] += 1
    time.sleep(0.002)
for k in n:
    print("%s=%d" % (k, n[k]))
print("gap_ms=%d" % (gap * 1000))
print("newest=%d" % newest)
print("seen=%s" % ",".join(map(str, seen)))
'

pushes_under_load() {
	live_setup
	agent_start
	live_version 0
	push
	live_runs "$(live_id)" >/dev/null
	live_serves 0

	local i pages=() reader
	for i in $(seq 0 "$PUSHES"); do
		pages+=("$(live_body "$i")")
	done
	rm -f "$T/reader.stop"
	"$AGENT_PY" -c "$READER" "$LIVE_WEB" "$T/reader.stop" \
		"$T/reader.started" "${pages[@]}" >"$T/reader.out" \
		2>"$T/reader.err" &
	reader=$!
	at_exit "touch '$T/reader.stop'; kill $reader"
	# it is reading before the first push
	wait_for "[ -e '$T/reader.started' ] || ! kill -0 $reader"
	[ -e "$T/reader.started" ] || fail "the reader: $(cat "$T/reader.err")"

	local id prev pids=()
	prev=$(live_id)
	for i in $(seq 1 "$PUSHES"); do
		live_version "$i"
		push
		output_has "ready in"
		id=$(live_id)
		[ "$id" != "$prev" ] || fail "push $i did not go live"
		prev=$id
		pids+=("$(live_runs "$id")")
		live_serves "$i"
	done
	[ "$(printf '%s\n' "${pids[@]}" | sort -u | wc -l)" -eq "$PUSHES" ] ||
		fail "not one new process per push: ${pids[*]}"

	touch "$T/reader.stop"
	wait "$reader" || fail "the reader failed: $(cat "$T/reader.err")"
	cat "$T/reader.out" "$T/reader.err"
	local ok bad refused reset gap newest
	ok=$(sed -n 's/^ok=//p' "$T/reader.out")
	bad=$(sed -n 's/^bad=//p' "$T/reader.out")
	refused=$(sed -n 's/^refused=//p' "$T/reader.out")
	reset=$(sed -n 's/^reset=//p' "$T/reader.out")
	gap=$(sed -n 's/^gap_ms=//p' "$T/reader.out")
	newest=$(sed -n 's/^newest=//p' "$T/reader.out")
	echo "$gap" >"$T/gap"
	echo "$ok ok, $refused refused, $reset reset before an answer" >"$T/counts"
	[ "$bad" = 0 ] || fail "$bad bad answers: $(grep '^bad' "$T/reader.err")"
	[ "$newest" = "$PUSHES" ] || fail "the reader never saw version $PUSHES"
	[ "$ok" -gt 0 ] || fail "no request succeeded"
	[ "$gap" -le $(((STOP_TIMEOUT + READY_TIMEOUT) * 1000)) ] ||
		fail "the page was unreachable for $gap ms"
}

test_expect "$PUSHES pushes under a reader: no HTTP error, no partial or foreign page, versions in order" pushes_under_load
[ -f "$T/gap" ] && echo "# gap: $(cat "$T/gap") ms (longest time without an answer during $PUSHES restarts)"
[ -f "$T/counts" ] && echo "# requests: $(cat "$T/counts")"
agent_kill_all
test_done
