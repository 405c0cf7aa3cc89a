#!/usr/bin/env bash
# Installs the Debian packages the test suite needs (browser, C++ toolchains, linters),
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
  # The firmware's real-header check: a 32-bit newlib cross compiler stands in for the ESP32's.
  [arm-none-eabi-g++]=gcc-arm-none-eabi
  [debootstrap]=debootstrap
  [systemd-nspawn]=systemd-container
)
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
[ -f /usr/include/doctest/doctest.h ] || missing+=(doctest-dev)
# The firmware core verifies signed updates with libsodium (the ESP-IDF ships the same library).
[ -f /usr/include/sodium.h ] || missing+=(libsodium-dev)
[ -f /usr/lib/arm-none-eabi/newlib/libstdc++.a ] || missing+=(libstdc++-arm-none-eabi-newlib)

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
