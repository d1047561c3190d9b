#!/usr/bin/env bash
# Runs every benchmark scenario against herald, socketioxide and Node socket.io and
# writes BENCHMARKS.md at the repository root (see bench/README.md).
#
#   bench/run.sh                       # the full run (about 20 min on 2 cores)
#   bench/run.sh --quick               # a smoke run: small N, short holds, 1 repeat
#   bench/run.sh --only fanout-1k,echo # some scenarios
#   bench/run.sh --servers herald,socketioxide
#   bench/run.sh --repeats 5
#
# Each run starts a fresh server pinned to core $SERVER_CPU (default 0) and the load
# generator pinned to core $GEN_CPU (default 1) with taskset. Results go to
# bench/results/<UTC time>/results.jsonl (one JSON line per run), then
# bench/report.py turns them into BENCHMARKS.md ($OUT overrides the path).
# NICE=-10 (root) runs the servers and the generator at that priority, for a
# measurement on a machine shared with other work.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

quick=0
repeats=3
only=""
servers="herald,socketioxide,node"
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1; repeats=1 ;;
    --repeats) repeats=$2; shift ;;
    --only) only=$2; shift ;;
    --servers) servers=$2; shift ;;
    *) echo "usage: $0 [--quick] [--repeats N] [--only a,b] [--servers herald,socketioxide,node]" >&2; exit 2 ;;
  esac
  shift
done
server_cpu=${SERVER_CPU:-0}
gen_cpu=${GEN_CPU:-1}
# NICE=-10 (as root) runs servers and generator ahead of other work on a shared machine.
nice_level=${NICE:-0}
# Prefixes that exec the program (same PID, so $! is the server itself).
pin_server=(nice -n "$nice_level" taskset -c "$server_cpu")
pin_gen=(nice -n "$nice_level" taskset -c "$gen_cpu")
out_md=${OUT:-$root/BENCHMARKS.md}
[ "$quick" = 1 ] && [ -z "${OUT:-}" ] && out_md=$root/bench/results/BENCHMARKS.quick.md

# --- build --------------------------------------------------------------------------
echo "building (release): fixture, herald, loadgen, socketioxide-peer" >&2
cargo build --release --locked -p conformance -p herald >&2
CARGO_TARGET_DIR=$root/bench/target cargo build --release --locked --manifest-path bench/loadgen/Cargo.toml >&2
CARGO_TARGET_DIR=$root/bench/target cargo build --release --locked --manifest-path bench/peers/socketioxide/Cargo.toml >&2
if [ ! -d bench/peers/node/node_modules/socket.io ]; then
  (cd bench/peers/node && npm ci --no-audit --no-fund --loglevel=error) >&2
fi
fixture=$root/target/release/fixture
herald=$root/target/release/herald
loadgen=$root/bench/target/release/loadgen
sxpeer=$root/bench/target/release/socketioxide-peer

results_dir=$root/bench/results/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$results_dir"
results=$results_dir/results.jsonl
: >"$results"

# --- scenarios ----------------------------------------------------------------------
# name|loadgen arguments|servers (all, or herald-service for the /send scenario)
fdmax=$(ulimit -n)
idle_max=$(( (fdmax - 1000) / 1000 * 1000 ))
if [ "$quick" = 1 ]; then
  scenarios=(
    "idle-10k|--scenario idle --clients 2000 --hold 3|all"
    "idle-max|--scenario idle --clients 4000 --hold 3|all"
    "fanout-1k|--scenario fanout --clients 200 --messages 200|all"
    "fanout-10k|--scenario fanout --clients 2000 --messages 20|all"
    "fanout-rate|--scenario fanout --clients 200 --messages 50 --rate 25|all"
    "echo|--scenario echo --clients 100 --duration 2|all"
    "push|--scenario push --clients 500 --rates 1000,4000 --step 2|herald-service"
    "mixed|--scenario mixed --clients 200 --messages 200|all"
    "slow-base|--scenario fanout --clients 200 --messages 300 --payload 1000|all"
    "slow|--scenario slow --clients 200 --messages 300 --payload 1000|all"
  )
else
  scenarios=(
    "idle-10k|--scenario idle --clients 10000 --hold 30|all"
    "idle-max|--scenario idle --clients $idle_max --hold 30|all"
    "fanout-1k|--scenario fanout --clients 1000 --messages 1000|all"
    "fanout-10k|--scenario fanout --clients 10000 --messages 100|all"
    "fanout-rate|--scenario fanout --clients 1000 --messages 250 --rate 25|all"
    "echo|--scenario echo --clients 100 --duration 10|all"
    "push|--scenario push --clients 10000 --rates 2000,5000,10000,20000,40000,80000 --step 4|herald-service"
    "mixed|--scenario mixed --clients 1000 --messages 1000|all"
    "slow-base|--scenario fanout --clients 1000 --messages 1000 --payload 1000|all"
    "slow|--scenario slow --clients 1000 --messages 1000 --payload 1000|all"
  )
fi

# --- servers ------------------------------------------------------------------------
server_pid=""
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
trap stop_server EXIT
trap 'exit 130' INT TERM

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

api_key=bench-api-key-0123456789abcdef
# start_server NAME PORT: starts it on core $server_cpu, sets server_pid.
start_server() {
  local name=$1 port=$2 log=$results_dir/$1.log
  case $name in
    herald)
      "${pin_server[@]}" "$fixture" --profile bench --port "$port" >>"$log" 2>&1 &
      ;;
    socketioxide)
      "${pin_server[@]}" "$sxpeer" --port "$port" >>"$log" 2>&1 &
      ;;
    node)
      "${pin_server[@]}" node bench/peers/node/server.js --port "$port" >>"$log" 2>&1 &
      ;;
    herald-service)
      cat >"$results_dir/herald.toml" <<TOML
listen = "127.0.0.1:$port"
[ops]
listen = "127.0.0.1:$(free_port)"
[limits]
max_connections = 1000000
max_connections_per_ip = 1000000
[[sites]]
name = "bench"
namespace = "/"
api_keys = ["$api_key"]
user_room_prefix = ""
[sites.auth]
mode = "token"
token_ttl = "10m"
TOML
      HERALD_LOG=warn "${pin_server[@]}" "$herald" --config "$results_dir/herald.toml" >>"$log" 2>&1 &
      ;;
  esac
  server_pid=$!
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    kill -0 "$server_pid" 2>/dev/null || { echo "$name exited; see $log" >&2; tail -5 "$log" >&2; return 1; }
    sleep 0.1
  done
  echo "$name did not listen on $port" >&2
  return 1
}

IFS=, read -r -a server_list <<<"$servers"
net=1
started=$(date -u +%s)
echo "load at start: $(cat /proc/loadavg)" >&2
load_start=$(cat /proc/loadavg)
load_max=0
for entry in "${scenarios[@]}"; do
  IFS='|' read -r name args which <<<"$entry"
  if [ -n "$only" ] && [[ ",$only," != *",$name,"* ]]; then continue; fi
  if [ "$which" = herald-service ]; then targets=(herald-service); else targets=("${server_list[@]}"); fi
  for run in $(seq "$repeats"); do
    for srv in "${targets[@]}"; do
      port=$(free_port)
      start_server "$srv" "$port"
      sleep 0.5
      extra=()
      [ "$srv" = herald-service ] && extra=(--api-key "$api_key" --site bench)
      net=$(( net % 250 + 1 ))
      load=$(cut -d' ' -f1 /proc/loadavg)
      load_max=$(python3 -c "print(max($load_max, $load))")
      echo "[$(date -u +%H:%M:%S)] $name run $run: $srv (load $load)" >&2
      # shellcheck disable=SC2086
      if ! "${pin_gen[@]}" "$loadgen" run $args --server "127.0.0.1:$port" --server-pid "$server_pid" \
          --net "$net" --label "$name|$srv" --run "$run" --out "$results" "${extra[@]}" >/dev/null 2>"$results_dir/loadgen.err"; then
        echo "  failed: $(tail -1 "$results_dir/loadgen.err")" >&2
        printf '{"label":"%s|%s","run":%s,"error":%s}\n' "$name" "$srv" "$run" \
          "$(tail -1 "$results_dir/loadgen.err" | python3 -c 'import json,sys;print(json.dumps(sys.stdin.read().strip()))')" >>"$results" || true
      fi
      stop_server
    done
  done
done
finished=$(date -u +%s)
load_end=$(cat /proc/loadavg)

# --- report -------------------------------------------------------------------------
cat >"$results_dir/meta.json" <<JSON
{
  "started": $started, "finished": $finished, "quick": $quick, "repeats": $repeats,
  "load_start": "$load_start", "load_end": "$load_end", "load_max": "$load_max",
  "server_cpu": "$server_cpu", "gen_cpu": "$gen_cpu", "fd_limit": "$fdmax", "nice": "$nice_level",
  "cpu_model": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')",
  "cpus": "$(nproc)", "mem": "$(free -g | awk '/^Mem:/ {print $2}') GiB",
  "kernel": "$(uname -r)", "rustc": "$(rustc --version)", "node": "$(node --version)",
  "socketio_node": "$(node -p 'require("./bench/peers/node/node_modules/socket.io/package.json").version')",
  "socketioxide": "$(grep -A1 '^name = "socketioxide"$' bench/peers/socketioxide/Cargo.lock | sed -n 's/version = "\(.*\)"/\1/p')",
  "herald": "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- engineio socketio server conformance || echo +dirty)",
  "command": "$([ "$nice_level" != 0 ] && echo "NICE=$nice_level ")bench/run.sh$([ "$quick" = 1 ] && echo ' --quick')"
}
JSON
python3 bench/report.py "$results_dir" "$out_md" bench/NOTES.md
echo "wrote $out_md (raw results: $results)" >&2
