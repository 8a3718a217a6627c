#!/usr/bin/env bash
# Tests the Python client against a real server (the binary is not built here).
#   SWITCHBOARD_BIN  the server binary (default: ../../build/switchboard, relative to this script)
# Uses Debian's interpreter, which has python3-websockets and python3-pytest
# (scripts/install-deps.sh python). Exits non-zero on any failure, "no tests collected" included.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SWITCHBOARD_BIN="$(realpath -m "${SWITCHBOARD_BIN:-$here/../../build/switchboard}")"
if [[ ! -x "$SWITCHBOARD_BIN" ]]; then
  echo "run-tests.sh: server binary not found or not executable: $SWITCHBOARD_BIN" >&2
  exit 1
fi
python=/usr/bin/python3
if ! "$python" -c 'import websockets, pytest' 2>/dev/null; then
  echo "run-tests.sh: $python lacks websockets or pytest: run scripts/install-deps.sh python" >&2
  exit 1
fi
cd "$here"
# -p no:cacheprovider: leave no .pytest_cache in the source tree.
# pytest exits 5 when it collected no test: that is a failure here too (set -e).
exec "$python" -m pytest -q -p no:cacheprovider tests "$@"
