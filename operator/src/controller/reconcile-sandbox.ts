import { isDeepStrictEqual } from "node:util";
import type * as k8s from "@kubernetes/client-node";
import {
  PodUpToDateReason,
  ReadyReason,
  SandboxConditionType as ConditionType,
  findCondition,
} from "../../../api/conditions.js";
import {
  SandboxResource,
  type GpuAllocation,
  type Sandbox,
  type SandboxPool,
  type SandboxStatus,
  type Snapshot,
} from "../../../api/gen/crd-types.js";
import { tokenSecretName } from "../../../api/envd.js";
import { expiresAt, isExpired, requeueAfterMs } from "../../../api/expiry.js";
import type { Cache } from "../../../lib/informer-cache.js";
import type { Logger } from "../../../lib/log.js";
import { describeError } from "../kube/errors.js";
import type { EventRecorder } from "../kube/events.js";
import type { OperatorMetrics } from "../metrics.js";
import { desiredNetworkPolicy } from "../sandbox/desired-network-policy.js";
import type { SandboxPodSettings } from "../sandbox/settings.js";
import { computeStatus, desiredPaused, envdEndpoint, type Observed } from "../sandbox/status.js";
import type { ReconcileResult } from "../work-queue.js";
import type { EnvdClient } from "./envd-client.js";
import type { NodeAgentClient } from "./node-agent-client.js";
import {
  clearFailedPause,
  pauseSnapshotName,
  syncPauseSnapshot,
  syncRestore,
  type PauseOutcome,
} from "./sandbox-snapshot.js";
import { collectedError, createFailures, type Failure } from "./failures.js";
import { isPodReady } from "./pod-ready.js";
import { syncIdentity } from "./pool-claim.js";
import type { ClaimLog } from "../pool/claim-log.js";
import {
  ensureApplied,
  lookUpPod,
  syncPod,
  syncToken,
  type SandboxContext,
} from "./sandbox-children.js";
import type { SandboxReader, SandboxWriter } from "./sandbox-io.js";
import { syncGpuAllocation } from "./sandbox-gpu.js";

export { isFinished } from "./sandbox-children.js";
export { isPodReady } from "./pod-ready.js";

/** The informer caches a Sandbox reconcile reads. */
export interface SandboxCaches {
  sandboxes: Cache<Sandbox>;
  pods: Cache<k8s.V1Pod>;
  secrets: Cache<k8s.V1Secret>;
  networkPolicies: Cache<k8s.V1NetworkPolicy>;
  pools: Cache<SandboxPool>;
  /** GpuAllocations (see gpu-allocation-controller.ts); without it, spec.gpu is only a GPU limit. */
  gpuAllocations?: Cache<GpuAllocation>;
  /** Snapshots: pause Snapshots and the ones sandboxes are restored from. */
  snapshots?: Cache<Snapshot>;
}

/** What {@link createSandboxReconciler} needs. */
export interface SandboxReconcilerDeps {
  caches: SandboxCaches;
  /** Every write the reconcile makes (see `sandbox-io.ts`). */
  writer: SandboxWriter;
  /** The reads that do not go through a cache. */
  reader: SandboxReader;
  settings: SandboxPodSettings;
  envd: EnvdClient;
  /** The node agents (capture and restore); without them, Filesystem pauses fail clearly. */
  agent?: NodeAgentClient;
  events: EventRecorder;
  metrics: OperatorMetrics;
  /** Where takes of pool pods are counted (the pools' demand). */
  claims: ClaimLog;
  log: Logger;
  now?: () => Date;
}

/** How long to wait before looking again at a sandbox whose template is missing or bad. */
const TEMPLATE_RETRY_MS = 30_000;

/**
 * Reconciles one Sandbox, level-triggered: read the caches, bring the children
 * (token Secret, NetworkPolicy, pod) to what the pure functions say, freeze or
 * thaw through envd, then write the status once if it changed. Every step is
 * safe to repeat, so a crash anywhere is repaired by the next reconcile. A
 * failing step does not stop the others: the status is still written, naming
 * what failed (Ready ApplyFailed, Paused FreezeFailed), and then the reconcile
 * throws for a retry with backoff. A settled Sandbox costs no write.
 */
export function createSandboxReconciler(deps: SandboxReconcilerDeps) {
  const now = deps.now ?? (() => new Date());
  // Memory pauses need the node agents (the checkpoint is theirs to take and put back).
  const memory = deps.agent !== undefined;

  return async function reconcile(key: string): Promise<ReconcileResult | void> {
    const [namespace = "", name = ""] = key.split("/");
    const sb = deps.caches.sandboxes.get(name, namespace);
    if (!sb || sb.metadata.deletionTimestamp) return; // children go with their owner
    const t = now();
    const log = deps.log.with({ sandbox: key });

    const expiry = expiresAt(sb, sb.status?.startedAt);
    if (expiry && isExpired(expiry, t) && (sb.spec.onTimeout ?? "Delete") === "Delete") {
      log.info("sandbox expired; deleting it", { expiresAt: expiry });
      deps.events.record(
        sb,
        "Normal",
        "Expired",
        `The timeout passed at ${expiry}; deleting the sandbox.`,
      );
      await deps.writer.delete(
        { apiVersion: SandboxResource.apiVersion, kind: SandboxResource.kind, namespace, name },
        { uid: sb.metadata.uid },
      );
      return;
    }

    const ctx: SandboxContext = { sb, namespace, name, deps, log, failures: createFailures() };
    const { policy, unenforced } = desiredNetworkPolicy(sb);
    // The token Secret, the NetworkPolicy and the pod lookup do not wait for each other: on a warm
    // start they were three API round trips in a row. The pod is taken or made only after the
    // NetworkPolicy is applied, so it never runs unfenced.
    const [token, , lookup] = await Promise.all([
      ctx.failures.attempt(`apply the Secret ${namespace}/${tokenSecretName(name)}`, () =>
        syncToken(ctx),
      ),
      ctx.failures.attempt(`apply the NetworkPolicy ${namespace}/${name}`, () =>
        ensureApplied(ctx, deps.caches.networkPolicies.get(name, namespace), policy),
      ),
      lookUpPod(ctx),
    ]);
    // A Filesystem or Memory pause keeps the sandbox without a pod until it resumes.
    const mode = sb.spec.pauseMode ?? "Freeze";
    const fsPause = desiredPaused(sb, t, expiry, memory).paused && mode !== "Freeze";
    const pausedAway = fsPause && !lookup.own && !lookup.taken;
    // A sandbox with GPUs gets its pod once its GpuAllocation is Bound (the pod goes to that node).
    const gpu = lookup.own || lookup.taken || pausedAway ? {} : await syncGpuAllocation(ctx);
    ctx.gpuAllocation = gpu.allocation;
    const pod = gpu.wait
      ? { podSpec: { state: "unknown" as const, why: gpu.wait.message } }
      : pausedAway
        ? { podSpec: { state: "unknown" as const, why: "paused into a Snapshot: no pod" } }
        : await syncPod(ctx, t, lookup);
    // A fork restored into a pool's pod gets its files before envd gets the Sandbox's identity.
    const restore = await syncRestore(ctx, pod.pod, pod.pool !== undefined);
    const identityPending =
      pod.pod && pod.pool
        ? (restore.view?.message ?? (await syncIdentity(ctx, pod.pod, token, t)))
        : undefined;
    const failedPause =
      fsPause &&
      pod.pod !== undefined &&
      deps.caches.snapshots?.get(pauseSnapshotName(sb, pod.pod), namespace)?.status?.phase ===
        "Failed";
    const envd = identityPending
      ? {}
      : await syncFreeze(ctx, pod.pod, token, expiry, t, failedPause);
    let pause: PauseOutcome | undefined;
    if (fsPause && !identityPending) {
      const wasFrozen =
        findCondition(sb.status?.conditions, ConditionType.Paused)?.status === "True";
      // A Memory pause checkpoints running processes (see syncFreeze): nothing to wait for.
      const still = mode === "Memory" || (envd.frozen ?? wasFrozen);
      pause = await syncPauseSnapshot(ctx, pod.pod, still);
    } else if (!fsPause) await clearFailedPause(ctx, pod.pod);

    const status = computeStatus(sb, {
      now: t,
      pod: pod.pod,
      podName: name,
      templateError: pod.templateError,
      frozen: envd.frozen,
      memoryPause: memory,
      unenforcedEgress: unenforced,
      applyFailures: childFailures(ctx.failures.list),
      envdFailure: envd.failure,
      podSpec: pod.podSpec,
      identityPending,
      pool: pod.pool,
      gpuWait: gpu.wait,
      ...(pause ? { snapshotPause: pause.view } : {}),
      ...(pause?.lastSnapshot ? { lastSnapshot: pause.lastSnapshot } : {}),
      ...(restore.view ? { restore: restore.view } : {}),
    });
    if (!isDeepStrictEqual(status, sb.status ?? {})) await deps.writer.writeStatus(sb, status);
    announce(sb, status, t);

    const failed = collectedError([
      ...ctx.failures.list,
      ...(envd.error ? [envd.error] : []),
      ...(restore.error
        ? [{ what: "restore the sandbox's Snapshot", error: restore.error, child: false }]
        : []),
    ]);
    if (failed) throw failed;
    if (pod.templateError) return { requeueAfterMs: TEMPLATE_RETRY_MS };
    const nextExpiry = status.expiresAt;
    if (nextExpiry && !isExpired(nextExpiry, t))
      return { requeueAfterMs: requeueAfterMs(nextExpiry, t) };
  };

  /** Events and metrics for what changed between the old status and the new one. */
  function announce(sb: Sandbox, status: SandboxStatus, t: Date) {
    const before = sb.status?.phase;
    if (status.phase && status.phase !== before) {
      const warning = status.phase === "Failed";
      deps.events.record(
        sb,
        warning ? "Warning" : "Normal",
        status.phase,
        `The sandbox is ${status.phase}${before ? ` (was ${before})` : ""}.`,
      );
    }
    announceCondition(sb, status, ConditionType.Ready, ReadyReason.ApplyFailed, "Warning");
    announceCondition(
      sb,
      status,
      ConditionType.PodUpToDate,
      PodUpToDateReason.SpecChanged,
      "Normal",
    );
    if (status.startedAt && !sb.status?.startedAt && sb.metadata.creationTimestamp) {
      const created = new Date(sb.metadata.creationTimestamp).getTime();
      deps.metrics.timeToReady.observe(Math.max(0, (t.getTime() - created) / 1000));
    }
  }

  /** One event when a condition takes `reason`, not one per reconcile while it holds. */
  function announceCondition(
    sb: Sandbox,
    status: SandboxStatus,
    type: string,
    reason: string,
    eventType: "Normal" | "Warning",
  ) {
    const next = findCondition(status.conditions, type);
    if (next?.reason !== reason) return;
    if (findCondition(sb.status?.conditions, type)?.reason === reason) return;
    deps.events.record(sb, eventType, reason, next.message);
  }

  /**
   * Freeze or thaw through envd when the pod is Ready. Freeze is idempotent:
   * asking again repairs a pod that restarted unfrozen.
   */
  async function syncFreeze(
    ctx: SandboxContext,
    pod: k8s.V1Pod | undefined,
    token: string | undefined,
    expiry: string | undefined,
    t: Date,
    thaw = false,
  ): Promise<{ frozen?: boolean; failure?: Observed["envdFailure"]; error?: Failure }> {
    const asked = desiredPaused(ctx.sb, t, expiry, memory);
    // A Filesystem pause whose Snapshot failed lets the sandbox run on. A Memory pause does not
    // freeze at all: CRIU stops the container for its dump itself, and processes already stopped
    // (SIGSTOP) in a container it freezes deadlock its ptrace attach (seen: criu in D state).
    const memoryPause = asked.paused && (ctx.sb.spec.pauseMode ?? "Freeze") === "Memory";
    const pause = thaw || memoryPause ? { ...asked, paused: false } : asked;
    const podIP = pod?.status?.podIP;
    if (!podIP || !pod || !isPodReady(pod) || pause.refused || !token) return {};
    // A pod being deleted (a pause that stored its snapshot) is left alone: its envd and executor
    // are going, and asking them only fails and backs the Sandbox's next reconcile off.
    if (pod.metadata?.deletionTimestamp) return {};
    const wasPaused =
      findCondition(ctx.sb.status?.conditions, ConditionType.Paused)?.status === "True";
    // A Filesystem pause's Paused condition is not the freeze's: after a failed one, thaw anyway.
    if (!pause.paused && !wasPaused && !thaw) return {};
    try {
      return { frozen: await deps.envd.setFrozen(envdEndpoint(podIP), token, pause.paused) };
    } catch (error) {
      const what = `${pause.paused ? "freeze" : "thaw"} the sandbox through envd`;
      return {
        failure: { freeze: pause.paused, error: describeError(error) },
        error: { what, error, child: false },
      };
    }
  }
}

/** The failures that leave a child short of its desired state, as the status reports them. */
function childFailures(list: readonly Failure[]): Observed["applyFailures"] {
  const children = list.filter((f) => f.child);
  return children.length
    ? children.map((f) => ({ step: f.what, error: describeError(f.error) }))
    : undefined;
}
