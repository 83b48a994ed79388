#!/usr/bin/env bash
# Precision in the wild (issue 18): scan real text that holds no personal
# numbers and count findings per kind and confidence, per 100 MB.
#
#   benches/wild_precision.sh                 # release build of this tree, default settings
#   BIN=/tmp/old/leakhound benches/wild_precision.sh   # another binary (the "before" column)
#   ARGS="--min-confidence low" benches/wild_precision.sh
#   ARGS="--show-test-data" benches/wild_precision.sh   # list published test numbers too
#   INSTALL=1 benches/wild_precision.sh       # first apt-get the extra text packages below
#
# What is scanned (everything that exists of it): Debian's documentation
# and manual pages, the Python standard library and installed packages
# (every directory of `python3 -c 'import sys; print(sys.path)'`), the
# crate sources in ~/.cargo/registry/src, the word list, fortune cookies
# (English, German, Czech/Slovak, Chinese), the ISO code tables and the
# Unicode character database. None of it was written to hold card or ID
# numbers, so every finding is noise or a documented example number; the
# README's table explains those that remain. No directory is left out by
# name: a fix must hold for all of it.
#
# Prints a Markdown table (kind, confidence, findings, per 100 MB) and the
# total per 50 MB, and leaves the JSON-lines report in $OUT (default
# /tmp/wild-precision.jsonl) to look the findings up.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES="python3-doc wamerican debian-reference-en fortunes fortunes-zh fortunes-de fortunes-cs iso-codes unicode-data"
if [ "${INSTALL:-0}" = 1 ]; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
fi

if [ -z "${BIN:-}" ]; then
    cargo build --release --locked -q
    BIN=target/release/leakhound
fi
OUT="${OUT:-/tmp/wild-precision.jsonl}"

dirs=()
for d in /usr/share/doc /usr/share/man /usr/share/dict /usr/share/games/fortunes /usr/lib/python3 \
    /usr/share/iso-codes /usr/share/unicode "$HOME/.cargo/registry/src"; do
    [ -d "$d" ] && dirs+=("$d")
done
while IFS= read -r d; do
    [ -d "$d" ] && dirs+=("$d")
done < <(python3 -c 'import sys; print("\n".join(p for p in sys.path if p))')
# Overlapping roots (site-packages inside the standard library's tree)
# would count files twice: keep the outermost.
mapfile -t dirs < <(printf '%s\n' "${dirs[@]}" | sort -u | awk '
    { for (i = 1; i <= n; i++) if (index($0 "/", kept[i] "/") == 1) next; kept[++n] = $0; print }')

echo "roots: ${dirs[*]}" >&2
# shellcheck disable=SC2086
"$BIN" scan --format jsonl --progress never --no-project-config -o "$OUT" ${ARGS:-} "${dirs[@]}" || true

python3 - "$OUT" <<'EOF'
import json, sys, collections
counts = collections.Counter()
files = set()
total_bytes = 0
summary = None
for line in open(sys.argv[1], encoding="utf-8"):
    ev = json.loads(line)
    t = ev.get("type") or ev.get("event")
    if "rule" in ev and "masked" in ev:
        counts[(ev["kind"], ev["confidence"], bool(ev.get("test_data")))] += 1
        files.add(ev["path"])
    elif t == "summary":
        summary = ev
if summary is not None:
    total_bytes = summary.get("bytes") or summary.get("files", {}).get("bytes") or 0
mb = total_bytes / 1e6 if total_bytes else float("nan")
n = sum(counts.values())
print(f"scanned {mb:,.0f} MB; {n} findings listed in {len(files)} files")
print()
print("| kind | confidence | findings | per 100 MB |")
print("|---|---|---:|---:|")
for (kind, conf, test), c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
    label = kind + (" (test data)" if test else "")
    print(f"| {label} | {conf} | {c:,} | {c / mb * 100:,.2f} |")
print(f"| **all** | | **{n:,}** | **{n / mb * 100:,.2f}** |")
print()
print(f"per 50 MB: {n / mb * 50:.2f} (goal: at most 1)")
if summary is not None:
    below = summary.get("below_confidence")
    if below:
        print(f"counted but not listed (below --min-confidence): {below}")
    test = summary.get("test_data_not_listed")
    if test:
        print(f"published test numbers counted but not listed (--show-test-data lists them): {test}")
EOF
