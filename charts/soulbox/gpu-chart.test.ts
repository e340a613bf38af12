/**
 * The chart's GPU part, rendered without a cluster: gpu.enabled gives the operator `--gpus` and
 * the RBAC its GpuAllocation controller needs, and runs SoulBox's device plugin as a DaemonSet on
 * the GPU nodes (the kubelet's socket directory, /sys and /dev, its node's name); useNvidia leaves
 * both to NVIDIA's plugin; bad values are refused with their path.
 */
import type * as k8s from "@kubernetes/client-node";
import { CHART, KUBE_VERSION, helm, ofKind, render, type K8sObject } from "./helm.js";

const DS = "demo-soulbox-gpu-device-plugin";
const operatorArgs = (objects: K8sObject[]) =>
  ofKind<k8s.V1Deployment>(objects, "Deployment").find(
    (d) => d.metadata?.name === "demo-soulbox-operator",
  )?.spec?.template.spec?.containers[0]?.args ?? [];
const rulesOf = (objects: K8sObject[], name: string) =>
  ofKind<k8s.V1ClusterRole>(objects, "ClusterRole").find((r) => r.metadata?.name === name)?.rules;

test("by default: no --gpus, no plugin, no GPU RBAC", () => {
  const objects = render();
  expect(operatorArgs(objects)).not.toContain("--gpus");
  expect(ofKind(objects, "DaemonSet")).toEqual([]);
  expect(rulesOf(objects, "demo-soulbox-operator-gpu")).toBeUndefined();
});

test("gpu.enabled: the operator runs the GpuAllocation controller with the RBAC it needs", () => {
  const objects = render(["gpu.enabled=true"]);
  expect(operatorArgs(objects)).toContain("--gpus");
  expect(rulesOf(objects, "demo-soulbox-operator-gpu")).toEqual([
    {
      apiGroups: ["soulbox.dev"],
      resources: ["gpuallocations"],
      verbs: ["get", "list", "watch", "create", "delete"],
    },
    {
      apiGroups: ["soulbox.dev"],
      resources: ["gpuallocations/status"],
      verbs: ["get", "update", "patch"],
    },
    { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"] },
  ]);
  const binding = ofKind<k8s.V1ClusterRoleBinding>(objects, "ClusterRoleBinding").find(
    (b) => b.metadata?.name === "demo-soulbox-operator-gpu",
  );
  expect(binding?.subjects).toEqual([
    { kind: "ServiceAccount", name: "demo-soulbox", namespace: "soulbox-system" },
  ]);
});

test("gpu.enabled: the device plugin DaemonSet on the GPU nodes, from the operator image", () => {
  const objects = render(["gpu.enabled=true", "gpu.devicePlugin.cdi=true"]);
  const [ds] = ofKind<k8s.V1DaemonSet>(objects, "DaemonSet");
  expect(ds?.metadata?.name).toBe(DS);
  const pod = ds?.spec?.template.spec;
  expect(pod?.serviceAccountName).toBe(DS);
  expect(pod?.nodeSelector).toEqual({ "nvidia.com/gpu.present": "true" });
  expect(pod?.runtimeClassName).toBe("nvidia");
  expect(pod?.priorityClassName).toBe("system-node-critical");
  const c = pod?.containers[0];
  expect(c?.image).toBe("localhost/soulbox/operator:latest");
  expect(c?.command?.at(-1)).toBe("/opt/soulbox/gpu-plugin.mjs");
  expect(c?.args).toEqual(["--node-name", "$(NODE_NAME)", "--log-level", "info", "--cdi"]);
  expect(c?.env?.find((e) => e.name === "NODE_NAME")?.valueFrom?.fieldRef?.fieldPath).toBe(
    "spec.nodeName",
  );
  expect(c?.volumeMounts?.map((m) => [m.mountPath, m.readOnly ?? false])).toEqual([
    ["/var/lib/kubelet/device-plugins", false],
    ["/sys", true],
    ["/dev", true],
  ]);
  expect(c?.securityContext).toMatchObject({
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
  });
  expect(rulesOf(objects, DS)).toEqual([
    { apiGroups: [""], resources: ["nodes"], verbs: ["get", "patch"] },
    { apiGroups: ["soulbox.dev"], resources: ["gpuallocations"], verbs: ["get", "list", "watch"] },
  ]);
});

test("useNvidia: neither the plugin nor GpuAllocation placement", () => {
  const objects = render(["gpu.enabled=true", "gpu.devicePlugin.useNvidia=true"]);
  expect(ofKind(objects, "DaemonSet")).toEqual([]);
  expect(operatorArgs(objects)).not.toContain("--gpus");
});

test.each([
  ["gpu.devicePlugin.runtimeClassName=Bad", "/gpu/devicePlugin/runtimeClassName"],
  ["gpu.devicePlugin.bogus=1", "/gpu/devicePlugin"],
  ["gpu.enabled=yes", "/gpu/enabled"],
])("%s is refused, naming the value", (set, path) => {
  const r = helm(["template", "demo", CHART, "--kube-version", KUBE_VERSION, "--set", set]);
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain(path);
});
