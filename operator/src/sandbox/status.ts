/**
 * The Sandbox's status, computed from what a reconcile observed and what
 * failed (a child that could not be applied, an envd call). It is one
 * pure function so that the whole status is decided in one place and written
 * once: the reconciler compares the result with the stored status and skips
 * the write when nothing changed, which only works if the same observations
 * always give the same status (no clock reads but `now`, conditions merged in
 * place, transition times kept while a status holds). Kubelet and scheduler
 * reasons are passed through unchanged, because they are what a person
 * searches for when a sandbox does not start.
 */
import type { V1ContainerStatus, V1Pod, V1PodCondition } from "@kubernetes/client-node";
import { setConditions } from "../conditions.js";
import type { Sandbox, SandboxPhase, SandboxStatus } from "../../../api/gen/crd-types.js";
import {
  EgressReason,
  ExpiredReason,
  PausedReason,
  PodUpToDateReason,
  ReadyReason,
  SandboxConditionType,
  ScheduledReason,
  findCondition,
  type ConditionInput,
} from "../../../api/conditions.js";
import { ENVD_PORT } from "../../../api/envd.js";
import { Annotation } from "../../../api/labels.js";
import {
  expiresAt as deadline,
  formatRfc3339,
  isExpired,
  parseRfc3339,
} from "../../../api/expiry.js";

/** What a reconcile saw and did, the input of {@link computeStatus}. */
export interface Observed {
  /** The reconcile's clock. */
  now: Date;
  /** The sandbox pod, when one exists (and belongs to this Sandbox). */
  pod?: V1Pod;
  /** The pod's name, reported even before the pod exists. */
  podName?: string;
  /** Why no pod could be made from the template (counts only while there is no pod). */
  templateError?: { reason: string; message: string };
  /** What envd said after the freeze/thaw call; undefined when not asked. */
  frozen?: boolean;
  /** False when the operator has no node agents: a Memory pause is refused. Default true. */
  memoryPause?: boolean;
  /** `allowEgress` entries the NetworkPolicy cannot enforce; undefined when the policy was not computed. */
  unenforcedEgress?: string[];
  /**
   * What this reconcile could not do to a child, each step naming it
   * (`apply the NetworkPolicy a/sb1`) with its error: Ready is False, ApplyFailed.
   */
  applyFailures?: { step: string; error: string }[];
  /** envd's freeze (`freeze: true`) or thaw call failed with `error`. */
  envdFailure?: { freeze: boolean; error: string };
  /**
   * The pod was taken from a SandboxPool and envd there does not hold the Sandbox's identity
   * yet (see `Annotation.identity`); the string says what is awaited. Ready stays False.
   */
  identityPending?: string;
  /** The SandboxPool whose pod the sandbox took. */
  pool?: string;
  /**
   * No pod is made yet because the Sandbox's GpuAllocation is not Bound; `message` says why
   * (`failed`: it cannot be placed as the nodes are, so the sandbox is Failed).
   */
  gpuWait?: { reason: string; message: string; failed: boolean } | undefined;
  /**
   * How the pod's spec compares with the current desired one; the
   * PodUpToDate condition is set only when this is given.
   */
  podSpec?: PodSpecView;
  /** Where a Filesystem or Memory pause stands (only while one is asked). */
  snapshotPause?: SnapshotPauseView;
  /** Where the restore of a pod made from a Snapshot stands (only until the pod is Ready). */
  restore?: RestoreView;
  /** The Snapshot to record as `status.lastSnapshot` (kept from the previous status otherwise). */
  lastSnapshot?: string;
}

/** Where a Filesystem or Memory pause stands. */
export interface SnapshotPauseView {
  /** `capturing`: frozen, files being stored; `stored`: in a Snapshot; `failed`: the sandbox runs on. */
  state: "capturing" | "stored" | "failed";
  snapshot?: string;
  message: string;
  /** `failed` because the mode cannot be taken on this sandbox's runtime: a refusal, not a fault. */
  unsupported?: boolean;
}

/** Where a restore stands. */
export interface RestoreView {
  state: "restoring" | "failed";
  message: string;
}

/** What the reconciler learnt about the pod's spec (see the PodUpToDate condition). */
export type PodSpecView =
  | { state: "current" }
  /** `what` says what differs, for people. */
  | { state: "changed"; what: string }
  /** `why` says why it cannot be told. */
  | { state: "unknown"; why: string };

/** What {@link desiredPaused} decides. */
export interface PauseDecision {
  /** Freeze the sandbox's processes (true) or keep them running (false). */
  paused: boolean;
  /** Set when a pause was asked that cannot be done: the sandbox keeps running. */
  refused?: { reason: string; message: string };
}

/** Kubelet waiting reasons that mean a container will not start without help. */
const STUCK_REASONS = new Set([
  "ErrImagePull",
  "ImagePullBackOff",
  "InvalidImageName",
  "ErrImageNeverPull",
  "CreateContainerConfigError",
  "CreateContainerError",
  "RunContainerError",
  "CrashLoopBackOff",
]);
/** Of those, the ones no retry can fix (the template cannot change): the sandbox is Failed. */
const PERMANENT_REASONS = new Set(["InvalidImageName", "ErrImageNeverPull"]);

/**
 * Whether the sandbox should be frozen now: `spec.state: Paused`, or the
 * deadline passed with `onTimeout: Pause`. Freeze stops the processes in place;
 * Filesystem and Memory freeze them too, while their files (Filesystem) or a
 * CRIU checkpoint of them (Memory) go into a Snapshot (then the pod goes).
 * Memory needs the node agents: an operator without them (`memory` false)
 * refuses such a pause (reason PauseModeNotSupported) and the sandbox keeps
 * running rather than pretending to be paused.
 */
export function desiredPaused(
  sb: Sandbox,
  now: Date,
  expiresAt: string | undefined,
  memory = true,
): PauseDecision {
  const byState = sb.spec.state === "Paused";
  const byTimeout = sb.spec.onTimeout === "Pause" && isExpired(expiresAt, now);
  if (!byState && !byTimeout) return { paused: false };
  const mode = sb.spec.pauseMode ?? "Freeze";
  if (mode !== "Memory" || memory) return { paused: true };
  const why = byState ? "spec.state is Paused" : `the timeout passed at ${expiresAt ?? "?"}`;
  return {
    paused: false,
    refused: {
      reason: PausedReason.PauseModeNotSupported,
      message: `${why}, but pauseMode Memory needs the node agents (Helm values storage.url and nodeAgent.enabled), which this operator has not; the sandbox keeps running. Use pauseMode Freeze (processes stopped in place).`,
    },
  };
}

/**
 * The whole new status of `sb` from `o`: phase, the conditions Ready,
 * Scheduled, Paused and Expired (and EgressEnforced when
 * `o.unenforcedEgress` is given, PodUpToDate when `o.podSpec` is) merged into
 * the previous ones in place, pod facts, `startedAt` (the first time Ready, kept afterwards), `expiresAt`
 * and `observedGeneration`. Fields without a value are left out, so the
 * result compares equal to a stored status that says the same. Pure.
 */
export function computeStatus(sb: Sandbox, o: Observed): SandboxStatus {
  const prev = sb.status ?? {};
  const pod = withApplyFailures(
    withSnapshotPause(withRestore(observePod(o), o.restore), o),
    o.applyFailures,
  );
  const sp = o.snapshotPause;

  const startedAt =
    prev.startedAt ?? (pod.readySince ? startTime(pod.readySince, o.now) : undefined);
  const expiresAt = deadline(sb, startedAt);
  const pause = desiredPaused(sb, o.now, expiresAt, o.memoryPause);
  const wasFrozen = findCondition(prev.conditions, SandboxConditionType.Paused)?.status === "True";
  // Only a Ready pod can be frozen: a new or restarted pod runs unfrozen. A sandbox paused into
  // a Snapshot has no pod and counts as paused.
  const storedPause = sp?.state === "stored" && !o.pod;
  const frozen = storedPause || (pod.phase === "Running" && (o.frozen ?? wasFrozen));

  let phase: SandboxPhase = pod.phase;
  if (storedPause) phase = "Paused";
  else if (sp && sp.state !== "failed") phase = "Pausing";
  else if (pod.phase === "Running" && !pause.refused && !sp) {
    if (pause.paused) phase = frozen ? "Paused" : "Pausing";
    else if (frozen) phase = "Resuming";
  } else if (o.restore && pod.phase === "Starting") phase = "Resuming";

  const generation = sb.metadata.generation;
  const conditions: ConditionInput[] = [
    pod.ready,
    pod.scheduled,
    sp
      ? snapshotPausedCondition(sp)
      : pausedCondition(pause, frozen, pod.phase === "Running", o.envdFailure),
    expiredCondition(sb, expiresAt, o.now, pause, frozen),
  ];
  if (o.unenforcedEgress) conditions.push(egressCondition(sb, o.unenforcedEgress));
  if (o.podSpec) conditions.push(podUpToDateCondition(o.pod, o.podSpec));
  const withGeneration = conditions.map((c) =>
    generation === undefined ? c : { ...c, observedGeneration: generation },
  );

  const status: SandboxStatus = {
    phase,
    conditions: setConditions(prev.conditions ?? [], withGeneration, o.now),
  };
  const podName = o.pod?.metadata?.name ?? o.podName;
  if (podName) status.podName = podName;
  if (pod.ip) {
    status.podIP = pod.ip;
    status.envdEndpoint = envdEndpoint(pod.ip);
  }
  if (pod.node) status.nodeName = pod.node;
  if (startedAt) status.startedAt = startedAt;
  if (expiresAt) status.expiresAt = expiresAt;
  const lastSnapshot = o.lastSnapshot ?? prev.lastSnapshot;
  if (lastSnapshot) status.lastSnapshot = lastSnapshot;
  const pool = o.pool ?? prev.pool;
  if (pool) status.pool = pool;
  if (generation !== undefined) status.observedGeneration = generation;
  return status;
}

/** envd's URL for a pod IP (an IPv6 address goes in brackets). */
export function envdEndpoint(podIP: string): string {
  return `http://${podIP.includes(":") ? `[${podIP}]` : podIP}:${ENVD_PORT}`;
}

interface PodView {
  phase: "Pending" | "Starting" | "Running" | "Failed";
  ready: ConditionInput;
  scheduled: ConditionInput;
  /** When the pod became Ready, when it is. */
  readySince?: Date;
  ip?: string;
  node?: string;
}

/** What the pod (or its absence) says: the pod-derived phase, Ready and Scheduled. */
function observePod(o: Observed): PodView {
  const pod = o.pod;
  const ready = (status: ConditionInput["status"], reason: string, message: string) => ({
    type: SandboxConditionType.Ready,
    status,
    reason,
    message,
  });
  const scheduledCond = (status: ConditionInput["status"], reason: string, message: string) => ({
    type: SandboxConditionType.Scheduled,
    status,
    reason,
    message,
  });

  if (!pod) {
    const notCreated = scheduledCond(
      "False",
      ScheduledReason.PodNotCreated,
      o.templateError
        ? "no pod: the template cannot be used (see the Ready condition)"
        : "the sandbox pod is not created yet",
    );
    if (o.templateError)
      return {
        // A Snapshot still being taken is waited for; every other template error is final.
        phase: o.templateError.reason === "SnapshotNotReady" ? "Pending" : "Failed",
        ready: ready("False", o.templateError.reason, o.templateError.message),
        scheduled: notCreated,
      };
    if (o.gpuWait)
      return {
        phase: o.gpuWait.failed ? "Failed" : "Pending",
        ready: ready("False", o.gpuWait.reason, o.gpuWait.message),
        scheduled: scheduledCond("False", o.gpuWait.reason, o.gpuWait.message),
      };
    return {
      phase: "Pending",
      ready: ready("False", ReadyReason.PodNotCreated, "the sandbox pod is not created yet"),
      scheduled: notCreated,
    };
  }

  const name = pod.metadata?.name ?? o.podName ?? "";
  const node = pod.spec?.nodeName || undefined;
  const ip = pod.status?.podIP || undefined;
  const facts = { ...(ip ? { ip } : {}), ...(node ? { node } : {}) };
  const podScheduled = podCondition(pod, "PodScheduled");
  const scheduled =
    node || podScheduled?.status === "True"
      ? scheduledCond(
          "True",
          ScheduledReason.Scheduled,
          `the pod ${name} runs on node ${node ?? "?"}`,
        )
      : podScheduled?.status === "False"
        ? scheduledCond(
            "False",
            podScheduled.reason || "Unschedulable",
            podScheduled.message || "the scheduler cannot place the pod",
          )
        : scheduledCond(
            "False",
            ScheduledReason.WaitingForScheduler,
            `the pod ${name} waits for the scheduler`,
          );

  if (pod.metadata?.deletionTimestamp)
    return {
      phase: "Pending",
      ready: ready("False", ReadyReason.PodTerminating, `the pod ${name} is being deleted`),
      scheduled,
      ...facts,
    };
  const podPhase = pod.status?.phase;
  if (podPhase === "Failed" || podPhase === "Succeeded")
    return {
      phase: "Failed",
      ready: ready(
        "False",
        pod.status?.reason || ReadyReason.PodFailed,
        pod.status?.message || `the pod ${name} ended (phase ${podPhase}) and will not run again`,
      ),
      scheduled,
      ...facts,
    };
  if (scheduled.status !== "True")
    return {
      phase: "Pending",
      ready: ready(
        "False",
        ReadyReason.PodNotScheduled,
        `the pod ${name} is not scheduled: ${scheduled.message}`,
      ),
      scheduled,
      ...facts,
    };

  // The sandbox container first: it is what the user chose; then the sidecar.
  const stuck =
    stuckContainer(pod.status?.containerStatuses, "sandbox", "") ??
    stuckContainer(pod.status?.initContainerStatuses, "envd", "envd sidecar: ");
  if (stuck)
    return {
      phase: PERMANENT_REASONS.has(stuck.reason) ? "Failed" : "Starting",
      ready: ready("False", stuck.reason, stuck.message),
      scheduled,
      ...facts,
    };

  const podReady = podCondition(pod, "Ready");
  if (podReady?.status === "True" && o.identityPending)
    return {
      phase: "Starting",
      ready: ready("False", ReadyReason.IdentityPending, o.identityPending),
      scheduled,
      ...facts,
    };
  if (podReady?.status === "True")
    return {
      phase: "Running",
      ready: ready("True", ReadyReason.EnvdReady, "envd answers and the sandbox container runs"),
      scheduled,
      readySince: readySince(pod, podReady.lastTransitionTime, o.now),
      ...facts,
    };
  return {
    phase: "Starting",
    ready: ready(
      "False",
      ReadyReason.Starting,
      podReady?.message
        ? `the pod is starting: ${podReady.message}`
        : `the pod ${name} is starting`,
    ),
    scheduled,
    ...facts,
  };
}

/**
 * When the pod became the sandbox's and Ready: a pool pod was Ready long before a Sandbox took
 * it, and the sandbox's timeout counts from the take, not from the pod's start.
 */
function readySince(pod: V1Pod, transition: Date | string | undefined, now: Date): Date {
  const ready = toDate(transition) ?? now;
  const claimed = toDate(pod.metadata?.annotations?.[Annotation.claimedAt]);
  return claimed && claimed.getTime() > ready.getTime() ? claimed : ready;
}

/**
 * A child that could not be applied makes the sandbox not Ready, whatever the
 * pod says: its NetworkPolicy may be open or its token missing. The phase
 * still follows the pod.
 */
function withApplyFailures(view: PodView, failures: Observed["applyFailures"]): PodView {
  if (!failures?.length) return view;
  const message = failures.map((f) => `could not ${f.step}: ${f.error}`).join("; ");
  return {
    ...view,
    ready: {
      type: SandboxConditionType.Ready,
      status: "False",
      reason: ReadyReason.ApplyFailed,
      message: `${message} (retrying)`,
    },
  };
}

function stuckContainer(
  statuses: V1ContainerStatus[] | undefined,
  name: string,
  prefix: string,
): { reason: string; message: string } | undefined {
  const waiting = statuses?.find((s) => s.name === name)?.state?.waiting;
  if (!waiting?.reason || !STUCK_REASONS.has(waiting.reason)) return undefined;
  return { reason: waiting.reason, message: `${prefix}${waiting.message || waiting.reason}` };
}

function pausedCondition(
  pause: PauseDecision,
  frozen: boolean,
  running: boolean,
  envdFailure: Observed["envdFailure"],
): ConditionInput {
  const c = (status: ConditionInput["status"], reason: string, message: string) => ({
    type: SandboxConditionType.Paused,
    status,
    reason,
    message,
  });
  if (pause.refused) return c("False", pause.refused.reason, pause.refused.message);
  if (envdFailure?.freeze)
    return c(
      "False",
      PausedReason.FreezeFailed,
      `envd did not freeze the sandbox's processes: ${envdFailure.error} (retrying)`,
    );
  if (envdFailure)
    return c(
      "True",
      PausedReason.ThawFailed,
      `envd did not thaw the sandbox's processes, which stay frozen: ${envdFailure.error} (retrying)`,
    );
  if (pause.paused)
    return frozen
      ? c("True", PausedReason.Frozen, "every sandbox process is frozen")
      : c(
          "False",
          PausedReason.Pausing,
          running
            ? "freezing the sandbox's processes"
            : "the sandbox is frozen once its pod is Ready",
        );
  return frozen
    ? c("True", PausedReason.Resuming, "thawing the sandbox's processes")
    : c("False", PausedReason.NotPaused, "the sandbox runs");
}

/** While a restore runs (or failed), the sandbox is not Ready for that reason. */
function withRestore(view: PodView, restore: RestoreView | undefined): PodView {
  if (!restore || view.ready.status === "True" || view.phase === "Failed") return view;
  return {
    ...view,
    ready: {
      type: SandboxConditionType.Ready,
      status: "False",
      reason: restore.state === "failed" ? ReadyReason.RestoreFailed : ReadyReason.Restoring,
      message: restore.message,
    },
  };
}

/** A sandbox paused into a Snapshot has no pod on purpose: say so rather than "not created yet". */
function withSnapshotPause(view: PodView, o: Observed): PodView {
  if (o.snapshotPause?.state !== "stored" || o.pod) return view;
  return {
    phase: "Pending", // computeStatus makes it Paused
    ready: {
      type: SandboxConditionType.Ready,
      status: "False",
      reason: ReadyReason.PausedToSnapshot,
      message: o.snapshotPause.message,
    },
    scheduled: {
      type: SandboxConditionType.Scheduled,
      status: "False",
      reason: ScheduledReason.PodNotCreated,
      message: "paused into a Snapshot: the sandbox has no pod until it resumes",
    },
  };
}

function snapshotPausedCondition(sp: SnapshotPauseView): ConditionInput {
  const c = (status: ConditionInput["status"], reason: string) => ({
    type: SandboxConditionType.Paused,
    status,
    reason,
    message: sp.message,
  });
  if (sp.state === "failed")
    return c(
      "False",
      sp.unsupported ? PausedReason.PauseModeNotSupported : PausedReason.SnapshotFailed,
    );
  return sp.state === "stored"
    ? c("True", PausedReason.SnapshotStored)
    : c("False", PausedReason.Snapshotting);
}

function expiredCondition(
  sb: Sandbox,
  expiresAt: string | undefined,
  now: Date,
  pause: PauseDecision,
  frozen: boolean,
): ConditionInput {
  const c = (status: ConditionInput["status"], reason: string, message: string) => ({
    type: SandboxConditionType.Expired,
    status,
    reason,
    message,
  });
  if (!expiresAt)
    return sb.spec.timeoutSeconds === undefined
      ? c("False", ExpiredReason.NoTimeout, "the sandbox has no timeout")
      : c(
          "False",
          ExpiredReason.NotExpired,
          `the timeout of ${sb.spec.timeoutSeconds}s starts when the sandbox is first Ready`,
        );
  if (!isExpired(expiresAt, now))
    return c("False", ExpiredReason.NotExpired, `the sandbox expires at ${expiresAt}`);
  if (sb.spec.onTimeout !== "Pause")
    return c(
      "True",
      ExpiredReason.DeletedOnTimeout,
      `the timeout passed at ${expiresAt}; the sandbox is deleted (onTimeout: Delete)`,
    );
  if (pause.refused) return c("False", pause.refused.reason, pause.refused.message);
  return frozen
    ? c(
        "True",
        ExpiredReason.PausedOnTimeout,
        `the timeout passed at ${expiresAt}; the sandbox is paused (onTimeout: Pause)`,
      )
    : c(
        "False",
        ExpiredReason.PausingOnTimeout,
        `the timeout passed at ${expiresAt}; pausing the sandbox (onTimeout: Pause)`,
      );
}

function egressCondition(sb: Sandbox, unenforced: string[]): ConditionInput {
  const type = SandboxConditionType.EgressEnforced;
  if (unenforced.length > 0)
    return {
      type,
      status: "False",
      reason: EgressReason.HostnamesNotEnforced,
      message: `a NetworkPolicy cannot allow hostnames, so these allowEgress entries are not reachable: ${unenforced.join(", ")}`,
    };
  return {
    type,
    status: "True",
    reason: EgressReason.Enforced,
    message: sb.spec.network?.denyEgress
      ? "the sandbox's NetworkPolicy holds: the default reach minus denyEgress, plus every allowEgress entry"
      : sb.spec.network?.allowEgress
        ? "every allowEgress entry is in the sandbox's NetworkPolicy"
        : "the default NetworkPolicy holds: the public internet, no private or link-local ranges",
  };
}

function podUpToDateCondition(pod: V1Pod | undefined, view: PodSpecView): ConditionInput {
  const c = (status: ConditionInput["status"], reason: string, message: string) => ({
    type: SandboxConditionType.PodUpToDate,
    status,
    reason,
    message,
  });
  if (!pod) return c("Unknown", PodUpToDateReason.PodNotCreated, "there is no sandbox pod");
  if (view.state === "current")
    return c("True", PodUpToDateReason.SpecCurrent, "the pod runs the current spec");
  if (view.state === "unknown") return c("Unknown", PodUpToDateReason.SpecUnknown, view.why);
  return c(
    "False",
    PodUpToDateReason.SpecChanged,
    `the pod was made from an earlier spec (${view.what}); it keeps running unchanged, and the next pod (once this one is deleted or ends) gets the current spec`,
  );
}

function podCondition(pod: V1Pod, type: string): V1PodCondition | undefined {
  return pod.status?.conditions?.find((c) => c.type === type);
}

/** A time from client-node: a Date when deserialized, a string in raw JSON. */
function toDate(v: Date | string | undefined): Date | undefined {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v;
  return typeof v === "string" ? parseRfc3339(v) : undefined;
}

/** When the sandbox started: when its pod became Ready, never later than now. */
function startTime(readySince: Date, now: Date): string {
  return formatRfc3339(readySince.getTime() > now.getTime() ? now : readySince);
}
