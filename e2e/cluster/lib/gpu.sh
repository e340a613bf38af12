# shellcheck shell=bash
# Fake GPUs (up --fake-gpus N): SoulBox's GPU device plugin (gpu/, dist/gpu-plugin.mjs) as a host
# process, started and stopped by pid, with a fake inventory of N GPUs over two NUMA nodes in
# $STATE/gpus (device nodes made with mknod). Only the inventory is fake: the plugin registers
# with this node's real kubelet over the real device-plugin gRPC API, so the Node advertises
# nvidia.com/gpu: N, and it publishes the inventory on the Node for the operator's placement.
# N is kept in $STATE/fake-gpus, so a second up (or a restart) keeps the GPUs.
#
# The kubelet gets the Topology Manager (single-numa-node, scope pod) and the static CPU manager
# only where the machine has two NUMA nodes or more: the kubelet reads the machine's real
# topology, and on a one-NUMA machine it would count a fake GPU on NUMA node 1 as on no node it
# has (single-numa-node then refuses pods whose GPUs are there, best-effort hands out node-0 GPUs
# instead of the operator's choice). There the plugin's preferred allocation and the operator's
# placement keep sameNuma, and the kubelet's own policy stays none. SOULBOX_TOPOLOGY_POLICY
# overrides the choice (e.g. single-numa-node, to see the refusal).

# The kubelet's device-plugin directory: fixed in the kubelet (pluginapi.KubeletSocket), whatever
# its --root-dir, so one cluster at a time can have plugins.
GPU_PLUGIN_DIR=/var/lib/kubelet/device-plugins

fake_gpus() { cat "$STATE/fake-gpus" 2>/dev/null || true; }

# `up --fake-gpus N`: check N and remember it.
set_fake_gpus() {
  if ! [[ $1 =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ] || [ "$1" -gt 64 ]; then
    die "--fake-gpus takes a number of GPUs from 1 to 64, not '$1'"
  fi
  mkdir -p "$STATE"
  echo "$1" > "$STATE/fake-gpus"
}

numa_nodes() { find /sys/devices/system/node -maxdepth 1 -name 'node[0-9]*' 2>/dev/null | wc -l; }

topology_policy() {
  if [ -n "${SOULBOX_TOPOLOGY_POLICY:-}" ]; then echo "$SOULBOX_TOPOLOGY_POLICY"
  elif [ "$(numa_nodes)" -ge 2 ]; then echo single-numa-node
  else echo none; fi
}

# The kubelet configuration lines for fake GPUs (none without them); kubelet.yaml.tmpl ends with them.
gpu_kubelet_config() {
  [ -n "$(fake_gpus)" ] || return 0
  local policy
  policy=$(topology_policy)
  [ "$policy" != none ] || return 0
  printf '%s\n' "# up --fake-gpus: GPUs, CPUs and memory of a pod on one NUMA node (see lib/gpu.sh)." \
    "topologyManagerPolicy: $policy" "topologyManagerScope: pod" \
    "cpuManagerPolicy: static" 'reservedSystemCPUs: "0"'
}

gpu_plugin_node() {
  local node=$REPO/node_modules/.bin/node
  [ -x "$node" ] || node=$(command -v node) || die "no node to run the GPU device plugin with"
  echo "$node"
}

gpu_plugin_up() {
  local n
  n=$(fake_gpus)
  [ -n "$n" ] || return 0
  if [ ! -f "$REPO/dist/gpu-plugin.mjs" ]; then
    say "building dist/ (the GPU device plugin)"
    (cd "$REPO" && "$(gpu_plugin_node)" scripts/build.mjs)
  fi
  if ! alive gpu-plugin; then
    [ "$(topology_policy)" != none ] || say "Topology Manager: none ($(numa_nodes) NUMA node(s) here; see lib/gpu.sh)"
    mkdir -p "$GPU_PLUGIN_DIR"
    local cmd=("$(gpu_plugin_node)" "$REPO/dist/gpu-plugin.mjs" --fake-inventory "$STATE/gpus" --fake-gpus "$n"
      --plugin-dir "$GPU_PLUGIN_DIR" --node-name "$NODE_NAME")
    printf '%q ' "${cmd[@]}" > "$STATE/gpu-plugin.cmd"
    KUBECONFIG=$STATE/kubeconfig setsid "${cmd[@]}" >>"$STATE/logs/gpu-plugin.log" 2>&1 < /dev/null &
    echo $! > "$STATE/gpu-plugin.pid"
  fi
  wait_for "nvidia.com/gpu: $n on node $NODE_NAME" 60 gpus_advertised "$n"
  say "fake GPUs: $n over 2 NUMA nodes (inventory $STATE/gpus, log $STATE/logs/gpu-plugin.log)"
}

gpus_advertised() {
  [ "$(kctl get node "$NODE_NAME" -o 'jsonpath={.status.capacity.nvidia\.com/gpu}' 2>/dev/null)" = "$1" ]
}

gpu_plugin_down() { stop_component gpu-plugin; }
