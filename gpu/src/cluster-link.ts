/**
 * The plugin's two links to the API server, both optional (without a node name the plugin runs
 * on its own): it publishes its inventory on its Node (annotation `gpu.soulbox.dev/inventory`,
 * which the operator places GpuAllocations against), and it watches the GpuAllocations bound to
 * its node, whose device sets GetPreferredAllocation then prefers: that is how the devices the
 * operator chose reach the pod (the kubelet asks the plugin which devices it prefers, then
 * Allocates those).
 */
import * as k8s from "@kubernetes/client-node";
import { GpuAllocationResource, type GpuAllocation } from "../../api/gen/crd-types.js";
import { INVENTORY_ANNOTATION } from "../../api/gpu.js";
import { customResourcePath, listCustomObjects } from "../../lib/custom-resource.js";
import { startCache, type Cache } from "../../lib/informer-cache.js";
import type { Logger } from "../../lib/log.js";
import { publishedDevices, type Inventory } from "./inventory.js";

/** The field manager of the plugin's Node patches. */
const MANAGER = "soulbox-gpu-plugin";

/** A running link. */
export interface ClusterLink {
  /** Device sets of bound GpuAllocations on this node, the longest-bound first. */
  pinned(): string[][];
  /** Writes the inventory onto the Node (only when it changed since the last write). */
  publish(inv: Inventory): Promise<void>;
  stop(): Promise<void>;
}

/** Bound on `node`: its devices, ordered by when it became Bound (pods come in that order). */
export function pinnedSets(allocations: readonly GpuAllocation[], node: string): string[][] {
  const boundAt = (a: GpuAllocation) =>
    a.status?.conditions?.find((c) => c.type === "Bound")?.lastTransitionTime ?? "";
  return allocations
    .filter(
      (a) => a.status?.phase === "Bound" && a.status.node === node && a.status.deviceIds?.length,
    )
    .sort((a, b) => boundAt(a).localeCompare(boundAt(b)))
    .map((a) => [...(a.status?.deviceIds ?? [])]);
}

/** Starts watching GpuAllocations and returns the link. */
export function startClusterLink(opts: {
  kubeConfig: k8s.KubeConfig;
  node: string;
  log: Logger;
}): ClusterLink {
  const custom = opts.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  const objects = k8s.KubernetesObjectApi.makeApiClient(opts.kubeConfig);
  const allocations: Cache<GpuAllocation> = startCache<GpuAllocation>({
    kubeConfig: opts.kubeConfig,
    log: opts.log,
    path: customResourcePath(GpuAllocationResource),
    list: () => listCustomObjects<GpuAllocation>(custom, GpuAllocationResource, {}),
    onChange: () => pinsChanged(),
  });
  let last = "";
  let lastPins = "[]";
  // Logged on every change of the pinned sets: what the plugin will prefer, for people and tests.
  const pinsChanged = () => {
    const pins = JSON.stringify(pinnedSets(allocations.list(), opts.node));
    if (pins === lastPins) return;
    lastPins = pins;
    opts.log.info("device sets bound here changed", { pinned: JSON.parse(pins) as unknown });
  };
  return {
    pinned: () => pinnedSets(allocations.list(), opts.node),
    async publish(inv) {
      const value = JSON.stringify(publishedDevices(inv));
      if (value === last) return;
      await objects.patch(
        {
          apiVersion: "v1",
          kind: "Node",
          metadata: { name: opts.node, annotations: { [INVENTORY_ANNOTATION]: value } },
        },
        undefined,
        undefined,
        MANAGER,
        undefined,
        k8s.PatchStrategy.MergePatch,
      );
      last = value;
      opts.log.info("published the inventory on the node", { node: opts.node });
    },
    stop: () => allocations.stop(),
  };
}
