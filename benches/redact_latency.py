#!/usr/bin/env python3
"""Per-line latency of `leakhound redact -` in line mode (a pipe).

Writes N log lines one by one to the filter's standard input (one write and
flush each), reads each redacted line back before writing the next, and
prints the p50, p99 and max of write-to-read time. The time includes this
script's own pipe round trip (about 10-20 us of Python), so it is an upper
bound of what leakhound adds.

Usage: benches/redact_latency.py BINARY [N]   (N defaults to 100000)
"""

import os
import subprocess
import sys
import time

binary = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
env = dict(os.environ)
env.setdefault("LEAKHOUND_STATE_DIR", "/tmp/leakhound-bench/state")
os.makedirs(env["LEAKHOUND_STATE_DIR"], exist_ok=True)
p = subprocess.Popen(
    [binary, "redact", "-"],
    stdin=subprocess.PIPE,
    stdout=subprocess.PIPE,
    env=env,
    bufsize=0,
)
lat = []
found = 0
for i in range(n):
    extra = " card=4111 1111 1111 1111" if i % 100 == 0 else ""
    line = (
        f"2024-03-01T12:00:{i % 60:02}.000Z INFO [svc] GET /api/orders/{i} "
        f"status=200 bytes={i * 7 % 99991}{extra}\n"
    ).encode()
    t0 = time.perf_counter()
    p.stdin.write(line)
    got = p.stdout.readline()
    lat.append(time.perf_counter() - t0)
    if b"**** **** **** 1111" in got:
        found += 1
    assert len(got) == len(line), (line, got)
p.stdin.close()
p.wait()
lat.sort()
pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1e6
print(
    f"lines={n} redacted={found} p50={pct(0.50):.1f}us p99={pct(0.99):.1f}us "
    f"max={lat[-1] * 1e6:.1f}us"
)
