#!/usr/bin/env bash
# Runs the Switchboard benchmark against Switchboard and its peers (Node ws, Socket.IO,
# NATS over WebSocket) and writes bench/results/latest.{json,md,svg}.
#
#   bench/run.sh [--quick] [--servers "switchboard ws socketio nats"] [--only "fanout wide ..."]
#
#   --quick     1 run per scenario, 2 s measurements, no 100k-connection scenario (about 5 min)
#   --servers   which servers to run (default: all four; a missing one is reported as skipped)
#   --only      which scenarios to run (default: all; see SCENARIOS below); `cluster` runs
#               both cluster scenarios (cluster and cluster-fixed)
#
# The cluster scenarios run Switchboard and Socket.IO twice each: one node, then two nodes
# on one Redis (redis-server, started on a free port for each run) with the subscribers
# split across them.
#
# Environment: SWITCHBOARD_BIN (default build-bench/switchboard), SB_LOADGEN (default: found
# in the build trees, or built standalone), BENCH_REPS / BENCH_DURATION to override the
# repetitions and the measured seconds, BENCH_RESULTS_DIR to write the results elsewhere.
#
# Every server is started fresh for every run, on a free loopback port, pinned to CPU 0
# while the load generator is pinned to CPU 1 (when there are at least 2 CPUs), and stopped
# afterwards, also on failure or Ctrl-C.
set -uo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_DIR="$ROOT_DIR/bench"
cd "$ROOT_DIR" || exit 1
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

QUICK=0
SERVERS="switchboard ws socketio nats"
ONLY=""
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1 ;;
    --servers) SERVERS=$2; shift ;;
    --servers=*) SERVERS=${1#*=} ;;
    --only) ONLY=$2; shift ;;
    --only=*) ONLY=${1#*=} ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    *) log "run.sh: unknown argument '$1'"; exit 2 ;;
  esac
  shift
done

if [ "$QUICK" = 1 ]; then
  REPS=${BENCH_REPS:-1}; DURATION=${BENCH_DURATION:-2}; WARMUP=0.5; DRAIN=2; HOLD=1; QUIET_WAIT=15; QUIET_BUDGET=30; RETRIES_LEFT=3
  SCENARIOS="fanout fanout-http wide fanout-lat50 wide-lat50 fanout-fixed wide-fixed wide-1k wide-16k idle-10k history-off history-on cluster cluster-fixed"
else
  REPS=${BENCH_REPS:-3}; DURATION=${BENCH_DURATION:-10}; WARMUP=2; DRAIN=5; HOLD=5; QUIET_WAIT=120; QUIET_BUDGET=1800; RETRIES_LEFT=40
  SCENARIOS="fanout fanout-http wide fanout-lat50 wide-lat50 fanout-fixed wide-fixed wide-1k wide-16k idle-10k idle-100k history-off history-on cluster cluster-fixed"
fi
if [ -n "$ONLY" ]; then
  SCENARIOS=""
  for sc in $ONLY; do
    # `cluster` names the family: its throughput and its fixed-rate latency scenario.
    if [ "$sc" = cluster ]; then SCENARIOS+=" cluster cluster-fixed"; else SCENARIOS+=" $sc"; fi
  done
fi

SWITCHBOARD_BIN=${SWITCHBOARD_BIN:-build-bench/switchboard}
case $SWITCHBOARD_BIN in /*) ;; *) SWITCHBOARD_BIN="$ROOT_DIR/$SWITCHBOARD_BIN" ;; esac

RESULTS_DIR=${BENCH_RESULTS_DIR:-$BENCH_DIR/results}
WORK_DIR="$RESULTS_DIR/tmp/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$WORK_DIR"
RUNS="$WORK_DIR/runs.jsonl"
: >"$RUNS"
REPORT=(/usr/bin/python3 "$BENCH_DIR/report.py")

LOADGEN_PID=""
cleanup() {
  if [ -n "$LOADGEN_PID" ]; then
    kill -TERM "$LOADGEN_PID" 2>/dev/null || true
    wait "$LOADGEN_PID" 2>/dev/null || true
  fi
  stop_server
}
trap cleanup EXIT
trap 'log "run.sh: interrupted"; exit 130' INT TERM

# File descriptors: every connection costs one on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
FD_LIMIT=$(ulimit -n)

if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  # shellcheck disable=SC2034 # used by lib.sh
  SERVER_CPU=(taskset -c 0)
  CLIENT_CPU=(taskset -c 1)
  PINNING="server on CPU 0, loadgen on CPU 1"
  # A cluster gets the same one core as a single node: both nodes and their Redis share CPU 0,
  # so cluster/one-node is the cost of the broker hop at equal CPU, not a scale-out gain.
  CLUSTER_PINNING="both nodes and Redis share CPU 0, loadgen on CPU 1"
else
  # shellcheck disable=SC2034 # used by lib.sh
  SERVER_CPU=()
  CLIENT_CPU=()
  PINNING="none ($(nproc) CPU)"
  CLUSTER_PINNING="none ($(nproc) CPU): nodes, Redis and loadgen share the machine"
fi

LOADGEN=$(find_loadgen) || { log "run.sh: cannot build sb-loadgen"; exit 1; }
log "loadgen: $LOADGEN"
"$LOADGEN" --self-test || { log "run.sh: sb-loadgen self-test failed"; exit 1; }

# Which servers can run, and why not.
declare -A UNAVAILABLE=()
for s in $SERVERS; do
  case $s in
    switchboard)
      [ -x "$SWITCHBOARD_BIN" ] || UNAVAILABLE[$s]="no switchboard binary at $SWITCHBOARD_BIN"
      ;;
    ws | socketio)
      if [ -z "${PEERS_READY:-}" ]; then
        if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
          PEERS_READY="node or npm not installed"
        else
          log "installing peer dependencies (npm ci in bench/peers)"
          if (cd "$BENCH_DIR/peers" && npm ci --no-audit --no-fund --loglevel=error >&2); then
            PEERS_READY=ok
          else
            PEERS_READY="npm ci failed in bench/peers"
          fi
        fi
      fi
      [ "$PEERS_READY" = ok ] || UNAVAILABLE[$s]=$PEERS_READY
      ;;
    nats)
      command -v nats-server >/dev/null || UNAVAILABLE[$s]="nats-server not installed (apt-get install nats-server)"
      ;;
    *) log "run.sh: unknown server '$s'"; exit 2 ;;
  esac
done
for s in "${!UNAVAILABLE[@]}"; do log "WARNING: $s will be skipped: ${UNAVAILABLE[$s]}"; done

is_cluster_scenario() { [[ $1 == cluster || $1 == cluster-* ]]; }
WANT_CLUSTER=0
for sc in $SCENARIOS; do is_cluster_scenario "$sc" && WANT_CLUSTER=1; done

# Switchboard runs with bench/switchboard-bench.toml (lifted per-connection rate limits, and
# the bench-history namespace). If the server refuses it, the history scenarios are skipped
# and the others run with the server's defaults.
SB_CONFIG=()
SB_CONFIG_NOTE="none"
HISTORY_SKIP=""
if [[ " $SERVERS " == *" switchboard "* ]] && [ -z "${UNAVAILABLE[switchboard]:-}" ]; then
  probe_port=$(free_port)
  if start_server switchboard "$probe_port" "$WORK_DIR/config-probe.log" --config "$BENCH_DIR/switchboard-bench.toml"; then
    SB_CONFIG=(--config "$BENCH_DIR/switchboard-bench.toml")
    SB_CONFIG_NOTE="bench/switchboard-bench.toml"
  else
    HISTORY_SKIP="switchboard refused --config bench/switchboard-bench.toml: $(tail -n 3 "$WORK_DIR/config-probe.log" 2>/dev/null | tr '\n' ' ' | cut -c1-300)"
    SB_CONFIG_NOTE="none (bench/switchboard-bench.toml refused)"
    log "WARNING: $HISTORY_SKIP"
    log "WARNING: history scenarios skipped; the other Switchboard runs use the server's default limits"
  fi
  stop_server
fi

# The two-node deployments (switchboard-cluster, socketio-cluster) need redis-server, and
# Switchboard must accept a [cluster] table (check-config says so without starting a node).
declare -A CLUSTER_UNAVAILABLE=()
CLUSTER_NOTE=""
if [ "$WANT_CLUSTER" = 1 ]; then
  if ! command -v redis-server >/dev/null; then
    for s in switchboard socketio; do CLUSTER_UNAVAILABLE[$s]="redis-server not installed (apt-get install redis-server)"; done
  elif [[ " $SERVERS " == *" switchboard "* ]] && [ -z "${UNAVAILABLE[switchboard]:-}" ]; then
    probe_conf="$WORK_DIR/cluster-probe.toml"
    cluster_config "${SB_CONFIG[1]:-}" "$probe_conf" "redis://127.0.0.1:$(free_port)"
    if ! probe_out=$("$SWITCHBOARD_BIN" check-config --config "$probe_conf" 2>&1); then
      CLUSTER_UNAVAILABLE[switchboard]="switchboard does not accept a [cluster] table: $(printf '%s' "$probe_out" | tail -n 2 | tr '\n' ' ' | cut -c1-200)"
    fi
  fi
  for s in "${!CLUSTER_UNAVAILABLE[@]}"; do log "WARNING: $s on two nodes will be skipped: ${CLUSTER_UNAVAILABLE[$s]}"; done
  CLUSTER_NOTE="$(redis-server --version 2>/dev/null | sed -n 's/.*\(v=[^ ]*\).*/redis-server \1/p')"
fi

# The loadgen dialects are named after the servers; a cluster speaks its nodes' dialect.
dialect_of() { echo "${1%-cluster}"; }

FANOUT="--channels 1 --subs-per-channel 1000 --publishers 1"
WIDE="--channels 100 --subs-per-channel 100 --publishers 4"
TIMING="--duration $DURATION --warmup $WARMUP --drain $DRAIN"
# Closed loop: the same bound on outstanding deliveries for every server and shape (ten
# 1,000-subscriber publishes in flight, or one per channel in the wide shape).
WINDOW="--window 10000"
FAILED=0
QUIET_USED=0
declare -i RUN_NO=0

# args_for SCENARIO SERVER: the loadgen arguments, or nothing (and a reason on fd 3) to skip.
args_for() {
  local sc=$1 srv=$2 base rate
  case $sc in
    fanout) echo "$FANOUT $TIMING $WINDOW --rate max" ;;
    fanout-http) echo "$FANOUT $TIMING $WINDOW --rate max --publish-via http" ;;
    wide) echo "$WIDE $TIMING $WINDOW --rate max" ;;
    wide-1k) echo "$WIDE $TIMING $WINDOW --rate max --payload 1024" ;;
    wide-16k) echo "$WIDE $TIMING $WINDOW --rate max --payload 16384" ;;
    fanout-lat50 | wide-lat50)
      base=${sc%-lat50}
      rate=$("${REPORT[@]}" median "$RUNS" "$base" "$srv" publishes_per_s)
      if [ -z "$rate" ] || [ "$(awk -v r="$rate" 'BEGIN { print (r > 0) }')" != 1 ]; then
        echo "no closed-loop result for $base to take 50% of" >&3
        return
      fi
      rate=$(awk -v r="$rate" 'BEGIN { printf "%.1f", r / 2 }')
      if [ "$base" = fanout ]; then echo "$FANOUT $TIMING --rate $rate"; else echo "$WIDE $TIMING --rate $rate"; fi
      ;;
    # The same absolute load for every server, well below the slowest one's maximum.
    fanout-fixed) echo "$FANOUT $TIMING --rate 50" ;;
    wide-fixed) echo "$WIDE $TIMING --rate 200" ;;
    idle-10k | idle-100k)
      local n=10000
      [ "$sc" = idle-100k ] && n=100000
      if [ "$FD_LIMIT" -lt $((n + 1000)) ]; then
        echo "RLIMIT_NOFILE hard limit is $FD_LIMIT: $n connections need more than $n descriptors in the server and in the loadgen" >&3
        return
      fi
      echo "--idle $n --duration $HOLD --drain $DRAIN --sample 100 --connect-timeout 300"
      ;;
    history-off) echo "$WIDE $TIMING $WINDOW --rate max --channel-prefix bench." ;;
    history-on) echo "$WIDE $TIMING $WINDOW --rate max --channel-prefix bench-history:" ;;
    # One node, or two on Redis (run_one adds --port2): the fanout shape, whose every publish
    # must reach the other node for half of its subscribers.
    cluster) echo "$FANOUT $TIMING $WINDOW --rate max" ;;
    cluster-fixed) echo "$FANOUT $TIMING --rate 50" ;;
    *) echo "unknown scenario" >&3 ;;
  esac
}

applies_to() {  # scenario server -> true if the scenario runs on that server
  case $1 in
    fanout-http | history-*) [ "$2" = switchboard ] ;;
    cluster | cluster-*) [ "$2" = switchboard ] || [ "$2" = socketio ] ;;
    *) true ;;
  esac
}

# deployments_of SCENARIO SERVER: what runs the scenario: the server itself, and for the
# cluster scenarios also SERVER-cluster (two nodes on one Redis), reported side by side.
deployments_of() {
  if is_cluster_scenario "$1"; then echo "$2 $2-cluster"; else echo "$2"; fi
}

# record_failed_start WHY: the run in progress (run_one's sc, srv, rep, args) is recorded as failed.
record_failed_start() {
  echo "" | "${REPORT[@]}" append "$RUNS" "$sc" "$srv" "$rep" "$args" "$1" >&2
  FAILED=1
}

run_one() {  # scenario server rep args
  local sc=$1 srv=$2 rep=$3 args=$4 port logfile out code extra=() attempt other target
  RUN_NO+=1
  if [ "$srv" = switchboard ]; then
    extra=("${SB_CONFIG[@]}")
  fi
  for attempt in 1 2; do
    # Wait for a quiet machine, within a total budget so that --quick stays quick.
    local t0=$SECONDS max_wait=$QUIET_WAIT
    ((max_wait > QUIET_BUDGET - QUIET_USED)) && max_wait=$((QUIET_BUDGET - QUIET_USED))
    ((max_wait < 0)) && max_wait=0
    wait_quiet "$max_wait" || true
    QUIET_USED=$((QUIET_USED + SECONDS - t0))

    logfile="$WORK_DIR/$sc-$srv-$rep.log"
    if [[ $srv == *-cluster ]]; then
      # Redis and both nodes on fresh free ports; the loadgen's stderr goes to $logfile, the
      # processes' output to $sc-$srv-$rep-{redis,node1,node2}.log.
      log "[$RUN_NO] $sc on $srv (run $rep/$REPS, two nodes on Redis): $args"
      if ! start_cluster "${srv%-cluster}" "${logfile%.log}" "${SB_CONFIG[1]:-}" 2>>"$logfile"; then
        record_failed_start "cluster did not start: $(tail -n 1 "$logfile" 2>/dev/null | cut -c1-300)"
        return
      fi
      target="--port ${CLUSTER_PORTS[0]} --port2 ${CLUSTER_PORTS[1]} --server-pid $CLUSTER_PIDS"
    else
      port=$(free_port)
      log "[$RUN_NO] $sc on $srv (run $rep/$REPS, port $port): $args"
      if ! start_server "$srv" "$port" "$logfile" "${extra[@]}"; then
        record_failed_start "server did not start: $(tail -n 3 "$logfile" 2>/dev/null | tr '\n' ' ' | cut -c1-300)"
        return
      fi
      target="--port $port --server-pid $SERVER_PID"
    fi
    # In the background, so that a signal reaches the trap at once (bash runs traps only
    # between commands, but `wait` returns early for them).
    # shellcheck disable=SC2086 # $target and $args are lists of flags
    timeout 900 "${CLIENT_CPU[@]}" "$LOADGEN" --quiet --dialect "$(dialect_of "$srv")" $target $args \
      >"$WORK_DIR/out.json" 2>>"$logfile" &
    LOADGEN_PID=$!
    wait "$LOADGEN_PID"
    code=$?
    LOADGEN_PID=""
    out=$(cat "$WORK_DIR/out.json")
    stop_server
    # A run that other processes disturbed is run once more, while the retry budget lasts.
    if [ "$attempt" = 1 ] && [ "$RETRIES_LEFT" -gt 0 ] && other=$(printf '%s\n' "$out" | "${REPORT[@]}" disturbed); then
      RETRIES_LEFT=$((RETRIES_LEFT - 1))
      log "  disturbed: other processes used ${other}% of a CPU; running it again"
      continue
    fi
    break
  done
  printf '%s\n' "$out" | "${REPORT[@]}" append "$RUNS" "$sc" "$srv" "$rep" "$args" "$code" >&2
  if [ "$code" -ne 0 ]; then FAILED=1; fi
}

START=$(date +%s)
for sc in $SCENARIOS; do
  for rep in $(seq 1 "$REPS"); do
    for base in $SERVERS; do
      applies_to "$sc" "$base" || continue
      for srv in $(deployments_of "$sc" "$base"); do
        if [ -n "${UNAVAILABLE[$base]:-}" ]; then
          [ "$rep" = 1 ] && "${REPORT[@]}" skip "$RUNS" "$sc" "$srv" "${UNAVAILABLE[$base]}" >&2
          continue
        fi
        if [[ $srv == *-cluster ]] && [ -n "${CLUSTER_UNAVAILABLE[$base]:-}" ]; then
          [ "$rep" = 1 ] && "${REPORT[@]}" skip "$RUNS" "$sc" "$srv" "${CLUSTER_UNAVAILABLE[$base]}" >&2
          continue
        fi
        if [[ $sc == history-* ]] && [ -n "$HISTORY_SKIP" ]; then
          [ "$rep" = 1 ] && "${REPORT[@]}" skip "$RUNS" "$sc" "$srv" "$HISTORY_SKIP" >&2
          continue
        fi
        reason=$( { args_for "$sc" "$srv" >/dev/null; } 3>&1 )
        if [ -n "$reason" ]; then
          [ "$rep" = 1 ] && "${REPORT[@]}" skip "$RUNS" "$sc" "$srv" "$reason" >&2
          continue
        fi
        args=$(args_for "$sc" "$srv" 3>/dev/null)
        run_one "$sc" "$srv" "$rep" "$args"
      done
    done
  done
done
ELAPSED=$(($(date +%s) - START))

ver() { "$@" 2>/dev/null | head -n 1; }
pkg_ver() { sed -n 's/^  "version": "\(.*\)",$/\1/p' "$BENCH_DIR/peers/node_modules/$1/package.json" 2>/dev/null | head -n 1; }
SB_VERSION="not run"
if [ -x "$SWITCHBOARD_BIN" ]; then
  SB_VERSION="$(git -C "$ROOT_DIR" rev-parse --short HEAD 2>/dev/null || echo uncommitted)"
  git -C "$ROOT_DIR" diff --quiet HEAD -- src 2>/dev/null || SB_VERSION="$SB_VERSION (+local changes)"
fi
META=(--meta "machine=$(nproc) CPU, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(free -g | awk '/^Mem:/ { print $2 }') GiB"
  --meta "kernel=$(uname -r)" --meta "pinning=$PINNING" --meta "reps=$REPS" --meta "duration_s=$DURATION"
  --meta "elapsed_s=$ELAPSED" --meta "switchboard=$SB_VERSION" --meta "switchboard config=$SB_CONFIG_NOTE"
  --meta "node=$(ver node --version)" --meta "ws=$(pkg_ver ws)" --meta "socket.io=$(pkg_ver socket.io)"
  --meta "nats-server=$(ver nats-server --version)")
if [ "$WANT_CLUSTER" = 1 ]; then
  META+=(--meta "cluster pinning=$CLUSTER_PINNING"
    --meta "redis=${CLUSTER_NOTE:-not installed}, @socket.io/redis-adapter $(pkg_ver @socket.io/redis-adapter), redis (node client) $(pkg_ver redis)")
fi
# Filters (docs/filters.md): the hub's fan-out to 1,000 subscribers split into 10 filters, over
# the same fan-out unfiltered, in one run of the micro-benchmark (target: at most 1.3x).
SB_MICRO="$(dirname "$SWITCHBOARD_BIN")/bench/micro/sb-micro"
FILTERS_NOTE="not measured (no $SB_MICRO)"
if [ -x "$SB_MICRO" ]; then
  FILTERS_NOTE=$("$SB_MICRO" --benchmark_filter=HubFanOutFiltered --benchmark_repetitions=12 \
    --benchmark_enable_random_interleaving=true --benchmark_min_time=0.2 --benchmark_format=json 2>/dev/null |
    /usr/bin/python3 -c '
import json, sys
runs = json.load(sys.stdin)["benchmarks"]
med = {r["run_name"]: r["cpu_time"] for r in runs if r.get("aggregate_name") == "median"}
a, b = med["HubFanOutFiltered/0"], med["HubFanOutFiltered/10"]
print(f"{b / a:.2f}x the unfiltered time with 10 distinct filters over 1,000 subscribers ({b:.0f} ns vs {a:.0f} ns, median CPU)")
' 2>/dev/null || echo "not measured (sb-micro failed)")
fi
META+=(--meta "filters fan-out=$FILTERS_NOTE")
[ "$QUICK" = 1 ] && META+=(--quick)
"${REPORT[@]}" build "$RUNS" "$RESULTS_DIR" "${META[@]}" >&2 || exit 1
cat "$RESULTS_DIR/latest.md"
log "run.sh: finished in ${ELAPSED}s; raw runs in ${RUNS#"$ROOT_DIR"/}"
exit "$FAILED"
