# shellcheck shell=bash
# The storage servers' settings and the helpers up, down and build share: messages (say, die),
# the state dir, ports kept in it, servers started and stopped by pid (start_server, stop_servers,
# alive), and wait_http. Sourced first by ../up, ../down and ../build; HERE is e2e/storage.
# shellcheck disable=SC2034 # the settings below are read by the other lib/*.sh files

BIN="$HERE/.bin"
REPO="$(cd "$HERE/../.." && pwd)"
# Node 24 from the repository's node_modules (a system Node may be older), for Azurite and the
# bucket setup.
NODE="$REPO/node_modules/.bin/node"
STATE="${SOULBOX_STORAGE_DIR:-$HERE/.state}"
# Every backend with a server process of its own (pid file <backend>.pid); file:// has none.
BACKENDS=(s3 r2 gcs azblob)
# Fixed test credentials (loopback only): MinIO's root user per instance, and Azurite's
# well-known development account and key (the same for every Azurite).
S3_ACCESS_KEY=soulbox-s3
S3_SECRET_KEY=soulbox-s3-secret
R2_ACCESS_KEY=soulbox-r2
R2_SECRET_KEY=soulbox-r2-secret
AZ_ACCOUNT=devstoreaccount1
AZ_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
# The buckets and containers the URLs name (the key prefix after them is `conformance`).
S3_BUCKET=soulbox-test
R2_BUCKET=soulbox-test-r2
GCS_BUCKET=soulbox-test
GCS_PROJECT=soulbox-test
AZ_CONTAINER=soulbox-test
PREFIX=conformance
# How long one server may take to answer after its start.
START_TIMEOUT_S=${SOULBOX_STORAGE_START_TIMEOUT_S:-60}

say() { echo "storage: $*" >&2; }
die() { echo "storage: $*" >&2; exit 1; }

# The state dir as an absolute path (made when missing).
resolve_state() {
  mkdir -p "$STATE"
  STATE="$(cd "$STATE" && pwd)"
}

# lock_state: holds $STATE/.lock (fd 9) until this script exits, so two ups (or an up and a
# down) on one state dir run one after the other. Servers are started without fd 9.
lock_state() {
  exec 9>"$STATE/.lock"
  flock 9
}

# A free TCP port on 127.0.0.1 (the kernel's pick).
free_port() {
  "$NODE" -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# port_of <backend>: the backend's port, chosen once and kept in $STATE/<backend>.port so that a
# server started again comes back where its clients expect it.
port_of() {
  local file="$STATE/$1.port"
  [ -s "$file" ] || free_port > "$file"
  cat "$file"
}

# alive <backend>: its pid file names a running process that is this server of this state dir
# (its command line names the state dir, so a pid reused by another process does not count).
alive() {
  local pid
  pid=$(cat "$STATE/$1.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$STATE/"
}

# start_server <backend> <program> args...: runs it in its own session with output appended to
# $STATE/logs/<backend>.log, its pid in $STATE/<backend>.pid. The environment is the caller's
# (callers add the server's settings with env).
start_server() {
  local name=$1; shift
  mkdir -p "$STATE/logs"
  printf '%q ' "$@" > "$STATE/$name.cmd"
  setsid "$@" >>"$STATE/logs/$name.log" 2>&1 < /dev/null 9>&- &
  echo $! > "$STATE/$name.pid"
}

# stop_servers <backend>...: SIGTERM to each that runs (at once, so they shut down side by side),
# up to 10 s for them to exit, then SIGKILL; returns when every one is gone and its pid file removed.
stop_servers() {
  local name pids=() pid deadline
  for name in "$@"; do
    if alive "$name"; then
      pid=$(cat "$STATE/$name.pid")
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  # In microseconds of real time: $SECONDS ticks on whole seconds, so SECONDS + 10 may be 9.1 s.
  deadline=$((${EPOCHREALTIME/./} + 10000000))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && [ "${EPOCHREALTIME/./}" -lt "$deadline" ]; do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      say "pid $pid did not exit within 10 s of SIGTERM: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
  done
  for name in "$@"; do rm -f "$STATE/$name.pid"; done
}

# wait_http <backend> <url>: polls until the server answers <url> with any HTTP status, or dies
# naming the server and its log when it exits or START_TIMEOUT_S passes.
wait_http() {
  local name=$1 url=$2 deadline=$((SECONDS + START_TIMEOUT_S)) code
  while :; do
    code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" 2>/dev/null || true)
    [ -n "$code" ] && [ "$code" != 000 ] && return 0
    alive "$name" || die "$name exited while starting; see $STATE/logs/$name.log"
    [ $SECONDS -lt $deadline ] || die "$name did not answer $url within $START_TIMEOUT_S s; see $STATE/logs/$name.log"
    sleep 0.2
  done
}
