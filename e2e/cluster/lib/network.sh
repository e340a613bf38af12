# shellcheck shell=bash
# The cluster's network, nothing of it shared with another cluster on this machine: its address
# ranges (net_ids, assign_net), the pod bridge, and the network namespace where kube-proxy keeps
# the Services' rules.

# The pod network: a bridge of this cluster's own on a loopback-only range (no masquerade, no
# default route: pods reach each other and the host, nothing is routed off the machine).
# Services: a range of the cluster's own, routed by the host into a network namespace of the
# cluster's own where kube-proxy keeps its rules (see ensure_service_net); pods get a route to
# it and to that namespace's address (the source of what it forwards) via the bridge.
# shellcheck disable=SC2034 # net_ids sets the network's names for the other lib/*.sh files
net_ids() {
  local h; h=$(printf %s "$STATE" | sha256sum | cut -c1-8)
  local b s
  b=$(cat "$STATE/net.octet" 2>/dev/null) || b=$((88 + 16#${h:0:2} % 40))
  s=$((b + 40))
  BRIDGE="sbx$h"
  CGROUP_ROOT="/soulbox-$h" # the kubelet's own cgroup tree: kubelets of other clusters here leave it alone
  SUBNET="10.$b.0.0/16"
  NODE_IP="10.$b.0.1" # the bridge's own address: the kubelet serves on it (a Node can't have a loopback address)
  SERVICE_CIDR="10.$s.0.0/17"
  API_SERVICE_IP="10.$s.0.1" # the `kubernetes` Service
  SVC_NETNS="soulbox-svc-$h"
  SVC_LINK="sbxs$h" SVC_PEER="sbxp$h" # the veth pair host <-> service namespace, on a /30 outside SERVICE_CIDR
  SVC_HOST_IP="10.$s.128.1" SVC_NS_IP="10.$s.128.2"
}

# At the first up: the second octet of the cluster's ranges, from the state dir's hash, or the next
# one that no other cluster on this machine routes; recorded, and the bridge made at once so a
# cluster coming up next sees it taken.
assign_net() {
  [ -s "$STATE/net.octet" ] && return 0
  local h b0 b i; h=$(printf %s "$STATE" | sha256sum | cut -c1-8)
  b0=$((16#${h:0:2} % 40))
  if [ "$(id -u)" != 0 ]; then echo $((88 + b0)) > "$STATE/net.octet"; return 0; fi
  local routes; routes=$(ip -4 route show)
  for ((i = 0; i < 40; i++)); do
    b=$((88 + (b0 + i) % 40))
    grep -qE "^10\.$b\.0\.0/16 |^10\.$((b + 40))\.0\.0/17 " <<<"$routes" && continue
    echo "$b" > "$STATE/net.octet"
    ensure_bridge
    return 0
  done
  die "every pod network 10.88-127.0.0/16 is taken by other clusters on this machine"
}

# The bridge exists before the API server and the first pod, since both listen on its address.
ensure_bridge() {
  net_ids
  ip link show "$BRIDGE" >/dev/null 2>&1 || ip link add "$BRIDGE" type bridge
  ip -4 addr show dev "$BRIDGE" | grep -q " $NODE_IP/" || ip addr add "$NODE_IP/16" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # Pods' packets to Services are routed by the host: forwarding on this cluster's interfaces only.
  echo 1 > "/proc/sys/net/ipv4/conf/$BRIDGE/forwarding"
}

svc_ns() { nsenter --net="/run/netns/$SVC_NETNS" "$@"; }

# Services get a network namespace of the cluster's own: kube-proxy runs in it, so its chains
# (fixed names, one set per network namespace) never meet another cluster's on this machine, and
# deleting the namespace deletes every rule. The host routes SERVICE_CIDR into it over a veth
# pair; there kube-proxy DNATs to the endpoints and masquerades everything (masqueradeAll), so
# the replies come back through it to be un-NATed.
ensure_service_net() {
  net_ids
  [ -e "/run/netns/$SVC_NETNS" ] || ip netns add "$SVC_NETNS"
  ip link show "$SVC_LINK" >/dev/null 2>&1 || ip link add "$SVC_LINK" type veth peer name "$SVC_PEER" netns "$SVC_NETNS"
  ip -4 addr show dev "$SVC_LINK" | grep -q " $SVC_HOST_IP/" || ip addr add "$SVC_HOST_IP/30" dev "$SVC_LINK"
  ip link set "$SVC_LINK" up
  echo 1 > "/proc/sys/net/ipv4/conf/$SVC_LINK/forwarding"
  svc_ns ip -4 addr show dev "$SVC_PEER" | grep -q " $SVC_NS_IP/" || svc_ns ip addr add "$SVC_NS_IP/30" dev "$SVC_PEER"
  svc_ns ip link set lo up
  svc_ns ip link set "$SVC_PEER" up
  svc_ns ip route replace default via "$SVC_HOST_IP" dev "$SVC_PEER"
  # /proc/sys/net is the writer's network namespace's: this is the service namespace's switch.
  svc_ns sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
  ip route replace "$SERVICE_CIDR" via "$SVC_NS_IP" dev "$SVC_LINK"
}

# Removes the cluster's network: the service namespace (and with it every rule kube-proxy made),
# its veth pair and route, and the bridge. Nothing here is shared with another cluster.
net_down() {
  [ "$(id -u)" = 0 ] || return 0
  net_ids
  ip route del "$SERVICE_CIDR" dev "$SVC_LINK" 2>/dev/null || true
  ip link del "$SVC_LINK" 2>/dev/null || true
  ip netns delete "$SVC_NETNS" 2>/dev/null || true
  ip link del "$BRIDGE" 2>/dev/null || true
}
