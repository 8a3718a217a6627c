#!/usr/bin/env bash
# Starts the agent dashboard example: Switchboard (with switchboard.toml) and the FastAPI backend,
# which serves the page at http://127.0.0.1:3000/ and simulates an event every 3 s. Needs the
# server built (make build), Debian's python3-fastapi and python3-uvicorn, and Node.js 20 (to
# build the page).
#   ./run.sh          build the page, start both, stop both on Ctrl-C
#   ./run.sh build    only install the pinned packages and build the page (the tests use this)
# SWITCHBOARD_BIN overrides the server binary (default: build/switchboard of this repository).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
node_modules/.bin/tsc -p .   # type-check the page (esbuild only strips the types)
node build.mjs
[ "${1:-}" = build ] && exit 0

bin="${SWITCHBOARD_BIN:-$here/../../build/switchboard}"
[ -x "$bin" ] || { echo "run.sh: $bin not found: build the server first (make build)" >&2; exit 1; }
/usr/bin/python3 -c 'import fastapi, uvicorn' 2>/dev/null || { echo "run.sh: needs python3-fastapi and python3-uvicorn (apt-get install python3-fastapi python3-uvicorn)" >&2; exit 1; }
"$bin" serve --config switchboard.toml &
sb=$!; backend=""
trap 'kill $sb $backend 2>/dev/null; wait' EXIT INT TERM
until curl -sf http://127.0.0.1:8080/healthz >/dev/null; do sleep 0.2; done
SWITCHBOARD_API_KEY=dashboard-example-key-0123456789 DASHBOARD_SIMULATE=3 \
  /usr/bin/python3 backend/app.py &
backend=$!
echo "open http://127.0.0.1:3000/ and http://localhost:3000/ (two hosts: two sessions; users alice, bob, carol, password = the id; Ctrl-C stops both servers)"
wait $backend
