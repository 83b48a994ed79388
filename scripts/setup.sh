#!/usr/bin/env bash
# Installs what building and testing leakhound needs on a fresh Debian or
# Ubuntu machine (the Rust toolchain itself, 1.95 or later, must already be
# there), and makes .venv with the Python packages the corpus tests use.
# Run as root or with sudo available. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/setup-stamp.sh
. scripts/setup-stamp.sh

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
    build-essential pkg-config git ca-certificates \
    python3 python3-venv python3-pip \
    rsyslog rsyslog-gnutls openssl \
    systemd \
    time \
    chromium \
    lintian man-db dpkg-dev adduser binutils \
    logrotate \
    >/dev/null
# OCR (tests/media_formats.rs): Tesseract with English and the languages of
# the shipped rules, and poppler-utils (pdftoppm, pdfinfo) to render
# image-only PDF pages. The media fixtures are committed; regenerating them
# (tests/fixtures/media/make_*) needs 7zip, ghostscript and Pillow.
$SUDO apt-get install -y -qq --no-install-recommends \
    tesseract-ocr tesseract-ocr-eng poppler-utils >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends \
    tesseract-ocr-pol tesseract-ocr-ron tesseract-ocr-chi-sim tesseract-ocr-fas >/dev/null || true
# Outlook PST (tests/pst.rs): readpst, the independent reader the PST
# fixtures are cross-checked with.
$SUDO apt-get install -y -qq --no-install-recommends pst-utils >/dev/null
# logrotate: tests/redact_filter.rs runs examples/logrotate/leakhound-redact.
# chromium: tests/report.rs opens the HTML report in headless Chromium (the
# numbers it shows, the treemap, no console errors, a screenshot).
# time: tests/extract.rs measures peak memory with /usr/bin/time -v. The
# container fixtures it reads are committed; regenerating them
# (tests/fixtures/containers/make.sh) also needs gzip bzip2 xz-utils zstd zip.
# rsyslog: the sink tests (tests/rsyslog.rs) start their own rsyslogd on
# loopback ports; they never use the system's. A fresh install may start the
# system service: that is left alone.

# Slurm: tests/scale.rs (p4_...) starts its own munged, slurmctld and slurmd
# on this machine (tests/slurm_array.sh, ports 16817/16818, a scratch
# directory) and runs a sharded scan as a job array; with CI=true it fails
# when Slurm is missing.
$SUDO apt-get install -y -qq --no-install-recommends slurm-wlm munge ripgrep >/dev/null

# The CI-gate tests validate SARIF with Microsoft's reference validator, an
# npm package. Node.js may come from NodeSource (its nodejs package bundles
# npm and conflicts with Debian's npm), so install Debian's only when there is
# no npm yet.
if ! command -v npm >/dev/null 2>&1; then
    $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if ! command -v sarif-multitool >/dev/null 2>&1; then
    $SUDO npm install -g --no-fund --no-audit @microsoft/sarif-multitool@5.7.0 >/dev/null
fi

# systemd: tests/watch_systemd.rs runs `systemd-analyze verify` on the unit.
# lintian, man-db, dpkg-dev, adduser, binutils: tests/deb.sh builds the
# Debian package, lints it, installs it, and checks `man -w` and that the
# binary is stripped (readelf).

# The Debian package is built with cargo-deb (scripts/build-deb.sh); 3.8.0
# builds with Rust 1.95. A few minutes, once.
if ! cargo deb --version 2>/dev/null | grep -q "3\.8\.0"; then
    cargo install --locked --quiet cargo-deb --version 3.8.0
fi

# The corpus generator and scorer need python-stdnum (the reference for every
# validator) and faker (realistic filler text).
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -r tests/corpus/requirements.txt
# The pre-commit hook is tested with the real pre-commit.
.venv/bin/pip install -q --disable-pip-version-check pre-commit==4.7.0

# fmt and clippy are part of the test command.
if command -v rustup >/dev/null 2>&1; then
    rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi
# scripts/test.sh runs this script again only when it changed.
mkdir -p target
setup_hash > target/.setup-stamp
echo "setup done: Python venv in .venv; build with: cargo build --release"
