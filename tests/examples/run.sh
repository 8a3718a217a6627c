#!/usr/bin/env bash
# End-to-end tests of the runnable examples (examples/coaching, examples/crud, examples/chat, examples/dashboard): for
# each, the real server with the example's switchboard.toml, the example's real backend, and two
# tabs of Debian's chromium driven by playwright-core (the browser tests' harness, tests/browser/lib). Screenshots
# go to docs/examples/ with UPDATE_SCREENSHOTS=1 (else to the work folder). Usage: tests/examples/run.sh [node --test args...]
#   SWITCHBOARD_BIN  the server binary (default: build/switchboard of this tree)
#   CHROMIUM         the browser (default: /usr/bin/chromium)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] || { echo "tests/examples: $CHROMIUM not found (apt-get install -y chromium, or set CHROMIUM)." >&2; exit 1; }
bin="${SWITCHBOARD_BIN:-$root/build/switchboard}"
[ -x "$bin" ] || { echo "tests/examples: server binary $bin not found; build it first (make build) or set SWITCHBOARD_BIN." >&2; exit 1; }
command -v node >/dev/null || { echo "tests/examples: node not found (Node.js 20 or newer is needed)." >&2; exit 1; }

# playwright-core comes from the browser tests' pinned packages; each example installs its own.
(cd "$root/tests/browser" && { [ -d node_modules ] && [ ! package-lock.json -nt node_modules/.package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; })
"$root/examples/coaching/run.sh" build
"$root/examples/crud/run.sh" build
"$root/examples/chat/run.sh" build
"$root/examples/dashboard/run.sh" build

work="$(mktemp -d "${TMPDIR:-/tmp}/switchboard-examples.XXXXXX")"
export SB_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")" SB_WORK="$work"
cleanup() {
  local status=$? f pid
  # What a test left running (it failed before its own cleanup): servers and backends by pid file.
  for f in "$work"/*/server.pid "$work"/*/backend.pid; do
    [ -f "$f" ] || continue
    pid="$(cat "$f")"
    kill "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ]; then
    for f in "$work"/*/server.log "$work"/*/backend.log; do
      [ -f "$f" ] && { echo "--- last lines of $f ---" >&2; tail -n 20 "$f" >&2; }
    done
    echo "tests/examples: kept $work" >&2
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

node --test --test-concurrency=1 --test-timeout=90000 "$@" "$here"/*.test.mjs
