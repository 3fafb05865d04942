#!/usr/bin/env bash
# Installs the reference peer's npm dependency (`oidc-provider`, see
# ../shared/peers/oidc-provider/README.md) for `cargo bench --bench grants`, which compares the
# token endpoint with it in the same run. Idempotent; needs Node.js >= 20 and the npm registry.
# The dependency lands in the peer's own directory beside this repository (never committed
# anywhere); `SIGIL_PEER_DIR` names another copy of the peer.
#
# Exits 0 and prints why when the peer cannot be used (no Node.js, no peer directory): the
# benchmark then runs without it and says so.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
peer="${SIGIL_PEER_DIR:-$repo/../shared/peers/oidc-provider}"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup-peer: no node/npm on PATH; the benchmark runs without the reference peer" >&2
  exit 0
fi
if [ ! -f "$peer/provider.mjs" ]; then
  echo "setup-peer: no peer at $peer; the benchmark runs without the reference peer" >&2
  exit 0
fi
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 20 ]; then
  echo "setup-peer: Node.js $(node --version) is older than 20; the benchmark runs without the reference peer" >&2
  exit 0
fi
if [ ! -f "$peer/node_modules/oidc-provider/package.json" ]; then
  echo "setup-peer: npm install in $peer" >&2
  npm install --prefix "$peer" --no-audit --no-fund --loglevel=error >&2
fi
echo "$peer"
