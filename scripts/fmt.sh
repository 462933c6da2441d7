#!/usr/bin/env bash
# Formats the workspace the house way (rustfmt.toml, leptosfmt.toml), or with --check only reports what differs
# (scripts/test.sh runs that before the tests). rustfmt comes from rustup's stable toolchain:
# Debian's rustc-web, which builds everything else, ships without it.
#
#   scripts/fmt.sh            rewrite files in place
#   scripts/fmt.sh --check    exit 1 and show the diff when a file is not formatted
set -euo pipefail
cd "$(dirname "$0")/.."
# leptosfmt (leptosfmt.toml) formats the view! macros, which rustfmt leaves alone; it runs twice
# because its first pass over freshly changed markup is not always its last word.
if [ "${1:-}" = "--check" ]; then
  RUSTUP_TOOLCHAIN=stable cargo fmt --all --check || { echo "not formatted: run scripts/fmt.sh"; exit 1; }
  leptosfmt --check --quiet app/src || { echo "view! macros not formatted: run scripts/fmt.sh"; exit 1; }
else
  leptosfmt --quiet app/src && leptosfmt --quiet app/src
  RUSTUP_TOOLCHAIN=stable cargo fmt --all
fi
