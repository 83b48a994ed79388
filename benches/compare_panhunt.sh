#!/usr/bin/env bash
# benches/compare_panhunt.sh: leakhound against PANhunt on a mixed corpus.
#
# PANhunt (https://pypi.org/project/panhunt/) is a peer that opens the same
# kinds of files (zip, office documents, mail) but looks for cards only.
# This script:
#   1. makes (or reuses) a mixed corpus of SIZE_MB MB with the vendored
#      generator (text, logs, CSV, JSON lines, UTF-16, gzip, zip, nested
#      zips, tar.gz, office, eml/mbox/Maildir, binaries, clean files);
#   2. installs PANhunt into its own venv (WORK/panvenv) if needed;
#   3. times, one after the other on a warm page cache, with $(nproc) workers
#      each: `leakhound scan` (all rules) and `panhunt -w $(nproc)`;
#   4. scores leakhound with the corpus's score.py (all kinds) and PANhunt's
#      report on the true card numbers (first 6 + last 4 per file), and
#      prints times, peak RSS, recall and the speed ratio.
#
#   5. runs both on the legacy-format fixtures (tests/fixtures/legacy: Word,
#      Excel with cards in numeric cells, a Word file with an embedded
#      workbook, RTF, an Outlook .msg with attachments) and the Outlook PST
#      fixtures (tests/fixtures/pst, un-gzipped: stores made by Outlook, one
#      with a card in a subject and one in a body), and prints the card
#      numbers each finds per file (LEGACY_ONLY=1: only this step; LH_BIN
#      picks the leakhound binary, target/release/leakhound by default).
#      A file PANhunt could not open shows in its report's error list,
#      printed after the table.
#
# Usage: benches/compare_panhunt.sh            (SIZE_MB=200 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB="${SIZE_MB:-200}"
WORK="${WORK:-/tmp/leakhound-panhunt}"
PY="${PYTHON:-.venv/bin/python}"
KEY=0123456789abcdef0123456789abcdef
CORPUS="$WORK/corpus-$SIZE_MB"
mkdir -p "$WORK"
[ -e "$CORPUS" ] && CORPUS=$(realpath "$CORPUS")   # a root given as a link is not followed
mkdir -p "$WORK"
LH_BIN="${LH_BIN:-target/release/leakhound}"

# Cards found per legacy-format fixture by each tool (masked: first 6 and
# last 4 digits, as both report them).
legacy() {
    local dir="$WORK/legacy" out="$WORK/panout-legacy"
    rm -rf "$dir" "$out" && mkdir -p "$dir" "$out"
    cp tests/fixtures/legacy/{footnote.doc,footnote.rtf,numbers.xls,embed.doc,message.msg} "$dir"/
    for pst in card-in-body dist-list passworded; do
        gzip -dc "tests/fixtures/pst/$pst.pst.gz" > "$dir/$pst.pst"
    done
    LEAKHOUND_FINGERPRINT_KEY=$KEY "$LH_BIN" scan "$dir" --format jsonl --progress never \
        -o "$WORK/lh-legacy.jsonl" || [ $? -eq 1 ]
    # PANhunt logs the files it skips (not in its report): a fresh log.
    : > "$WORK/PANhunt.log"
    (cd "$WORK" && "$WORK/panvenv/bin/panhunt" "$dir" -o "$out" -q >/dev/null 2>&1) || true
    "$PY" - "$dir" "$WORK/lh-legacy.jsonl" "$out" <<'PYEOF'
import collections, glob, json, os, re, sys
root, lh, out = sys.argv[1:]
lh_found, ph_found = collections.defaultdict(set), collections.defaultdict(set)
for e in map(json.loads, open(lh)):
    if e["type"] == "finding" and e["kind"].startswith("card_"):
        lh_found[os.path.basename(e["path"])].add(e["masked"])
cur = None
for line in open(glob.glob(f"{out}/*.report")[0]):
    m = re.match(r"FOUND PANs: .*/([^/]*) \(", line)
    if m:
        cur = m.group(1)
        continue
    m = re.match(r"\t\w+:(\d{6}\**\d{4})", line)
    if m and cur:
        ph_found[cur].add(m.group(1))
print(f"{'legacy fixture':<18} {'leakhound':>9} {'panhunt':>8}   distinct cards found")
for f in sorted(os.listdir(root)):
    print(f"{f:<18} {len(lh_found[f]):>9} {len(ph_found[f]):>8}")
# What each tool could not fully read: leakhound's partial/error records,
# PANhunt's error lines (it lists the files it failed to open).
for e in map(json.loads, open(lh)):
    if e["type"] == "file" and e["member"] is None and e["status"] != "scanned":
        print(f"leakhound {e['status']}: {os.path.basename(e['path'])}: {e['reason'][:120]}")
for line in open(glob.glob(f"{out}/*.report")[0]):
    if re.search(r"error|fail|exception", line, re.I):
        print("panhunt:", line.strip()[:160])
PYEOF
    grep -h "Skipping" "$WORK/PANhunt.log" | sed 's/^[^:]*:[^:]*:[^:]*:[^:]*:/panhunt log: /' | sort -u || true
}
if [ "${LEGACY_ONLY:-0}" = 1 ]; then
    [ -x "$WORK/panvenv/bin/panhunt" ] || { python3 -m venv "$WORK/panvenv" && "$WORK/panvenv/bin/pip" install -q panhunt; }
    legacy
    exit 0
fi
[ -f "$CORPUS/truth.jsonl" ] || "$PY" tests/corpus/gen_corpus.py --out "$CORPUS" --size-mb "$SIZE_MB" --seed 3
[ -x "$WORK/panvenv/bin/panhunt" ] || { python3 -m venv "$WORK/panvenv" && "$WORK/panvenv/bin/pip" install -q panhunt; }
cargo build --release -q
N=$(nproc)

cat "$CORPUS"/*/* >/dev/null 2>&1 || true   # warm the page cache
/usr/bin/time -f "%e %M" -o "$WORK/lh.time" env LEAKHOUND_FINGERPRINT_KEY=$KEY \
    target/release/leakhound scan "$CORPUS" -j "$N" --exclude truth.jsonl --exclude manifest.json \
    --format jsonl --progress never -o "$WORK/lh.jsonl" || [ $? -eq 1 ]
rm -rf "$WORK/panout" && mkdir -p "$WORK/panout"
# PANhunt writes PANhunt.log into its working directory: run it in $WORK so
# that no benchmark output lands in the repository.
(cd "$WORK" && /usr/bin/time -f "%e %M" -o "$WORK/ph.time" "$WORK/panvenv/bin/panhunt" "$CORPUS" \
    -x "$CORPUS/truth.jsonl" -x "$CORPUS/manifest.json" -o "$WORK/panout" -w "$N" -q)

"$PY" tests/corpus/to_score.py --corpus "$CORPUS" --findings "$WORK/lh.jsonl" --key $KEY > "$WORK/lh.scored"
"$PY" tests/corpus/score.py --truth "$CORPUS/truth.jsonl" --findings "$WORK/lh.scored" --ignore-member > "$WORK/lh.score"
LH_SCORE=$(head -1 "$WORK/lh.score")
PH_RECALL=$("$PY" - "$CORPUS" "$WORK/panout" <<'PYEOF'
import glob, json, re, sys
corpus, out = sys.argv[1], sys.argv[2]
cards = [t for t in map(json.loads, open(f"{corpus}/truth.jsonl"))
         if t["label"] == "true" and t["kind"].startswith("card_")]
found, cur = {}, None
for line in open(glob.glob(f"{out}/*.report")[0]):
    m = re.match(r"FOUND PANs: " + re.escape(corpus) + r"/(.*) \(", line)
    if m:
        cur = m.group(1)
        continue
    m = re.match(r"\t\w+:(\d{6})\**(\d{4})", line)
    if m and cur:
        found.setdefault(cur, set()).add(m.groups())
hit = sum((c["digits"][:6], c["digits"][-4:]) in found.get(c["file"], set()) for c in cards)
print(f"card recall {hit}/{len(cards)} = {hit / len(cards):.3f}")
PYEOF
)
read -r LH_S LH_KB < <(tail -n 1 "$WORK/lh.time")   # after "Command exited with non-zero status 1"
read -r PH_S PH_KB < <(tail -n 1 "$WORK/ph.time")
BYTES=$(du -sb --exclude=truth.jsonl --exclude=manifest.json "$CORPUS" | cut -f1)
echo "corpus: $CORPUS ($BYTES bytes), $N workers each"
printf '%-10s %8s s %8.1f MB/s %6d MiB peak RSS\n' leakhound "$LH_S" "$(echo "$BYTES/$LH_S/1000000" | bc -l)" $((LH_KB / 1024))
printf '%-10s %8s s %8.1f MB/s %6d MiB peak RSS\n' panhunt "$PH_S" "$(echo "$BYTES/$PH_S/1000000" | bc -l)" $((PH_KB / 1024))
echo "leakhound: $LH_SCORE"
echo "panhunt (cards only): $PH_RECALL"
echo "leakhound is $(echo "$PH_S/$LH_S" | bc -l | cut -c1-5)x faster"
legacy
