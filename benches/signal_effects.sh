#!/usr/bin/env bash
# The measured effect of each piece of evidence (issue 18): the shipped
# rules, and the same rules with one neighbourhood signal (or the script
# evidence) taken out, each run over
#   - the wild set of benches/wild_precision.sh (findings listed at the
#     default confidence: what the signal removes), and
#   - a generated corpus (recall at the default confidence: true items the
#     signal hides, or the script evidence lifts).
#
#   benches/signal_effects.sh            # release build of this tree; corpus 200 MB, seed 3
#   BIN=... CORPUS_MB=20 SEED=11 benches/signal_effects.sh
#
# Needs .venv (scripts/setup.sh) for the corpus generator and scorer.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BIN:-}" ]; then
    cargo build --release --locked -q
    BIN=target/release/leakhound
fi
BIN=$(realpath "$BIN")
PY=${LEAKHOUND_PYTHON:-.venv/bin/python}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

CORPUS="$WORK/corpus"
"$PY" tests/corpus/gen_corpus.py --out "$CORPUS" --size-mb "${CORPUS_MB:-200}" --seed "${SEED:-3}" >/dev/null

# Rule variants, made from rules/ as a user would: by editing the YAML.
"$PY" - "$WORK/rules" <<'EOF'
import os, re, sys
out = sys.argv[1]
sig = "signals: [table, code, structure]"
variants = {
    "shipped": lambda s: s,
    "without table": lambda s: s.replace(sig, "signals: [code, structure]"),
    "without code": lambda s: s.replace(sig, "signals: [table, structure]"),
    "without structure": lambda s: s.replace(sig, "signals: [table, code]"),
    "without words": lambda s: re.sub(r"\n      keywords: (&not_\w+ )?\[version[^\]]*\]", "\n      keywords: []", s).replace("keywords: *not_an_id", "keywords: []"),
    "without any signal": lambda s: re.sub(r"\n    negative_context:\n      signals: \[[^\]]*\]\n      keywords: [^\n]*", "", s),
    "without scripts": lambda s: re.sub(r"\n      scripts: \[[^\]]*\]", "", s),
}
for name, f in variants.items():
    d = os.path.join(out, name.replace(" ", "-"))
    os.makedirs(d)
    for fn in sorted(os.listdir("rules")):
        with open(os.path.join("rules", fn)) as src, open(os.path.join(d, fn), "w") as dst:
            dst.write(f(src.read()))
EOF

echo "| rules | wild: findings listed | wild: per 50 MB | corpus: recall at default | corpus: true items not listed |"
echo "|---|---:|---:|---:|---:|"
for d in "$WORK"/rules/*; do
    name=$(basename "$d" | tr '-' ' ')
    wild=$(BIN="$BIN" OUT="$WORK/wild.jsonl" ARGS="--rules $d" benches/wild_precision.sh 2>/dev/null)
    listed=$(echo "$wild" | sed -n 's/.*; \([0-9]*\) findings listed.*/\1/p')
    per50=$(echo "$wild" | sed -n 's/^per 50 MB: \([0-9.]*\).*/\1/p')
    LEAKHOUND_FINGERPRINT_KEY=k LEAKHOUND_STATE_DIR="$WORK/state" "$BIN" scan --rules "$d" \
        --format jsonl --progress never -o "$WORK/c.jsonl" \
        --exclude truth.jsonl --exclude manifest.json "$CORPUS" || true
    "$PY" tests/corpus/to_score.py --corpus "$CORPUS" --findings "$WORK/c.jsonl" --key k >"$WORK/scored.jsonl"
    "$PY" tests/corpus/score.py --truth "$CORPUS/truth.jsonl" --findings "$WORK/scored.jsonl" \
        --ignore-member --json "$WORK/score.json" >/dev/null
    read -r recall missed < <("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%.4f" % d["recall"], d["true_items"] - d["tp"])' "$WORK/score.json")
    echo "| $name | $listed | $per50 | $recall | $missed |"
done
