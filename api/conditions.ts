/**
 * The condition types and reasons a Sandbox's status uses, in one place,
 * because they are an API: the gateway, `kubectl wait` and users' scripts
 * match on them, so each is a documented constant rather than a string typed
 * at the point of use. Kubelet and scheduler reasons (ErrImagePull,
 * Unschedulable, ...) are passed through verbatim and are not listed here.
 */
import type { Condition } from "./gen/crd-types.js";

/** The shape of metav1.Condition (generated from the CRDs' schema). */
export type { Condition } from "./gen/crd-types.js";

/** A condition without its transition time: what a reconcile computes. */
export type ConditionInput = Omit<Condition, "lastTransitionTime">;

/**
 * Sandbox condition types. All are positive polarity: "True" is the good or
 * asked-for state, so `kubectl wait --for=condition=<type>` waits for it.
 */
export const SandboxConditionType = {
  /** The sandbox pod runs and envd answers: the sandbox can be used. */
  Ready: "Ready",
  /** The pod was placed on a node. */
  Scheduled: "Scheduled",
  /** The sandbox is paused as `spec.state: Paused` asked. */
  Paused: "Paused",
  /** The timeout passed and `onTimeout` was carried out. */
  Expired: "Expired",
  /**
   * Every `spec.network.allowEgress` entry is enforced by the sandbox's
   * NetworkPolicy. False lists the hostname entries that a NetworkPolicy
   * cannot express (they are not reachable: the policy fails closed).
   */
  EgressEnforced: "EgressEnforced",
  /**
   * The running pod was made from the spec the Sandbox, its template and the
   * operator's settings give now. False: it was made from an earlier one. A
   * pod's spec cannot change and replacing the pod would end the sandbox's
   * processes, so the pod keeps running as it is; the next pod (after this
   * one is deleted or ends) is made from the current spec. Unknown: there is
   * no pod, or the current spec cannot be computed.
   */
  PodUpToDate: "PodUpToDate",
} as const;

/** Reasons of the `Ready` condition that SoulBox itself sets. */
export const ReadyReason = {
  /** True: the pod is Ready, so envd answers and the sandbox container runs. */
  EnvdReady: "EnvdReady",
  /** False: there is no pod yet. */
  PodNotCreated: "PodNotCreated",
  /** False: the pod waits for a node (the Scheduled condition says why). */
  PodNotScheduled: "PodNotScheduled",
  /** False: the pod exists and its containers are starting. */
  Starting: "Starting",
  /** False: the pod is being deleted. */
  PodTerminating: "PodTerminating",
  /**
   * False: the sandbox took a ready pod of a SandboxPool and envd there does not hold the
   * Sandbox's access token and environment yet; nobody but the operator can call it meanwhile.
   */
  IdentityPending: "IdentityPending",
  /** False: the pod ended (evicted, node lost) and will not run again; the kubelet's reason wins when it gave one. */
  PodFailed: "PodFailed",
  /**
   * False: a child (the token Secret, the NetworkPolicy, the pod) could not be
   * created, brought back to its desired state or read; the message names each
   * child and its error. The operator retries with backoff. It wins over every
   * other reason: a sandbox whose NetworkPolicy may be open is not Ready.
   */
  ApplyFailed: "ApplyFailed",
  /** False: paused with pauseMode Filesystem: the files are in a Snapshot and there is no pod. */
  PausedToSnapshot: "PausedToSnapshot",
  /** False: the new pod's container waits while the node agent puts the Snapshot's files back. */
  Restoring: "Restoring",
  /** False: the Snapshot could not be restored (the message says why); retried with backoff. */
  RestoreFailed: "RestoreFailed",
} as const;

/** Reasons of the `Scheduled` condition that SoulBox itself sets. */
export const ScheduledReason = {
  /** True: the pod has a node. */
  Scheduled: "Scheduled",
  /** False: there is no pod yet. */
  PodNotCreated: "PodNotCreated",
  /** False: the scheduler has not said anything about the pod yet. */
  WaitingForScheduler: "WaitingForScheduler",
} as const;

/** Reasons of the `Paused` condition. */
export const PausedReason = {
  /** True: every sandbox process is frozen, as `spec.state: Paused` (or `onTimeout: Pause`) asked. */
  Frozen: "Frozen",
  /** True: still frozen; the sandbox was asked to run again and is being thawed. */
  Resuming: "Resuming",
  /** False: a freeze was asked and is not confirmed yet (or waits for the pod to be Ready). */
  Pausing: "Pausing",
  /** False: the sandbox runs, as asked. */
  NotPaused: "NotPaused",
  /** False: a pause was asked with a `pauseMode` that cannot be done here (Memory without node agents, or on a VM runtime such as Kata without `pauseFallback`); the sandbox keeps running. */
  PauseModeNotSupported: "PauseModeNotSupported",
  /** False: pauseMode Filesystem: the processes are frozen and the files are being captured into a Snapshot. */
  Snapshotting: "Snapshotting",
  /** True: pauseMode Filesystem: the files are in a Snapshot (status.lastSnapshot) and the pod is deleted. */
  SnapshotStored: "SnapshotStored",
  /** False: the pause's Snapshot failed (the message says why); the sandbox keeps running. Resume and pause again to retry. */
  SnapshotFailed: "SnapshotFailed",
  /** False: a freeze was asked and envd's freeze call failed (the message says how); retried with backoff. */
  FreezeFailed: "FreezeFailed",
  /** True: the sandbox was asked to run again and envd's thaw call failed; it stays frozen; retried with backoff. */
  ThawFailed: "ThawFailed",
} as const;

/** Reasons of the `Expired` condition. */
export const ExpiredReason = {
  /** False: the sandbox has no timeout. */
  NoTimeout: "NoTimeout",
  /** False: the deadline is in the future, or the timeout has not started (it starts when the sandbox is first Ready). */
  NotExpired: "NotExpired",
  /** True: the deadline passed with `onTimeout: Delete`; the Sandbox is being deleted. */
  DeletedOnTimeout: "DeletedOnTimeout",
  /** True: the deadline passed with `onTimeout: Pause` and the sandbox is paused. */
  PausedOnTimeout: "PausedOnTimeout",
  /** False: the deadline passed with `onTimeout: Pause` and the pause is not done yet. */
  PausingOnTimeout: "PausingOnTimeout",
} as const;

/** Reasons of the `EgressEnforced` condition. */
export const EgressReason = {
  /** True: every allowEgress entry (or the default policy) is in the NetworkPolicy. */
  Enforced: "Enforced",
  /** False: hostname entries cannot be written into a NetworkPolicy; they stay unreachable. */
  HostnamesNotEnforced: "HostnamesNotEnforced",
} as const;

/** Reasons of the `PodUpToDate` condition. */
export const PodUpToDateReason = {
  /** True: the pod's spec is the one the Sandbox gives now. */
  SpecCurrent: "SpecCurrent",
  /** False: the pod was made from an earlier spec (or its container images were changed by hand); it is not replaced. */
  SpecChanged: "SpecChanged",
  /** Unknown: there is no pod of this Sandbox. */
  PodNotCreated: "PodNotCreated",
  /** Unknown: the current spec cannot be computed (the template cannot be used), or the pod does not say what it was made from. */
  SpecUnknown: "SpecUnknown",
} as const;

/** Snapshot condition types (positive polarity). */
export const SnapshotConditionType = {
  /** The snapshot is stored and can be restored. */
  Ready: "Ready",
} as const;

/** Reasons of a Snapshot's `Ready` condition. */
export const SnapshotReadyReason = {
  /** True: every part is stored, with its size and sha256. */
  Stored: "Stored",
  /** False: waiting for the sandbox's pod to run. */
  WaitingForSandbox: "WaitingForSandbox",
  /** False: the sandbox is frozen and its files are being captured. */
  Capturing: "Capturing",
  /** False: the capture failed in a way a retry may fix (storage or node agent unreachable); retried with backoff. */
  CaptureFailed: "CaptureFailed",
  /** False (Failed): the Sandbox does not exist. */
  SandboxNotFound: "SandboxNotFound",
  /** False (Failed): the Sandbox has no running pod to capture (it is paused to a Snapshot or ended). */
  SandboxNotRunning: "SandboxNotRunning",
  /** False (Failed): the mode cannot be taken here (Memory on a VM runtime such as Kata, or without the agent's Memory settings). */
  ModeNotSupported: "ModeNotSupported",
  /** False (Failed): the operator has no object storage (Helm values storage.url). */
  StorageNotConfigured: "StorageNotConfigured",
  /** False (Failed): the capture failed in a way no retry fixes (the message says why). */
  Failed: "Failed",
} as const;

/** Finds a condition by type. */
export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** True when the condition of `type` is present with status "True". */
export function isConditionTrue(
  conditions: readonly Condition[] | undefined,
  type: string,
): boolean {
  return findCondition(conditions, type)?.status === "True";
}
