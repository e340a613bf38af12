/**
 * Reconciles one Snapshot, level-triggered: a new one gets its finalizer, then (once its
 * Sandbox's pod runs) the sandbox is frozen, the node agent captures the container's files
 * into the object store, the sandbox is thawed unless it is being paused, and the status is
 * written once with the outcome. A Memory Snapshot is a CRIU checkpoint taken by the node agent
 * through the kubelet instead (CRIU stops the processes for the dump itself, so the sandbox is not
 * frozen, not even for a pause: stopped processes deadlock CRIU's ptrace attach in a frozen
 * container); it records the node and the checkpoint image a restore needs.
 * On a runtime CRIU cannot reach (Kata), a pause Snapshot of a Sandbox that asked for
 * `pauseFallback: Filesystem` captures the files instead; any other Memory Snapshot fails there. A failure that a retry may fix (storage or the agent
 * unreachable) leaves the Snapshot InProgress with a condition saying why and retries with
 * backoff; one that cannot be fixed makes it Failed. A deleted Snapshot's objects are deleted
 * from the store before its finalizer goes, idempotently.
 */
import { isDeepStrictEqual } from "node:util";
import type * as k8s from "@kubernetes/client-node";
import {
  SnapshotConditionType,
  SnapshotReadyReason,
  type ConditionInput,
} from "../../../api/conditions.js";
import { tokenFromSecret, tokenSecretName } from "../../../api/envd.js";
import type {
  Sandbox,
  SandboxTemplate,
  Snapshot,
  SnapshotStatus,
} from "../../../api/gen/crd-types.js";
import { formatRfc3339 } from "../../../api/expiry.js";
import {
  PAUSE_OF_LABEL,
  SNAPSHOT_FINALIZER,
  checkpointImageRef,
  filesystemKey,
  memoryKey,
} from "../../../api/snapshot.js";
import type { CaptureResult } from "../../../api/node-agent.js";
import type { Cache } from "../../../lib/informer-cache.js";
import type { Logger } from "../../../lib/log.js";
import type { ObjectStore } from "../../../lib/storage/index.js";
import { setConditions } from "../conditions.js";
import { describeError } from "../kube/errors.js";
import type { EventRecorder } from "../kube/events.js";
import { EXECUTOR_SOCKET } from "../sandbox/desired-pod.js";
import { desiredPaused, envdEndpoint } from "../sandbox/status.js";
import type { ReconcileResult } from "../work-queue.js";
import type { EnvdClient } from "./envd-client.js";
import { NodeAgentCallError, type NodeAgentClient } from "./node-agent-client.js";
import { isPodReady } from "./pod-ready.js";
import { isTakenBy } from "./pool-claim.js";

/** The Snapshot reconciler's writes. */
export interface SnapshotWriter {
  /** Replaces the status (409 on a stale read). */
  writeSnapshotStatus(snap: Snapshot, status: SnapshotStatus): Promise<Snapshot>;
  /** Sets the finalizers, only if the Snapshot is still at its resourceVersion (else 409). */
  setSnapshotFinalizers(snap: Snapshot, finalizers: string[]): Promise<void>;
}

/** What {@link createSnapshotReconciler} needs. */
export interface SnapshotReconcilerDeps {
  snapshots: Cache<Snapshot>;
  sandboxes: Cache<Sandbox>;
  pods: Cache<k8s.V1Pod>;
  secrets: Cache<k8s.V1Secret>;
  writer: SnapshotWriter;
  /** The template a sandbox runs (its inline one, its ConfigMap's, or its Snapshot's). */
  templateOf(sb: Sandbox): Promise<SandboxTemplate>;
  envd: EnvdClient;
  /** The node agents; without them (no token configured) every Snapshot fails clearly. */
  agent?: NodeAgentClient;
  /** The object store; without one every Snapshot fails clearly. */
  store?: ObjectStore;
  events: EventRecorder;
  log: Logger;
  now?: () => Date;
}

/** How long a Snapshot waits before looking again at a sandbox whose pod is not Ready yet. */
const WAIT_FOR_POD_MS = 1000;

type Outcome =
  | { phase: "Pending" | "InProgress"; reason: string; message: string; retry?: unknown }
  | { phase: "Failed"; reason: string; message: string }
  | { phase: "Ready"; status: Partial<SnapshotStatus>; message: string };

/** Creates the reconcile function of the Snapshot work queue. */
export function createSnapshotReconciler(deps: SnapshotReconcilerDeps) {
  const now = deps.now ?? (() => new Date());
  // Snapshots this process wrote Ready or Failed, by uid, until the cache shows it: a reconcile
  // that read the cache a moment before the write must not capture (and freeze) a second time.
  const settled = new Set<string>();

  return async function reconcile(key: string): Promise<ReconcileResult | void> {
    const [namespace = "", name = ""] = key.split("/");
    const snap = deps.snapshots.get(name, namespace);
    if (!snap) return;
    if (snap.metadata.deletionTimestamp) settled.delete(snap.metadata.uid ?? "");
    const finalizers = snap.metadata.finalizers ?? [];
    if (snap.metadata.deletionTimestamp) {
      if (!finalizers.includes(SNAPSHOT_FINALIZER)) return;
      await deleteStored(snap);
      await forgetCheckpointImage(snap);
      await deps.writer.setSnapshotFinalizers(
        snap,
        finalizers.filter((f) => f !== SNAPSHOT_FINALIZER),
      );
      return;
    }
    const phase = snap.status?.phase;
    const uid = snap.metadata.uid ?? "";
    if (phase === "Ready" || phase === "Failed") {
      settled.delete(uid);
      return;
    }
    if (settled.has(uid)) return; // the cache has not caught up with our write yet
    if (!finalizers.includes(SNAPSHOT_FINALIZER)) {
      // Before any byte is stored: a Snapshot deleted later always cleans up after itself.
      await deps.writer.setSnapshotFinalizers(snap, [...finalizers, SNAPSHOT_FINALIZER]);
      return; // the update brings it back with the finalizer in the cache
    }
    const t = now();
    const plan = await prepare(snap, t);
    let current = snap;
    if ("capture" in plan && snap.status?.phase !== "InProgress") {
      // Said before the capture, which may take a while: kubectl and a pausing sandbox see it.
      const capturing: Outcome = {
        phase: "InProgress",
        reason: SnapshotReadyReason.Capturing,
        message:
          (snap.spec.mode ?? "Filesystem") === "Memory"
            ? "the sandbox's processes are being checkpointed"
            : "the sandbox is frozen and its files are being captured",
      };
      current = await deps.writer.writeSnapshotStatus(snap, nextStatus(snap, capturing, t));
    }
    const outcome = "capture" in plan ? await plan.capture() : plan;
    const status = nextStatus(current, outcome, now());
    if (!isDeepStrictEqual(status, current.status ?? {})) {
      await deps.writer.writeSnapshotStatus(current, status);
      if (outcome.phase === "Ready" || outcome.phase === "Failed") settled.add(uid);
      announce(current, outcome);
    }
    if ("retry" in outcome && outcome.retry) throw outcome.retry;
    if (outcome.phase === "Pending") return { requeueAfterMs: WAIT_FOR_POD_MS };
  };

  /** Either why nothing can be captured now, or the capture to run. */
  async function prepare(
    snap: Snapshot,
    t: Date,
  ): Promise<Outcome | { capture: () => Promise<Outcome> }> {
    const ns = snap.metadata.namespace ?? "";
    const sb = deps.sandboxes.get(snap.spec.sandbox, ns);
    if (!sb || sb.metadata.deletionTimestamp)
      return failed(
        SnapshotReadyReason.SandboxNotFound,
        `the Sandbox ${ns}/${snap.spec.sandbox} does not exist`,
      );
    if (!deps.store || !deps.agent)
      return failed(
        SnapshotReadyReason.StorageNotConfigured,
        "the operator has no object storage or node agent configured (Helm values storage.url and nodeAgent.enabled); snapshots need both",
      );
    const pod = sandboxPod(sb, deps.pods, ns);
    const container = pod?.status?.containerStatuses?.find((c) => c.name === "sandbox");
    if (
      !pod ||
      !isPodReady(pod) ||
      !container?.containerID ||
      !pod.status?.hostIP ||
      !pod.status.podIP
    ) {
      if (sb.status?.phase === "Paused" || sb.status?.phase === "Failed")
        return failed(
          SnapshotReadyReason.SandboxNotRunning,
          `the Sandbox ${ns}/${snap.spec.sandbox} has no running pod (phase ${sb.status.phase}); resume it first`,
        );
      return {
        phase: "Pending",
        reason: SnapshotReadyReason.WaitingForSandbox,
        message: `waiting for the Sandbox ${ns}/${snap.spec.sandbox}'s pod to be Ready`,
      };
    }
    const token = tokenFromSecret(deps.secrets.get(tokenSecretName(sb.metadata.name ?? ""), ns));
    if (!token)
      return {
        phase: "Pending",
        reason: SnapshotReadyReason.WaitingForSandbox,
        message: "waiting for the sandbox's envd token",
      };
    const template = await deps.templateOf(sb);
    const endpoint = envdEndpoint(pod.status.podIP);
    const hostIP = pod.status.hostIP;
    const containerID = container.containerID;
    const keyOf = filesystemKey(snap);
    const keepFrozen = desiredPaused(sb, t, sb.status?.expiresAt).paused;
    const memory = (snap.spec.mode ?? "Filesystem") === "Memory";
    // Only a pause falls back, and only when its Sandbox asked for it.
    const fallback =
      snap.metadata.labels?.[PAUSE_OF_LABEL] !== undefined &&
      sb.spec.pauseFallback === "Filesystem";
    const node = pod.spec?.nodeName ?? "";
    const agent = deps.agent;
    const store = deps.store;
    const envdToken = token;
    const location = (key: string) => `${store.displayUrl.replace(/\/$/, "")}/${key}`;
    return { capture: () => capture() };

    async function captureFiles(note = ""): Promise<Outcome> {
      // Frozen, the files hold still while they are read (a pause froze them already).
      await deps.envd.setFrozen(endpoint, envdToken, true);
      const result = await agent.capture(hostIP, {
        id: snap.metadata.uid ?? keyOf,
        containerID,
        key: keyOf,
      });
      if (result.skipped.length)
        deps.log.info("paths not captured", {
          snapshot: `${ns}/${snap.metadata.name ?? ""}`,
          skipped: result.skipped,
        });
      return {
        phase: "Ready",
        message: `${note}stored ${result.size} bytes (${result.entries} entries) in ${result.durationMs} ms`,
        status: {
          size: result.size,
          sha256: result.sha256,
          location: location(result.key),
          parts: [
            { name: "filesystem", key: result.key, size: result.size, sha256: result.sha256 },
          ],
          template,
          image: template.image,
          completionTime: formatRfc3339(now()),
        },
      };
    }

    async function captureMemory(): Promise<Outcome> {
      if (!node) throw new Error("the sandbox's pod names no node");
      let result: CaptureResult;
      try {
        result = await agent.capture(hostIP, {
          id: snap.metadata.uid ?? "",
          containerID,
          key: memoryKey(snap),
          mode: "Memory",
          target: { namespace: ns, pod: pod?.metadata?.name ?? "", container: "sandbox" },
          image: checkpointImageRef(snap),
          rootfsImage: template.image,
          executorSocket: EXECUTOR_SOCKET,
        });
      } catch (err) {
        if (!(err instanceof NodeAgentCallError) || err.code !== "RuntimeNotSupported") throw err;
        if (fallback)
          return captureFiles(
            `Memory is not possible here (${err.message.replace(/^the node agent answered \d+: /, "")}); the Sandbox asked for pauseFallback Filesystem: `,
          );
        return failed(SnapshotReadyReason.ModeNotSupported, describeError(err));
      }
      return {
        phase: "Ready",
        message: `checkpointed the processes on ${node}: stored ${result.size} bytes in ${result.durationMs} ms${stepsNote(result.steps)}`,
        status: {
          size: result.size,
          sha256: result.sha256,
          location: location(result.key),
          parts: [{ name: "memory", key: result.key, size: result.size, sha256: result.sha256 }],
          node,
          nodeAddress: hostIP,
          checkpointImage: result.image ?? checkpointImageRef(snap),
          template,
          image: template.image,
          completionTime: formatRfc3339(now()),
        },
      };
    }

    async function capture(): Promise<Outcome> {
      try {
        return memory ? await captureMemory() : await captureFiles();
      } catch (err) {
        if (err instanceof NodeAgentCallError && err.permanent)
          return failed(
            err.code === "MemoryNotConfigured"
              ? SnapshotReadyReason.ModeNotSupported
              : SnapshotReadyReason.Failed,
            describeError(err),
          );
        return {
          phase: "InProgress",
          reason: SnapshotReadyReason.CaptureFailed,
          message: `${describeError(err)} (retrying)`,
          retry: err,
        };
      } finally {
        // A Memory snapshot of a running sandbox never froze it (unless it fell back).
        if (!keepFrozen)
          await deps.envd.setFrozen(endpoint, envdToken, false).catch((err: unknown) => {
            deps.log.warn("could not thaw the sandbox after its snapshot", {
              error: describeError(err),
            });
          });
      }
    }
  }

  async function deleteStored(snap: Snapshot): Promise<void> {
    const keys = (snap.status?.parts ?? []).map((p) => p.key);
    // A capture that failed midway committed nothing (the store commits whole objects only),
    // but a Snapshot deleted while its capture ran may have committed since: delete its key too.
    keys.push(filesystemKey(snap), memoryKey(snap));
    if (!deps.store) {
      if (snap.status?.parts?.length)
        deps.log.warn("no object storage configured: the Snapshot's objects stay", { keys });
      return;
    }
    for (const k of new Set(keys)) await deps.store.delete(k);
  }

  /**
   * A Memory Snapshot's checkpoint image goes from the node that made it (restores run there
   * too). Best effort: a node that is gone or an agent that does not answer keeps no Snapshot
   * from going; the node's image garbage collection takes the image then, and an event says so.
   */
  async function forgetCheckpointImage(snap: Snapshot): Promise<void> {
    const { checkpointImage: image, nodeAddress } = snap.status ?? {};
    if (!image || !nodeAddress || !deps.agent) return;
    try {
      await deps.agent.forgetImage(nodeAddress, { image });
    } catch (err) {
      deps.log.warn("could not remove the checkpoint image from its node", {
        image,
        nodeAddress,
        err,
      });
      deps.events.record(
        snap,
        "Warning",
        "CheckpointImageKept",
        `Could not remove the checkpoint image ${image} from the node at ${nodeAddress}: ${describeError(err)}; the node's image garbage collection removes it.`,
      );
    }
  }

  function announce(snap: Snapshot, outcome: Outcome) {
    if (snap.status?.phase === outcome.phase) return;
    if (outcome.phase === "Ready") deps.events.record(snap, "Normal", "Stored", outcome.message);
    if (outcome.phase === "Failed")
      deps.events.record(snap, "Warning", outcome.reason, outcome.message);
  }
}

/**
 * The Sandbox's pod: its own (named after it), else the pool pod it took (`status.podName`): a
 * warm-started sandbox's pod has the pool's name.
 */
export function sandboxPod(
  sb: Sandbox,
  pods: Pick<Cache<k8s.V1Pod>, "get">,
  namespace: string,
): k8s.V1Pod | undefined {
  const own = pods.get(sb.metadata.name ?? "", namespace);
  if (own) return own;
  const taken = sb.status?.podName ? pods.get(sb.status.podName, namespace) : undefined;
  return taken && isTakenBy(taken, sb) ? taken : undefined;
}

/** ` (checkpoint 1200 ms, store 800 ms, ...)`, or nothing without steps. Pure. */
export function stepsNote(steps: Record<string, number> | undefined): string {
  const parts = Object.entries(steps ?? {}).map(([k, v]) => `${k} ${v} ms`);
  return parts.length ? ` (${parts.join(", ")})` : "";
}

function failed(reason: string, message: string): Outcome {
  return { phase: "Failed", reason, message };
}

/** The Snapshot's next status from the previous one and what this reconcile did. Pure. */
export function nextStatus(snap: Snapshot, outcome: Outcome, t: Date): SnapshotStatus {
  const prev = snap.status ?? {};
  const ready: ConditionInput =
    outcome.phase === "Ready"
      ? {
          type: SnapshotConditionType.Ready,
          status: "True",
          reason: SnapshotReadyReason.Stored,
          message: outcome.message,
        }
      : {
          type: SnapshotConditionType.Ready,
          status: "False",
          reason: outcome.reason,
          message: outcome.message,
        };
  const generation = snap.metadata.generation;
  const status: SnapshotStatus = {
    ...prev,
    ...(outcome.phase === "Ready" ? outcome.status : {}),
    phase: outcome.phase,
    conditions: setConditions(
      prev.conditions ?? [],
      [generation === undefined ? ready : { ...ready, observedGeneration: generation }],
      t,
    ),
  };
  if (outcome.phase !== "Pending" && !status.startTime) status.startTime = formatRfc3339(t);
  return status;
}
