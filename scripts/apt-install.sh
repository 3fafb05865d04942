#!/usr/bin/env bash
# Installs Debian packages, as root or through passwordless sudo: the one install step the
# setup scripts (setup-browser.sh, setup-tools.sh) share.
#
#   scripts/apt-install.sh PACKAGE...
set -euo pipefail
sudo=""
if [ "$(id -u)" != "0" ]; then
  sudo="sudo -n"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
