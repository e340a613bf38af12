/**
 * The GpuAllocation reconciler and its informers. One reconcile: read the allocation, its
 * Sandbox, the nodes' published GPU inventories and every other allocation from the caches →
 * compute the next status (`gpu/allocation-status.ts`, placing with `gpu/placement.ts` when it is
 * not Bound) → write it once when it differs.
 *
 * Allocations are placed one at a time (one worker), and the devices this process bound a moment
 * ago count as taken even before the cache shows them, so two allocations never get the same GPU.
 * No finalizer: nothing outside the cluster holds GPUs. An allocation is owned by its Sandbox and
 * goes with it; its devices are free once it is gone or Released and no pod made for it is left
 * (a terminating pod still holds its devices in the kubelet, so they stay taken until it is gone).
 */
import { isDeepStrictEqual } from "node:util";
import * as k8s from "@kubernetes/client-node";
import {
  GpuAllocationResource,
  type GpuAllocation,
  type GpuAllocationStatus,
  type Sandbox,
} from "../../../api/gen/crd-types.js";
import { INVENTORY_ANNOTATION, parseInventoryAnnotation } from "../../../api/gpu.js";
import {
  customObjectRef,
  customResourcePath,
  listCustomObjects,
} from "../../../lib/custom-resource.js";
import { startCache, type Cache } from "../../../lib/informer-cache.js";
import type { Logger } from "../../../lib/log.js";
import { allocationStatus, holdsDevices, requestOf } from "../gpu/allocation-status.js";
import { placeGpus, type GpuNode } from "../gpu/placement.js";
import { GPU_DEVICES_ANNOTATION } from "../gpu/desired-gpu-allocation.js";
import type { EventRecorder } from "../kube/events.js";
import { createWorkQueue, type WorkQueue } from "../work-queue.js";

/** What {@link createGpuAllocationReconciler} reads and writes. */
export interface GpuAllocationDeps {
  allocations: Cache<GpuAllocation>;
  sandboxes: Cache<Sandbox>;
  nodes: Cache<k8s.V1Node>;
  /** The operator's pods: those made for an allocation name its devices (an annotation). */
  pods?: Cache<k8s.V1Pod>;
  writeStatus(a: GpuAllocation, status: GpuAllocationStatus): Promise<GpuAllocation>;
  events: EventRecorder;
  log: Logger;
  now?: () => Date;
}

/** The nodes as the placement sees them: their published devices; unschedulable nodes have none. */
export function gpuNodes(nodes: readonly k8s.V1Node[]): GpuNode[] {
  return nodes.map((n) => ({
    name: n.metadata?.name ?? "",
    devices: n.spec?.unschedulable
      ? []
      : parseInventoryAnnotation(n.metadata?.annotations?.[INVENTORY_ANNOTATION]),
  }));
}

/**
 * Devices held by pods that have not ended, by node: a pod of a deleted Sandbox keeps its GPUs in
 * the kubelet until it is gone, after its GpuAllocation was already garbage-collected.
 */
export function podHeldDevices(pods: readonly k8s.V1Pod[]): Map<string, string[]> {
  const held = new Map<string, string[]>();
  for (const p of pods) {
    const ids = p.metadata?.annotations?.[GPU_DEVICES_ANNOTATION];
    const node = p.spec?.nodeName;
    if (!ids || !node || p.status?.phase === "Succeeded" || p.status?.phase === "Failed") continue;
    held.set(node, [...(held.get(node) ?? []), ...ids.split(",").filter((id) => id !== "")]);
  }
  return held;
}

/** Reconciles one GpuAllocation (key namespace/name). */
export function createGpuAllocationReconciler(deps: GpuAllocationDeps) {
  const now = deps.now ?? (() => new Date());
  /** What this process wrote last, by key, until the cache shows that version or a newer one. */
  const recent = new Map<string, GpuAllocation>();
  const keyOf = (a: GpuAllocation) => `${a.metadata.namespace ?? ""}/${a.metadata.name ?? ""}`;
  const current = (): GpuAllocation[] => {
    const seen = deps.allocations.list();
    const byKey = new Map(seen.map((a) => [keyOf(a), a]));
    for (const [key, mine] of recent) {
      const cached = byKey.get(key);
      if (!cached || cached.metadata.uid !== mine.metadata.uid) {
        if (!cached) recent.delete(key); // deleted (or not listed yet): nothing held
        continue;
      }
      if (Number(cached.metadata.resourceVersion) >= Number(mine.metadata.resourceVersion))
        recent.delete(key);
      else byKey.set(key, mine);
    }
    return [...byKey.values()];
  };

  return async function reconcile(key: string): Promise<void> {
    const [namespace = "", name = ""] = key.split("/");
    const cached = deps.allocations.get(name, namespace);
    if (!cached || cached.metadata.deletionTimestamp) return;
    const all = current();
    const a = all.find((x) => keyOf(x) === key) ?? cached;
    const sb = deps.sandboxes.get(a.spec.sandbox, namespace);
    const sandboxExists = !!sb && !sb.metadata.deletionTimestamp;
    let placement;
    if (sandboxExists && !holdsDevices(a)) {
      const taken = new Map<string, Set<string>>();
      for (const other of all) {
        if (keyOf(other) === key || !holdsDevices(other)) continue;
        const node = other.status?.node ?? "";
        taken.set(node, new Set([...(taken.get(node) ?? []), ...(other.status?.deviceIds ?? [])]));
      }
      for (const [node, ids] of podHeldDevices(deps.pods?.list() ?? []))
        taken.set(node, new Set([...(taken.get(node) ?? []), ...ids]));
      placement = placeGpus(requestOf(a), gpuNodes(deps.nodes.list()), taken);
    }
    const status = allocationStatus(a, {
      now: now(),
      sandboxExists,
      ...(placement ? { placement } : {}),
    });
    if (isDeepStrictEqual(status, a.status ?? {})) return;
    const written = await deps.writeStatus(a, status);
    recent.set(key, written);
    const log = deps.log.with({ gpuAllocation: key });
    if (status.phase !== a.status?.phase) {
      const c = status.conditions?.find((x) => x.type === "Bound");
      log.info("GpuAllocation phase changed", {
        phase: status.phase,
        reason: c?.reason,
        message: c?.message,
      });
      deps.events.record(
        a,
        status.phase === "Failed" ? "Warning" : "Normal",
        c?.reason ?? status.phase ?? "Pending",
        c?.message ?? `The GpuAllocation is ${status.phase}.`,
      );
    }
  };
}

/** A running GpuAllocation controller. */
export interface GpuAllocationController {
  /** Every GpuAllocation of the cluster (the Sandbox reconciler reads its own from here). */
  readonly allocations: Cache<GpuAllocation>;
  readonly synced: Promise<void>;
  /** Queues the allocation of this key (a Sandbox changed). */
  enqueue(key: string): void;
  /** A pod changed: when it held GPUs, the waiting allocations look again. */
  podChanged(pod: k8s.KubernetesObject): void;
  stop(): Promise<void>;
}

/**
 * Starts the informers (GpuAllocations and Nodes cluster-wide: placement must see every
 * reservation and every GPU node; the sandboxes cache is the Sandbox controller's) and the queue.
 * Only allocations in `namespace` (all when absent) are reconciled.
 */
export function startGpuAllocationController(opts: {
  kubeConfig: k8s.KubeConfig;
  sandboxes: Cache<Sandbox>;
  events: EventRecorder;
  log: Logger;
  namespace?: string;
  /** The operator's pod cache (see {@link GpuAllocationDeps.pods}). */
  pods?: Cache<k8s.V1Pod>;
  onAllocationChange?: (a: GpuAllocation) => void;
}): GpuAllocationController {
  const { kubeConfig, log, namespace } = opts;
  const custom = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  const inScope = (o: k8s.KubernetesObject) => !namespace || o.metadata?.namespace === namespace;
  const keyOf = (o: k8s.KubernetesObject) =>
    `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;
  // Informers call back only after they start listing, so `queue` is there by then.
  const enqueue = (key: string) => queue.add(key);
  // A change anywhere can free or take GPUs: every unbound allocation in scope looks again.
  const enqueueWaiting = () => {
    for (const a of allocations.list()) if (inScope(a) && !holdsDevices(a)) enqueue(keyOf(a));
  };
  const allocations: Cache<GpuAllocation> = startCache<GpuAllocation>({
    kubeConfig,
    log,
    path: customResourcePath(GpuAllocationResource),
    list: () => listCustomObjects<GpuAllocation>(custom, GpuAllocationResource),
    onChange: (a, verb) => {
      if (inScope(a)) enqueue(keyOf(a));
      if (verb === "delete" || a.status?.phase === "Released") enqueueWaiting();
      opts.onAllocationChange?.(a);
    },
  });
  const nodes = startCache<k8s.V1Node>({
    kubeConfig,
    log,
    path: "/api/v1/nodes",
    list: () => core.listNode(),
    onChange: () => enqueueWaiting(),
  });
  const reconcile = createGpuAllocationReconciler({
    allocations,
    sandboxes: opts.sandboxes,
    nodes,
    ...(opts.pods ? { pods: opts.pods } : {}),
    events: opts.events,
    log,
    writeStatus: (a, status) =>
      custom.replaceNamespacedCustomObjectStatus({
        ...customObjectRef(GpuAllocationResource),
        namespace: a.metadata.namespace ?? "",
        name: a.metadata.name ?? "",
        body: { ...a, status },
      }) as Promise<GpuAllocation>,
  });
  const synced = Promise.all([allocations.synced, nodes.synced, opts.sandboxes.synced]).then(
    () => undefined,
  );
  const queue: WorkQueue = createWorkQueue({
    workers: 1, // one placement at a time: two never pick the same free GPU
    reconcile: (key) => synced.then(() => reconcile(key)),
    onResult: (key, outcome) => {
      if (outcome.error)
        log.warn("GpuAllocation reconcile failed; retrying", { key, error: outcome.error });
    },
  });
  return {
    allocations,
    synced,
    enqueue,
    podChanged(pod) {
      if (pod.metadata?.annotations?.[GPU_DEVICES_ANNOTATION]) enqueueWaiting();
    },
    async stop() {
      await Promise.all([allocations.stop(), nodes.stop()]);
      await queue.shutdown();
    },
  };
}
