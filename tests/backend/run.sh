#!/usr/bin/env bash
# The app's backend in the loop, end to end: tests/backend/test_backend.py drives the real server
# with app.py (FastAPI under uvicorn, Debian's python3-fastapi and python3-uvicorn) as its backend
# over https. Uses Debian's interpreter (scripts/install-deps.sh python). Extra args go to pytest.
#   SWITCHBOARD_BIN  the server binary (default: build/switchboard of this tree)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python=/usr/bin/python3
if ! "$python" -c 'import fastapi, uvicorn, websockets, pytest' 2>/dev/null; then
  echo "tests/backend: $python lacks fastapi, uvicorn, websockets or pytest: run scripts/install-deps.sh python" >&2
  exit 1
fi
command -v openssl >/dev/null || { echo "tests/backend: openssl not found (apt-get install -y openssl)" >&2; exit 1; }
export SWITCHBOARD_BIN="${SWITCHBOARD_BIN:-$here/../../build/switchboard}"
cd "$here"
exec "$python" -m pytest -q -p no:cacheprovider test_backend.py "$@"
