#!/usr/bin/env bash
# Prints the dependencies between leakhound's top-level modules (`src/X.rs`
# or `src/X/`): one line per module, the modules it names with `crate::`,
# and then the cycles (pairs that name each other). docs/DESIGN.md's module
# map is checked against it by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - <<'PY'
import os, re, collections
src = "src"
mods = sorted({f[:-3] if f.endswith(".rs") else f for f in os.listdir(src)} - {"main", "lib"})
deps = collections.defaultdict(set)
for m in mods:
    paths = []
    if os.path.isdir(os.path.join(src, m)):
        for root, _, files in os.walk(os.path.join(src, m)):
            paths += [os.path.join(root, f) for f in files if f.endswith(".rs")]
    if os.path.isfile(os.path.join(src, m + ".rs")):
        paths.append(os.path.join(src, m + ".rs"))
    for p in paths:
        text = open(p, encoding="utf-8").read()
        # Test modules may reach anywhere; they are not part of the layering.
        text = re.split(r"#\[cfg\(test\)\]\s*mod tests", text)[0]
        for d in re.findall(r"crate::(\w+)", text):
            if d != m and d in mods:
                deps[m].add(d)
for m in mods:
    print(f"{m:10} -> {', '.join(sorted(deps[m])) or '-'}")
cycles = sorted({tuple(sorted((a, b))) for a in mods for b in deps[a] if a in deps[b]})
print()
print("cycles:", ", ".join(f"{a} <-> {b}" for a, b in cycles) or "none")
PY
