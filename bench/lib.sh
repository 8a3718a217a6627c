# shellcheck shell=bash
# Shared by bench/run.sh and bench/smoke.sh: locating binaries, free ports, starting and
# stopping the servers under test. Sourced, not run.
#
# Inputs (set before sourcing or calling):
#   ROOT_DIR, BENCH_DIR     repository root and bench/ directory
#   SWITCHBOARD_BIN         the switchboard binary (absolute path)
#   SERVER_CPU=(...)        command prefix pinning the server, e.g. (taskset -c 0) or ()
#   WORK_DIR                scratch directory for logs, configs and data dirs

SERVER_PID=""
SERVER_DATA_DIR=""

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

# start_server KIND PORT LOG [extra switchboard args...]
# KIND is switchboard, ws, socketio or nats. Sets SERVER_PID; returns non-zero (with the
# server stopped) when it did not start listening within 20 s.
start_server() {
  local kind=$1 port=$2 logfile=$3
  shift 3
  case $kind in
    switchboard)
      SERVER_DATA_DIR=$(mktemp -d "$WORK_DIR/sbdata.XXXXXX")
      "${SERVER_CPU[@]}" "$SWITCHBOARD_BIN" serve --listen "127.0.0.1:$port" --data-dir "$SERVER_DATA_DIR" \
        --log-level warn "$@" >"$logfile" 2>&1 &
      ;;
    ws)
      "${SERVER_CPU[@]}" node "$BENCH_DIR/peers/ws-server.mjs" "$port" >"$logfile" 2>&1 &
      ;;
    socketio)
      "${SERVER_CPU[@]}" node "$BENCH_DIR/peers/socketio-server.mjs" "$port" >"$logfile" 2>&1 &
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
  if ! wait_port "$SERVER_PID" "$port" 20; then
    stop_server
    return 1
  fi
}

# stop_server: SIGTERM, then SIGKILL after 5 s; removes the switchboard data dir.
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    local i
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
  if [ -n "$SERVER_DATA_DIR" ]; then
    rm -rf "$SERVER_DATA_DIR"
    SERVER_DATA_DIR=""
  fi
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
