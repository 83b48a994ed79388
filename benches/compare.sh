#!/usr/bin/env bash
# benches/compare.sh: leakhound against ripgrep on one large realistic log.
#
# What it does:
#   1. Makes (or reuses) a log of SIZE_MB MB with the vendored corpus
#      generator: tests/corpus/gen_corpus.py --mode throughput --seed 2
#      --items-per-mb 2 (the generator counts 10^6 bytes per MB).
#   2. cargo build --release.
#   3. Times, in the same run and on the same warm page cache:
#        leakhound scan -j1 (all built-in rules, jsonl report to /dev/null)
#        rg --no-unicode -c -j1 REGEX   (REGEX: the union of the candidate
#          shapes the rules look at, without any validation; see RG_REGEX)
#        leakhound scan -j$(nproc)      (scaling: a file of 64 MiB or more is
#          cut into 256 KiB segments that all workers scan at once)
#      with hyperfine when installed (mean and min from its JSON export),
#      else a loop of RUNS runs timed with `date +%s.%N`.
#   4. Measures each command's peak RSS with /usr/bin/time -v.
#   5. Prints a table (mean s, best s, GB/s on the mean, peak RSS MiB) and the
#      ratio rg_time / leakhound_time (above 1: leakhound is faster).
#
# leakhound exits 1 when it finds something and rg exits 1 when nothing
# matches: both count as success here; any other status stops the script.
#
# Usage (from anywhere; paths are relative to the repository root):
#   benches/compare.sh                  # 1024 MB log
#   SIZE_MB=256 RUNS=5 benches/compare.sh
#
# Environment:
#   SIZE_MB   log size in MB (default 1024)
#   WORK      directory for the log, JSON exports and the fingerprint key
#             state (default /tmp/leakhound-bench); an existing log of the
#             same size is reused
#   RUNS      timed runs per command (default 5); one warm-up run each
#   NO_HYPERFINE=1  use the date loop even when hyperfine is installed
#   LEAKHOUND_PYTHON  interpreter for the generator (default .venv/bin/python,
#             the venv scripts/setup.sh makes, if it exists, else python3);
#             PYTHON is still read when LEAKHOUND_PYTHON is not set
#
# Needs:
#   python-stdnum for the generator: scripts/setup.sh puts it in .venv
#   ripgrep (apt-get install ripgrep); optional: hyperfine
#   (apt-get install hyperfine), GNU time for peak RSS (apt-get install time).

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

SIZE_MB=${SIZE_MB:-1024}
WORK=${WORK:-/tmp/leakhound-bench}
RUNS=${RUNS:-5}
PYTHON=${LEAKHOUND_PYTHON:-${PYTHON:-}}
if [[ -z $PYTHON ]]; then
    if [[ -x .venv/bin/python ]]; then
        PYTHON=.venv/bin/python
    else
        PYTHON=python3
    fi
fi
NPROC=$(nproc)

# The candidate shapes of the built-in rules, unvalidated: bare runs of 9-19
# digits, cards 4-4-4-4 / 4-6-5 / 4-6-4, SSN 3-2-4, Iranian ID 3-6-1, IBAN.
RG_REGEX='[0-9]{9,19}|[0-9]{4}[ .-][0-9]{4}[ .-][0-9]{4}[ .-][0-9]{4}|[0-9]{4}[ .-][0-9]{6}[ .-][0-9]{4,5}|[0-9]{3}[ .-][0-9]{2}[ .-][0-9]{4}|[0-9]{3}[ .-][0-9]{6}[ .-][0-9]|[A-Z]{2}[0-9]{2}[A-Z0-9 ]{11,40}'

die() {
    echo "compare.sh: $*" >&2
    exit 2
}

command -v rg >/dev/null || die "ripgrep not found (apt-get install ripgrep)"
command -v python3 >/dev/null || die "python3 not found (used to parse numbers)"

mkdir -p "$WORK"
# Keep leakhound's fingerprint key out of the user's state directory.
export LEAKHOUND_STATE_DIR=${LEAKHOUND_STATE_DIR:-$WORK/state}

# -- 1. the log
LOG_DIR="$WORK/throughput-${SIZE_MB}mb-seed2"
LOG="$LOG_DIR/throughput.log"
if [[ -s $LOG ]]; then
    echo "== reusing $LOG"
else
    "$PYTHON" -c 'import stdnum' 2>/dev/null ||
        die "$PYTHON lacks python-stdnum; see the install hint at the top of $0"
    echo "== generating $LOG ($SIZE_MB MB)"
    rm -rf "$LOG_DIR"
    "$PYTHON" tests/corpus/gen_corpus.py --out "$LOG_DIR" --mode throughput \
        --size-mb "$SIZE_MB" --seed 2 --items-per-mb 2
fi
BYTES=$(stat -c %s "$LOG")

# -- 2. the build
echo "== cargo build --release"
cargo build --release --quiet
LH="${CARGO_TARGET_DIR:-$ROOT/target}/release/leakhound"
[[ -x $LH ]] || die "no binary at $LH"

# The commands, as strings for hyperfine's shell. `|| [ $? -eq 1 ]` turns
# exit status 1 (leakhound: findings; rg: no match) into success.
q() { printf '%q' "$1"; }
LH_ARGS="scan --progress never --format jsonl -o /dev/null"
NAMES=("leakhound -j1" "rg -j1" "leakhound -j$NPROC")
CMDS=(
    "$(q "$LH") $LH_ARGS -j1 $(q "$LOG") || [ \$? -eq 1 ]"
    "rg --no-unicode -c -j1 $(q "$RG_REGEX") $(q "$LOG") >/dev/null || [ \$? -eq 1 ]"
    "$(q "$LH") $LH_ARGS -j$NPROC $(q "$LOG") || [ \$? -eq 1 ]"
)

# -- warm the page cache, and check both tools run (and what they find)
echo "== warming the page cache ($BYTES bytes)"
cat "$LOG" >/dev/null
status=0
REPORT="$WORK/findings-${SIZE_MB}mb.jsonl"
"$LH" scan --progress never --format jsonl -o "$REPORT" -j1 "$LOG" || status=$?
((status <= 1)) || die "leakhound exited $status"
findings=$(grep -c '"type":"finding"' "$REPORT" || true)
status=0
rg_lines=$(rg --no-unicode -c -j1 "$RG_REGEX" "$LOG") || status=$?
((status <= 1)) || die "rg exited $status"
echo "   leakhound: $findings finding events; rg: ${rg_lines:-0} lines with a candidate shape"

# -- 3. timing
declare -A MEAN BEST
if [[ -z ${NO_HYPERFINE:-} ]] && command -v hyperfine >/dev/null; then
    echo "== hyperfine, $RUNS runs + 1 warm-up each"
    JSON="$WORK/hyperfine-${SIZE_MB}mb.json"
    hyperfine --style basic --warmup 1 --runs "$RUNS" --export-json "$JSON" \
        -n "${NAMES[0]}" "${CMDS[0]}" \
        -n "${NAMES[1]}" "${CMDS[1]}" \
        -n "${NAMES[2]}" "${CMDS[2]}"
    parsed=$(python3 -c '
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print("%s\t%.4f\t%.4f" % (r["command"], r["mean"], r["min"]))
' "$JSON")
    while IFS=$'\t' read -r name mean best; do
        MEAN[$name]=$mean
        BEST[$name]=$best
    done <<<"$parsed"
else
    echo "== $RUNS timed runs + 1 warm-up each with date +%s.%N (each includes a bash start)"
    for i in "${!NAMES[@]}"; do
        bash -c "${CMDS[$i]}"
        times=()
        for ((r = 0; r < RUNS; r++)); do
            t0=$(date +%s.%N)
            bash -c "${CMDS[$i]}"
            t1=$(date +%s.%N)
            times+=("$(python3 -c 'import sys; print(float(sys.argv[2]) - float(sys.argv[1]))' "$t0" "$t1")")
        done
        read -r mean best < <(python3 -c '
import sys
t = [float(x) for x in sys.argv[1:]]
print(f"{sum(t) / len(t):.4f} {min(t):.4f}")
' "${times[@]}")
        MEAN[${NAMES[$i]}]=$mean
        BEST[${NAMES[$i]}]=$best
    done
fi

# -- 4. peak RSS
declare -A RSS
if [[ -x /usr/bin/time ]]; then
    echo "== peak RSS (/usr/bin/time -v)"
    for i in "${!NAMES[@]}"; do
        kb=$(/usr/bin/time -v bash -c "${CMDS[$i]}" 2>&1 >/dev/null |
            awk -F': ' '/Maximum resident set size/ {print $2}')
        RSS[${NAMES[$i]}]=$(python3 -c 'import sys; print(f"{int(sys.argv[1]) / 1024:.1f}")' "$kb")
    done
else
    echo "== /usr/bin/time not found (apt-get install time): no peak RSS"
    for n in "${NAMES[@]}"; do RSS[$n]=n/a; done
fi

# -- 5. the table
echo
echo "file: $LOG ($BYTES bytes, $(python3 -c "print(f'{$BYTES / 2**20:.0f}')") MiB), $NPROC CPUs"
printf '%-16s %10s %10s %8s %14s\n' tool "mean s" "best s" "GB/s" "peak RSS MiB"
for n in "${NAMES[@]}"; do
    gbs=$(python3 -c 'import sys; print(f"{int(sys.argv[1]) / float(sys.argv[2]) / 1e9:.2f}")' "$BYTES" "${MEAN[$n]}")
    printf '%-16s %10s %10s %8s %14s\n' "$n" "${MEAN[$n]}" "${BEST[$n]}" "$gbs" "${RSS[$n]}"
done
python3 -c '
import sys
rg, lh, lhn = map(float, sys.argv[1:4])
print(f"rg_time / leakhound_time (-j1, means): {rg / lh:.2f}  (above 1: leakhound is faster)")
print(f"leakhound -j1 / -j{sys.argv[4]} (means): {lh / lhn:.2f}  (speed-up from more threads)")
' "${MEAN["rg -j1"]}" "${MEAN["leakhound -j1"]}" "${MEAN["leakhound -j$NPROC"]}" "$NPROC"
