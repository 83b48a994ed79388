#!/usr/bin/env bash
# The test command: formatting, lints, and every test (unit, CLI, validator
# vectors, the generated-corpus recall/precision test). Run scripts/setup.sh
# once first.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked "$@"
