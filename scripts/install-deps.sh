#!/usr/bin/env bash
# Installs every system dependency of MOFA Local from Debian's packages, and the npm packages the
# tests compare against. Idempotent; safe to re-run.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
pkgs=(build-essential cmake ninja-build pkg-config git
  libhwy-dev nlohmann-json3-dev libcpp-httplib-dev libcli11-dev libonig-dev libutf8proc-dev
  libsentencepiece-dev libcurl4-openssl-dev libssl-dev libgtest-dev libgmock-dev libbenchmark-dev clang-format
  python3 python3-numpy python3-torch python3-jinja2 chromium
  libopenblas0-pthread python3-regex bible-kjv)
# Node.js: keep one that is already there (any >= 18), else take Debian's.
command -v node >/dev/null 2>&1 || pkgs+=(nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [ "${1:-}" = "--tests" ]; then
  (cd "$here/tests/node" && npm ci --no-audit --no-fund --loglevel=error)
fi
