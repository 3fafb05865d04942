#!/usr/bin/env bash
# Builds the WebAssembly guests: the example hooks and the hostile test fixtures, for
# wasm32-unknown-unknown (and one WASI fixture for wasm32-wasip2). Installs the targets first.
# Output: $GUEST_TARGET_DIR/<target>/release/*.wasm (default target/guests).
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v rustup >/dev/null 2>&1; then
  rustup target add wasm32-unknown-unknown wasm32-wasip2 >/dev/null
fi

out="${GUEST_TARGET_DIR:-$PWD/target/guests}"
for ws in example-hooks tests/guests; do
  cargo build --quiet --release --target wasm32-unknown-unknown \
    --manifest-path "$ws/Cargo.toml" --target-dir "$out"
done
cargo build --quiet --release --target wasm32-wasip2 \
  --manifest-path tests/guests/Cargo.toml --target-dir "$out" -p wasi-guest
echo "guests built in $out"
