# shellcheck shell=bash
# Shared by bench/run.sh and bench/smoke.sh: locating binaries, free ports, starting and
# stopping the servers under test. Sourced, not run.
#
# Inputs (set before sourcing or calling):
#   ROOT_DIR, BENCH_DIR     repository root and bench/ directory
#   SWITCHBOARD_BIN         the switchboard binary (absolute path)
#   SERVER_CPU=(...)        command prefix pinning the server, e.g. (taskset -c 0) or ()
#   WORK_DIR                scratch directory for logs, configs and data dirs

# Every process start_server started, in start order: stop_server stops them all, newest
# first, so a cluster's nodes go before the Redis they use. SERVER_PID is the newest.
SERVER_PID=""
SERVER_PIDS=()
SERVER_DATA_DIRS=()

log() { printf '%s\n' "$*" >&2; }

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PID PORT SECONDS: true once PORT accepts connections, false if PID died or time ran out.
wait_port() {
  local pid=$1 port=$2 tries=$(($3 * 10)) i
  for ((i = 0; i < tries; i++)); do
    kill -0 "$pid" 2>/dev/null || return 1
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# find_loadgen: prints the path of sb-loadgen, building it standalone when no build has it.
find_loadgen() {
  local c
  for c in "${SB_LOADGEN:-}" "$(dirname "$SWITCHBOARD_BIN")/bench/sb-loadgen" \
    "$ROOT_DIR/build-bench/bench/sb-loadgen" "$ROOT_DIR/build/bench/sb-loadgen" \
    "$ROOT_DIR/build-loadgen/sb-loadgen"; do
    if [ -n "$c" ] && [ -x "$c" ]; then
      printf '%s\n' "$c"
      return 0
    fi
  done
  log "building sb-loadgen standalone in build-loadgen/"
  cmake -S "$BENCH_DIR" -B "$ROOT_DIR/build-loadgen" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null &&
    cmake --build "$ROOT_DIR/build-loadgen" -j 1 >&2 &&
    printf '%s\n' "$ROOT_DIR/build-loadgen/sb-loadgen"
}

# start_server KIND PORT LOG [extra args...]
# KIND is switchboard, ws, socketio, nats or redis; the extra arguments go to the server
# (switchboard's flags, or socketio-server.mjs's --redis URL). Sets SERVER_PID; returns
# non-zero when it did not start listening within 20 s, with every server started so far
# stopped (so that a half-started cluster does not linger).
start_server() {
  local kind=$1 port=$2 logfile=$3 data_dir
  shift 3
  case $kind in
    switchboard)
      # One data dir per process: a data dir is locked by the server using it.
      data_dir=$(mktemp -d "$WORK_DIR/sbdata.XXXXXX")
      SERVER_DATA_DIRS+=("$data_dir")
      "${SERVER_CPU[@]}" "$SWITCHBOARD_BIN" serve --listen "127.0.0.1:$port" --data-dir "$data_dir" \
        --log-level warn "$@" >"$logfile" 2>&1 &
      ;;
    ws)
      "${SERVER_CPU[@]}" node "$BENCH_DIR/peers/ws-server.mjs" "$port" "$@" >"$logfile" 2>&1 &
      ;;
    socketio)
      "${SERVER_CPU[@]}" node "$BENCH_DIR/peers/socketio-server.mjs" "$port" "$@" >"$logfile" 2>&1 &
      ;;
    redis)
      # A throwaway broker: no persistence, loopback only, in the foreground so that its
      # pid is ours to stop.
      "${SERVER_CPU[@]}" redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize no --dir "$WORK_DIR" "$@" >"$logfile" 2>&1 &
      ;;
    nats)
      local conf="${logfile%.log}.conf" client_port
      client_port=$(free_port)
      cat >"$conf" <<EOF
# nats-server for the Switchboard benchmark: NATS protocol over WebSocket on loopback.
listen: "127.0.0.1:$client_port"
max_connections: 1000000
max_payload: 1048576
websocket {
  listen: "127.0.0.1:$port"
  no_tls: true
}
EOF
      "${SERVER_CPU[@]}" nats-server -c "$conf" >"$logfile" 2>&1 &
      ;;
    *)
      log "start_server: unknown server kind '$kind'"
      return 2
      ;;
  esac
  SERVER_PID=$!
  SERVER_PIDS+=("$SERVER_PID")
  if ! wait_port "$SERVER_PID" "$port" 20; then
    stop_server
    return 1
  fi
}

# stop_server: stops every server started, newest first (SIGTERM, then SIGKILL after 5 s);
# removes the switchboard data dirs.
stop_server() {
  local i j pid
  for ((j = ${#SERVER_PIDS[@]} - 1; j >= 0; j--)); do
    pid=${SERVER_PIDS[j]}
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  SERVER_PIDS=()
  SERVER_PID=""
  if [ ${#SERVER_DATA_DIRS[@]} -gt 0 ]; then
    rm -rf "${SERVER_DATA_DIRS[@]}"
    SERVER_DATA_DIRS=()
  fi
}

# cluster_config BASE OUT REDIS_URL: writes OUT, a switchboard config joining the cluster on
# REDIS_URL: BASE's settings (when BASE is not empty) plus a [cluster] table.
cluster_config() {
  local base=$1 out=$2 url=$3
  {
    if [ -n "$base" ]; then
      cat "$base"
      echo
    fi
    printf '# Added by bench/lib.sh: this node is one of two on the same Redis.\n'
    printf '[cluster]\nbroker = "redis"\nredis_url = "%s"\n' "$url"
  } >"$out"
}

# start_cluster KIND LOG_PREFIX [BASE_CONFIG]
# Two nodes of KIND (switchboard or socketio) on one Redis, every process on a free loopback
# port: Redis first, then the nodes (switchboard with BASE_CONFIG plus a [cluster] table,
# socketio with its Redis adapter). Sets CLUSTER_PORTS=(node1 node2), CLUSTER_PIDS
# ("node1,node2,redis", for sb-loadgen --server-pid) and SERVER_PID (node 1); logs go to
# LOG_PREFIX-redis.log, -node1.log and -node2.log. Returns non-zero, with everything stopped
# and the reason on stderr, when a process did not start.
CLUSTER_PORTS=()
CLUSTER_PIDS=""
start_cluster() {
  local kind=$1 prefix=$2 base=${3:-} rport url redis_pid n port pids=() conf
  rport=$(free_port)
  if ! start_server redis "$rport" "$prefix-redis.log"; then
    log "redis-server did not start: $(tail -n 3 "$prefix-redis.log" 2>/dev/null | tr '\n' ' ' | cut -c1-300)"
    return 1
  fi
  redis_pid=$SERVER_PID
  url="redis://127.0.0.1:$rport"
  CLUSTER_PORTS=()
  for n in 1 2; do
    port=$(free_port)
    case $kind in
      switchboard)
        conf="$prefix-node$n.toml"
        cluster_config "$base" "$conf" "$url"
        start_server switchboard "$port" "$prefix-node$n.log" --config "$conf"
        ;;
      socketio) start_server socketio "$port" "$prefix-node$n.log" --redis "$url" ;;
      *) log "start_cluster: no cluster mode for '$kind'"; stop_server; return 2 ;;
    esac || {
      log "node $n did not start: $(tail -n 3 "$prefix-node$n.log" 2>/dev/null | tr '\n' ' ' | cut -c1-300)"
      return 1
    }
    CLUSTER_PORTS+=("$port")
    pids+=("$SERVER_PID")
  done
  # shellcheck disable=SC2034 # used by run.sh and smoke.sh
  CLUSTER_PIDS="${pids[0]},${pids[1]},$redis_pid"
  SERVER_PID=${pids[0]}
}

# cpu_ticks: "busy total" jiffies of the whole machine, from /proc/stat.
cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }

# wait_quiet MAX_SECONDS: waits until the machine is nearly idle (other work below 25% of one
# CPU over half a second), so that a compile or test run next door does not skew a run.
# Returns non-zero, after MAX_SECONDS, when it never got quiet (the run goes ahead anyway;
# the loadgen's other_cpu_pct shows how much the run was disturbed).
wait_quiet() {
  local deadline=$((SECONDS + $1)) b1 t1 b2 t2 pct ncpu waited=0
  ncpu=$(nproc)
  while :; do
    read -r b1 t1 < <(cpu_ticks)
    sleep 0.5
    read -r b2 t2 < <(cpu_ticks)
    pct=$(((b2 - b1) * 100 * ncpu / ((t2 - t1) > 0 ? (t2 - t1) : 1)))
    if [ "$pct" -lt 25 ]; then
      [ "$waited" = 1 ] && log "  machine is quiet again"
      return 0
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "  machine still busy (${pct}% of a CPU used by other processes): measuring anyway"
      return 1
    fi
    [ "$waited" = 0 ] && log "  waiting for other processes to finish (${pct}% of a CPU busy)"
    waited=1
    sleep 1
  done
}
