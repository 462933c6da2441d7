# Shared environment for the project's scripts (sourced, not run).
# One toolchain for host and WASM (Debian's rustc-web, linked into rustup as debian-web, see
# scripts/setup.sh) and a build cache outside the clone, so fresh clones (CI) build warm.
export RUSTUP_TOOLCHAIN="${RUSTUP_TOOLCHAIN:-debian-web}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/proxfleet/target}"
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"
# Where cargo-leptos writes the site (site-root = "target/site" is relative to the workspace).
PROXFLEET_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PROXFLEET_ROOT
