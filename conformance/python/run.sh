#!/usr/bin/env bash
# Runs the python-socketio client check (test_python_client.py) against the
# fixture's sio-client profile.
#
#   conformance/python/run.sh              against target/release/fixture (or $FIXTURE_CMD)
#   conformance/python/run.sh --reference  against the reference fixture (reference/fixture.mjs)
#
# Creates a virtualenv under conformance/.work/venv and installs the pinned
# requirements.txt into it (quietly) when they are missing or changed. Prints
# `N passed, M failed` last; exits non-zero when a check fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
conformance="$(cd "$here/.." && pwd)"
repo="$(cd "$conformance/.." && pwd)"

for arg in "$@"; do
  case "$arg" in
    --reference) export FIXTURE_CMD="node $(printf '%q' "$conformance/reference/fixture.mjs")" ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "python/run.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

if [ -z "${FIXTURE_CMD:-}" ]; then
  bin="$repo/target/release/fixture"
  if [ ! -x "$bin" ]; then
    echo "python/run.sh: $bin not found; build it with 'cargo build --release -p conformance'," >&2
    echo "               or run against the reference fixture with '$0 --reference'" >&2
    exit 1
  fi
  export FIXTURE_CMD="$(printf '%q' "$bin")"
fi

pip_install() {
  "$@" -m pip install --quiet --disable-pip-version-check --no-input --root-user-action=ignore "${target[@]}" -r "$here/requirements.txt"
}

venv="$conformance/.work/venv"
if [ -x "$venv/bin/python" ] || python3 -m venv "$venv" >/dev/null 2>&1; then
  python="$venv/bin/python"
  stamp="$venv/.requirements.txt"
  target=()
else
  # no venv module (e.g. python3-venv not installed): pip --target instead
  rm -rf "$venv"
  deps="$conformance/.work/pydeps"
  python=python3
  stamp="$deps/.requirements.txt"
  target=(--target "$deps" --upgrade)
  export PYTHONPATH="$deps${PYTHONPATH:+:$PYTHONPATH}"
fi
if ! cmp -s "$here/requirements.txt" "$stamp" 2>/dev/null; then
  echo "python/run.sh: installing python packages (requirements.txt)"
  pip_install "$python"
  cp "$here/requirements.txt" "$stamp"
fi

exec "$python" "$here/test_python_client.py"
