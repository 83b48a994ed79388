#!/usr/bin/env bash
# benches/redact_throughput.sh: `leakhound redact` against `leakhound scan
# -j1` on the same large log, same run, warm page cache; then the per-line
# latency of line mode (benches/redact_latency.py, 100k lines one by one).
#
# The log is benches/compare.sh's (tests/corpus/gen_corpus.py --mode
# throughput --seed 2 --items-per-mb 2); LOG=FILE uses an existing one.
# Issue 15 asks redact (block mode, output to /dev/null) for >= 80 % of
# scan -j1 throughput.
#
# Usage: benches/redact_throughput.sh            (SIZE_MB=1024 by default)
#        LOG=/tmp/pc-bench/throughput.log RUNS=3 benches/redact_throughput.sh
# Needs: hyperfine (apt-get install hyperfine), python3, and .venv (scripts/setup.sh;
# LEAKHOUND_PYTHON to use another) for the corpus generator.

set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SIZE_MB=${SIZE_MB:-1024}
WORK=${WORK:-/tmp/leakhound-bench}
RUNS=${RUNS:-5}
LINES=${LINES:-100000}
mkdir -p "$WORK"
export LEAKHOUND_STATE_DIR=${LEAKHOUND_STATE_DIR:-$WORK/state}

if [[ -z ${LOG:-} ]]; then
    LOG="$WORK/throughput-${SIZE_MB}mb-seed2/throughput.log"
    if [[ ! -s $LOG ]]; then
        "${LEAKHOUND_PYTHON:-.venv/bin/python}" tests/corpus/gen_corpus.py --out "$(dirname "$LOG")" --mode throughput \
            --size-mb "$SIZE_MB" --seed 2 --items-per-mb 2
    fi
fi
BYTES=$(stat -c %s "$LOG")
cargo build --release --quiet
LH="${CARGO_TARGET_DIR:-$ROOT/target}/release/leakhound"
cat "$LOG" >/dev/null

q() { printf '%q' "$1"; }
JSON="$WORK/redact-hyperfine.json"
hyperfine --style basic --warmup 1 --runs "$RUNS" --export-json "$JSON" \
    -n "scan -j1" "$(q "$LH") scan --progress never -f jsonl -o /dev/null -j1 $(q "$LOG") || [ \$? -eq 1 ]" \
    -n "redact (block)" "$(q "$LH") redact $(q "$LOG") > /dev/null" \
    -n "redact (line)" "$(q "$LH") redact --buffering line $(q "$LOG") > /dev/null" \
    -n "redact --style fpe" "$(q "$LH") redact --style fpe --fpe-key-file $(q "$WORK/fpe.key") $(q "$LOG") > /dev/null" \
    --setup "(umask 077; head -c 32 /dev/urandom > $(q "$WORK/fpe.key"))"
python3 - "$JSON" "$BYTES" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
size = int(sys.argv[2])
scan = res[0]["mean"]
print(f"{'command':22} {'mean s':>8} {'GB/s':>6} {'vs scan -j1':>11}")
for r in res:
    print(f"{r['command']:22} {r['mean']:8.3f} {size / r['mean'] / 1e9:6.2f} {scan / r['mean'] * 100:10.0f}%")
PY
python3 benches/redact_latency.py "$LH" "$LINES"
