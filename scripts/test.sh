#!/usr/bin/env bash
# The test command: formatting, lints, and every test (unit, CLI, validator
# vectors, the generated-corpus recall/precision test), and, as root, the
# Debian package (tests/deb.sh). Runs scripts/setup.sh first when it has not
# run on this machine (or changed since): a fresh clone needs only this.
# LEAKHOUND_SKIP_DEB=1 leaves the package test out.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/setup-stamp.sh
. scripts/setup-stamp.sh
if [ "$(cat target/.setup-stamp 2>/dev/null)" != "$(setup_hash)" ]; then
    echo "test.sh: running scripts/setup.sh first (first run, or it changed)"
    scripts/setup.sh
fi
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
if [ "$(id -u)" -eq 0 ] && [ -z "${LEAKHOUND_SKIP_DEB:-}" ] && [ $# -eq 0 ]; then
    tests/deb.sh
fi
cargo test --locked "$@"
