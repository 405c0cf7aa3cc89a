#!/usr/bin/env bash
# Installs the Debian packages the test suite needs (browser, C++ toolchain, linters),
# or, when not root, names the missing ones and stops.
set -euo pipefail

declare -A need=(
  [chromium]=chromium
  [g++]=g++
  [cmake]=cmake
  [shellcheck]=shellcheck
  [systemd-analyze]=systemd
  [curl]=curl
  [nginx]=nginx-light
  [openssl]=openssl
  [debootstrap]=debootstrap
  [systemd-nspawn]=systemd-container
)
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
[ -f /usr/include/doctest/doctest.h ] || missing+=(doctest-dev)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "make test needs these Debian packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
