#!/usr/bin/env bash
# Builds the dashboard's page (dashboard/, TypeScript and Vite) into dashboard/dist/, which is
# committed and compiled into the sigil binary (src/http/dashboard_page.rs): a machine with only
# Rust serves the dashboard without this script.
#
#   scripts/build-dashboard.sh           type-check and rebuild dashboard/dist/
#   scripts/build-dashboard.sh --check   rebuild into a temporary directory and fail when the
#                                        result differs from the committed dashboard/dist/ (CI)
#
# The npm packages are the exact versions of dashboard/package-lock.json (`npm ci`), from the
# npm registry. Needs Node.js 20.19 or later (Vite 8).
set -euo pipefail
scripts="$(cd "$(dirname "$0")" && pwd)"
cd "$scripts/../dashboard"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  "$scripts/apt-install.sh" nodejs npm
fi
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  echo "error: the dashboard builds with Node.js 20.19 or later; this machine has $(node --version)" >&2
  exit 1
fi

npm ci --no-audit --no-fund --loglevel=error
npx tsc --noEmit

if [ "${1:-}" = "--check" ]; then
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
  npx vite build --logLevel warn --outDir "$out/dist" --emptyOutDir
  if ! diff -r "$out/dist" dist; then
    echo "error: dashboard/dist/ is not what dashboard/ builds to: run scripts/build-dashboard.sh and commit dashboard/dist/" >&2
    exit 1
  fi
  echo "dashboard/dist/ matches its source"
  # The first page's budget: its JavaScript and CSS, gzip-compressed, under 300 KB.
  size=$(cat dist/assets/app.js dist/assets/app.css | gzip -9 | wc -c)
  if [ "$size" -gt 307200 ]; then
    echo "error: the dashboard's JS and CSS compress to $size bytes, over the 300 KB budget" >&2
    exit 1
  fi
  echo "dashboard JS and CSS: $size bytes gzip-compressed (budget 307200)"
else
  npx vite build
fi
