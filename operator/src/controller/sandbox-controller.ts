import * as k8s from "@kubernetes/client-node";
import {
  SandboxPoolResource,
  SandboxResource,
  SnapshotResource,
  type Sandbox,
  type SandboxPool,
  type Snapshot,
} from "../../../api/gen/crd-types.js";
import { TemplateError } from "../../../api/template.js";
import type { ObjectStore } from "../../../lib/storage/index.js";
import { customResourcePath, listCustomObjects } from "../../../lib/custom-resource.js";
import { statusOf } from "../kube/errors.js";
import { createEventRecorder } from "../kube/events.js";
import { createKubeReader, createKubeWriter, createSnapshotWriter } from "../kube/kube-io.js";
import { startCache, type Cache } from "../../../lib/informer-cache.js";
import { Label, MANAGER } from "../../../api/labels.js";
import type { Logger } from "../../../lib/log.js";
import type { OperatorMetrics } from "../metrics.js";
import type { SandboxPodSettings } from "../sandbox/settings.js";
import { createWorkQueue } from "../work-queue.js";
import { createEnvdClient, type EnvdClient } from "./envd-client.js";
import { createSandboxReconciler, type SandboxCaches } from "./reconcile-sandbox.js";
import { createPoolReconciler } from "./reconcile-pool.js";
import { createSnapshotReconciler } from "./reconcile-snapshot.js";
import type { NodeAgentClient } from "./node-agent-client.js";
import { templateOf } from "./sandbox-children.js";
import { createClaimLog } from "../pool/claim-log.js";
import {
  startGpuAllocationController,
  type GpuAllocationController,
} from "./gpu-allocation-controller.js";

/** Options for {@link startSandboxController}. */
export interface SandboxControllerOptions {
  kubeConfig: k8s.KubeConfig;
  settings: SandboxPodSettings;
  log: Logger;
  metrics: OperatorMetrics;
  /** Only this namespace; all when absent. */
  namespace?: string;
  workers?: number;
  envd?: EnvdClient;
  /** Also reconcile GpuAllocations (reads Nodes cluster-wide); without it spec.gpu is only a limit. */
  gpus?: boolean;
  /** The node agents (Snapshots, Filesystem pauses); without them those fail with a clear reason. */
  agent?: NodeAgentClient;
  /** Where Snapshots are stored (their objects are deleted with them). */
  store?: ObjectStore;
}

/** A running controller. */
export interface SandboxController {
  /** Resolves once every cache holds its first list. */
  readonly synced: Promise<void>;
  readonly isSynced: boolean;
  stop(): Promise<void>;
}

const KIND = "Sandbox";
const POOL_KIND = "SandboxPool";
const SNAPSHOT_KIND = "Snapshot";

/**
 * Wires the Sandbox and SandboxPool reconcilers: informers on Sandboxes,
 * SandboxPools and the children the operator manages (selected by the
 * managed-by label, mapped back to their owner), feeding one de-duplicating
 * work queue per kind keyed by namespace/name. One process runs both: a
 * Sandbox takes pool pods from the same pod cache the pool counts them in.
 */
export function startSandboxController(opts: SandboxControllerOptions): SandboxController {
  const { kubeConfig, log, metrics } = opts;
  const ns = opts.namespace;
  const custom = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  const net = kubeConfig.makeApiClient(k8s.NetworkingV1Api);
  const selector = `${Label.managedBy}=${MANAGER}`;
  const scoped = (group: string, plural: string) =>
    ns ? `${group}/namespaces/${ns}/${plural}` : `${group}/${plural}`;

  let stopping = false;
  const queue = createWorkQueue({
    workers: opts.workers,
    // Nothing is decided from a half-filled cache: a missing child there may only be unlisted yet.
    reconcile: (key) => synced.then(() => reconcile(key)),
    onResult: (key, outcome) => onResult(KIND, key, outcome),
  });
  const poolQueue = createWorkQueue({
    workers: 1,
    reconcile: (key) => synced.then(() => reconcilePool(key)),
    onResult: (key, outcome) => onResult(POOL_KIND, key, outcome),
  });
  // Captures are long (seconds per GiB) and each holds a worker: two run at once.
  const snapshotQueue = createWorkQueue({
    workers: 2,
    reconcile: (key) => synced.then(() => reconcileSnapshot(key)),
    onResult: (key, outcome) => onResult(SNAPSHOT_KIND, key, outcome),
  });
  const onResult = (
    kind: string,
    key: string,
    outcome: { durationMs: number; error?: unknown; retryInMs?: number },
  ) => {
    const durationS = outcome.durationMs / 1000;
    metrics.reconcileDuration.observe({ kind }, durationS);
    if (outcome.error) {
      metrics.reconciles.inc({ kind, result: "error" });
      metrics.reconcileErrors.inc({ kind });
      // A conflict only means the cache was a step behind: the retry reads the new version. Not
      // found: the object was deleted under the reconcile (a killed sandbox); the retry finds it gone.
      const status = statusOf(outcome.error);
      if (status === 409 || status === 404)
        log.debug(status === 409 ? "conflict; retrying" : "deleted meanwhile; retrying", {
          kind,
          key,
          retryInMs: outcome.retryInMs,
        });
      else if (!stopping)
        log.warn("reconcile failed; retrying", {
          kind,
          key,
          retryInMs: outcome.retryInMs,
          error: outcome.error,
        });
    } else metrics.reconciles.inc({ kind, result: "success" });
    const depth = { [KIND]: queue.depth, [POOL_KIND]: poolQueue.depth }[kind];
    metrics.queueDepth.set({ kind }, depth ?? snapshotQueue.depth);
  };
  const keyOf = (o: k8s.KubernetesObject) =>
    `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;
  const enqueueOwner = (o: k8s.KubernetesObject) => {
    gpus?.podChanged(o); // a pod that held GPUs: waiting allocations look again
    const namespace = o.metadata?.namespace ?? "";
    const owner = o.metadata?.ownerReferences?.find((r) => r.controller);
    if (owner?.kind === KIND) queue.add(`${namespace}/${owner.name}`);
    if (owner?.kind === POOL_KIND) poolQueue.add(`${namespace}/${owner.name}`);
    // A pod taken from a pool changes the pool's count too.
    const pool = o.metadata?.labels?.[Label.pool];
    if (pool && owner?.kind !== POOL_KIND) poolQueue.add(`${namespace}/${pool}`);
  };

  const sandboxes = startCache<Sandbox>({
    kubeConfig,
    log,
    path: customResourcePath(SandboxResource, ns),
    list: () => listCustomObjects<Sandbox>(custom, SandboxResource, { namespace: ns }),
    onChange: (o) => {
      queue.add(keyOf(o));
      gpus?.enqueue(keyOf(o)); // its GpuAllocation has its name (informers call back only after start)
    },
  });
  const child = <T extends k8s.KubernetesObject>(
    group: string,
    plural: string,
    list: () => Promise<k8s.KubernetesListObject<T>>,
  ): Cache<T> =>
    startCache<T>({
      kubeConfig,
      log,
      path: scoped(group, plural),
      labelSelector: selector,
      list,
      onChange: enqueueOwner,
    });
  const pools = startCache<SandboxPool>({
    kubeConfig,
    log,
    path: customResourcePath(SandboxPoolResource, ns),
    list: () => listCustomObjects<SandboxPool>(custom, SandboxPoolResource, { namespace: ns }),
    onChange: (o) => poolQueue.add(keyOf(o)),
  });
  // Every Snapshot in scope: users make them too, so no label selects them.
  const snapshots = startCache<Snapshot>({
    kubeConfig,
    log,
    path: customResourcePath(SnapshotResource, ns),
    list: () => listCustomObjects<Snapshot>(custom, SnapshotResource, { namespace: ns }),
    onChange: (o) => {
      snapshotQueue.add(keyOf(o));
      const namespace = o.metadata.namespace ?? "";
      // The sandbox it was taken of (a pause waits for it), and those that start from it.
      queue.add(`${namespace}/${o.spec.sandbox}`);
      for (const s of sandboxes.list(namespace))
        if (s.spec.restoreFrom === o.metadata.name || s.status?.lastSnapshot === o.metadata.name)
          queue.add(keyOf(s));
    },
  });
  const caches: SandboxCaches = {
    sandboxes,
    pools,
    snapshots,
    pods: child("/api/v1", "pods", () =>
      ns
        ? core.listNamespacedPod({ namespace: ns, labelSelector: selector })
        : core.listPodForAllNamespaces({ labelSelector: selector }),
    ),
    secrets: child("/api/v1", "secrets", () =>
      ns
        ? core.listNamespacedSecret({ namespace: ns, labelSelector: selector })
        : core.listSecretForAllNamespaces({ labelSelector: selector }),
    ),
    networkPolicies: child("/apis/networking.k8s.io/v1", "networkpolicies", () =>
      ns
        ? net.listNamespacedNetworkPolicy({ namespace: ns, labelSelector: selector })
        : net.listNetworkPolicyForAllNamespaces({ labelSelector: selector }),
    ),
  };
  const writer = createKubeWriter(kubeConfig);
  const reader = createKubeReader(kubeConfig);
  const events = createEventRecorder(kubeConfig, MANAGER, log);
  const claims = createClaimLog();
  const gpus: GpuAllocationController | undefined = opts.gpus
    ? startGpuAllocationController({
        kubeConfig,
        sandboxes,
        events,
        log,
        ...(ns ? { namespace: ns } : {}),
        pods: caches.pods,
        onAllocationChange: enqueueOwner,
      })
    : undefined;
  if (gpus) caches.gpuAllocations = gpus.allocations;
  const reconcile = createSandboxReconciler({
    caches,
    writer,
    reader,
    settings: opts.settings,
    envd: opts.envd ?? createEnvdClient(),
    ...(opts.agent ? { agent: opts.agent } : {}),
    events,
    metrics,
    claims,
    log,
  });
  const reconcileSnapshot = createSnapshotReconciler({
    snapshots,
    sandboxes,
    pods: caches.pods,
    secrets: caches.secrets,
    writer: createSnapshotWriter(kubeConfig),
    async templateOf(sb) {
      const t = await templateOf({
        sb,
        namespace: sb.metadata.namespace ?? "",
        deps: { reader, caches },
      });
      if (t instanceof TemplateError) throw t;
      return t;
    },
    envd: opts.envd ?? createEnvdClient(),
    ...(opts.agent ? { agent: opts.agent } : {}),
    ...(opts.store ? { store: opts.store } : {}),
    events,
    log,
  });
  const reconcilePool = createPoolReconciler({
    caches,
    writer,
    reader,
    settings: opts.settings,
    events,
    metrics,
    claims,
    log,
  });

  const all = Object.values(caches) as Cache<k8s.KubernetesObject>[];
  let isSynced = false;
  const synced = Promise.all([...all.map((c) => c.synced), gpus?.synced]).then(() => {
    isSynced = true;
  });
  const gauges = setInterval(() => {
    const counts = new Map<string, number>();
    for (const s of sandboxes.list()) {
      const phase = s.status?.phase ?? "Pending";
      counts.set(phase, (counts.get(phase) ?? 0) + 1);
    }
    metrics.sandboxesByPhase.reset();
    for (const [phase, n] of counts) metrics.sandboxesByPhase.set({ phase }, n);
    metrics.queueDepth.set({ kind: KIND }, queue.depth);
  }, 2000);
  gauges.unref();

  return {
    synced,
    get isSynced() {
      return isSynced;
    },
    async stop() {
      stopping = true;
      clearInterval(gauges);
      await Promise.all([...all.map((c) => c.stop()), gpus?.stop()]);
      await Promise.all([queue.shutdown(), poolQueue.shutdown(), snapshotQueue.shutdown()]);
    },
  };
}
