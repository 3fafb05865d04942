#!/usr/bin/env bash
# The fault run (docs/deploy.md, "The fault run"): three nodes behind HAProxy on a PostgreSQL
# server of its own, under load; one node killed with kill -9 and started again, then
# PostgreSQL restarted; then what the clients were told is checked against the database and
# the report printed. Loopback only, about a minute and a half. The test suite runs the same
# test (tests/faults); this shows its report.
#
#   scripts/faults.sh            # a debug build, as the suite runs it
#   scripts/faults.sh --release  # the nodes built with optimizations (more load per second)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-cluster-tools.sh
exec cargo test "$@" --test faults -- --nocapture
