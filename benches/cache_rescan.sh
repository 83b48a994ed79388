#!/usr/bin/env bash
# benches/cache_rescan.sh: a nightly re-scan with `scan --cache` against a
# full scan, on the tree of benches/small_files.sh.
#
# What it does:
#   1. Makes (or reuses) the small-files tree (run benches/small_files.sh
#      first, or it is made here the same way) and copies it to a scratch
#      directory (the copy is modified).
#   2. Runs `scan --cache` once to fill the cache.
#   3. Rewrites CHANGED files (default 100: 0.1 % of 100,000), then times,
#      RUNS times each: a full scan (no cache) and a re-scan with the cache
#      (every re-scan sees the same 100 files changed: they are rewritten
#      before each run, so ctime moves).
#   4. Checks both report the same findings (sorted, run fields removed)
#      and prints mean times and the ratio, wall-clock and CPU (user +
#      system: on a machine shared with other work the wall-clock time
#      measures the load as much as the program).
#
# Usage: benches/cache_rescan.sh     (FILES, CHANGED, RUNS, WORK, LH as in
#        small_files.sh)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
FILES=${FILES:-100000}
CHANGED=${CHANGED:-100}
RUNS=${RUNS:-5}
WORK=${WORK:-/tmp/leakhound-bench}
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
TREE=$WORK/cache-tree
CACHE=$WORK/cache.db
rm -rf "$TREE" "$CACHE" "$CACHE"-wal "$CACHE"-shm
# Hard links: a quick copy; a changed file is replaced (a new inode, as an
# editor saving it makes), never written through the link.
cp -al "$WORK/small-$FILES" "$TREE"
find "$TREE" -name '*.txt' | sort | head -n "$CHANGED" >"$WORK/changed.list" || true
ARGS=(scan --progress never --format jsonl -j1)
# New content each round (so the cache has not seen it), the same for the
# full scan and the re-scan of a round (so their reports can be compared).
touch_some() {
    while read -r f; do
        rm -f "$f"
        printf 'changed in round %05d: card 4526 0181 5908 3012\n' "$1" >"$f"
    done <"$WORK/changed.list"
}
run() { "$LH" "${ARGS[@]}" "$@" "$TREE" || [ $? -eq 1 ]; }
# CPU seconds (user + system) of the last timed run.
TIMES=$WORK/times
timed() {
    /usr/bin/time -f '%U %S' -o "$TIMES" "$LH" "${ARGS[@]}" "$@" "$TREE" || [ $? -eq 1 ]
}
# (`time` puts "Command exited with non-zero status 1" first on findings.)
cpu() { tail -n 1 "$TIMES" | awk '{ print $1 + $2 }'; }
echo "== filling the cache"
run --cache "$CACHE" -o /dev/null 2>/dev/null
full=() cached=() full_cpu=() cached_cpu=()
rm -f "$WORK/cache-lines"
for ((r = 0; r < RUNS; r++)); do
    touch_some "$r"
    t0=$(date +%s.%N)
    timed -o "$WORK/full.jsonl"
    t1=$(date +%s.%N)
    full_cpu+=("$(cpu)")
    touch_some "$r"
    t2=$(date +%s.%N)
    timed --cache "$CACHE" -o "$WORK/cached.jsonl" 2>"$WORK/cached.err"
    t3=$(date +%s.%N)
    cached_cpu+=("$(cpu)")
    # Every round's counts: a tree whose inodes another process links or
    # unlinks (hard links share the inode, and its ctime) misses the cache.
    grep '^leakhound: cache' "$WORK/cached.err" | sed "s/^/round $r: /" >>"$WORK/cache-lines"
    full+=("$(echo "$t1 - $t0" | bc)")
    cached+=("$(echo "$t3 - $t2" | bc)")
done
cat "$WORK/cache-lines"
python3 - "$WORK/full.jsonl" "$WORK/cached.jsonl" "${full[*]}" "${cached[*]}" "$CHANGED" \
    "${full_cpu[*]}" "${cached_cpu[*]}" <<'PY'
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
same = "same" if a == b else "DIFFERENT"
full = [float(x) for x in sys.argv[3].split()]
cached = [float(x) for x in sys.argv[4].split()]
fm, cm = sum(full) / len(full), sum(cached) / len(cached)
print(f"findings and records: {same} ({len(a)} each)")
print(f"full scan -j1:            mean {fm:.3f} s  best {min(full):.3f} s")
print(f"re-scan --cache -j1 ({sys.argv[5]} changed): mean {cm:.3f} s  best {min(cached):.3f} s")
print(f"full / cached (means): {fm / cm:.1f}x")
fc = [float(x) for x in sys.argv[6].split()]
cc = [float(x) for x in sys.argv[7].split()]
fcm, ccm = sum(fc) / len(fc), sum(cc) / len(cc)
print(f"CPU (user + system): full mean {fcm:.3f} s, re-scan mean {ccm:.3f} s: "
      f"{fcm / max(ccm, 0.001):.1f}x")
if a != b:
    sys.exit(1)
PY
