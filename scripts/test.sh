#!/usr/bin/env bash
# The whole test suite: unit tests, and the integration suite against SQLite and against the
# PostgreSQL server at $SIGIL_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test).
# A missing PostgreSQL is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

pg_url="${SIGIL_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
if command -v pg_isready >/dev/null 2>&1; then
  if ! pg_isready -q -d "$pg_url"; then
    echo "error: PostgreSQL is not reachable at $pg_url (the suite runs every test on it too)" >&2
    exit 1
  fi
fi

# Chromium and ChromeDriver for the real-browser login test; curl, jq and openssl for the
# README walk-through (tests/readme.rs).
./scripts/setup-browser.sh
./scripts/setup-tools.sh
# HAProxy and PgBouncer for the cluster script's test (tests/api/cluster_script.rs) and the
# PgBouncer tests (tests/api/pgbouncer.rs).
./scripts/setup-cluster-tools.sh

# The wasm32 targets of the example hooks and the hostile fixtures the tests run; the build
# script of crates/test-guests compiles them (scripts/build-hooks.sh does the same for benches).
if command -v rustup >/dev/null 2>&1; then
  rustup target add wasm32-unknown-unknown wasm32-wasip2 >/dev/null
fi

# The hooks SDK's own unit tests (its allocator), natively.
cargo test --quiet --manifest-path hooks-sdk/Cargo.toml --target-dir "${CARGO_TARGET_DIR:-$PWD/target}/sdk"

# The compile-isolation test measures another tenant's login throughput during a compile load
# against its throughput before and after. Beside the rest of the suite, whatever test happens
# to run next to it shares the CPU with its windows unevenly (CI once measured 47% against the
# contract's 50%, a run alone 69% to 78%), so it is `#[ignore]`d in the suite and runs here
# alone, after the others, one back-end at a time.
cargo test --workspace --all-targets "$@"
cargo test --test api -- --ignored compile_load_leaves_other_tenants_half_their_login_throughput \
  --test-threads=1
