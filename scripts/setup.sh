#!/usr/bin/env bash
# Installs everything proxfleet needs to build, run and test on a fresh Debian 12 machine
# (see ../shared/TOOLCHAIN.md for why each step exists). Idempotent: when everything is
# already there it only checks and returns in seconds.
#
#   scripts/setup.sh           toolchain + build tools (enough to run the app)
#   scripts/setup.sh --test    also Chromium, Playwright, PostgreSQL and schemathesis for the tests
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WANT_TEST=0
[ "${1:-}" = "--test" ] && WANT_TEST=1

CARGO_LEPTOS_VERSION=0.3.11
TOOLCHAIN=debian-web
CACHE="${PROXFLEET_CACHE:-$HOME/.cache/proxfleet}"
mkdir -p "$CACHE" "$HOME/.cargo/bin"
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*" >&2; }

# --- apt packages ---------------------------------------------------------------------------
APT_UPDATED=0
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  if [ $APT_UPDATED -eq 0 ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# --- the wasm32-capable toolchain -------------------------------------------------------------
# rustup cannot download the wasm32 target here, so we use Debian's rustc-web (1.96) and build
# its wasm32 standard library once from rust-web-src.
wasm_std_ok() {
  local sysroot
  sysroot=$(RUSTUP_TOOLCHAIN=$TOOLCHAIN rustc --print sysroot 2>/dev/null) || return 1
  ls "$sysroot"/lib/rustlib/wasm32-unknown-unknown/lib/libstd-*.rlib >/dev/null 2>&1 || return 1
  [ -f "$sysroot/lib/rustlib/wasm32-unknown-unknown/.proxfleet-stamp" ] || return 0
  # Rebuild when Debian ships a new rustc-web.
  [ "$(cat "$sysroot/lib/rustlib/wasm32-unknown-unknown/.proxfleet-stamp")" = "$(RUSTUP_TOOLCHAIN=$TOOLCHAIN rustc -vV)" ]
}

setup_toolchain() {
  apt_install rustc-web cargo-web rust-web-src lld-22 pkg-config
  if ! rustup toolchain list | grep -q "^$TOOLCHAIN"; then
    log "rustup toolchain link $TOOLCHAIN /usr"
    rustup toolchain link "$TOOLCHAIN" /usr
  fi
  # rustc's default linker name for wasm32.
  local lld=/usr/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld
  if [ ! -e "$lld" ]; then
    mkdir -p "$(dirname "$lld")"
    ln -sf /usr/lib/llvm-22/bin/lld "$lld"
  fi
  if ! wasm_std_ok; then
    log "building the wasm32 standard library (about 2 minutes, once)"
    local tmp; tmp=$(mktemp -d)
    mkdir -p "$tmp/src"
    printf '[package]\nname = "wasmstd"\nversion = "0.0.0"\nedition = "2021"\n[lib]\npath = "src/lib.rs"\n' > "$tmp/Cargo.toml"
    : > "$tmp/src/lib.rs"
    (cd "$tmp" && PATH=/usr/bin:$PATH RUSTC_BOOTSTRAP=1 RUSTUP_TOOLCHAIN= \
      CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-22 CARGO_TARGET_DIR="$tmp/target" \
      /usr/bin/cargo build -q --release --target wasm32-unknown-unknown \
      -Zbuild-std=std,panic_abort,panic_unwind)
    local dest=/usr/lib/rustlib/wasm32-unknown-unknown/lib
    mkdir -p "$dest"
    find "$tmp/target/wasm32-unknown-unknown/release/deps" -name 'lib*.rlib' ! -name 'libwasmstd-*' \
      -exec cp {} "$dest/" \;
    RUSTUP_TOOLCHAIN=$TOOLCHAIN rustc -vV > /usr/lib/rustlib/wasm32-unknown-unknown/.proxfleet-stamp
    rm -rf "$tmp"
  fi
}

# --- cargo tools ------------------------------------------------------------------------------
locked_wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' "$ROOT/Cargo.lock"
}

setup_cargo_tools() {
  if ! cargo-leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
    log "cargo install cargo-leptos $CARGO_LEPTOS_VERSION (about 30 minutes, once per machine)"
    # No LTO and many codegen units: the binary behaves the same and builds in half the time.
    RUSTUP_TOOLCHAIN=$TOOLCHAIN CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
      CARGO_TARGET_DIR="$CACHE/install-target" \
      cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
  fi
  local wbv; wbv=$(locked_wasm_bindgen_version)
  if [ -n "$wbv" ] && ! wasm-bindgen --version 2>/dev/null | grep -q " $wbv\$"; then
    log "cargo install wasm-bindgen-cli $wbv (about 10 minutes, once per machine)"
    RUSTUP_TOOLCHAIN=$TOOLCHAIN CARGO_TARGET_DIR="$CACHE/install-target" \
      cargo install wasm-bindgen-cli --version "$wbv" --force
  fi
}

# rustfmt and clippy for scripts/lint.sh come from rustup's stable toolchain (Debian's rustc-web
# has neither); this kind of machine ships them, and rustup adds them if they are missing.
LEPTOSFMT_VERSION=0.1.33

setup_lint_tools() {
  local have; have=$(rustup component list --toolchain stable --installed 2>/dev/null || true)
  local c
  for c in rustfmt clippy; do
    if ! grep -q "^$c" <<<"$have"; then
      log "rustup component add $c (stable)"
      rustup component add --toolchain stable "$c"
    fi
  done
  # The view! macros' formatter (rustfmt leaves macro bodies alone).
  if ! leptosfmt --version 2>/dev/null | grep -q "$LEPTOSFMT_VERSION"; then
    log "cargo install leptosfmt $LEPTOSFMT_VERSION (about 3 minutes, once per machine)"
    cargo install leptosfmt --version "$LEPTOSFMT_VERSION" --locked
  fi
}

# --- npm tools (wasm-opt from binaryen, Playwright) -------------------------------------------
# Debian's binaryen is too old for current rustc output; npm's binaryen ships a working wasm-opt.
setup_npm_tools() {
  local tools="$CACHE/npm-tools"
  if [ ! -x "$tools/node_modules/.bin/wasm-opt" ]; then
    log "npm install binaryen (wasm-opt)"
    mkdir -p "$tools"
    (cd "$tools" && [ -f package.json ] || echo '{"private":true}' > "$tools/package.json")
    (cd "$tools" && npm install --silent --no-audit --no-fund binaryen@132 >/dev/null)
  fi
  ln -sf "$tools/node_modules/.bin/wasm-opt" "$HOME/.cargo/bin/wasm-opt"
}

# schemathesis (PyPI) checks the running API against its OpenAPI document; in a venv in the
# cache, so the machine's Python stays as it is.
SCHEMATHESIS_VERSION=4.32.5
setup_schemathesis() {
  local venv="$CACHE/schemathesis-venv"
  if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q " $SCHEMATHESIS_VERSION\$"; then
    log "pip install schemathesis $SCHEMATHESIS_VERSION (into $venv)"
    python3 -m venv "$venv" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$venv"; }
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
  fi
}

setup_test_tools() {
  setup_lint_tools
  setup_schemathesis
  apt_install chromium chromium-driver postgresql
  if [ ! -d "$ROOT/end2end/node_modules/@playwright/test" ] || \
     [ "$ROOT/end2end/package-lock.json" -nt "$ROOT/end2end/node_modules/.package-lock.json" ]; then
    log "npm ci in end2end/ (Playwright without browser downloads)"
    (cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --silent --no-audit --no-fund >/dev/null)
  fi
}

setup_toolchain
setup_npm_tools
[ $WANT_TEST -eq 1 ] && setup_test_tools
setup_cargo_tools
log "ready"
