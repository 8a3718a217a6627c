#!/usr/bin/env bash
# Builds and tests the TypeScript client (and the React bindings and examples next to it)
# against a real server.
#   SWITCHBOARD_BIN  the server binary (default: ../../build/switchboard, relative to this script)
# Exits non-zero on any failure. Runs one test worker: the machine may be busy compiling.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SWITCHBOARD_BIN="$(realpath -m "${SWITCHBOARD_BIN:-$here/../../build/switchboard}")"
if [[ ! -x "$SWITCHBOARD_BIN" ]]; then
  echo "run-tests.sh: server binary not found or not executable: $SWITCHBOARD_BIN" >&2
  exit 1
fi

install() {  # npm ci when node_modules is missing or older than the lock file
  if [[ ! -d node_modules || package-lock.json -nt node_modules ]]; then
    npm ci --no-audit --no-fund
  fi
}

cd "$here"
install
npm test

if [[ -d "$here/../react" ]]; then
  cd "$here/../react"
  install
  npm test
fi

if [[ -d "$here/../examples" ]]; then
  cd "$here/../examples"
  install
  npm test
fi
