#!/usr/bin/env bash
# Measures what a restart of `leakhound watch` costs on N unchanged files
# (default 20000, 4 KiB each): the start-up walk with `rescan: quick`
# (stamps only), after a `chmod` of every file (ctime moved: each file is
# read and its keyed MAC compared), and with `rescan: verify` (every file
# read). Prints the seconds until the start-up scan is done and the
# counters.
#   tests/watch_restart.sh [N] [path/to/leakhound]
set -euo pipefail
N="${1:-20000}"
BIN="$(realpath "${2:-target/debug/leakhound}")"
DIR="$(mktemp -d)"
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$DIR"' EXIT
mkdir -p "$DIR/state" "$DIR/root"
python3 - "$DIR/root" "$N" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
line = b"nothing to see here, just text that is not a number\n"
body = line * (4096 // len(line))
for d in range(100):
    os.makedirs(f"{root}/d{d:03}", exist_ok=True)
for i in range(n):
    with open(f"{root}/d{i % 100:03}/f{i}.txt", "wb") as f:
        f.write(body)
PY
run() { # $1: rescan mode, $2: label
    cat > "$DIR/c.yaml" <<YAML
state_dir: $DIR/state
watch:
  rescan: $1
  events_file: $DIR/events.jsonl
  roots:
    - path: $DIR/root
YAML
    rm -f "$DIR/state/status.json"
    START=$(date +%s.%N)
    "$BIN" --config "$DIR/c.yaml" --log-level warn watch 2>>"$DIR/err.txt" &
    PID=$!
    until grep -q '"startup_scan_done": true' "$DIR/state/status.json" 2>/dev/null; do sleep 0.1; done
    printf '%-28s %6.2f s  ' "$2" "$(echo "$(date +%s.%N) - $START" | bc)"
    grep -oE '"(files_scanned|files_unchanged|files_verified|bytes_scanned)": [0-9]+' "$DIR/state/status.json" | tr '\n' ' '
    echo
    kill "$PID"; wait "$PID" || true; PID=""
}
run quick "first start (scan all)"
run quick "restart, quick"
chmod -R g-w "$DIR/root"
run quick "restart after chmod (ctime)"
run verify "restart, rescan: verify"
