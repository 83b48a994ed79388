#!/usr/bin/env bash
# The pass rate of each shipped rule's validator on random strings of the
# rule's bare shapes (one million each, fixed seed): how much evidence each
# check gives. docs/DESIGN.md ("Evidence") quotes this table.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked -q --lib engine::tests::pass_rate_table -- --ignored --nocapture 2>/dev/null |
    grep '^|'
