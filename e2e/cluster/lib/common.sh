# shellcheck shell=bash
# The cluster's settings and the helpers every concern uses: messages (say, die), the state dir
# and versions, components started and stopped by pid (start_component, stop_component, alive),
# wait_for, kctl, and render_template for the files under templates/. Sourced first by ../cluster.
# shellcheck disable=SC2034 # the settings below are read by the other lib/*.sh files, which ../cluster sources after this one

BIN="$HERE/.bin"
STATE="${SOULBOX_CLUSTER_DIR:-$HERE/.state}"
mkdir -p "$(dirname "$STATE")"
STATE="$(cd "$(dirname "$STATE")" && pwd)/$(basename "$STATE")"
K8S_VERSION=v1.34.4
HELM_VERSION=v3.19.5
CONTAINERD_VERSION=v2.2.9
NODE_NAME=soulbox-node
DEBIAN_SUITE=bookworm
# The Debian mirror this machine's apt already uses (its first main-archive URI), unless set.
host_debian_mirror() {
  { grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
    grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}'; } | grep -v -- '-security' | head -n1 || true
}
DEBIAN_MIRROR=${SOULBOX_DEBIAN_MIRROR:-$(host_debian_mirror)}
# The sandbox base image: what E2B's `base` template offers (a Node runtime comes later).
BASE_PACKAGES=bash,coreutils,python3,python-is-python3,git,curl,ca-certificates,ncurses-bin,sudo,procps,less
PAUSE_IMAGE=localhost/soulbox/pause:latest
BASE_IMAGE=localhost/soulbox/sandbox-base:latest
IMAGES="${SOULBOX_IMAGES_DIR:-$BIN/images}" # the image cache (SOULBOX_IMAGES_DIR: another one, e.g. for a cold build)
# CRIU 4.x for checkpoint/restore (bookworm's 3.17 fails on this kernel): built from Debian's
# source of trixie's package (the upstream tarball in Debian's pool, checked by its hash).
CRIU_VERSION=4.1.1
CRIU_ORIG_SHA256=f80a66cb3726bb2116266d4759ce3bcbfab7abdb6b6d430bf20dd41911717afe
CRIU_BUILD_DEPS=(gcc make pkg-config xz-utils libprotobuf-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler
  python3-protobuf libnl-3-dev libnet1-dev libcap-dev libgnutls28-dev libbsd-dev libaio-dev uuid-dev libnftables-dev)
NEED_DISK_MB=4096
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler)
NODE_COMPONENTS=(containerd kubelet kube-proxy)

# The repository (the images' and the gateway's sources, charts/).
REPO="$(cd "$HERE/../.." && pwd)"
# The gateway's own CA (pki.sh), and the release that up --with-soulbox installs (soulbox.sh).
GATEWAY_CA_CRT=$STATE/pki/gateway-ca.crt
GATEWAY_CA_KEY=$STATE/pki/gateway-ca.key
SOULBOX_DOMAIN=soulbox.test
SOULBOX_RELEASE=soulbox
SOULBOX_NAMESPACE=soulbox-system

say() { echo "cluster: $*" >&2; }
die() { echo "cluster: $*" >&2; exit 1; }

# A lower-case DNS name of two labels or more (a wildcard under a single label matches nothing
# in TLS clients), each 1-63 of a-z, 0-9 and '-', not starting or ending with '-'.
valid_domain() {
  local l='[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?'
  [ ${#1} -le 253 ] && [[ $1 =~ ^($l\.)+$l$ ]]
}

# --- components: processes started in the background, known by their pid files ----------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

alive() { local pid; pid=$(cat "$STATE/$1.pid" 2>/dev/null) || return 1; kill -0 "$pid" 2>/dev/null; }

start_component() { # name args...
  local name=$1; shift
  printf '%q ' "$BIN/$name" "$@" > "$STATE/$name.cmd"
  setsid "$BIN/$name" "$@" >>"$STATE/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$STATE/$name.pid"
}

stop_component() {
  local name=$1 pid
  pid=$(cat "$STATE/$name.pid" 2>/dev/null) || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$STATE/$name.pid"
}

wait_for() { # description seconds command...
  local what=$1 limit=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "$what did not come up within ${limit} s; see $STATE/logs/"
    sleep 0.2
  done
}

kctl() { "$BIN/kubectl" --kubeconfig "$STATE/kubeconfig" "$@"; }

# --- templates -------------------------------------------------------------------------------
# render_template <template> <out> NAME...: writes templates/<template> to <out> ("-": stdout)
# with each ${NAME} replaced by the value of the shell variable NAME (the caller's locals too).
# Only the NAMEs given are replaced, in one pass (a value is never read for placeholders); a
# placeholder that is not one of them, or a NAME that is not set, is an error.
render_template() {
  local _tpl=$HERE/templates/$1 _out=$2 _text _done='' _name; shift 2
  [ -f "$_tpl" ] || die "no template $_tpl"
  IFS= read -r -d '' _text < "$_tpl" || true # the whole file, trailing newlines and all
  while [[ $_text == *\$\{* ]]; do
    _done+=${_text%%\$\{*}
    _text=${_text#*\$\{}
    _name=${_text%%\}*}
    [[ $_name =~ ^[A-Za-z_][A-Za-z0-9_]*$ && " $* " == *" $_name "* ]] ||
      die "template $_tpl: \${$_name} is not one of the names given (${*:-none})"
    [ -n "${!_name+set}" ] || die "template $_tpl: \$$_name is not set"
    _done+=${!_name}
    _text=${_text#*\}}
  done
  if [ "$_out" = - ]; then printf '%s' "$_done$_text"; else printf '%s' "$_done$_text" > "$_out"; fi
}
