# shellcheck shell=bash
# The control plane: etcd, kube-apiserver, kube-controller-manager and kube-scheduler, their
# flags, and the checks that they are ready.

# The API server's address: the cluster bridge's (pods and kube-proxy reach it there) when up ran as
# root, loopback otherwise (no node can run then). Recorded at the first up; older state has none.
api_addr() { cat "$STATE/apiserver.addr" 2>/dev/null || echo 127.0.0.1; }
api_url() { echo "https://$(api_addr):$(cat "$STATE/apiserver.port")"; }

readyz() { curl -sk --max-time 2 --cacert "$STATE/pki/ca.crt" --cert "$STATE/pki/admin.crt" --key "$STATE/pki/admin.key" "$(api_url)/readyz" 2>/dev/null; }

apiserver_ready() { [ "$(readyz)" = "ok" ]; }
etcd_ready() { curl -s --max-time 1 "http://127.0.0.1:$(cat "$STATE/etcd.port")/health" | grep -q '"health":"true"'; }

start_etcd() {
  start_component etcd --name default --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$(cat "$STATE/etcd.port")" \
    --advertise-client-urls "http://127.0.0.1:$(cat "$STATE/etcd.port")" \
    --listen-peer-urls "http://127.0.0.1:$(cat "$STATE/etcd-peer.port")" \
    --initial-advertise-peer-urls "http://127.0.0.1:$(cat "$STATE/etcd-peer.port")" \
    --initial-cluster "default=http://127.0.0.1:$(cat "$STATE/etcd-peer.port")" \
    --listen-metrics-urls "" --quota-backend-bytes 2147483648
}

start_apiserver() {
  local pki=$STATE/pki addr; addr=$(api_addr)
  net_ids
  # Bound to the bridge address only (not 0.0.0.0): reachable from this machine and its pods.
  [ "$addr" = 127.0.0.1 ] || ensure_bridge
  encryption_config
  start_component kube-apiserver \
    --etcd-servers "http://127.0.0.1:$(cat "$STATE/etcd.port")" \
    --bind-address "$addr" --advertise-address "$addr" --secure-port "$(cat "$STATE/apiserver.port")" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" --encryption-provider-config "$pki/encryption-config.yaml" \
    --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$pki/ca.crt" --kubelet-preferred-address-types InternalIP,Hostname \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --authorization-mode Node,RBAC \
    --enable-admission-plugins NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultStorageClass,ResourceQuota,NodeRestriction,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy \
    --service-cluster-ip-range "$SERVICE_CIDR" --allow-privileged=true --feature-gates ImageVolume=true \
    --profiling=false --v=1
}

start_controller_manager() {
  local pki=$STATE/pki kc=$STATE/kubeconfig
  start_component kube-controller-manager \
    --kubeconfig "$kc" --authentication-kubeconfig "$kc" --authorization-kubeconfig "$kc" \
    --bind-address 127.0.0.1 --secure-port "$(cat "$STATE/controller-manager.port")" \
    --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
    --use-service-account-credentials --controllers '*' --leader-elect=false \
    --concurrent-gc-syncs 5 --profiling=false --v=1
}

start_scheduler() {
  local kc=$STATE/kubeconfig
  start_component kube-scheduler \
    --kubeconfig "$kc" --authentication-kubeconfig "$kc" --authorization-kubeconfig "$kc" \
    --bind-address 127.0.0.1 --secure-port "$(cat "$STATE/scheduler.port")" \
    --leader-elect=false --profiling=false --v=1
}
