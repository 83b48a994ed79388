#!/usr/bin/env bash
# Measures `leakhound watch` under a burst: starts the daemon on an empty
# root, creates N files (default 100000) each holding one card number as
# fast as Python can, waits until every one is scanned, and prints the time,
# the daemon's peak RSS, the rescans (inotify overflows) and whether every
# file was reported exactly once.
#   tests/watch_burst.sh [N] [path/to/leakhound]
set -euo pipefail
N="${1:-100000}"
BIN="$(realpath "${2:-target/debug/leakhound}")"
DIR="$(mktemp -d)"
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DIR"' EXIT
mkdir -p "$DIR/state" "$DIR/root"
cat > "$DIR/c.yaml" <<YAML
state_dir: $DIR/state
watch:
  settle: 1s
  # status.json is how this script sees progress: every 200 ms (the
  # default 2 s would add up to 2 s to the measured time).
  status_interval: 200ms
  events_file: $DIR/events.jsonl
  roots:
    - path: $DIR/root
YAML
"$BIN" --config "$DIR/c.yaml" --log-level info watch 2>"$DIR/err.txt" &
PID=$!
until [ -f "$DIR/state/status.json" ]; do sleep 0.2; done
START=$(date +%s.%N)
python3 - "$DIR/root" "$N" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for d in range(100):
    os.makedirs(f"{root}/d{d:03}", exist_ok=True)
for i in range(n):
    with open(f"{root}/d{i % 100:03}/f{i}.txt", "w") as f:
        f.write(f"n{i}: card 5500 0000 0000 0004\n")
PY
CREATED=$(date +%s.%N)
scanned() { grep -o '"files_scanned": [0-9]*' "$DIR/state/status.json" | grep -o '[0-9]*$'; }
# The daemon's CPU time (user + system, seconds) so far.
cpu() { awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$PID/stat"; }
AT_CREATED=$(scanned)
CPU_CREATED=$(cpu)
echo "created $N files in $(echo "$CREATED - $START" | bc) s;" \
     "the daemon had scanned $AT_CREATED of them by then, using $CPU_CREATED s of CPU"
until [ "$(scanned)" -ge "$N" ]; do
    sleep 0.1
done
DONE=$(date +%s.%N)
echo "all scanned $(echo "$DONE - $START" | bc) s after the first file," \
     "$(echo "$DONE - $CREATED" | bc) s after the last one was created"
# What the daemon itself spent: its CPU time over the whole burst (start-up
# is a few ms) is what it would need with the files already there, on
# one core; with more cores its scanning threads share it.
echo "daemon CPU for the burst: $(cpu) s (user + system)"
grep VmHWM "/proc/$PID/status"
grep -o '"rescans": [0-9]*' "$DIR/state/status.json"
kill -TERM "$PID"; wait "$PID"
echo "finding events: $(grep -c '"type":"finding"' "$DIR/events.jsonl")," \
     "distinct paths: $(grep -o '"path":"[^"]*"' "$DIR/events.jsonl" | sort -u | wc -l)"
grep -c "overflow" "$DIR/err.txt" | sed 's/^/inotify overflows: /' || true
