#!/bin/sh
# Install headless Chromium for the report's browser test (tests/test_report.py).
# Debian/Ubuntu only; needs root (or sudo). Safe to rerun: does nothing when Chromium is present.
set -eu
if [ -x /usr/bin/chromium ] || [ -x /usr/bin/chromium-browser ]; then
    echo "chromium already installed"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends chromium
/usr/bin/chromium --version
