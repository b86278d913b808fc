#!/usr/bin/env bash
# Installs every Debian 12 package flashsale needs to build, test, run and benchmark.
# Idempotent: skips apt entirely when everything is already installed.
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libhiredis-dev libpq-dev prometheus-cpp-dev libspdlog-dev libfmt-dev libcli11-dev
  libssl-dev libcurl4-openssl-dev libjemalloc-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  redis-server redis-sentinel redis-tools
  postgresql postgresql-contrib postgresql-client
  nginx-light wrk procps iproute2 python3 curl python3-aiosmtpd
  clang libclang-rt-14-dev
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  # Debian's postinst scripts try to start redis/nginx/postgresql services; flashsale starts its
  # own servers on free ports, so keep the packaged services from starting.
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  $SUDO rm -f /usr/sbin/policy-rc.d
fi
# Node.js runs the official `stripe` npm client against our payment simulator (tests/e2e). Many
# machines ship their own Node.js (which bundles npm): only fall back to Debian's when none is there.
if ! command -v npm >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
