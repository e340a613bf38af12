# shellcheck shell=bash
# Building the Go servers under .bin/ from go/ (MinIO, fake-gcs-server), each with a stamp of its
# sources (go.mod, go.sum, *.go): a binary whose stamp matches is kept, so only the first build
# (or one after a version change) compiles. Progress and build times go to stderr.

# The versions, as go/*/go.mod pins them (for messages; go.mod is the source of truth).
MINIO_VERSION=$(awk '$1 == "github.com/minio/minio" {print $2} $2 == "github.com/minio/minio" {print $3}' "$HERE/go/minio/go.mod")
FAKE_GCS_VERSION=$(awk '$1 == "github.com/fsouza/fake-gcs-server" {print $2} $2 == "github.com/fsouza/fake-gcs-server" {print $3}' "$HERE/go/fake-gcs-server/go.mod")

stamp_of() { { cat "$HERE/go/$1/go.mod" "$HERE/go/$1/go.sum"; cat "$HERE"/go/"$1"/*.go 2>/dev/null || true; } | sha256sum | cut -c1-16; }

# build_one <name> <module-dir> <output> [go build args...]; BUILD_TARGET: the package to build
# (default: the module's own main package).
build_one() {
  local name=$1 dir=$2 out=$3; shift 3
  local stamp; stamp=$(stamp_of "$dir")
  if [ -x "$BIN/$out" ] && [ "$(cat "$BIN/.$out.stamp" 2>/dev/null)" = "$stamp" ]; then return 0; fi
  say "building $name (first build: minutes; Go caches it afterwards)"
  local started=$SECONDS
  # -mod=mod: go.sum is complete, but a module missing from the cache is downloaded, not refused.
  (cd "$HERE/go/$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath "$@" -o "$BIN/$out.tmp.$$" "${BUILD_TARGET:-.}") ||
    die "building $name failed (see the go output above)"
  mv -f "$BIN/$out.tmp.$$" "$BIN/$out"
  echo "$stamp" > "$BIN/.$out.stamp"
  say "built $name in $((SECONDS - started)) s"
}

cmd_build() {
  command -v go >/dev/null 2>&1 || die "Go is not installed: install Go 1.26 or newer and run again."
  mkdir -p "$BIN"
  # One build at a time (a test run and an up may start together); the second finds the stamps.
  exec {build_lock}>"$BIN/.lock"
  flock "$build_lock"
  build_one "MinIO $MINIO_VERSION" minio minio -ldflags "-s -w"
  BUILD_TARGET=github.com/fsouza/fake-gcs-server build_one "fake-gcs-server $FAKE_GCS_VERSION" fake-gcs-server fake-gcs-server \
    -ldflags "-s -w"
  [ -f "$REPO/node_modules/azurite/package.json" ] || die "Azurite is not installed: run npm ci in $REPO."
  flock -u "$build_lock"
}
