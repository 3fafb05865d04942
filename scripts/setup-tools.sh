#!/usr/bin/env bash
# Installs the command-line tools the README walk-through uses and tests/readme.rs runs:
# curl (7.82 or later, for --json), jq, openssl and python3 (the demo legacy API), and gdb, with which scripts/test.sh prints
# the stacks of a hung test run, from Debian's packages. Idempotent; needs root or passwordless
# sudo when something is missing.
set -euo pipefail

missing=()
command -v jq >/dev/null 2>&1 || missing+=(jq)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v gdb >/dev/null 2>&1 || missing+=(gdb)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if ! command -v curl >/dev/null 2>&1 || ! curl --help all 2>/dev/null | grep -q -- '--json'; then
  missing+=(curl)
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
"$(dirname "$0")/apt-install.sh" "${missing[@]}"
command -v jq >/dev/null && command -v openssl >/dev/null && command -v gdb >/dev/null &&
  command -v python3 >/dev/null && curl --help all | grep -q -- '--json'
