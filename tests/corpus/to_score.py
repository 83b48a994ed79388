#!/usr/bin/env python3
"""to_score.py -- turn leakhound's JSON lines into the findings format of score.py.

    python3 to_score.py --corpus DIR --findings leakhound.jsonl --key KEY > scored.jsonl

leakhound never prints a raw number: a finding carries the masked value and
a keyed fingerprint (HMAC-SHA256 of the compact value, 128 bits in hex). The
test harness knows the key it gave leakhound, so it computes the fingerprint
of every item in truth.jsonl and maps each finding back to the item with the
same fingerprint in the same file. A finding that maps to no item keeps its
masked value (score.py then counts it as a false positive on a decoy or as
unmatched). Raw values come only from truth.jsonl, never from leakhound.
"""
import argparse
import hashlib
import hmac
import json
import os
import sys


def fingerprint(key: bytes, digits: str) -> str:
    return hmac.new(key, digits.encode("ascii"), hashlib.sha256).hexdigest()[:32]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--findings", required=True)
    ap.add_argument("--key", required=True)
    a = ap.parse_args()
    key = a.key.encode()
    root = os.path.abspath(a.corpus)
    by_file = {}
    with open(os.path.join(root, "truth.jsonl"), encoding="utf-8") as f:
        for line in f:
            t = json.loads(line)
            fp = fingerprint(key, t["digits"])
            by_file.setdefault((t["file"], fp), t["value"])
    out = sys.stdout
    with open(a.findings, encoding="utf-8") as f:
        for line in f:
            ev = json.loads(line)
            if ev.get("type") != "finding":
                continue
            path = ev["path"]
            rel = os.path.relpath(os.path.abspath(path), root) if os.path.isabs(path) or os.path.exists(path) else path
            rec = {"file": rel, "member": ev.get("member"), "offset": ev.get("offset"), "kind": ev.get("kind")}
            value = by_file.get((rel, ev["fingerprint"]))
            if value is not None:
                rec["value"] = value
            else:
                rec["value"] = ev["masked"]
                rec["masked"] = True
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
