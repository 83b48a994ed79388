#!/usr/bin/env bash
# The Debian package on this machine, for real: build it, lintian it, install
# it, check what it installed, remove it (config and state stay), purge it
# (nothing stays). Run by scripts/test.sh as root (CI is); it installs and
# removes the `leakhound` package system-wide, so it refuses to run when
# leakhound is already installed from elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "deb.sh: FAIL: $*" >&2; exit 1; }
step() { echo "deb.sh: $*"; }

[ "$(id -u)" -eq 0 ] || fail "must run as root (dpkg -i)"
if dpkg-query -W -f='${Status}' leakhound 2>/dev/null | grep -q "ok installed"; then
    fail "a leakhound package is already installed: remove it first (dpkg -P leakhound)"
fi
[ -e /usr/bin/leakhound ] && fail "/usr/bin/leakhound exists and is not from the package"

if [ -z "${LEAKHOUND_DEB:-}" ]; then
    step "building the package (scripts/build-deb.sh)"
    scripts/build-deb.sh >/dev/null
fi
deb="${LEAKHOUND_DEB:-$(ls -t target/debian/leakhound_*.deb | head -1)}"
dbgsym="$(ls -t target/debian/leakhound-dbgsym_*.ddeb 2>/dev/null | head -1 || true)"
[ -f "$deb" ] || fail "no package in target/debian"
[ -n "$dbgsym" ] || fail "no leakhound-dbgsym package beside $deb"

step "lintian $deb"
# Errors fail the test; warnings are printed for people.
lintian --fail-on error --tag-display-limit 0 "$deb" || fail "lintian reports errors"
# The -dbgsym package is cargo-deb's own making: it carries no copyright
# file or changelog and says priority `extra` (as Debian's automatic
# -dbgsym packages, which lintian is not run on, carry no files of their
# own either). Those three tags are left out for it, nothing else.
lintian --fail-on error --tag-display-limit 0 \
    --suppress-tags no-copyright-file,no-changelog,unknown-priority "$dbgsym" \
    || fail "lintian reports errors in $dbgsym"

cleanup() {
    dpkg -P leakhound-dbgsym >/dev/null 2>&1 || true
    dpkg -P leakhound >/dev/null 2>&1 || true
}
trap cleanup EXIT

step "dpkg -i"
dpkg -i "$deb" "$dbgsym" >/dev/null
leakhound --version | grep -q "^leakhound " || fail "leakhound --version"
leakhound rules check >/dev/null || fail "leakhound rules check (built-in rules)"
leakhound rules check /usr/share/leakhound/rules >/dev/null || fail "leakhound rules check on the shipped rules"
leakhound --config /etc/leakhound/leakhound.yaml config check >/dev/null \
    || fail "the shipped /etc/leakhound/leakhound.yaml does not pass config check"
unit=$(systemctl show -P FragmentPath leakhound.service 2>/dev/null || true)
[ -n "$unit" ] && [ -f "$unit" ] || unit=$(dpkg -L leakhound | grep '/leakhound\.service$' | head -1)
[ -f "$unit" ] || fail "no leakhound.service installed"
systemd-analyze verify "$unit" || fail "systemd-analyze verify $unit"
man -w leakhound >/dev/null || fail "man -w leakhound"
man -w leakhound-scan >/dev/null || fail "man -w leakhound-scan"
for c in /usr/share/bash-completion/completions/leakhound \
         /usr/share/zsh/vendor-completions/_leakhound \
         /usr/share/fish/vendor_completions.d/leakhound.fish; do
    [ -s "$c" ] || fail "missing completion $c"
done
getent passwd leakhound >/dev/null || fail "no leakhound system user"
[ "$(stat -c %U:%a /var/lib/leakhound)" = "leakhound:700" ] || fail "/var/lib/leakhound: $(stat -c %U:%a /var/lib/leakhound)"
[ "$(stat -c %U /var/log/leakhound)" = "leakhound" ] || fail "/var/log/leakhound owner"
[ "$(stat -c %G:%a /etc/leakhound/leakhound.yaml)" = "leakhound:640" ] || fail "/etc/leakhound/leakhound.yaml: $(stat -c %G:%a /etc/leakhound/leakhound.yaml)"
dpkg-query -W -f='${Conffiles}\n' leakhound | grep -q /etc/leakhound/leakhound.yaml || fail "leakhound.yaml is not a conffile"
# Stripped: no DWARF left in the shipped binary (`.debug_gdb_scripts`, the
# pretty-printers' pointer, is not DWARF); the line tables are in -dbgsym.
if readelf -S -W /usr/bin/leakhound | grep -Eq '\.debug_(info|line|abbrev|str|ranges|rnglists)'; then
    fail "/usr/bin/leakhound is not stripped"
fi
dpkg -L leakhound-dbgsym | grep -q '^/usr/lib/debug/.build-id/.*\.debug$' || fail "no debug file in leakhound-dbgsym"
# A scan by the installed binary, as the daemon's user.
out=$(runuser -u leakhound -- env LEAKHOUND_STATE_DIR=/var/lib/leakhound \
      leakhound scan --format jsonl --progress never examples/sample 2>/dev/null || true)
echo "$out" | grep -q '"type":"finding"' || fail "the installed binary found nothing in examples/sample"

step "dpkg -r: the configuration and the state stay"
echo "state" > /var/lib/leakhound/marker
dpkg -r leakhound-dbgsym leakhound >/dev/null
[ ! -e /usr/bin/leakhound ] || fail "/usr/bin/leakhound left after dpkg -r"
[ ! -e /usr/share/man/man1/leakhound.1.gz ] || fail "man page left after dpkg -r"
[ -f /etc/leakhound/leakhound.yaml ] || fail "dpkg -r removed the configuration"
[ -f /var/lib/leakhound/marker ] || fail "dpkg -r removed the state"
left=$(dpkg -L leakhound 2>/dev/null | grep -v -e '^/etc' -e '^/\.$' | while read -r p; do [ -f "$p" ] && echo "$p"; done || true)
[ -z "$left" ] || fail "files left after dpkg -r: $left"

step "dpkg -P: nothing stays (the quarantine is empty)"
dpkg -P leakhound >/dev/null
for p in /etc/leakhound /var/lib/leakhound /var/log/leakhound /usr/share/leakhound /usr/share/doc/leakhound; do
    [ ! -e "$p" ] || fail "$p left after dpkg -P"
done

step "dpkg -P keeps a quarantine that still holds files"
dpkg -i "$deb" >/dev/null
install -d -m 0700 /var/lib/leakhound/quarantine/objects
echo "a user's file" > /var/lib/leakhound/quarantine/objects/20261123T121042-b4cc5d7c
dpkg -P leakhound >/dev/null 2>&1
[ -f /var/lib/leakhound/quarantine/objects/20261123T121042-b4cc5d7c ] || fail "purge deleted a quarantined file"
rm -rf /var/lib/leakhound

trap - EXIT
echo "deb.sh: the package builds, installs, works, removes and purges cleanly"
