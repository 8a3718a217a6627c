#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, and only the missing ones.
# Safe to run again: when everything is present it does nothing and needs no network.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache
  libboost1.81-dev libboost-json1.81-dev
  libssl-dev zlib1g-dev libsqlite3-dev libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev
  libhiredis-dev libgtest-dev libgmock-dev libbenchmark-dev
  redis-server
  # `make package` and its test: dpkg-shlibdeps computes the package's Depends, and CPack's DEB
  # generator calls file(1) to find the binaries it hands to it.
  dpkg-dev file
)
# Extra groups: `web` (Node.js to build the pages), `browser` (and chromium, for the browser
# tests), `bench` (and nats-server, a benchmark peer), `python` (Debian's websockets, pytest,
# FastAPI and uvicorn: the Python client's tests and the Python example backends).
for group in "$@"; do
  case "$group" in
    bench) packages+=(nats-server nodejs npm) ;;
    web) packages+=(nodejs npm) ;;
    browser) packages+=(chromium nodejs npm) ;;
    python) packages+=(python3 python3-websockets python3-pytest python3-fastapi python3-uvicorn openssl) ;;
    *) echo "install-deps.sh: unknown group '$group'" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm may come from elsewhere than Debian (a machine's own Node.js); accept those.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]}")
fi
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
