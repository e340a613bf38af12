#!/usr/bin/env bash
# Lints the project's shell scripts with ShellCheck (Debian's package `shellcheck`), following
# the files they source (-x, with each script's own directory as its source path). When
# ShellCheck is missing it is installed with apt-get (as root; `apt-get update` once if the
# install fails), saying so on stderr. Exits non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v shellcheck >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || { echo "lint-shell: shellcheck is not installed and there is no apt-get to install it" >&2; exit 1; }
  [ "$(id -u)" = 0 ] || { echo "lint-shell: shellcheck is not installed: run as root (or apt-get install shellcheck) and run again" >&2; exit 1; }
  echo "lint-shell: shellcheck is not installed: installing Debian's package shellcheck with apt-get" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null 2>&1 || {
    echo "lint-shell: apt-get install failed: running apt-get update once, then installing again" >&2
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >&2 || { echo "lint-shell: could not install shellcheck" >&2; exit 1; }
  }
fi

files=(e2e/cluster/cluster e2e/cluster/lib/*.sh e2e/cluster/up e2e/cluster/down e2e/cluster/env e2e/storage/up e2e/storage/down e2e/storage/build e2e/storage/lib/*.sh run.sh .ci/run scripts/*.sh bench/*.sh)
echo "lint-shell: $(shellcheck --version | awk '/^version:/ {print "shellcheck " $2}') on ${#files[@]} files" >&2
# SCRIPTDIR: a `source "$HERE/lib/x.sh"` (with a `# shellcheck source=` directive) resolves
# against the directory of the script that sources it.
shellcheck -x --source-path=SCRIPTDIR "${files[@]}"
