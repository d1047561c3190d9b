#!/usr/bin/env bash
# Runs the node conformance suite (conformance/test/*.test.mjs, herald/*.test.mjs and the
# hostile-input suite hostile/*.test.mjs).
#
#   conformance/run.sh              against the Rust fixture, target/release/fixture
#                                   (or whatever $FIXTURE_CMD says)
#   conformance/run.sh --reference  against the reference fixture built on the
#                                   official Node packages (reference/fixture.mjs)
#   conformance/run.sh [--reference] test/eio-client.test.mjs …   only these files
#   conformance/run.sh --with-python …   then also the python-socketio client
#                                   check (python/run.sh), as a separate last step
#
# Installs the pinned node packages (npm ci) when node_modules is missing or
# older than package-lock.json. Exits non-zero when a test fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cd "$here"

reference=0
with_python=0
files=()
for arg in "$@"; do
  case "$arg" in
    --reference) reference=1 ;;
    --with-python) with_python=1 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run.sh: unknown option $arg" >&2; exit 2 ;;
    *) files+=("$arg") ;;
  esac
done

if [ ! -d node_modules ] || [ ! -e node_modules/.package-lock.json ] \
  || [ package-lock.json -nt node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "run.sh: installing node packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules
fi

if [ "$reference" = 1 ]; then
  export FIXTURE_CMD="node $(printf '%q' "$here/reference/fixture.mjs")"
  export CONFORMANCE_REFERENCE=1
else
  unset CONFORMANCE_REFERENCE
  if [ -z "${FIXTURE_CMD:-}" ]; then
    bin="$repo/target/release/fixture"
    if [ ! -x "$bin" ]; then
      echo "run.sh: $bin not found; build it with 'cargo build --release -p conformance'," >&2
      echo "        or run the suite against the reference fixture with '$0 --reference'" >&2
      exit 1
    fi
    export FIXTURE_CMD="$(printf '%q' "$bin")"
  fi
fi

if [ "${#files[@]}" -eq 0 ]; then
  files=(test/*.test.mjs)
  if [ "$reference" = 0 ]; then
    # The herald tests drive the real binary: no reference counterpart. The Redis
    # suites start their own redis-server (scripts/setup.sh installs it).
    files+=(herald/*.test.mjs redis/*.test.mjs hostile/*.test.mjs)
  else
    # The hostile wire tests run against the reference too (proving them right).
    files+=(hostile/wire-*.test.mjs)
  fi
fi

mkdir -p .work/results
echo "run.sh: fixture: $FIXTURE_CMD"
status=0
node --test \
  --test-concurrency=2 \
  --test-timeout=60000 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination=.work/results/node-suite.tap \
  "${files[@]}" || status=$?

if [ "$with_python" = 1 ]; then
  echo "run.sh: python-socketio client (python/run.sh)"
  "$here/python/run.sh" || status=$?
fi
exit "$status"
