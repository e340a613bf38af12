# shellcheck shell=bash
# Building the binaries under .bin/ from go/ (etcd + Kubernetes, Helm, containerd, pause) with a
# stamp of their sources each, CRIU from Debian's source, and the Debian packages the node needs
# (ensure_debs).

stamp_of() { { cat "$HERE/go/$1/go.mod" "$HERE/go/$1/go.sum"; cat "$HERE"/go/"$1"/*.go 2>/dev/null || true; } | sha256sum | cut -c1-16; }

build_one() { # name module-dir output build-args...
  local name=$1 dir=$2 out=$3; shift 3
  local stamp; stamp=$(stamp_of "$dir")
  if [ -x "$BIN/$out" ] && [ "$(cat "$BIN/.$out.stamp" 2>/dev/null)" = "$stamp" ]; then return 0; fi
  say "building $name (first build: several minutes; Go caches it afterwards)"
  local started=$SECONDS
  (cd "$HERE/go/$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath "$@" -o "$BIN/$out.tmp" "${BUILD_TARGET:-.}")
  mv "$BIN/$out.tmp" "$BIN/$out"
  echo "$stamp" > "$BIN/.$out.stamp"
  say "built $name in $((SECONDS - started)) s"
}

cmd_build() {
  command -v go >/dev/null 2>&1 || die "Go is not installed: install Go 1.24 or newer and run again."
  mkdir -p "$BIN"
  local v=k8s.io/component-base/version
  build_one "etcd + Kubernetes $K8S_VERSION" k8s soulbox-k8s \
    -ldflags "-s -w -X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=34 -X $v.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
  BUILD_TARGET=helm.sh/helm/v3/cmd/helm build_one "helm $HELM_VERSION" helm helm \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  for c in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
    ln -sf soulbox-k8s "$BIN/$c"
  done
}

# The node's binaries: containerd, its shim and ctr (go/containerd), and the pause program.
cmd_build_node() {
  cmd_build
  local v=github.com/containerd/containerd/v2/version
  for t in containerd containerd-shim-runc-v2 ctr; do
    BUILD_TARGET=github.com/containerd/containerd/v2/cmd/$t build_one "$t $CONTAINERD_VERSION" containerd "$t" \
      -ldflags "-s -w -X $v.Version=$CONTAINERD_VERSION -X $v.Package=github.com/containerd/containerd/v2"
  done
  build_one pause pause pause -ldflags "-s -w"
  build_criu
}

# criu under .bin/ (containerd's runc finds it on PATH); the base system's packages stay as they are.
# With patches/criu-*.patch: on machines whose bounding set lacks CAP_SYS_RESOURCE, criu reads the
# rlimits of processes of other users (a sandbox's `user`) from /proc/<pid>/limits; on Linux 6.16+,
# an inet socket's SO_PASSCRED/SO_PASSSEC (now EOPNOTSUPP) count as off instead of failing the dump.
build_criu() {
  local stamp; stamp="$CRIU_VERSION+$(cat "$HERE"/patches/criu-*.patch | sha256sum | cut -c1-12)"
  if [ -x "$BIN/criu" ] && [ "$(cat "$BIN/.criu.stamp" 2>/dev/null)" = "$stamp" ]; then return 0; fi
  ensure_debs "${CRIU_BUILD_DEPS[@]}" patch libprotobuf-c1 libnl-3-200 libnet1 libgnutls30 libbsd0 libaio1 libnftables1
  local started=$SECONDS work; work=$(mktemp -d)
  say "building criu $CRIU_VERSION from Debian's source"
  (
    set -e
    cd "$work"
    curl -sSfL -o criu.tar.xz "$DEBIAN_MIRROR/pool/main/c/criu/criu_$CRIU_VERSION.orig.tar.xz"
    echo "$CRIU_ORIG_SHA256  criu.tar.xz" | sha256sum -c --quiet
    tar xf criu.tar.xz
    for p in "$HERE"/patches/criu-*.patch; do patch -d "criu-$CRIU_VERSION" -p1 --quiet < "$p"; done
    make -C "criu-$CRIU_VERSION" -j"$(nproc)" criu >build.log 2>&1 || { tail -20 build.log >&2; exit 1; }
    install -m 0755 "criu-$CRIU_VERSION/criu/criu" "$BIN/criu"
  ) || { rm -rf "$work"; die "building criu $CRIU_VERSION failed"; }
  rm -rf "$work"
  echo "$stamp" > "$BIN/.criu.stamp"
  say "built criu $CRIU_VERSION in $((SECONDS - started)) s"
}

ensure_debs() { # package... : install the missing ones with apt-get
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 || die "the node needs the Debian packages ${missing[*]} and there is no apt-get to install them."
  [ "$(id -u)" = 0 ] || die "the node needs the Debian packages ${missing[*]}: run as root (or install them) and run again."
  say "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2 || die "could not install the Debian packages ${missing[*]}."
  }
}
