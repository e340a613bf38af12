#!/usr/bin/env bash
# SoulBox's two entry points, usable on a fresh clone:
#   ./run.sh demo [command]   bring up a local SoulBox (e2e/cluster/up) and run a command in a
#                             sandbox through the official e2b SDK (--envd-only: a local envd, no cluster)
#   ./run.sh test             run the whole test suite (what CI runs)
# Both install what is missing first: npm packages (including Node.js 24 from
# the npm registry, which every npm script then runs on) and the test host's
# `user` account.
set -euo pipefail
cd "$(dirname "$0")"

ensure_deps() {
  if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "run.sh: installing npm dependencies" >&2
    npm ci --no-audit --no-fund
  fi
}

case "${1:-}" in
  demo)
    shift
    ensure_deps
    ./scripts/test-host-setup.sh
    npm run -s demo -- "$@"
    ;;
  test)
    ensure_deps
    ./scripts/test-host-setup.sh
    npm test
    ;;
  *)
    echo "usage: ./run.sh demo [--envd-only] [command] | ./run.sh test" >&2
    exit 2
    ;;
esac
