#!/usr/bin/env bash
# Installs what the real-browser test needs: Debian's Chromium and ChromeDriver
# (/usr/bin/chromium, /usr/bin/chromedriver). Idempotent; needs root or passwordless sudo.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
"$(dirname "$0")/apt-install.sh" chromium chromium-driver
command -v chromium >/dev/null && command -v chromedriver >/dev/null
echo "chromium: $(chromium --version 2>/dev/null)"
