#!/usr/bin/env bash
# benches/cache_rescan.sh: a nightly re-scan with `scan --cache` against a
# full scan, on the tree of benches/small_files.sh.
#
# What it does:
#   1. Makes (or reuses) the small-files tree (run benches/small_files.sh
#      first, or it is made here the same way) and hard-links it into a
#      scratch tree (the scratch tree is modified; KEEP_TREE=1 reuses a
#      scratch tree already there instead of linking it again).
#   2. Runs `scan --cache` once per build and thread count to fill a cache
#      of its own.
#   3. Each of RUNS rounds rewrites CHANGED files (default 100: 0.1 % of
#      100,000) with new content, then, for every build (LH, and BEFORE
#      when given: the two alternate within a round, so both see the same
#      load) and every thread count in THREADS (default "1 2"), times a
#      full scan (no cache) and a re-scan with the cache. Every re-scan
#      sees the same CHANGED files changed (new inodes, as an editor saving
#      them makes).
#   4. Checks every re-scan reports the same findings and records as the
#      full scan of its round (sorted, run fields removed), and prints, per
#      build and thread count, the mean wall-clock and CPU time (user +
#      system: on a machine shared with other work the wall-clock time
#      measures the load as much as the program) of each and the ratios.
#
# Usage: benches/cache_rescan.sh
#        FILES=10000 CHANGED=10 WORK=DIR benches/cache_rescan.sh
# Environment: FILES, CHANGED, RUNS (default 5), WORK (where the tree
#   small-FILES is; default /tmp/leakhound-bench), OUT (scratch tree, caches
#   and reports; default WORK), LH (the build to time; default: cargo build
#   --release), BEFORE (another build, timed alternately with LH), THREADS.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
FILES=${FILES:-100000}
CHANGED=${CHANGED:-100}
RUNS=${RUNS:-5}
WORK=${WORK:-/tmp/leakhound-bench}
OUT=${OUT:-$WORK}
THREADS=${THREADS:-1 2}
export LEAKHOUND_STATE_DIR=${LEAKHOUND_STATE_DIR:-$WORK/state}
if [[ -z ${LH:-} ]]; then
    cargo build --release --quiet
    LH="${CARGO_TARGET_DIR:-$ROOT/target}/release/leakhound"
fi
if [[ ! -f $WORK/small-$FILES/.done ]]; then
    # Makes the tree, then stops before timing (LH points nowhere).
    LH=/nonexistent FILES=$FILES WORK=$WORK benches/small_files.sh >/dev/null 2>&1 || true
fi
[[ -f $WORK/small-$FILES/.done ]] || { echo "cache_rescan.sh: no tree" >&2; exit 2; }
mkdir -p "$OUT"
TREE=$OUT/cache-tree
if [[ ${KEEP_TREE:-0} != 1 || ! -d $TREE ]]; then
    rm -rf "$TREE"
    # Hard links: a quick copy; a changed file is replaced (a new inode, as
    # an editor saving it makes), never written through the link.
    cp -al "$WORK/small-$FILES" "$TREE"
fi
find "$TREE" -name '*.txt' | sort | head -n "$CHANGED" >"$OUT/changed.list" || true
BUILDS=(after)
declare -A BIN=([after]=$LH)
if [[ -n ${BEFORE:-} ]]; then
    BUILDS=(before after)
    BIN[before]=$BEFORE
fi
# New content each round and per file (so the cache has not seen it, and
# every changed file is scanned, not taken as a copy of another).
touch_some() {
    local n=0
    while read -r f; do
        rm -f "$f"
        n=$((n + 1))
        printf 'changed in round %s, file %d: card 4526 0181 5908 3012\n' "$1" "$n" >"$f"
    done <"$OUT/changed.list"
}
TIMES=$OUT/times
# Runs BUILD with -jTHREADS and ARGS; appends "wall cpu" to the file NAME.
timed() {
    local build=$1 j=$2 name=$3
    shift 3
    local t0 t1
    t0=$(date +%s.%N)
    /usr/bin/time -f '%U %S' -o "$TIMES" "${BIN[$build]}" scan --progress never --format jsonl \
        "-j$j" "$@" "$TREE" || [ $? -eq 1 ]
    t1=$(date +%s.%N)
    # (`time` puts "Command exited with non-zero status 1" first on findings.)
    echo "$(echo "$t1 - $t0" | bc) $(tail -n 1 "$TIMES" | awk '{ print $1 + $2 }')" \
        >>"$OUT/t-$build-$j-$name"
}
cache_of() { echo "$OUT/cache-$1-j$2.db"; }
rm -f "$OUT"/t-* "$OUT/cache-lines"
for b in "${BUILDS[@]}"; do
    for j in $THREADS; do
        c=$(cache_of "$b" "$j")
        rm -f "$c" "$c-wal" "$c-shm"
    done
done
touch_some fill
echo "== filling the caches"
for b in "${BUILDS[@]}"; do
    for j in $THREADS; do
        "${BIN[$b]}" scan --progress never --format jsonl "-j$j" --cache "$(cache_of "$b" "$j")" \
            -o /dev/null "$TREE" 2>/dev/null || [ $? -eq 1 ]
    done
done
status=0
for ((r = 0; r < RUNS; r++)); do
    touch_some "$r"
    for b in "${BUILDS[@]}"; do
        for j in $THREADS; do
            timed "$b" "$j" full -o "$OUT/full.jsonl"
            timed "$b" "$j" cached --cache "$(cache_of "$b" "$j")" -o "$OUT/cached.jsonl" \
                2>"$OUT/cached.err"
            # Every round's counts: a tree whose inodes another process
            # links or unlinks (hard links share the inode, and its ctime)
            # misses the cache.
            grep '^leakhound: cache' "$OUT/cached.err" | sed "s/^/round $r $b -j$j: /" \
                >>"$OUT/cache-lines"
            python3 - "$OUT/full.jsonl" "$OUT/cached.jsonl" <<'PY' || status=1
import json, sys
def rows(p):
    out = []
    for line in open(p):
        e = json.loads(line)
        if e["type"] in ("finding", "file"):
            for k in ("id", "time", "scan_id", "host", "seq", "mtime"):
                e.pop(k, None)
            out.append(json.dumps(e, sort_keys=True))
    return sorted(out)
a, b = rows(sys.argv[1]), rows(sys.argv[2])
if a != b:
    print(f"findings and records DIFFER: {len(a)} vs {len(b)}")
    sys.exit(1)
PY
        done
    done
done
cat "$OUT/cache-lines"
[[ $status == 0 ]] && echo "findings and records: the same in every round"
printf '%-7s %-3s | %-22s | %-22s | %s\n' build -j "full: wall (CPU) s" "re-scan: wall (CPU) s" \
    "full / re-scan: wall (CPU)"
for b in "${BUILDS[@]}"; do
    for j in $THREADS; do
        python3 - "$b" "$j" "$OUT/t-$b-$j-full" "$OUT/t-$b-$j-cached" <<'PY'
import sys
def mean(p):
    rows = [tuple(map(float, l.split())) for l in open(p)]
    return sum(r[0] for r in rows) / len(rows), sum(r[1] for r in rows) / len(rows)
fw, fc = mean(sys.argv[3])
cw, cc = mean(sys.argv[4])
print(f"{sys.argv[1]:<7} {sys.argv[2]:<3} | {fw:7.3f} ({fc:6.3f})        | {cw:7.3f} ({cc:6.3f})        "
      f"| {fw / cw:5.1f}x ({fc / max(cc, 0.001):5.1f}x)")
PY
    done
done
exit $status
