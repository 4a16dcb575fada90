#!/usr/bin/env bash
# Installs the Debian packages gpusim builds against (no-op when all are present).
set -euo pipefail
need=()
for pkg in libsqlite3-dev libzstd-dev zlib1g-dev pkg-config zstd; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "install-deps: installing ${need[*]}" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
