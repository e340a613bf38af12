# shellcheck shell=bash
# The subcommands that drive every concern: up, down, restart <component> and status.

check_prerequisites() {
  command -v go >/dev/null 2>&1 || die "Go is not installed: install Go 1.24 or newer and run again."
  command -v openssl >/dev/null 2>&1 || die "openssl is not installed: install it (Debian: apt-get install openssl) and run again."
  mkdir -p "$STATE"
  local free_mb
  free_mb=$(df -Pm "$STATE" | awk 'NR==2 {print $4}')
  [ "$free_mb" -ge "$NEED_DISK_MB" ] || die "not enough free disk: $STATE has ${free_mb} MiB free and the cluster needs ${NEED_DISK_MB} MiB."
}

start_named() {
  case $1 in
    etcd) start_etcd ;;
    kube-apiserver) start_apiserver ;;
    kube-controller-manager) start_controller_manager ;;
    kube-scheduler) start_scheduler ;;
    containerd) start_containerd ;;
    kubelet) start_kubelet ;;
    kube-proxy) start_kube_proxy ;;
    *) die "unknown component '$1' (one of: ${COMPONENTS[*]} ${NODE_COMPONENTS[*]})" ;;
  esac
}

cmd_up() {
  local with_node=0 with_soulbox=0 arg
  export WITH_POOLS=1 # read by install_soulbox (soulbox.sh)
  while [ $# -gt 0 ]; do
    arg=$1; shift
    case "$arg" in
      --with-node) with_node=1 ;;
      --with-soulbox) with_node=1 with_soulbox=1 ;;
      --no-soulbox) with_soulbox=0 ;;
      --no-pools) WITH_POOLS=0 ;;
      --fake-gpus) [ $# -gt 0 ] || die "--fake-gpus needs a number of GPUs"; set_fake_gpus "$1"; shift; with_node=1 ;;
      --fake-gpus=*) set_fake_gpus "${arg#*=}"; with_node=1 ;;
      *) die "unknown option '$arg' (up takes --with-node, --with-soulbox, --no-soulbox, --no-pools, --fake-gpus N)" ;;
    esac
  done
  check_prerequisites
  cmd_build
  ensure_gateway_ca
  if alive kube-apiserver && apiserver_ready; then
    if [ "$with_node" = 1 ] && ! { alive kubelet && alive kube-proxy && node_ready; }; then
      node_up
    else
      say "already up (state in $STATE)"
      # A second up after a code change: the images are rebuilt when their content changed and
      # imported again, and install_soulbox rolls the pods onto them.
      if [ "$with_node" = 1 ]; then import_images; gpu_plugin_up; fi
    fi
    [ "$with_soulbox" = 1 ] && install_soulbox
    echo "export KUBECONFIG=$STATE/kubeconfig"
    return 0
  fi
  local started=$SECONDS
  mkdir -p "$STATE/logs"
  for p in etcd etcd-peer apiserver controller-manager scheduler; do
    [ -s "$STATE/$p.port" ] || free_port > "$STATE/$p.port"
  done
  # As root the API server listens on the cluster bridge's address (made here, before any node).
  if [ ! -s "$STATE/apiserver.addr" ]; then
    assign_net
    net_ids
    if [ "$(id -u)" = 0 ]; then echo "$NODE_IP" > "$STATE/apiserver.addr"; else echo 127.0.0.1 > "$STATE/apiserver.addr"; fi
  fi
  make_pki
  write_kubeconfig "$(cat "$STATE/apiserver.port")"
  alive etcd || start_etcd
  wait_for etcd 30 etcd_ready
  alive kube-apiserver || start_apiserver
  wait_for kube-apiserver 90 apiserver_ready
  alive kube-controller-manager || start_controller_manager
  alive kube-scheduler || start_scheduler
  say "control plane ready in $((SECONDS - started)) s (apiserver $(api_url), logs in $STATE/logs)"
  [ "$with_node" = 1 ] && node_up
  [ "$with_soulbox" = 1 ] && install_soulbox
  echo "export KUBECONFIG=$STATE/kubeconfig"
}

cmd_down() {
  [ -d "$STATE" ] || { say "nothing to stop"; return 0; }
  dns_down
  node_down
  stop_component kube-proxy
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do stop_component "${COMPONENTS[$i]}"; done
  net_down
  rm -rf "$STATE"
  say "stopped and removed $STATE"
}

cmd_restart() {
  local name=${1:-}
  [ -n "$name" ] || die "restart needs a component: one of ${COMPONENTS[*]}"
  [ -f "$STATE/kubeconfig" ] || die "the cluster is not up (no $STATE/kubeconfig)"
  stop_component "$name"
  start_named "$name"
  case $name in
    etcd) wait_for etcd 30 etcd_ready ;;
    kube-apiserver) wait_for kube-apiserver 90 apiserver_ready ;;
    containerd) wait_for containerd 30 containerd_ready ;;
    kubelet) wait_for "node $NODE_NAME" 120 node_ready ;;
    kube-proxy) wait_for "kube-proxy (Services)" 60 proxy_ready ;;
  esac
  say "restarted $name"
}

cmd_status() {
  local node=()
  [ -f "$STATE/containerd/config.toml" ] && node=("${NODE_COMPONENTS[@]}")
  for c in "${COMPONENTS[@]}" "${node[@]}"; do
    if alive "$c"; then echo "$c running (pid $(cat "$STATE/$c.pid"))"; else echo "$c stopped"; fi
  done
  if [ -s "$STATE/apiserver.addr" ]; then
    net_ids
    echo "network: pods $SUBNET on bridge $BRIDGE, services $SERVICE_CIDR in netns $SVC_NETNS, apiserver $(api_url)"
  fi
}
