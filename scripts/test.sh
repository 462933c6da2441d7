#!/usr/bin/env bash
# Sets up what is missing, checks the house rules (format, clippy) and runs every test: unit and
# integration tests on SQLite and a throwaway PostgreSQL, the browser-build dependency guard,
# then the release build, the API conformance run (schemathesis) and the Playwright suite in
# Debian's Chromium (hydrated and JavaScript-off).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$PROXFLEET_ROOT"
scripts/setup.sh --test

work=$(mktemp -d /tmp/proxfleet-test.XXXXXX)
chmod 755 "$work"   # the postgres user must reach its data directory inside
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  scripts/pg.sh stop "$work/pg" || true
  rm -rf "$work"
}
trap cleanup EXIT

log() { printf '\n\033[1;34m== %s\033[0m\n' "$*"; }

log "house rules: rustfmt and clippy (scripts/lint.sh)"
scripts/lint.sh

log "throwaway PostgreSQL"
PROXFLEET_TEST_POSTGRES_URL=$(scripts/pg.sh start "$work/pg")
export PROXFLEET_TEST_POSTGRES_URL PROXFLEET_REQUIRE_POSTGRES=1
echo "$PROXFLEET_TEST_POSTGRES_URL"

log "browser build stays free of server crates"
forbidden=$(cargo tree -p frontend --target wasm32-unknown-unknown -e normal --prefix none 2>/dev/null \
  | grep -E '^(sqlx|sqlx-[a-z]+|tokio|reqwest|domain|mio) ' | sort -u || true)
if [ -n "$forbidden" ]; then
  echo "the WASM build pulls in server crates:"; echo "$forbidden"; exit 1
fi
echo "ok: no sqlx, tokio, reqwest, mio or domain in the frontend's dependency tree"

log "cargo test (unit + integration, SQLite and PostgreSQL)"
cargo test --workspace --exclude frontend --no-fail-fast 2>&1 | tee "$work/cargo-test.log"
cargo_status=${PIPESTATUS[0]}
[ "$cargo_status" -eq 0 ] || { echo "cargo test failed"; exit "$cargo_status"; }

log "release build (cargo leptos build --release --precompress)"
cargo leptos build --release --precompress

log "API conformance (schemathesis against /api/openapi.json, as a viewer and as an admin)"
conformance_status=0
scripts/api-conformance.sh 2>&1 | tee "$work/conformance.log" || conformance_status=${PIPESTATUS[0]}

log "Playwright in Chromium"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$CARGO_TARGET_DIR/release/proxfleet" --listen "127.0.0.1:$port" \
  --database-url "sqlite://$work/e2e/proxfleet.db" --sim-profile realistic:0.1 >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 1 200); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.err"; echo "server died"; exit 1; }
  sleep 0.1
done
# First start printed the one-time admin password; the browser tests log in with it, change it
# to a fresh random one, and use that from then on.
otp=$(sed -n "s/^First start: created user 'admin' with the one-time password: //p" "$work/server.out")
[ -n "$otp" ] || { cat "$work/server.out"; echo "the server printed no one-time admin password"; exit 1; }
new_admin_password="e2e-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
rm -rf end2end/.auth
(cd end2end && PROXFLEET_BASE_URL="http://127.0.0.1:$port" PROXFLEET_E2E_ADMIN_OTP="$otp" \
  PROXFLEET_E2E_ADMIN_PASSWORD="$new_admin_password" npx playwright test 2>&1) | tee "$work/e2e.log"
e2e_status=${PIPESTATUS[0]}
kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=""
if grep -qiE 'panicked|ERROR' "$work/server.err"; then
  echo "the server logged errors during the browser tests:"; grep -iE 'panicked|ERROR' "$work/server.err"; exit 1
fi
if grep -qF -e "$otp" -e "$new_admin_password" "$work/server.err"; then
  echo "a password reached the server log"; exit 1
fi

# One closing line for the whole run.
# (grep finds nothing when a count is zero; awk still prints 0.)
count() { { grep -oE "$1" "$2" || true; } | awk -v f="$3" '{s+=$f} END {print s+0}'; }
cargo_passed=$(count 'test result: [a-zA-Z]+\. [0-9]+ passed' "$work/cargo-test.log" 4)
cargo_failed=$(count '[0-9]+ failed;' "$work/cargo-test.log" 1)
e2e_passed=$(count '^ *[0-9]+ passed' "$work/e2e.log" 1)
e2e_failed=$(count '^ *[0-9]+ failed' "$work/e2e.log" 1)
echo
echo "cargo: $cargo_passed passed, $cargo_failed failed; playwright: $e2e_passed passed, $e2e_failed failed"
conformance=$([ "$conformance_status" -eq 0 ] && echo passed || echo FAILED)
echo "api conformance (schemathesis): $conformance"
echo "$((cargo_passed + e2e_passed)) passed, $((cargo_failed + e2e_failed)) failed"
[ "$e2e_status" -eq 0 ] && [ "$e2e_passed" -gt 0 ] && [ "$conformance_status" -eq 0 ]
