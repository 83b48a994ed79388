#!/usr/bin/env bash
# Which true items of the generated corpus the default confidence hides, and
# what surrounds them (issue 18, recall at default settings).
#
#   benches/hidden_items.sh                     # release build of this tree; corpus 200 MB, seed 3
#   BIN=... CORPUS=/tmp/c CORPUS_MB=20 SEED=11 benches/hidden_items.sh
#
# Scans the corpus twice (default and `--min-confidence low`), maps findings
# back to truth.jsonl by keyed fingerprint (tests/corpus/to_score.py), and
# groups the true items listed only at `low` by kind, container, format
# (`wrap`), language, and the context the generator put around them: the
# CSV header field, the JSON key, the XML element, or the words before the
# number in prose and logs. Values are never printed: the context line
# shows the item as `<ITEM>`.
#
# Needs .venv (scripts/setup.sh) for the corpus generator.
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
CORPUS=${CORPUS:-"$WORK/corpus"}
if [ ! -f "$CORPUS/truth.jsonl" ]; then
    "$PY" tests/corpus/gen_corpus.py --out "$CORPUS" --size-mb "${CORPUS_MB:-200}" --seed "${SEED:-3}" >/dev/null
fi
for level in medium low; do
    LEAKHOUND_FINGERPRINT_KEY=k LEAKHOUND_STATE_DIR="$WORK/state" "$BIN" scan \
        --min-confidence "$level" --format jsonl --progress never -o "$WORK/$level.jsonl" \
        --exclude truth.jsonl --exclude manifest.json "$CORPUS" || true
    "$PY" tests/corpus/to_score.py --corpus "$CORPUS" --findings "$WORK/$level.jsonl" --key k >"$WORK/$level.scored"
done
"$PY" - "$CORPUS" "$WORK/medium.scored" "$WORK/low.scored" "${SHOW:-3}" <<'PYEOF'
import collections, gzip, io, json, os, re, sys, tarfile, zipfile
corpus, med, low, show = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def found(path):
    s = set()
    for line in open(path, encoding="utf-8"):
        r = json.loads(line)
        if not r.get("masked"):
            s.add((r["file"], r["value"]))
    return s

at_med, at_low = found(med), found(low)
truth = [json.loads(l) for l in open(os.path.join(corpus, "truth.jsonl"), encoding="utf-8")]
true = [t for t in truth if t["label"] == "true"]
hidden = [t for t in true if (t["file"], t["value"]) not in at_med and (t["file"], t["value"]) in at_low]
lost = [t for t in true if (t["file"], t["value"]) not in at_low]
n = len(true)
print(f"true items {n}; listed at default {n - len(hidden) - len(lost)} "
      f"(recall {(n - len(hidden) - len(lost)) / n:.4f}); only at low {len(hidden)}; not even at low {len(lost)}")

def text_of(t):
    """The decoded text the item sits in (the member for archives), or None."""
    p = os.path.join(corpus, t["file"])
    try:
        if t["member"] is None:
            raw = open(p, "rb").read()
            if p.endswith(".gz"):
                raw = gzip.decompress(raw)
        elif p.endswith(".zip") or p.endswith(".docx") or p.endswith(".xlsx"):
            z = zipfile.ZipFile(p)
            parts = t["member"].split("/")
            # Nested zips: open inner archives along the member path.
            name = t["member"]
            for cand in z.namelist():
                if name == cand:
                    raw = z.read(cand)
                    break
            else:
                raw = None
                for cand in z.namelist():
                    if name.startswith(cand + "/") or name.startswith(cand + "!"):
                        z2 = zipfile.ZipFile(io.BytesIO(z.read(cand)))
                        rest = name[len(cand) + 1:]
                        for c2 in z2.namelist():
                            if c2 == rest:
                                raw = z2.read(c2)
                if raw is None:
                    return None
        elif t["container"] in ("eml", "maildir", "mbox"):
            import email, mailbox
            msgs = mailbox.mbox(p) if t["container"] == "mbox" else [email.message_from_bytes(open(p, "rb").read())]
            for m in msgs:
                for part in m.walk():
                    body = part.get_payload(decode=True)
                    if body and t["value"].encode() in body:
                        raw = body
                        break
                else:
                    continue
                break
            else:
                return None
        elif ".tar" in p:
            with tarfile.open(p) as tf:
                raw = tf.extractfile(t["member"]).read()
        else:
            return None
    except Exception:
        return None
    if raw[:2] == b"\xff\xfe":
        return raw[2:].decode("utf-16-le", "replace")
    return raw.decode("utf-8", "replace")

def context(t):
    s = text_of(t)
    if s is None:
        return "?", "(container not opened by this script)"
    i = s.find(t["value"])
    if i < 0:
        return "?", "(value not found verbatim)"
    ls = s.rfind("\n", 0, i) + 1
    le = s.find("\n", i)
    le = len(s) if le < 0 else le
    line = s[max(ls, i - 80):i] + "<ITEM>" + s[i + len(t["value"]):min(le, i + len(t["value"]) + 40)]
    f = t["file"] + (t["member"] or "")
    if re.search(r"\.(csv|tsv)$", f):
        header = s[:s.find("\n")]
        sep = max(",;\t|", key=header.count)
        col = s[ls:i].count(sep)
        fields = header.split(sep)
        return "csv column " + (fields[col] if col < len(fields) else "?"), line
    if "jsonl" in f or "json" in t.get("wrap", ""):
        m = re.search(r'"([^"]+)"\s*:\s*"?$', s[ls:i])
        return "json key " + (m.group(1) if m else "(none)"), line
    if f.endswith((".docx", ".xlsx")) or f.endswith(".xml"):
        m = re.search(r"<([\w:]+)[^<>]*>[^<]*$", s[:i])
        return "xml element " + (m.group(1) if m else "?"), line
    words = re.findall(r"[^\W\d_]+", s[max(ls, i - 40):i])
    return "words before: " + (" ".join(words[-3:]) if words else "(none)"), line

groups = collections.defaultdict(list)
for t in hidden:
    where, line = context(t)
    groups[(t["kind"], t["container"], t.get("wrap"), t.get("fmt"), t.get("lang"), t.get("context"), where)].append(line)
print()
by_flag = collections.Counter(t.get("context") for t in hidden)
print(f"hidden items the generator planted with context (context=true): {by_flag[True]}; without: {by_flag[False]}")
print()
print("| items | kind | container | wrap | fmt | lang | planted with context | what surrounds it |")
print("|---:|---|---|---|---|---|---|---|")
for k, v in sorted(groups.items(), key=lambda kv: -len(kv[1])):
    print(f"| {len(v)} | " + " | ".join(str(x) for x in k) + " |")
if show:
    print()
    for k, v in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        print(f"## {len(v)} x {k}")
        for line in v[:show]:
            print("    " + line.replace("\n", " ").replace("\r", ""))
PYEOF
