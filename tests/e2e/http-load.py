#!/usr/bin/python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
"""A client that records every request, for the restart tests and bench.

  http-load.py run URL OUT STOPFILE [CLIENTS [MAX_SECONDS [MAX_REQUESTS]]]
      CLIENTS threads GET URL over fresh connections until STOPFILE exists
      (or the limits), one line per request in OUT:
      START END OK BODY-OR-ERROR   (monotonic seconds; OK 1 or 0)
  http-load.py report OUT [MARKS]
      failed=N refused=N reset=N total=N gap_ms=N old_after=N
      MARKS lines are "TIME N": from TIME on (when the push of version N
      reported success), an answer to a request sent then whose body ends
      in a number below N is an old answer.

Loopback only; every request is bounded by a 5 s timeout.
"""
import http.client
import os
import re
import sys
import threading
import time
import urllib.parse


def run(url, out, stopfile, clients=20, max_s=120.0, max_req=200000):
    u = urllib.parse.urlsplit(url)
    host, port = u.hostname, u.port or 80
    if host not in ("127.0.0.1", "::1", "localhost"):
        sys.exit("http-load: loopback only")
    path = u.path or "/"
    lock = threading.Lock()
    lines = []
    count = [0]
    deadline = time.monotonic() + max_s

    def worker():
        while time.monotonic() < deadline and not os.path.exists(stopfile):
            with lock:
                if count[0] >= max_req:
                    return
                count[0] += 1
            t0 = time.monotonic()
            try:
                c = http.client.HTTPConnection(host, port, timeout=5)
                c.request("GET", path)
                r = c.getresponse()
                body = r.read().decode("utf-8", "replace").strip()
                ok = 1 if r.status == 200 else 0
                what = body if ok else "status-%d" % r.status
                c.close()
            except ConnectionRefusedError:
                ok, what = 0, "refused"
            except ConnectionResetError:
                ok, what = 0, "reset"
            except Exception as e:  # timeouts, broken pipes, bad answers
                ok, what = 0, type(e).__name__
            t1 = time.monotonic()
            with lock:
                lines.append("%.6f %.6f %d %s" % (t0, t1, ok,
                             what.replace("\n", " ")[:80] or "-"))

    ts = [threading.Thread(target=worker) for _ in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


def version(text):
    """The number text ends in ("version-3" -> 3), or -1."""
    m = re.search(r"([0-9]+)\s*$", text)
    return int(m.group(1)) if m else -1


def report(out, marks=None):
    recs = []
    with open(out) as f:
        for ln in f:
            p = ln.rstrip("\n").split(" ", 3)
            if len(p) == 4:
                recs.append((float(p[0]), float(p[1]), p[2] == "1", p[3]))
    ms = []
    if marks and os.path.exists(marks):
        with open(marks) as f:
            for ln in f:
                p = ln.split()
                if len(p) == 2:
                    ms.append((float(p[0]), version(p[1])))
    failed = sum(1 for r in recs if not r[2])
    refused = sum(1 for r in recs if r[3] == "refused")
    reset = sum(1 for r in recs if r[3] == "reset")
    ends = sorted(r[1] for r in recs if r[2])
    gap = 0.0
    for a, b in zip(ends, ends[1:]):
        gap = max(gap, b - a)
    old = 0
    for t0, t1, ok, body in recs:
        if not ok:
            continue
        want = None
        for mt, ver in ms:
            if t0 >= mt:
                want = ver
        if want is not None and version(body) < want:
            old += 1
    print("failed=%d refused=%d reset=%d total=%d gap_ms=%d old_after=%d" %
          (failed, refused, reset, len(recs), round(gap * 1000), old))


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) >= 4 and a[0] == "run":
        run(a[1], a[2], a[3], *(int(a[4]),) if len(a) > 4 else (),
            **({"max_s": float(a[5])} if len(a) > 5 else {}),
            **({"max_req": int(a[6])} if len(a) > 6 else {}))
    elif len(a) in (2, 3) and a[0] == "report":
        report(a[1], a[2] if len(a) == 3 else None)
    else:
        sys.exit(__doc__)
