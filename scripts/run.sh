#!/usr/bin/env bash
# Sets up what is missing, builds the release app and runs it on the embedded defaults:
# SQLite in data/, the built-in simulated Proxmox cluster, http://127.0.0.1:3000/.
# Extra arguments go to the server (try --help).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$PROXFLEET_ROOT"
scripts/setup.sh
cargo leptos build --release --precompress
exec "$CARGO_TARGET_DIR/release/proxfleet" "$@"
