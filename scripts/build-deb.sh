#!/usr/bin/env bash
# Builds the Debian package: target/debian/leakhound_<version>_<arch>.deb
# (and leakhound-dbgsym_....ddeb, the debug symbols cargo-deb splits out of the
# binary). Needs cargo-deb (scripts/setup.sh installs it). The build is the
# `deb` profile: the release profile, with the line tables kept in the
# binary for cargo-deb to split off (docs/packaging.md).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-deb >/dev/null 2>&1; then
    echo "build-deb: cargo-deb is missing: run scripts/setup.sh (or cargo install cargo-deb --locked --version 3.8.0)" >&2
    exit 2
fi

# Man pages and shell completions, from the clap definition.
rm -rf target/assets
cargo run --locked --quiet --example gen-assets -- target/assets

# LEAKHOUND_DEB_PROFILE=dev packages the debug build instead: the same
# package, built in seconds after the tests' own build, which is how CI tests
# the packaging within its time budget (docs/packaging.md). What ships is
# the `deb` profile.
profile="${LEAKHOUND_DEB_PROFILE:-deb}"
cargo build --locked --profile "$profile" --bin leakhound
# The assets name target/release/leakhound: cargo-deb reads that as the
# profile's own directory (target/deb) and strips the binary it finds there.
cargo deb --locked --no-build --profile "$profile" "$@"
ls -l target/debian/*.deb
