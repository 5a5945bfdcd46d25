#!/bin/bash
# ci/docs/setup-chromium.sh -- Debian's chromium for the docs session's rendering checks
# (docs/tests/test_site.py), as root. Nothing is done when chromium is already installed.
set -euo pipefail
if command -v chromium > /dev/null; then
    echo "chromium already installed: $(chromium --version 2>/dev/null || true)"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends chromium
chromium --version
