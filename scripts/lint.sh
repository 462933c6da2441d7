#!/usr/bin/env bash
# The house rules that scripts/test.sh checks before the tests: formatting (rustfmt.toml) and
# clippy with every warning an error, over the server side and over the browser build (the
# `frontend` crate with `app/hydrate`, linted for the host: it has no wasm32-only code, and
# Debian's rustc-web, the only toolchain with a wasm32 std here, ships without clippy).
#
# Fix locally with scripts/fmt.sh and `RUSTUP_TOOLCHAIN=stable cargo clippy --fix ...`.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$PROXFLEET_ROOT"
scripts/fmt.sh --check
# rustup's stable toolchain has clippy; its artifacts sit beside debian-web's in the same
# target directory (a different compiler, so neither evicts the other).
export RUSTUP_TOOLCHAIN=stable
cargo clippy --workspace --exclude frontend --all-targets --quiet -- -D warnings
cargo clippy -p frontend --all-targets --quiet -- -D warnings
echo "ok: formatted, and no clippy warning on the server side or in the browser build"
