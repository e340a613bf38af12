#!/usr/bin/env bash
# Builds E2B's own envd (Go, packages/envd of github.com/e2b-dev/infra) as the anchor that
# `npm run bench:envd` measures beside SoulBox's envd.
#
#   bench/e2b-envd.sh [INFRA_SRC]      (or E2B_INFRA_SRC=<dir> bench/e2b-envd.sh)
#
# INFRA_SRC is a checkout of e2b-dev/infra (a bare git directory works too: its HEAD is exported
# to a temporary directory first). The binary goes to bench/.e2b-envd/envd (git-ignored) and the
# source commit to bench/.e2b-envd/COMMIT; the bench picks both up, or E2B_ENVD=<binary> names
# another build. The build is E2B's own release build (their Makefile's `build` target): static,
# CGO_ENABLED=0, -trimpath. Needs Go at least as new as packages/envd/go.mod's `go` line; its
# modules come from GOPROXY (packages/shared is taken from the same checkout through the
# module's `replace`).
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
  echo "e2b-envd: $*" >&2
  exit 1
}

src="${1:-${E2B_INFRA_SRC:-}}"
[ -n "$src" ] || die "no source: pass a checkout of https://github.com/e2b-dev/infra as the argument or in E2B_INFRA_SRC"
[ -d "$src" ] || die "$src is not a directory"
command -v go >/dev/null 2>&1 || die "go is not on PATH: install Go (https://go.dev/dl/) and run again"

out_dir="$PWD/bench/.e2b-envd"
tmp=""
trap '[ -z "$tmp" ] || rm -rf "$tmp"' EXIT

# A bare repository (what a mirror holds) has no work tree: export the two packages envd needs.
if [ "$(git -C "$src" rev-parse --is-bare-repository 2>/dev/null || true)" = true ]; then
  tmp="$(mktemp -d)"
  git -C "$src" archive HEAD packages/envd packages/shared | tar -x -C "$tmp"
  commit="$(git -C "$src" rev-parse HEAD)"
  tree="$tmp"
else
  commit="$(git -C "$src" rev-parse HEAD 2>/dev/null || echo unknown)"
  tree="$src"
fi
[ -f "$tree/packages/envd/go.mod" ] || die "$src has no packages/envd/go.mod: is it a checkout of e2b-dev/infra?"
[ -f "$tree/packages/shared/go.mod" ] || die "$src has no packages/shared/go.mod (packages/envd replaces its shared module with ../shared)"

mkdir -p "$out_dir"
echo "e2b-envd: building $tree/packages/envd (commit $commit) with $(go version | cut -d' ' -f3)" >&2
(
  cd "$tree/packages/envd"
  CGO_ENABLED=0 go build -trimpath -buildvcs=false \
    -ldflags "-X=main.commitSHA=${commit:0:7} -s -w" -o "$out_dir/envd" .
) || die "go build failed (a Go older than packages/envd/go.mod asks for fails here too)"
echo "$commit" >"$out_dir/COMMIT"
echo "e2b-envd: built $out_dir/envd (envd $("$out_dir/envd" -version))" >&2
