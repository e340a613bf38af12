# shellcheck shell=bash
# The node's dynamic provisioner: local-path-provisioner (github.com/rancher/local-path-provisioner,
# pinned in go/local-path-provisioner/go.mod), built from its Go module like the other components
# and run as a host process with the cluster's admin kubeconfig, started and stopped by pid. A
# PersistentVolumeClaim of the default StorageClass `local-path` (WaitForFirstConsumer: bound once
# a pod using it is scheduled) becomes a directory under $STATE/local-path on the node, made and
# removed by helper pods that run the sandbox-base image (it has sh, mkdir and rm; nothing is
# pulled). Production clusters use their own StorageClass (see README, "Volumes").

LOCAL_PATH_VERSION=v0.0.30
LOCAL_PATH_NAMESPACE=local-path-storage
LOCAL_PATH_CLASS=local-path
LOCAL_PATH_SA=local-path-provisioner

build_local_path_provisioner() {
  BUILD_TARGET=github.com/rancher/local-path-provisioner build_one "local-path-provisioner $LOCAL_PATH_VERSION" \
    local-path-provisioner local-path-provisioner -ldflags "-s -w -X main.VERSION=$LOCAL_PATH_VERSION"
}

# The provisioner's namespace, its helper pods' ServiceAccount and scripts (the ConfigMap it reads
# at start and mounts into every helper pod), and the default StorageClass.
local_path_manifests() {
  local dir=$1
  cat <<EOF
apiVersion: v1
kind: Namespace
metadata: { name: $LOCAL_PATH_NAMESPACE }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: $LOCAL_PATH_SA, namespace: $LOCAL_PATH_NAMESPACE }
automountServiceAccountToken: false
---
apiVersion: v1
kind: ConfigMap
metadata: { name: local-path-config, namespace: $LOCAL_PATH_NAMESPACE }
data:
  config.json: |-
    {"nodePathMap": [{"node": "DEFAULT_PATH_FOR_NON_LISTED_NODES", "paths": ["$dir"]}]}
  setup: |-
    #!/bin/sh
    set -eu
    mkdir -m 0777 -p "\$VOL_DIR"
  teardown: |-
    #!/bin/sh
    set -eu
    rm -rf "\$VOL_DIR"
  helperPod.yaml: |-
    apiVersion: v1
    kind: Pod
    metadata:
      name: helper-pod
    spec:
      automountServiceAccountToken: false
      containers:
        - name: helper-pod
          image: $BASE_IMAGE
          imagePullPolicy: Never
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: $LOCAL_PATH_CLASS
  annotations: { storageclass.kubernetes.io/is-default-class: "true" }
provisioner: rancher.io/local-path
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
EOF
}

# After the node is Ready: the manifests, then the provisioner (once; `up` again keeps it).
storage_class_up() {
  build_local_path_provisioner
  local dir="$STATE/local-path"
  mkdir -p "$dir"
  local_path_manifests "$dir" | kctl apply -f - >/dev/null || die "could not apply the local-path StorageClass"
  alive local-path-provisioner && return 0
  start_component local-path-provisioner --debug start --kubeconfig "$STATE/kubeconfig" \
    --namespace "$LOCAL_PATH_NAMESPACE" --service-account-name "$LOCAL_PATH_SA" --helper-image "$BASE_IMAGE"
  wait_for "local-path-provisioner" 30 local_path_started
  say "StorageClass $LOCAL_PATH_CLASS (default) served by local-path-provisioner $LOCAL_PATH_VERSION, data in $dir"
}

# Started: alive, and past reading its config (it exits at once on a bad one).
local_path_started() {
  alive local-path-provisioner && grep -q "Starting provisioner controller" "$STATE/logs/local-path-provisioner.log"
}

storage_class_down() { stop_component local-path-provisioner; }
