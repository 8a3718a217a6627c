#!/usr/bin/env bash
# Smoke test of the benchmark harness against Switchboard: starts the server on a free
# loopback port, runs every Switchboard scenario of bench/run.sh for about a second at small
# scale, and fails if a scenario errors or loses a message. The cluster scenario (two nodes
# on one Redis) runs too when redis-server is installed and the server accepts a [cluster]
# table; otherwise it is reported as SKIP.
#
#   SWITCHBOARD_BIN=build/switchboard bench/smoke.sh
#
# Environment: SWITCHBOARD_BIN (default build/switchboard), SB_LOADGEN (default: next to the
# server binary in bench/sb-loadgen, else another build tree, else built standalone).
# Exit status 0 when every scenario passed; the last line reads "N passed, N failed".
set -uo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_DIR="$ROOT_DIR/bench"
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

SWITCHBOARD_BIN=${SWITCHBOARD_BIN:-build/switchboard}
case $SWITCHBOARD_BIN in /*) ;; *) SWITCHBOARD_BIN="$ROOT_DIR/$SWITCHBOARD_BIN" ;; esac
if [ ! -x "$SWITCHBOARD_BIN" ]; then
  log "smoke: no switchboard binary at $SWITCHBOARD_BIN (set SWITCHBOARD_BIN)"
  exit 1
fi
# shellcheck disable=SC2034 # used by lib.sh
SERVER_CPU=()
WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sb-bench-smoke.XXXXXX")
trap 'stop_server; rm -rf "$WORK_DIR"' EXIT
trap 'exit 130' INT TERM

LOADGEN=$(find_loadgen) || { log "smoke: cannot find or build sb-loadgen"; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); log "PASS $1"; }
fail() { FAILED=$((FAILED + 1)); log "FAIL $1"; }

if "$LOADGEN" --self-test; then pass "loadgen self-test"; else fail "loadgen self-test"; fi

# check NAME JSON: the run finished, nothing lost, no error of any kind, something delivered.
check() {
  local name=$1 json=$2 verdict
  verdict=$(printf '%s' "$json" | /usr/bin/python3 -c '
import json, sys
try:
    d = json.loads(sys.stdin.read().strip().splitlines()[-1])
except Exception:
    print("no JSON result from the loadgen"); sys.exit()
problems = []
if not d.get("ok"): problems.append("error: %s" % d.get("error"))
if d.get("lost"): problems.append("lost %d of %d deliveries" % (d["lost"], d.get("expected", 0)))
if d.get("duplicates"): problems.append("%d duplicate deliveries" % d["duplicates"])
errs = d.get("errors") or {}
if errs.get("total"): problems.append("errors %s" % json.dumps(errs))
if not d.get("received"): problems.append("nothing was delivered")
if problems: print("; ".join(problems))
else:
    lat = d.get("latency_us") or {}
    if d.get("mode") == "idle":
        print("OK %d connections, %.0f connects/s, %s B/connection, p99 %s us" % (d["connections"], d["connect_rate"], d.get("rss_per_conn_bytes"), lat.get("p99")))
    else:
        print("OK %d publishes, %.0f deliveries/s, p99 %s us" % (d["publishes"], d.get("deliveries_per_s", 0), lat.get("p99")))
')
  if [[ $verdict == OK* ]]; then pass "$name: ${verdict#OK }"; else fail "$name: $verdict"; fi
}

# run_scenario NAME PORT ARGS...   (ARGS may name more servers: --port2, --server-pid)
run_scenario() {
  local name=$1 port=$2 out
  shift 2
  out=$(timeout 120 "$LOADGEN" --quiet --port "$port" --dialect switchboard --server-pid "$SERVER_PID" \
    --duration 1 --warmup 0.2 --drain 5 "$@" 2>>"$WORK_DIR/loadgen.log")
  check "$name" "$out"
}

# Like bench/run.sh: with bench/switchboard-bench.toml (lifted rate limits, the bench-history
# namespace) when the server accepts it; otherwise with its defaults, and no history check.
CONFIG=(--config "$BENCH_DIR/switchboard-bench.toml")
PORT=$(free_port)
if ! start_server switchboard "$PORT" "$WORK_DIR/server.log" "${CONFIG[@]}"; then
  log "NOTE switchboard refused bench/switchboard-bench.toml: $(tail -n 2 "$WORK_DIR/server.log" | tr '\n' ' ')"
  log "SKIP history scenarios; running the others with the server's default limits"
  CONFIG=()
  PORT=$(free_port)
  if ! start_server switchboard "$PORT" "$WORK_DIR/server.log"; then
    fail "switchboard did not start: $(tail -n 5 "$WORK_DIR/server.log" | tr '\n' ' ')"
    echo "$PASSED passed, $FAILED failed"
    exit 1
  fi
fi
log "switchboard pid $SERVER_PID on 127.0.0.1:$PORT, loadgen $LOADGEN"

# The shapes of bench/run.sh, scaled down.
run_scenario "fanout (ws publisher, closed loop)" "$PORT" --channels 2 --subs-per-channel 20 --publishers 1 --rate max --window 400
run_scenario "fanout-http (HTTP publisher)" "$PORT" --channels 2 --subs-per-channel 20 --publishers 1 --rate max --publish-via http
run_scenario "wide (several publishers)" "$PORT" --channels 10 --subs-per-channel 10 --publishers 4 --rate max --window 1000
run_scenario "open loop (fixed rate)" "$PORT" --channels 2 --subs-per-channel 20 --publishers 1 --rate 200
run_scenario "payload 1 KiB" "$PORT" --channels 4 --subs-per-channel 10 --publishers 2 --rate max --window 400 --payload 1024
run_scenario "payload 16 KiB" "$PORT" --channels 4 --subs-per-channel 10 --publishers 2 --rate max --window 200 --payload 16384
run_scenario "idle 200" "$PORT" --idle 200 --sample 50
# The loadgen's two-node split, against one server given twice (the cluster run below needs Redis).
run_scenario "subscribers split over --port and --port2" "$PORT" --port2 "$PORT" --channels 2 --subs-per-channel 20 \
  --publishers 1 --rate max --window 400
if [ ${#CONFIG[@]} -gt 0 ]; then
  run_scenario "history on" "$PORT" --channels 4 --subs-per-channel 10 --publishers 2 --rate max --window 400 \
    --channel-prefix bench-history:
  run_scenario "history off" "$PORT" --channels 4 --subs-per-channel 10 --publishers 2 --rate max --window 400 \
    --channel-prefix bench.
fi
stop_server

# cluster: two nodes on one Redis, subscribers split across them (a few seconds).
if ! command -v redis-server >/dev/null; then
  log "SKIP cluster: redis-server not installed"
else
  probe=$WORK_DIR/cluster-probe.toml
  cluster_config "${CONFIG[1]:-}" "$probe" "redis://127.0.0.1:$(free_port)"
  if ! probe_out=$("$SWITCHBOARD_BIN" check-config --config "$probe" 2>&1); then
    log "SKIP cluster: switchboard does not accept a [cluster] table: $(printf '%s' "$probe_out" | tail -n 1)"
  elif ! start_cluster switchboard "$WORK_DIR/cluster" "${CONFIG[1]:-}"; then
    fail "cluster: two nodes on Redis did not start: $(tail -n 5 "$WORK_DIR"/cluster-node*.log 2>/dev/null | tr '\n' ' ' | cut -c1-400)"
  else
    run_scenario "cluster (two nodes on Redis, subscribers split)" "${CLUSTER_PORTS[0]}" --port2 "${CLUSTER_PORTS[1]}" \
      --server-pid "$CLUSTER_PIDS" --channels 2 --subs-per-channel 20 --publishers 1 --rate max --window 400
  fi
  stop_server
fi

if [ "$FAILED" -gt 0 ]; then
  log "--- loadgen stderr ---"
  tail -n 20 "$WORK_DIR/loadgen.log" >&2 || true
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
