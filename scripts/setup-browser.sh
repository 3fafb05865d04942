#!/usr/bin/env bash
# Installs what the real-browser test needs: Debian's Chromium and ChromeDriver
# (/usr/bin/chromium, /usr/bin/chromedriver). Idempotent; needs root or passwordless sudo.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
sudo=""
if [ "$(id -u)" != "0" ]; then
  sudo="sudo -n"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
command -v chromium >/dev/null && command -v chromedriver >/dev/null
echo "chromium: $(chromium --version 2>/dev/null)"
