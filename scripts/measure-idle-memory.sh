#!/usr/bin/env bash
# Measures the server's memory per idle WebSocket Engine.IO session.
#
#   scripts/measure-idle-memory.sh [SESSIONS]        (default 10000)
#
# Starts target/release/fixture --profile $PROFILE (default protocol) on a free port
# (its output goes to $FIXTURE_LOG_FILE, default /tmp/measure-idle-memory.fixture.log;
# building it with
# `cargo build --release -p conformance` when missing; REBUILD=1 rebuilds it anyway),
# reads its VmRSS from /proc/PID/status, opens SESSIONS WebSocket sessions with
# scripts/idle-ws-clients.mjs (which answers every ping, so they stay open), waits
# IDLE_SECONDS (default 10), reads VmRSS again and prints
#
#   sessions=N rss_before_kib=… rss_after_kib=… per_session_bytes=…
#
# per_session_bytes = (after - before) / sessions alive at the end. The `protocol`
# profile pings every 300 ms, so "idle" means no application traffic, heartbeats only.
# Connections are spread over the source addresses 127.0.0.1..127.0.0.K, K = SOURCES
# (default: one per 20000 sessions), at most RATE (default 2000) handshakes a second,
# WORKERS (default 4) client threads. Every process started here is stopped on exit.
# NICE=-10 runs both at a higher priority (root), for a measurement while builds run.
# Exit status 1 when some sessions did not stay open (the numbers are printed anyway).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

sessions=${1:-10000}
idle=${IDLE_SECONDS:-10}
case $sessions in '' | *[!0-9]* | 0) echo "usage: $0 [SESSIONS]" >&2; exit 2 ;; esac
sources=${SOURCES:-$(((sessions + 19999) / 20000))}
# `protocol` (the default) pings every 300 ms with a 200 ms timeout: on a loaded machine
# a client stalled for 200 ms loses sessions. `eio-client` (500 ms / 20 s) is the same
# engine and the same WebSocket path with a forgiving timeout.
profile=${PROFILE:-protocol}
# NICE=-10 (as root) runs the fixture and the clients ahead of other work on the machine,
# for a measurement while builds run; default: normal priority.
nice_cmd=()
if [ -n "${NICE:-}" ]; then nice_cmd=(nice -n "$NICE"); fi

fixture=target/release/fixture
if [ ! -x "$fixture" ] || [ "${REBUILD:-0}" = 1 ]; then
  echo "building $fixture" >&2
  cargo build --release -p conformance >&2
fi
if [ ! -d conformance/node_modules/ws ]; then
  echo "installing conformance/node_modules (npm ci)" >&2
  (cd conformance && npm ci --no-audit --no-fund --loglevel=error) >&2
fi

# Each side needs a descriptor per session, plus some.
need=$((sessions + 512))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
  ulimit -n "$need" 2>/dev/null || {
    echo "open-file limit $(ulimit -n) is below $need (raise it: ulimit -n $need)" >&2
    exit 1
  }
fi

# Thousands of sockets in TIME_WAIT (a previous run that did not reset its connections)
# make connect() slow enough to stall the clients past the 200 ms ping timeout.
if command -v ss >/dev/null; then
  for _ in $(seq 70); do
    [ "$(ss -tan state time-wait 2>/dev/null | wc -l)" -lt 2000 ] && break
    [ "${waited:-}" ] || { echo "waiting for TIME_WAIT sockets to expire" >&2; waited=1; }
    sleep 1
  done
fi

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')

fixture_pid=""
helper_pid=""
cleanup() {
  set +e
  if [ -n "$helper_pid" ] && kill -0 "$helper_pid" 2>/dev/null; then
    kill "$helper_pid" 2>/dev/null
    for _ in $(seq 30); do kill -0 "$helper_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$helper_pid" 2>/dev/null
  fi
  if [ -n "$fixture_pid" ] && kill -0 "$fixture_pid" 2>/dev/null; then
    kill -TERM "$fixture_pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$fixture_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$fixture_pid" 2>/dev/null
    wait "$fixture_pid" 2>/dev/null
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"${nice_cmd[@]}" "$fixture" --profile "$profile" --port "$port" >"${FIXTURE_LOG_FILE:-/tmp/measure-idle-memory.fixture.log}" 2>&1 &
fixture_pid=$!

for _ in $(seq 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  kill -0 "$fixture_pid" 2>/dev/null || { echo "fixture exited:" >&2; cat /tmp/measure-idle-memory.fixture.log >&2; exit 1; }
  sleep 0.1
done

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$fixture_pid/status"; }
sleep 0.5
before=$(rss_kib)

coproc HELPER {
  exec "${nice_cmd[@]}" node scripts/idle-ws-clients.mjs --port "$port" --sessions "$sessions" --sources "$sources" \
    --workers "${WORKERS:-4}" --concurrency "${CONCURRENCY:-20}" --rate "${RATE:-2000}"
}
helper_pid=$HELPER_PID
helper_out=${HELPER[0]}
helper_in=${HELPER[1]}

if ! read -r -t 600 ready <&"$helper_out"; then
  echo "the client helper did not get ready" >&2
  exit 1
fi
echo "clients: $ready (sources=$sources)" >&2
sleep "$idle"
echo stats >&"$helper_in"
read -r -t 30 stats <&"$helper_out" || stats="stats alive=?"
after=$(rss_kib)
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$fixture_pid/status")
echo "clients after ${idle}s: $stats; fixture VmHWM=${hwm} kB" >&2

alive=$(sed -n 's/.*alive=\([0-9]*\).*/\1/p' <<<"$stats")
alive=${alive:-0}
if [ "$alive" -gt 0 ]; then
  per=$(((after - before) * 1024 / alive))
else
  per=NaN
fi
echo "sessions=$alive rss_before_kib=$before rss_after_kib=$after per_session_bytes=$per"

# Closing the helper's stdin makes it close every session and exit (the cleanup trap
# kills it if it has not within 10 s).
exec {helper_in}>&-
for _ in $(seq 100); do kill -0 "$helper_pid" 2>/dev/null || break; sleep 0.1; done
if [ "$alive" -ne "$sessions" ]; then
  echo "warning: $((sessions - alive)) of $sessions sessions did not stay open" \
    "(client stalls past the ${profile} profile's ping timeout? try again, fewer sessions," \
    "or PROFILE=eio-client)" >&2
  exit 1
fi
