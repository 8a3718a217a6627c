#!/usr/bin/env bash
# Builds the web pages into web/dist (dashboard/ and demo/), which `switchboard serve` serves
# from its web_root. Installs the pinned packages first when node_modules is missing.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v npm >/dev/null 2>&1; then
  echo "web/build.sh: npm not found; install Node.js 20 or newer (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
