#!/usr/bin/env bash
# benches/base64_cost.sh: what the base64 payload pass costs on the 1 GiB
# benchmark log (issue 12 item 5: the budget is +10 % user CPU).
#
# What it does:
#   1. Reuses the log benches/compare.sh makes ($WORK/throughput-1024mb-seed2;
#      run compare.sh once first, or set LOG).
#   2. Runs, ROUNDS times in alternation so load drifts hit all three alike,
#        before: $BEFORE scan          (optional: a build of an older commit,
#                                       run with its defaults)
#        off:    $LH scan --no-base64  (the pass off)
#        on:     $LH scan              (the pass on: the default)
#      each `--progress never --format jsonl -o FILE -j1 LOG`, timed by
#      `perf stat -e user_time` (or GNU time where perf is missing).
#   3. Prints min and median user CPU per command, the cost of `on` against
#      `off` (and `before`), and the findings of each (all, and those inside
#      a base64 payload: member `base64@OFFSET`).
#
# Build both binaries alike, e.g. optimised without LTO:
#   CARGO_PROFILE_DEV_OPT_LEVEL=3 CARGO_INCREMENTAL=0 \
#     CARGO_TARGET_DIR=/tmp/b64-t cargo build --locked --bin leakhound
#
# Usage:
#   LH=/tmp/b64-t/debug/leakhound ROUNDS=7 benches/base64_cost.sh
#   BEFORE=/tmp/old/leakhound LH=... benches/base64_cost.sh
#
# Environment:
#   LH       the binary to measure (default target/release/leakhound)
#   BEFORE   an older binary to compare with (optional)
#   ROUNDS   rounds (default 5)
#   WORK     as in compare.sh (default /tmp/leakhound-bench)
#   LOG      the log (default $WORK/throughput-1024mb-seed2/throughput.log)
#
# Needs perf (apt-get install linux-perf) or GNU time, and python3.
# LEAKHOUND_SIMD=avx2 in the environment measures the AVX2 code on a CPU
# that has AVX-512 too.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

WORK=${WORK:-/tmp/leakhound-bench}
LOG=${LOG:-$WORK/throughput-1024mb-seed2/throughput.log}
LH=${LH:-target/release/leakhound}
BEFORE=${BEFORE:-}
ROUNDS=${ROUNDS:-5}

die() {
    echo "base64_cost.sh: $*" >&2
    exit 2
}

[[ -s $LOG ]] || die "no log at $LOG: run benches/compare.sh once, or set LOG"
[[ -x $LH ]] || die "no binary at $LH: build it (see the top of $0) or set LH"
[[ -z $BEFORE || -x $BEFORE ]] || die "no binary at $BEFORE"
# User CPU time: from `perf stat` (its user_time, in microseconds) when
# perf is there, else from GNU time (in hundredths of a second: a tenth of
# the effect measured here, so use more rounds).
if perf stat -x, -e user_time true >/dev/null 2>&1; then
    TIMER=perf
else
    [[ -x /usr/bin/time ]] || die "neither perf nor GNU time found (apt-get install linux-perf time)"
    TIMER=time
fi

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
# Keep leakhound's fingerprint key out of the user's state directory.
export LEAKHOUND_STATE_DIR=${LEAKHOUND_STATE_DIR:-$WORK/state}
mkdir -p "$LEAKHOUND_STATE_DIR"

WHICH=(off on)
[[ -n $BEFORE ]] && WHICH=(before off on)

cat "$LOG" >/dev/null # warm the page cache
for round in $(seq 1 "$ROUNDS"); do
    for which in "${WHICH[@]}"; do
        case $which in
        before) bin=$BEFORE args=() ;;
        off) bin=$LH args=(--no-base64) ;;
        on) bin=$LH args=() ;;
        esac
        cmd=("$bin" scan "${args[@]}" --progress never --format jsonl
            -o "$OUT/$which.jsonl" -j1 "$LOG")
        # leakhound exits 1 when it finds something: not a failure here.
        if [[ $TIMER == perf ]]; then
            perf stat -x, -e user_time -o "$OUT/perf" "${cmd[@]}" || [[ $? == 1 ]] ||
                die "$which: scan failed"
            ns=$(grep user_time "$OUT/perf" | cut -d, -f1)
            echo "$which user $(python3 -c "print($ns / 1e9)")" >>"$OUT/times"
        else
            /usr/bin/time -f "$which user %U" -a -o "$OUT/times" "${cmd[@]}" ||
                [[ $? == 1 ]] || die "$which: scan failed"
        fi
    done
done

python3 - "$OUT" "${WHICH[@]}" <<'PY'
import json, statistics, sys
out, which = sys.argv[1], sys.argv[2:]
times = {}
for line in open(f"{out}/times"):
    parts = line.split()
    if len(parts) == 3 and parts[1] == "user":
        times.setdefault(parts[0], []).append(float(parts[2]))
med = {w: statistics.median(times[w]) for w in which}
for w in which:
    found = in_b64 = 0
    for line in open(f"{out}/{w}.jsonl"):
        ev = json.loads(line)
        if ev.get("type") == "finding":
            found += 1
            in_b64 += "base64@" in (ev.get("member") or "")
    print(f"{w:7} user min {min(times[w]):.3f} s  median {med[w]:.3f} s  "
          f"(n={len(times[w])})  findings {found} (in base64 payloads {in_b64})")
for base in [b for b in ("off", "before") if b in med]:
    print(f"on against {base}: {100 * (med['on'] / med[base] - 1):+.1f} % user CPU (medians)")
PY
