#!/usr/bin/env bash
# Installs what the tests need that a fresh machine may lack. Idempotent; quick when
# everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing $*; install it (apt-get install -y $*) and re-run" >&2
    return 1
  fi
  if [ ! -f /tmp/.herald-apt-updated ]; then
    apt-get update -qq && touch /tmp/.herald-apt-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

command -v node >/dev/null || apt_install nodejs npm
command -v npm >/dev/null || apt_install npm
# A real Redis for the Redis adapter, emitter and reliable-store tests (each test starts
# its own redis-server on a free port).
command -v redis-server >/dev/null || apt_install redis-server
# The real-browser test (conformance/herald/browser.test.mjs) drives Debian's Chromium.
[ -x /usr/bin/chromium ] || apt_install chromium

# Node packages of the conformance suites, exactly as locked.
if [ ! -d conformance/node_modules ] || [ conformance/package-lock.json -nt conformance/node_modules/.package-lock.json ]; then
  (cd conformance && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "setup: node $(node --version), npm $(npm --version), $(redis-server --version | cut -d' ' -f1-3)"
