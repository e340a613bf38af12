# shellcheck shell=bash
# NetworkPolicy on the node: kube-router's network policy controller (github.com/cloudnativelabs/
# kube-router, pinned in go/kube-router/go.mod), built from its Go module like the other
# components and run as a host process with only its firewall on (no routing, no service proxy, no
# CNI), started and stopped by pid. It turns every NetworkPolicy into iptables chains and ipsets in
# the host's filter table (the bridge CNI plugin enforces none): pod to pod traffic is bridged, so it
# sees it through br_netfilter; pod to node traffic through INPUT. Why this engine: kube-network-
# policies queues packets with nftables' `queue`, which this kernel lacks (CONFIG_NFT_QUEUE); kube-
# router needs iptables, ipset and xt_set, which it has. Production clusters use their own CNI's
# engine (Calico, Cilium, ...; see README, "Networking").

KUBE_ROUTER_VERSION=v2.1.0
# The host's filter chains are one set per machine, so one cluster's kube-router at a time owns them:
# this file names its state dir. Another cluster brought up meanwhile (network.test.ts brings up a
# second one) runs without NetworkPolicy and leaves the owner's chains alone.
KUBE_ROUTER_OWNER=/run/soulbox-kube-router.owner

build_kube_router() {
  BUILD_TARGET=github.com/cloudnativelabs/kube-router/v2/cmd/kube-router build_one "kube-router $KUBE_ROUTER_VERSION" \
    kube-router kube-router -ldflags "-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KUBE_ROUTER_VERSION"
}

# After the node is Ready (the controller reads the Node for its address): the controller, once.
network_policy_up() {
  net_ids
  ensure_debs ipset iptables
  build_kube_router
  # Bridged pod traffic must pass the host's iptables, or no pod-to-pod rule would see it.
  [ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null)" = 1 ] ||
    echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables ||
    die "br_netfilter is not available: bridged pod traffic would pass without NetworkPolicy"
  alive kube-router && return 0
  local owner pid
  owner=$(cat "$KUBE_ROUTER_OWNER" 2>/dev/null || true)
  if [ -n "$owner" ] && [ "$owner" != "$STATE" ] && pid=$(cat "$owner/kube-router.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null; then
    say "NetworkPolicy is not enforced in this cluster: the kube-router of the cluster in $owner owns this machine's filter chains"
    return 0
  fi
  echo "$STATE" > "$KUBE_ROUTER_OWNER"
  [ -s "$STATE/kube-router-health.port" ] || free_port > "$STATE/kube-router-health.port"
  start_component kube-router --run-firewall=true --run-router=false --run-service-proxy=false \
    --enable-cni=false --kubeconfig "$STATE/kubeconfig" --hostname-override "$NODE_NAME" \
    --service-cluster-ip-range "$SERVICE_CIDR" --health-port "$(cat "$STATE/kube-router-health.port")" \
    --metrics-port 0 --v=1
  wait_for "kube-router (NetworkPolicy)" 60 network_policy_ready
  say "NetworkPolicy enforced by kube-router $KUBE_ROUTER_VERSION (iptables and ipsets on the host)"
}

# Ready: alive, healthy, and its chains hooked into the host's filter table.
network_policy_ready() {
  alive kube-router &&
    curl -sf "http://127.0.0.1:$(cat "$STATE/kube-router-health.port")/healthz" >/dev/null &&
    iptables -w 5 -S FORWARD | grep -q -- "-j KUBE-ROUTER-FORWARD"
}

# Stops the controller and, when this cluster owned the machine's chains, removes what it wrote (a
# stopped controller leaves its rules in force, and a later cluster may reuse the pod addresses): the
# jumps into its chains, its chains, then its ipsets. Only kube-router's own names are touched.
network_policy_down() {
  stop_component kube-router
  [ "$(id -u)" = 0 ] || return 0
  [ "$(cat "$KUBE_ROUTER_OWNER" 2>/dev/null)" = "$STATE" ] || return 0
  rm -f "$KUBE_ROUTER_OWNER"
  command -v iptables-save >/dev/null 2>&1 || return 0
  local saved chains=()
  saved=$(iptables-save -t filter 2>/dev/null) || return 0
  mapfile -t chains < <(grep -oE '^:KUBE-(ROUTER-[A-Z]+|POD-FW-[A-Z0-9]+|NWPLCY-[A-Z0-9]+) ' <<<"$saved" | tr -d ': ' || true)
  if [ ${#chains[@]} -gt 0 ]; then
    {
      echo '*filter'
      grep -E '^-A (INPUT|FORWARD|OUTPUT) .*-j KUBE-ROUTER-' <<<"$saved" | sed 's/^-A /-D /' || true
      printf -- '-F %s\n' "${chains[@]}"
      printf -- '-X %s\n' "${chains[@]}"
      echo COMMIT
    } | iptables-restore -w 5 --noflush || say "could not remove every kube-router rule (see iptables-save)"
  fi
  command -v ipset >/dev/null 2>&1 || return 0
  local set
  for set in $(ipset list -n 2>/dev/null | grep -E '^(inet6:)?KUBE-(SRC|DST)-' || true); do
    ipset destroy "$set" 2>/dev/null || true
  done
}
