#!/usr/bin/env bash
# Browser tests of the dashboard (/dashboard/) and the demo (/demo/): builds web/, starts
# build/switchboard on a free loopback port with a temporary data dir, and drives Debian's chromium
# with playwright-core (no browser download). Usage: tests/browser/run.sh [node --test args...]
#   SWITCHBOARD_BIN  the server binary (default: build/switchboard of this tree)
#   CHROMIUM         the browser (default: /usr/bin/chromium)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  echo "tests/browser: $CHROMIUM not found. Install Debian's chromium (apt-get install -y chromium) or set CHROMIUM." >&2
  exit 1
fi
bin="${SWITCHBOARD_BIN:-$here/../../build/switchboard}"
if [ ! -x "$bin" ]; then
  echo "tests/browser: server binary $bin not found; build it first (make build) or set SWITCHBOARD_BIN." >&2
  exit 1
fi
command -v node >/dev/null || { echo "tests/browser: node not found (Node.js 20 or newer is needed)." >&2; exit 1; }

cd "$here"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
"$root/web/build.sh"

work="$(mktemp -d "${TMPDIR:-/tmp}/switchboard-browser.XXXXXX")"
export SB_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
export SB_DATA_DIR="$work/data" SB_CONFIG="$work/switchboard.toml" SB_PIDFILE="$work/server.pid" SB_LOG="$work/server.log"
export SB_WORK="$work"
mkdir -p "$SB_DATA_DIR"
cleanup() {
  local status=$?
  if [ -f "$SB_PIDFILE" ]; then
    local pid
    pid="$(cat "$SB_PIDFILE")"
    if kill "$pid" 2>/dev/null; then
      # Graceful shutdown takes up to limits.close_timeout (3 s); then it is killed.
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
    fi
  fi
  if [ "$status" -ne 0 ] && [ -f "$SB_LOG" ]; then
    echo "--- last lines of the server log ($SB_LOG) ---" >&2
    tail -n 30 "$SB_LOG" >&2 || true
  fi
  # Keep the work dir (log, screenshots) when something failed.
  if [ "$status" -eq 0 ]; then rm -rf "$work"; else echo "tests/browser: kept $work" >&2; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export SB_PORT="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
cat >"$SB_CONFIG" <<TOML
web_root = "$root/web/dist"

[namespaces.chat]
client_publish = true
history_size = 1000
presence = true
join_leave = true

[namespaces.ai]
client_publish = true
history_size = 100
TOML

node lib/server-ctl.mjs start
node --test --test-concurrency=1 --test-timeout=60000 "$@" test/
