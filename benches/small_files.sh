#!/usr/bin/env bash
# benches/small_files.sh: leakhound against ripgrep on many small files.
#
# What it does:
#   1. Makes (or reuses) a tree of FILES small text files (default 100000,
#      2 KB on average, 100 directories, one card number per 500 files),
#      written by the Python below with a fixed seed, so every run sees the
#      same tree.
#   2. cargo build --release (unless LH names a binary).
#   3. Times, in the same run and on the same warm page cache, with
#      hyperfine (RUNS runs + 1 warm-up each):
#        leakhound scan -j1 and -j2 (all built-in rules, jsonl to /dev/null)
#        rg --no-unicode -c -j1 and -j2 with the union of the candidate
#          shapes the rules look at (the RG_REGEX of benches/compare.sh)
#   4. Prints a table (mean s, best s, user s, files/s) and the ratios
#      leakhound_time / rg_time for -j1 and -j2 (below 1: leakhound is
#      faster).
#
# Usage: benches/small_files.sh           # 100000 files
#        FILES=20000 RUNS=3 benches/small_files.sh
# Environment: FILES, RUNS (default 5), WORK (default /tmp/leakhound-bench),
#   LH (a leakhound binary; default: build target/release/leakhound),
#   LH_OLD (another leakhound binary, say an older build, timed with -j1
#   and -j2 in the same run as "old -j1", "old -j2").
# Needs: ripgrep, hyperfine, python3.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
FILES=${FILES:-100000}
RUNS=${RUNS:-5}
WORK=${WORK:-/tmp/leakhound-bench}
die() { echo "small_files.sh: $*" >&2; exit 2; }
command -v rg >/dev/null || die "ripgrep not found (apt-get install ripgrep)"
command -v hyperfine >/dev/null || die "hyperfine not found (apt-get install hyperfine)"
mkdir -p "$WORK"
export LEAKHOUND_STATE_DIR=${LEAKHOUND_STATE_DIR:-$WORK/state}
RG_REGEX='[0-9]{9,19}|[0-9]{4}[ .-][0-9]{4}[ .-][0-9]{4}[ .-][0-9]{4}|[0-9]{4}[ .-][0-9]{6}[ .-][0-9]{4,5}|[0-9]{3}[ .-][0-9]{2}[ .-][0-9]{4}|[0-9]{3}[ .-][0-9]{6}[ .-][0-9]|[A-Z]{2}[0-9]{2}[A-Z0-9 ]{11,40}'

# -- 1. the tree
TREE="$WORK/small-$FILES"
if [[ -f $TREE/.done ]]; then
    echo "== reusing $TREE"
else
    echo "== generating $TREE ($FILES files)"
    rm -rf "$TREE"
    python3 - "$TREE" "$FILES" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(17)
words = ("invoice order shipped customer account total balance meeting notes "
         "the of and to in for on with status pending reviewed approved ref "
         "delivery address phone report quarterly summary draft final").split()
for d in range(100):
    os.makedirs(f"{root}/d{d:03}", exist_ok=True)
for i in range(n):
    size = rng.randint(200, 3800)
    lines, total = [], 0
    while total < size:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(4, 12)))
        if rng.random() < 0.3:
            line += f" #{rng.randint(1, 99999)} {rng.randint(1, 28)}/{rng.randint(1, 12)}/2024"
        lines.append(line)
        total += len(line) + 1
    if i % 500 == 0:
        lines.insert(rng.randrange(len(lines)), f"card on file 5500 0000 0000 0004 exp 12/27")
    with open(f"{root}/d{i % 100:03}/f{i:06}.txt", "w") as f:
        f.write("\n".join(lines) + "\n")
open(f"{root}/.done", "w").close()
PY
fi
BYTES=$(du -sb --exclude=.done "$TREE" | cut -f1)

# -- 2. the build
if [[ -z ${LH:-} ]]; then
    echo "== cargo build --release"
    cargo build --release --quiet
    LH="${CARGO_TARGET_DIR:-$ROOT/target}/release/leakhound"
fi
[[ -x $LH ]] || die "no binary at $LH"

q() { printf '%q' "$1"; }
LH_ARGS="scan --progress never --format jsonl -o /dev/null"
NAMES=("leakhound -j1" "rg -j1" "leakhound -j2" "rg -j2")
CMDS=(
    "$(q "$LH") $LH_ARGS -j1 $(q "$TREE") || [ \$? -eq 1 ]"
    "rg --no-unicode -c -j1 $(q "$RG_REGEX") $(q "$TREE") >/dev/null || [ \$? -eq 1 ]"
    "$(q "$LH") $LH_ARGS -j2 $(q "$TREE") || [ \$? -eq 1 ]"
    "rg --no-unicode -c -j2 $(q "$RG_REGEX") $(q "$TREE") >/dev/null || [ \$? -eq 1 ]"
)
if [[ -n ${LH_OLD:-} ]]; then
    NAMES+=("old -j1" "old -j2")
    CMDS+=(
        "$(q "$LH_OLD") $LH_ARGS -j1 $(q "$TREE") || [ \$? -eq 1 ]"
        "$(q "$LH_OLD") $LH_ARGS -j2 $(q "$TREE") || [ \$? -eq 1 ]"
    )
fi

# -- warm the cache and check what leakhound finds
REPORT="$WORK/small-$FILES.jsonl"
status=0
"$LH" scan --progress never --format jsonl -o "$REPORT" -j1 "$TREE" || status=$?
((status <= 1)) || die "leakhound exited $status"
echo "   leakhound: $(grep -c '"type":"finding"' "$REPORT" || true) findings in" \
     "$(grep -c '"type":"file"' "$REPORT" || true) file records"

# -- 3. timing
JSON="$WORK/hyperfine-small-$FILES.json"
args=()
for i in "${!NAMES[@]}"; do args+=(-n "${NAMES[$i]}" "${CMDS[$i]}"); done
hyperfine --style basic --warmup 1 --runs "$RUNS" --export-json "$JSON" "${args[@]}"

# -- 4. the table
python3 - "$JSON" "$FILES" "$BYTES" "$(nproc)" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
files, nbytes, cpus = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
print(f"\ntree: {files} files, {nbytes / 1e6:.0f} MB, {cpus} CPUs")
print(f"{'tool':<16} {'mean s':>8} {'best s':>8} {'user s':>8} {'sys s':>8} {'files/s':>9}")
for name, r in res.items():
    print(f"{name:<16} {r['mean']:8.3f} {r['min']:8.3f} {r['user']:8.3f} {r['system']:8.3f} {files / r['mean']:9.0f}")
for j in ("-j1", "-j2"):
    lh, rg = res[f"leakhound {j}"]["mean"], res[f"rg {j}"]["mean"]
    print(f"leakhound_time / rg_time {j} (means): {lh / rg:.2f}  (below 1: leakhound is faster)")
PY
