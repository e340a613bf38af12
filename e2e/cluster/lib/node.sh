# shellcheck shell=bash
# The node: containerd, the kubelet (node "soulbox-node", in a cgroup tree of its own) and
# kube-proxy, their configuration (templates/), node_up, and node_down, which leaves nothing of
# the node's pods, containers, mounts and cgroups behind.

node_prerequisites() {
  [ "$(id -u)" = 0 ] || die "the node (containerd, kubelet) needs root."
  [ -n "$DEBIAN_MIRROR" ] || die "no Debian mirror in /etc/apt to build images from: set SOULBOX_DEBIAN_MIRROR and run again."
  ensure_debs runc containernetworking-plugins umoci debootstrap iproute2 util-linux
}

ctr_() { "$BIN/ctr" --address "$STATE/containerd/containerd.sock" --namespace k8s.io "$@"; }
containerd_ready() { ctr_ version 2>/dev/null; }
node_ready() { [ "$(kctl get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]; }

# The kubelet's cgroup root, in every cgroup hierarchy (v1 ones and the unified mount).
ensure_cgroup_root() {
  net_ids
  local h d
  for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    mountpoint -q "$h" || continue
    [ "$(stat -f -c %T "$h")" = tmpfs ] && continue
    d="${h%/}$CGROUP_ROOT"
    [ -d "$d" ] && continue
    mkdir "$d"
    if [ -f "$h/cpuset.cpus" ]; then
      cat "$h/cpuset.cpus" > "$d/cpuset.cpus"
      cat "$h/cpuset.mems" > "$d/cpuset.mems"
    fi
  done
}

remove_cgroup_root() {
  net_ids
  local h
  for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    [ -d "${h%/}$CGROUP_ROOT" ] || continue
    find "${h%/}$CGROUP_ROOT" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

# The node's configuration, from templates/: CNI, containerd, the kubelet's and kube-proxy's
# kubeconfigs and configurations (and the node's certificates, when missing).
# shellcheck disable=SC2034 # the upper-case locals are read by render_template, by name
write_node_config() {
  local PKI=$STATE/pki NODE_DIR=$STATE/node RUNC KUBELET_PORT KUBELET_HEALTHZ_PORT GPU_KUBELET_CONFIG
  mkdir -p "$NODE_DIR/cni/net.d" "$NODE_DIR/cni/ipam" "$NODE_DIR/pod-logs" "$STATE/containerd"
  net_ids
  # (As in a here-document: empty when missing.)
  RUNC=$(command -v runc) || true
  KUBELET_PORT=$(cat "$STATE/kubelet.port") || true
  KUBELET_HEALTHZ_PORT=$(cat "$STATE/kubelet-healthz.port") || true
  GPU_KUBELET_CONFIG=$(gpu_kubelet_config) # (gpu.sh: empty without --fake-gpus)
  render_template 10-soulbox.conflist.tmpl "$NODE_DIR/cni/net.d/10-soulbox.conflist" BRIDGE SUBNET NODE_DIR SERVICE_CIDR SVC_NS_IP
  render_template containerd-config.toml.tmpl "$STATE/containerd/config.toml" STATE PAUSE_IMAGE RUNC NODE_DIR
  node_certs
  kubeconfig "$NODE_DIR/kubeconfig" "$(api_url)" "$NODE_NAME" node paths "$PKI/ca.crt" "$PKI/node.crt" "$PKI/node.key"
  render_template kubelet.yaml.tmpl "$NODE_DIR/kubelet.yaml" \
    NODE_IP KUBELET_PORT KUBELET_HEALTHZ_PORT PKI CGROUP_ROOT STATE NODE_DIR GPU_KUBELET_CONFIG
  kube_proxy_cert
  kubeconfig "$NODE_DIR/kube-proxy.kubeconfig" "$(api_url)" kube-proxy kube-proxy paths \
    "$PKI/ca.crt" "$PKI/kube-proxy.crt" "$PKI/kube-proxy.key"
  # Its listeners are on the service namespace's own loopback. conntrack: leave the machine's
  # limits and timeouts alone (they are global, and shared with whatever else runs here).
  render_template kube-proxy.yaml.tmpl "$NODE_DIR/kube-proxy.yaml" NODE_DIR NODE_NAME SUBNET
}

start_containerd() {
  PATH="$BIN:$PATH" start_component containerd --config "$STATE/containerd/config.toml"
}

start_kubelet() {
  ensure_bridge
  ensure_cgroup_root
  # shellcheck disable=SC2153 # NODE_IP is set by net_ids (network.sh), which ensure_bridge ran
  start_component kubelet --config "$STATE/node/kubelet.yaml" --kubeconfig "$STATE/node/kubeconfig" \
    --root-dir "$STATE/node/kubelet" --cert-dir "$STATE/node/kubelet-pki" \
    --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" --v=1
}

# kube-proxy runs inside the service namespace (nsenter execs it: the pid is kube-proxy's own).
start_kube_proxy() {
  ensure_service_net
  local cmd=(nsenter "--net=/run/netns/$SVC_NETNS" "$BIN/kube-proxy" --config "$STATE/node/kube-proxy.yaml" --v=1)
  printf '%q ' "${cmd[@]}" > "$STATE/kube-proxy.cmd"
  setsid "${cmd[@]}" >>"$STATE/logs/kube-proxy.log" 2>&1 < /dev/null &
  echo $! > "$STATE/kube-proxy.pid"
}

# Services are programmed once the `kubernetes` Service has its rule in the service namespace.
proxy_ready() { net_ids; svc_ns iptables -w 5 -t nat -S KUBE-SERVICES 2>/dev/null | grep -q -- "-d $API_SERVICE_IP/32 .*default/kubernetes:https"; }

apply_runtime_classes() {
  render_template runtime-classes.yaml.tmpl - | kctl apply -f - >/dev/null
}

node_up() {
  local started=$SECONDS
  node_prerequisites
  [ "$(api_addr)" != 127.0.0.1 ] || die "the API server of $STATE listens on loopback only (its control plane was started by an older version of this script or not as root): run down, then up --with-node."
  cmd_build_node
  for p in kubelet kubelet-healthz; do
    [ -s "$STATE/$p.port" ] || free_port > "$STATE/$p.port"
  done
  ensure_bridge
  ensure_service_net
  write_node_config
  share_state_mounts
  alive containerd || start_containerd
  wait_for containerd 30 containerd_ready
  import_images
  apply_runtime_classes
  alive kubelet || start_kubelet
  alive kube-proxy || start_kube_proxy
  wait_for "node $NODE_NAME" 120 node_ready
  wait_for "kube-proxy (Services)" 60 proxy_ready
  storage_class_up
  network_policy_up
  gpu_plugin_up
  say "node $NODE_NAME ready in $((SECONDS - started)) s (containerd $CONTAINERD_VERSION, socket $STATE/containerd/containerd.sock)"
}

# The node agent (a pod) sees the container root filesystems that containerd mounts after it
# started only through mount propagation (HostToContainer), which needs the host path to be on a
# shared mount, as / is on most distributions but not on this machine: the state dir becomes one.
share_state_mounts() {
  awk -v s="$STATE" '$5 == s {found=1} END {exit !found}' /proc/self/mountinfo || mount --rbind "$STATE" "$STATE"
  mount --make-rshared "$STATE"
}

# Unmounts everything mounted under the state dir, deepest first.
unmount_state() {
  local m
  for _ in 1 2 3; do
    mapfile -t mounts < <(awk -v s="$STATE/" 'index($5, s) == 1 {print $5}' /proc/self/mountinfo | sort -r)
    [ ${#mounts[@]} -eq 0 ] && return 0
    for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  done
}

node_down() {
  [ -d "$STATE/containerd" ] || [ -f "$STATE/kubelet.pid" ] || return 0
  storage_class_down
  network_policy_down
  gpu_plugin_down
  # First let the kubelet stop the pods properly (containers, sandbox, CNI teardown).
  if alive kubelet && alive kube-apiserver && apiserver_ready; then
    kctl delete pods --all --all-namespaces --grace-period=1 --wait=false >/dev/null 2>&1 || true
    local deadline=$((SECONDS + 30))
    while [ $SECONDS -lt $deadline ] && [ -n "$(kctl get pods -A --field-selector "spec.nodeName=$NODE_NAME" -o name 2>/dev/null)" ]; do sleep 0.5; done
  fi
  stop_component kubelet
  # Note what is left before anything is deleted: the containers' init pids, the shims (those
  # serving this cluster's containerd socket) and the pods' network namespaces.
  local f pid inits=() shims=() netns=() name
  for f in "$STATE"/containerd/state/io.containerd.runtime.v2.task/*/*/init.pid; do
    [ -f "$f" ] && pid=$(cat "$f" 2>/dev/null) && [ -n "$pid" ] && inits+=("$pid")
  done
  local cmdline
  for f in /proc/[0-9]*/cmdline; do
    cmdline=$({ tr '\0' ' ' < "$f"; } 2>/dev/null) || continue
    [[ $cmdline == *"containerd-shim-runc-v2 -namespace k8s.io -id "* ]] || continue
    [[ $cmdline == *"-address $STATE/containerd/containerd.sock "* ]] || continue
    pid=${f#/proc/}; shims+=("${pid%/cmdline}")
  done
  for name in $(ip netns list 2>/dev/null | awk '/^cni-/ {print $1}'); do
    for pid in $(ip netns pids "$name" 2>/dev/null); do
      if printf '%s\n' "${inits[@]}" | grep -qx "$pid"; then netns+=("$name"); break; fi
    done
  done
  # Then whatever is left in containerd: kill its tasks, delete them and their containers.
  if alive containerd; then
    local id
    for id in $(ctr_ tasks ls -q 2>/dev/null); do timeout 10 "$BIN/ctr" --address "$STATE/containerd/containerd.sock" -n k8s.io tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
    sleep 0.5
    for id in $(ctr_ tasks ls -q 2>/dev/null); do timeout 10 "$BIN/ctr" --address "$STATE/containerd/containerd.sock" -n k8s.io tasks delete -f "$id" >/dev/null 2>&1 || true; done
    for id in $(ctr_ containers ls -q 2>/dev/null); do timeout 10 "$BIN/ctr" --address "$STATE/containerd/containerd.sock" -n k8s.io containers delete "$id" >/dev/null 2>&1 || true; done
  fi
  stop_component containerd
  # Containers and shims that outlived containerd, by the pids noted above.
  for pid in "${inits[@]}" "${shims[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for name in "${netns[@]}"; do ip netns delete "$name" 2>/dev/null || true; done
  unmount_state
  umount "$STATE" 2>/dev/null || umount -l "$STATE" 2>/dev/null || true
  remove_cgroup_root
}
