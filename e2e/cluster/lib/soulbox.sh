# shellcheck shell=bash
# SoulBox itself on the cluster: charts/soulbox (the operator and the gateway) with the locally
# built images (up --with-soulbox).

GATEWAY_TLS_SECRET=soulbox-gateway-tls

# Snapshots on the local cluster: a file:// store on a PersistentVolumeClaim of the local-path
# StorageClass (the chart's storage.pvc), and the node agent pointed at this node's containerd and
# kubelet directories (they live under $STATE here, not at the distributions' defaults), with
# Memory snapshots on.
SNAPSHOT_CLAIM=soulbox-snapshots
snapshot_store_values() {
  kctl get namespace "$SOULBOX_NAMESPACE" >/dev/null 2>&1 || kctl create namespace "$SOULBOX_NAMESPACE" >/dev/null
  kctl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata: { name: $SNAPSHOT_CLAIM, namespace: $SOULBOX_NAMESPACE }
spec:
  accessModes: [ReadWriteOnce]
  resources: { requests: { storage: 20Gi } }
EOF
  sets+=(--set storage.url=file:///var/lib/soulbox/snapshots --set "storage.pvc.claimName=$SNAPSHOT_CLAIM"
    --set "nodeAgent.paths.containerdState=$STATE/containerd/state" --set "nodeAgent.paths.containerdRoot=$STATE/containerd/root"
    --set "nodeAgent.paths.kubeletRoot=$STATE/node/kubelet" --set "nodeAgent.cache.hostPath=$STATE/node-agent-cache")
  # Memory snapshots (pauseMode Memory): the agent reaches this node's containerd with the ctr
  # built here, and this kubelet (its own port) with its ServiceAccount token.
  sets+=(--set nodeAgent.memory.enabled=true --set "nodeAgent.memory.ctr=$BIN/ctr"
    --set "nodeAgent.memory.containerdSocket=$STATE/containerd/containerd.sock"
    --set "nodeAgent.memory.kubeletPort=$(cat "$STATE/kubelet.port")")
}

# The release: the operator and, when dist/gateway.mjs exists (the operator image carries it), the
# gateway for team `default` with HTTPS on *.soulbox.test; then that name on this machine and a key.
install_soulbox() {
  local started=$SECONDS out gateway=0 sets=()
  if [ -f "$REPO/dist/gateway.mjs" ]; then
    gateway=1
    gateway_tls_secret "$SOULBOX_NAMESPACE" "$GATEWAY_TLS_SECRET" "$SOULBOX_DOMAIN"
    sets=(--set "gateway.domain=$SOULBOX_DOMAIN" --set "gateway.tls.secretName=$GATEWAY_TLS_SECRET" --set "gateway.teams={default}")
    # A warm pool of the base template (up --no-pools: none), so a plain Sandbox.create() is warm.
    [ "${WITH_POOLS:-1}" = 0 ] || sets+=(--set "gateway.pools.base.minReady=2")
  else
    say "installing SoulBox without the gateway: dist/gateway.mjs does not exist"
    sets=(--set gateway.enabled=false)
  fi
  # The image's digest as a pod annotation: a rebuilt image (same tag) rolls the Deployments.
  local digest
  # shellcheck disable=SC2034 # KIT_DIR: read by image_tar and the fill functions (images.sh)
  KIT_DIR=$(kit_dir)
  digest=$(tar -xOf "$(image_tar operator)" ./index.json | grep -o -m1 'sha256:[0-9a-f]*' | cut -c8-23)
  sets+=(--set-string "podAnnotations.soulbox\\.dev/image=$digest")
  # The API server and the kubelet run with the ImageVolume gate (1.34: beta, off by default):
  # sandbox pods mount the executor kit from the envd image instead of copying it.
  sets+=(--set envd.kitVolume=image)
  [ "$gateway" = 0 ] || sets+=(--set-string "gateway.podAnnotations.soulbox\\.dev/image=$digest")
  snapshot_store_values
  say "installing SoulBox (charts/soulbox) as release $SOULBOX_RELEASE in $SOULBOX_NAMESPACE"
  out=$("$BIN/helm" --kubeconfig "$STATE/kubeconfig" upgrade --install "$SOULBOX_RELEASE" "$HERE/../../charts/soulbox" \
    --namespace "$SOULBOX_NAMESPACE" --create-namespace "${sets[@]}" --wait --timeout 180s 2>&1) ||
    die "helm could not install SoulBox: $out (pods: $(kctl -n "$SOULBOX_NAMESPACE" get pods -o wide 2>&1 | tail -n +2))"
  [ "$gateway" = 0 ] || gateway_local_access
  # shellcheck disable=SC2016 # the eval line is for the user to run, not expanded here
  say "SoulBox ready in $((SECONDS - started)) s (kubectl apply -f examples/sandbox.yaml; kubectl get sbx$([ "$gateway" = 0 ] || echo '; eval "$(e2e/cluster/env)" for the e2b SDK'))"
}
