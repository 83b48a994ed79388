# Sourced by scripts/setup.sh and scripts/test.sh: what a finished setup
# is stamped with (target/.setup-stamp), so that test.sh runs the setup
# itself on a fresh clone, or when the setup or its requirements changed,
# and not otherwise.
setup_hash() {
    cat scripts/setup.sh scripts/setup-stamp.sh tests/corpus/requirements.txt | sha256sum | cut -d' ' -f1
}
