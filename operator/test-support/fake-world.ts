/**
 * An in-memory cluster for unit tests of the Sandbox reconciler: caches that
 * the writer's writes land in at once (as an API server and its informers
 * would), a log of every write, failures to inject, a fake envd and an event
 * log. Hand edits (`edit`) change the world without counting as writes, as
 * a person with kubectl would.
 */
import type * as k8s from "@kubernetes/client-node";
import {
  SandboxPoolResource,
  SandboxResource,
  SnapshotResource,
  type Sandbox,
  type SandboxPool,
  type SandboxPoolSpec,
  type SandboxSpec,
  type Snapshot,
  type SnapshotSpec,
} from "../../api/gen/crd-types.js";
import type {
  CaptureRequest,
  ForgetImageRequest,
  RestoreImageRequest,
  RestoreRequest,
  WakeRequest,
} from "../../api/node-agent.js";
import type { NodeAgentClient } from "../src/controller/node-agent-client.js";
import type { SnapshotWriter } from "../src/controller/reconcile-snapshot.js";
import type { Cache } from "../../lib/informer-cache.js";
import { createLogger } from "../../lib/log.js";
import type { SandboxCaches } from "../src/controller/reconcile-sandbox.js";
import type { ObjectRef, SandboxReader, SandboxWriter } from "../src/controller/sandbox-io.js";
import { EnvdCallError, type EnvdClient } from "../src/controller/envd-client.js";
import type { EventRecorder } from "../src/kube/events.js";
import { modelName, toWire } from "../src/kube/wire.js";
import { createOperatorMetrics } from "../src/metrics.js";
import { createClaimLog } from "../src/pool/claim-log.js";

/** One write the reconciler made. */
export interface Write {
  verb:
    | "apply"
    | "create"
    | "patchLabels"
    | "patchMetadataAt"
    | "delete"
    | "writeStatus"
    | "writePoolStatus"
    | "writeSnapshotStatus"
    | "setSnapshotFinalizers";
  kind: string;
  name: string;
  body?: unknown;
}

/** A recorded event. */
export interface RecordedEvent {
  type: string;
  reason: string;
  message: string;
}

type Kind =
  "Sandbox" | "SandboxPool" | "Pod" | "Secret" | "NetworkPolicy" | "ConfigMap" | "Snapshot";
type Obj = k8s.KubernetesObject & Record<string, unknown>;

/** An error shaped like client-node's ApiException. */
export function apiError(code: number, message: string): Error {
  return Object.assign(new Error(`HTTP-Code: ${code}\nMessage: ...\nHeaders: {"date":"now"}`), {
    code,
    body: JSON.stringify({ kind: "Status", message }),
  });
}

/** Creates an empty world in namespace `ns`. */
export function createFakeWorld(ns = "team-a") {
  const stores = new Map<Kind, Map<string, Obj>>();
  const store = (kind: Kind) => {
    let s = stores.get(kind);
    if (!s) stores.set(kind, (s = new Map()));
    return s;
  };
  const writes: Write[] = [];
  const events: RecordedEvent[] = [];
  const failures = new Map<string, Error>();
  let version = 0;
  let uids = 0;

  const put = (kind: Kind, obj: Obj): Obj => {
    const copy = json(obj);
    copy.metadata = {
      ...copy.metadata,
      uid: copy.metadata?.uid ?? `uid-${++uids}`,
      resourceVersion: String(++version),
    };
    store(kind).set(`${copy.metadata.namespace ?? ""}/${copy.metadata.name ?? ""}`, copy);
    return json(copy);
  };
  const get = (kind: Kind, name: string, namespace = ns) => store(kind).get(`${namespace}/${name}`);
  const cache = <T extends k8s.KubernetesObject>(kind: Kind): Cache<T> => ({
    get: (name, namespace) => get(kind, name, namespace) as T | undefined,
    list: (namespace) =>
      [...store(kind).values()].filter(
        (o) => !namespace || o.metadata?.namespace === namespace,
      ) as unknown as T[],
    synced: Promise.resolve(),
    isSynced: true,
    stop: async () => undefined,
  });
  const record = (verb: Write["verb"], kind: string, name: string, body?: unknown) => {
    const injected = failures.get(`${verb} ${kind}`);
    if (injected) throw injected;
    writes.push({ verb, kind, name, body });
  };

  const writer: SandboxWriter = {
    // Server-side apply, as far as the operator's objects need: objects merge, lists are atomic.
    async apply<T extends k8s.KubernetesObject>(desired: T) {
      const kind = desired.kind as Kind;
      const wire = toWire(desired, modelName(desired.apiVersion ?? "", kind)) as Obj;
      record("apply", kind, desired.metadata?.name ?? "", wire);
      const live = get(kind, desired.metadata?.name ?? "", desired.metadata?.namespace);
      return put(kind, merge(live ?? {}, wire) as Obj) as unknown as T;
    },
    async create<T extends k8s.KubernetesObject>(obj: T) {
      const kind = obj.kind as Kind;
      if (!obj.metadata?.name && obj.metadata?.generateName)
        obj = {
          ...obj,
          metadata: { ...obj.metadata, name: `${obj.metadata.generateName}${++uids}` },
        };
      record("create", kind, obj.metadata?.name ?? "", obj);
      if (get(kind, obj.metadata?.name ?? "", obj.metadata?.namespace))
        throw apiError(409, "already exists");
      return put(kind, toWire(obj, modelName(obj.apiVersion ?? "", kind)) as Obj) as unknown as T;
    },
    async patchLabels(ref: ObjectRef, labels: Record<string, string>) {
      record("patchLabels", ref.kind, ref.name, labels);
      const live = get(ref.kind as Kind, ref.name, ref.namespace);
      if (!live) throw apiError(404, "not found");
      const meta = live.metadata ?? {};
      put(ref.kind as Kind, {
        ...live,
        metadata: { ...meta, labels: { ...meta.labels, ...labels } },
      });
    },
    async patchMetadataAt(ref: ObjectRef, resourceVersion: string, metadata) {
      record("patchMetadataAt", ref.kind, ref.name, metadata);
      const live = get(ref.kind as Kind, ref.name, ref.namespace);
      if (!live) throw apiError(404, "not found");
      if (live.metadata?.resourceVersion !== resourceVersion)
        throw apiError(409, "the object has been modified");
      return put(ref.kind as Kind, merge(live, { metadata }) as Obj);
    },
    async delete(ref: ObjectRef, opts) {
      record("delete", ref.kind, ref.name);
      const live = get(ref.kind as Kind, ref.name, ref.namespace);
      if (opts?.resourceVersion && live?.metadata?.resourceVersion !== opts.resourceVersion) return;
      store(ref.kind as Kind).delete(`${ref.namespace}/${ref.name}`);
    },
    async writePoolStatus(pool, status) {
      record("writePoolStatus", "SandboxPool", pool.metadata.name ?? "", status);
      const live = get("SandboxPool", pool.metadata.name ?? "", pool.metadata.namespace);
      if (live?.metadata?.resourceVersion !== pool.metadata.resourceVersion)
        throw apiError(409, "the object has been modified");
      return put("SandboxPool", { ...live, status } as Obj) as unknown as SandboxPool;
    },
    async writeStatus(sb, status) {
      record("writeStatus", "Sandbox", sb.metadata.name ?? "", status);
      const live = get("Sandbox", sb.metadata.name ?? "", sb.metadata.namespace);
      if (live?.metadata?.resourceVersion !== sb.metadata.resourceVersion)
        throw apiError(409, "the object has been modified");
      return put("Sandbox", { ...live, status } as Obj) as unknown as Sandbox;
    },
  };
  const reader: SandboxReader = {
    secret: async (namespace, name) => get("Secret", name, namespace) as k8s.V1Secret | undefined,
    configMap: async (namespace, name) =>
      get("ConfigMap", name, namespace) as k8s.V1ConfigMap | undefined,
    // `key=value` selectors, as the reconciler uses them.
    pods: async (namespace, selector) => {
      const [key = "", value = ""] = selector.split("=");
      return [...store("Pod").values()].filter(
        (p) => p.metadata?.namespace === namespace && p.metadata.labels?.[key] === value,
      ) as k8s.V1Pod[];
    },
  };

  const envdCalls: boolean[] = [];
  let envdError: Error | undefined;
  /** What envd in each pod IP holds: its token and its env vars (set by `init`). */
  const envdState = new Map<string, { token: string; envVars: Record<string, string> }>();
  const inits: { endpoint: string; token: string; accessToken: string }[] = [];
  const envd: EnvdClient = {
    async setFrozen(_endpoint, _token, frozen) {
      envdCalls.push(frozen);
      if (envdError) throw envdError;
      return frozen;
    },
    async init(endpoint, token, body) {
      inits.push({ endpoint, token, accessToken: body.accessToken });
      if (envdError) throw envdError;
      const state = envdState.get(endpoint);
      if (state && state.token !== token)
        throw new EnvdCallError("envd answered POST /init with 401: invalid access token", 401);
      envdState.set(endpoint, { token: body.accessToken, envVars: body.envVars ?? {} });
    },
  };
  function edit<T = Obj>(kind: Kind, name: string, change: (obj: T) => void) {
    const live = get(kind, name);
    if (!live) throw new Error(`no ${kind} ${name}`);
    const copy = json(live) as T;
    change(copy);
    put(kind, copy as Obj);
  }
  const snapshotWriter: SnapshotWriter = {
    async writeSnapshotStatus(snap, status) {
      record("writeSnapshotStatus", "Snapshot", snap.metadata.name ?? "", status);
      const live = get("Snapshot", snap.metadata.name ?? "", snap.metadata.namespace);
      if (live?.metadata?.resourceVersion !== snap.metadata.resourceVersion)
        throw apiError(409, "the object has been modified");
      return put("Snapshot", { ...live, status } as Obj) as unknown as Snapshot;
    },
    async setSnapshotFinalizers(snap, finalizers) {
      record("setSnapshotFinalizers", "Snapshot", snap.metadata.name ?? "", finalizers);
      const live = get("Snapshot", snap.metadata.name ?? "", snap.metadata.namespace);
      if (!live) throw apiError(404, "not found");
      if (live.metadata?.resourceVersion !== snap.metadata.resourceVersion)
        throw apiError(409, "the object has been modified");
      // The API server removes an object being deleted once its last finalizer goes.
      if (live.metadata?.deletionTimestamp && finalizers.length === 0)
        store("Snapshot").delete(`${live.metadata.namespace ?? ""}/${live.metadata.name ?? ""}`);
      else put("Snapshot", { ...live, metadata: { ...live.metadata, finalizers } } as Obj);
    },
  };
  const agentCalls: {
    op: "capture" | "restore" | "restoreImage" | "forgetImage" | "wake";
    hostIP: string;
    req: CaptureRequest | RestoreRequest | RestoreImageRequest | ForgetImageRequest | WakeRequest;
  }[] = [];
  let agentError: Error | undefined;
  const agent: NodeAgentClient = {
    async capture(hostIP, req) {
      agentCalls.push({ op: "capture", hostIP, req });
      if (agentError) throw agentError;
      return {
        key: req.key,
        size: 1234,
        sha256: "a".repeat(64),
        entries: 7,
        skipped: [],
        durationMs: 5,
        ...(req.mode === "Memory" && req.image ? { image: req.image } : {}),
      };
    },
    async restore(hostIP, req) {
      agentCalls.push({ op: "restore", hostIP, req });
      if (agentError) throw agentError;
      return { applied: true, entries: 7, durationMs: 5 };
    },
    async restoreImage(hostIP, req) {
      agentCalls.push({ op: "restoreImage", hostIP, req });
      if (agentError) throw agentError;
      return { imported: false, durationMs: 1 };
    },
    async forgetImage(hostIP, req) {
      agentCalls.push({ op: "forgetImage", hostIP, req });
      if (agentError) throw agentError;
      return { removed: true };
    },
    async wake(hostIP, req) {
      agentCalls.push({ op: "wake", hostIP, req });
      if (agentError) throw agentError;
      return { woken: true };
    },
  };
  const recorder: EventRecorder = {
    record: (_obj, type, reason, message) => events.push({ type, reason, message }),
  };
  const caches: SandboxCaches = {
    sandboxes: cache<Sandbox>("Sandbox"),
    pods: cache<k8s.V1Pod>("Pod"),
    secrets: cache<k8s.V1Secret>("Secret"),
    networkPolicies: cache<k8s.V1NetworkPolicy>("NetworkPolicy"),
    pools: cache<SandboxPool>("SandboxPool"),
    snapshots: cache<Snapshot>("Snapshot"),
  };

  return {
    ns,
    writes,
    events,
    envdCalls,
    inits,
    envdState,
    /** Every call to the fake node agent. */
    agentCalls,
    /** The fake node agent. */
    agent,
    /** The Snapshot reconciler's writer. */
    snapshotWriter,
    /** The node agent's calls fail with `error` (until `heal`). */
    failAgent(error: Error) {
      agentError = error;
    },
    /** Adds a Snapshot (not a write of the reconciler's). */
    addSnapshot(name: string, spec: SnapshotSpec): Snapshot {
      const snap = {
        apiVersion: SnapshotResource.apiVersion,
        kind: SnapshotResource.kind,
        metadata: { name, namespace: ns, generation: 1 },
        spec,
      };
      return put("Snapshot", snap as unknown as Obj) as unknown as Snapshot;
    },
    /** The reconciler's dependencies, all in memory. */
    deps: {
      caches,
      writer,
      reader,
      envd,
      events: recorder,
      metrics: createOperatorMetrics(),
      claims: createClaimLog(),
      log: createLogger("error", {}, () => undefined),
      settings: { envdImage: "envd:1", defaultRuntimeClassName: "kata" },
    },
    /** Adds a Sandbox (not a write of the reconciler's). */
    addSandbox(name: string, spec: SandboxSpec, labels?: Record<string, string>): Sandbox {
      const sb = {
        apiVersion: SandboxResource.apiVersion,
        kind: SandboxResource.kind,
        metadata: {
          name,
          namespace: ns,
          generation: 1,
          labels,
          creationTimestamp: "2026-03-01T10:00:00Z",
        },
        spec,
      };
      return put("Sandbox", sb as unknown as Obj) as unknown as Sandbox;
    },
    /** Adds a SandboxPool (not a write of the reconciler's). */
    addPool(name: string, spec: SandboxPoolSpec): SandboxPool {
      const pool = {
        apiVersion: SandboxPoolResource.apiVersion,
        kind: SandboxPoolResource.kind,
        metadata: { name, namespace: ns, generation: 1, creationTimestamp: "2026-03-01T09:00:00Z" },
        spec,
      };
      return put("SandboxPool", pool as unknown as Obj) as unknown as SandboxPool;
    },
    /** Adds any object as it is (a template ConfigMap, a pod of another owner). */
    add(kind: Kind, obj: k8s.KubernetesObject) {
      put(kind, { ...obj, metadata: { namespace: ns, ...obj.metadata } } as Obj);
    },
    /** The stored object, in wire form. */
    get: <T = Obj>(kind: Kind, name: string) => get(kind, name) as T | undefined,
    /** A hand edit: changes the stored object without counting as a write. */
    edit,
    /** Makes the pod Running and Ready with an IP, as the kubelet would. */
    podReady(name: string, readySince = "2026-03-01T10:00:05Z", podIP = "10.244.0.7") {
      edit<k8s.V1Pod>("Pod", name, (p) => {
        p.spec = { ...p.spec, containers: p.spec?.containers ?? [], nodeName: "node-1" };
        p.status = {
          phase: "Running",
          podIP,
          hostIP: "192.0.2.10",
          containerStatuses: [
            {
              name: "sandbox",
              image: "img",
              imageID: "img",
              ready: true,
              restartCount: 0,
              containerID: `containerd://${"c".repeat(64)}`,
              state: { running: {} },
            },
          ],
          conditions: [
            { type: "PodScheduled", status: "True" },
            { type: "Ready", status: "True", lastTransitionTime: readySince as unknown as Date },
          ],
        };
      });
    },
    /** Every later `verb` on `kind` fails with `error` (until `heal`). */
    fail(verb: Write["verb"], kind: string, error: Error) {
      failures.set(`${verb} ${kind}`, error);
    },
    /** envd's freeze and thaw calls fail with `error` (until `heal`). */
    failEnvd(error: Error) {
      envdError = error;
    },
    /** Every injected failure stops. */
    heal() {
      failures.clear();
      envdError = undefined;
      agentError = undefined;
    },
  };
}

/** A fake world as {@link createFakeWorld} makes it. */
export type FakeWorld = ReturnType<typeof createFakeWorld>;

/** `patch` merged into `base`: objects key by key, everything else (lists too) replaced. */
function merge(base: unknown, patch: unknown): unknown {
  if (!isRecord(base) || !isRecord(patch)) return patch;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) out[k] = merge(base[k], v);
  return out;
}

/**
 * A copy through JSON, as an API server hands objects out. (Not structuredClone: under jest its
 * copies have another realm's prototypes, and the reconciler's deep-equality check would see
 * every status as changed.)
 */
function json<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
