/**
 * The Sandbox reconcile's snapshot steps. A Filesystem or Memory pause: once the processes are
 * frozen, a pause Snapshot of the pod (in the pause's mode) is made (a child of the Sandbox, named after the pod so one pod is
 * captured once); when it is Ready, `status.lastSnapshot` names it (written first, so the link
 * is never lost), then the pod is deleted and older pause Snapshots go. A restore: a pod made
 * from a Filesystem Snapshot waits in its executor until the node agent has applied the
 * Snapshot's layer, which this step asks for once the container runs; one from a Memory Snapshot
 * is restored by containerd from the checkpoint image (memory-restore.ts).
 */
import type * as k8s from "@kubernetes/client-node";
import { SnapshotReadyReason, findCondition } from "../../../api/conditions.js";
import { SnapshotResource, type Sandbox, type Snapshot } from "../../../api/gen/crd-types.js";
import { Annotation, Label } from "../../../api/labels.js";
import {
  HOSTNAME_ANNOTATION,
  PAUSE_OF_LABEL,
  RESTORE_FROM_ANNOTATION,
  podHostname,
  restorePlan,
} from "../../../api/snapshot.js";
import { describeError, statusOf } from "../kube/errors.js";
import { ownedMetadata } from "../sandbox/owner.js";
import { SHARED_VOLUME } from "../sandbox/desired-pod.js";
import type { SnapshotPauseView, RestoreView } from "../sandbox/status.js";
import type { SandboxContext } from "./sandbox-children.js";
import { isPodReady } from "./pod-ready.js";
import { syncMemoryRestore } from "./memory-restore.js";
import { identityOf } from "./pool-claim.js";

/** The pause Snapshot of `pod`: one per pod, so a repeated reconcile never captures twice. */
export function pauseSnapshotName(sb: Sandbox, pod: k8s.V1Pod): string {
  return `${sb.metadata.name ?? ""}-${(pod.metadata?.uid ?? "").replace(/-/g, "").slice(0, 8)}`;
}

/** The pause Snapshot to create for `pod` of `sb`, in the Sandbox's pause mode. Pure. */
export function desiredPauseSnapshot(sb: Sandbox, pod: k8s.V1Pod): Snapshot {
  const name = sb.metadata.name ?? "";
  const meta = ownedMetadata(sb, pauseSnapshotName(sb, pod), {
    [Label.sandbox]: name,
    [PAUSE_OF_LABEL]: name,
  });
  return {
    apiVersion: SnapshotResource.apiVersion,
    kind: SnapshotResource.kind,
    // The resumed pod keeps the hostname (a pool pod's is not the Sandbox's name).
    metadata: {
      ...meta,
      annotations: { ...meta.annotations, [HOSTNAME_ANNOTATION]: podHostname(pod) },
    },
    spec: { sandbox: name, mode: sb.spec.pauseMode === "Memory" ? "Memory" : "Filesystem" },
  };
}

/** What {@link syncPauseSnapshot} found and did. */
export interface PauseOutcome {
  view: SnapshotPauseView;
  /** The Snapshot to record as `status.lastSnapshot`. */
  lastSnapshot?: string;
  /** The freeze must be undone: the pause failed and the sandbox keeps running. */
  thaw?: boolean;
}

/**
 * One step of a Filesystem pause of the sandbox's `pod` (undefined: it is gone already).
 * `frozen`: envd said the processes are frozen.
 */
export async function syncPauseSnapshot(
  ctx: SandboxContext,
  pod: k8s.V1Pod | undefined,
  frozen: boolean,
): Promise<PauseOutcome> {
  const { sb, namespace, deps } = ctx;
  const snapshots = deps.caches.snapshots;
  const last = sb.status?.lastSnapshot;
  if (!pod)
    return {
      view: {
        state: "stored",
        ...(last ? { snapshot: last } : {}),
        message: last
          ? `the sandbox's files are in the Snapshot ${last}; its pod is deleted`
          : "the sandbox never ran: there is nothing to store",
      },
    };
  const name = pauseSnapshotName(sb, pod);
  const snap = snapshots?.get(name, namespace);
  if (!snap) {
    if (!frozen || !isPodReady(pod))
      return {
        view: { state: "capturing", snapshot: name, message: "freezing the sandbox's processes" },
      };
    await ctx.failures.attempt(`create the pause Snapshot ${namespace}/${name}`, async () => {
      await deps.writer.create(desiredPauseSnapshot(sb, pod)).catch((err: unknown) => {
        if (statusOf(err) !== 409) throw err; // made a moment ago: the cache shows it soon
      });
      deps.events.record(
        sb,
        "Normal",
        "Snapshotting",
        `Capturing the sandbox's files into the Snapshot ${name}.`,
      );
    });
    return {
      view: {
        state: "capturing",
        snapshot: name,
        message: `capturing the files into the Snapshot ${name}`,
      },
    };
  }
  const phase = snap.status?.phase;
  if (phase === "Failed") return { view: failedPauseView(snap, name), thaw: true };
  if (phase !== "Ready")
    return {
      view: {
        state: "capturing",
        snapshot: name,
        message: `capturing the files into the Snapshot ${name}: ${snapshotMessage(snap)}`,
      },
    };
  if (last !== name)
    // Recorded before the pod goes: a status write that fails after a delete would lose the files.
    return {
      view: { state: "capturing", snapshot: name, message: `the Snapshot ${name} is stored` },
      lastSnapshot: name,
    };
  await ctx.failures.attempt(`delete the paused pod ${namespace}/${pod.metadata?.name ?? ""}`, () =>
    deps.writer.delete(
      { apiVersion: "v1", kind: "Pod", namespace, name: pod.metadata?.name ?? "" },
      { uid: pod.metadata?.uid ?? "" },
    ),
  );
  await deleteOlderPauseSnapshots(ctx, name);
  return {
    view: {
      state: "stored",
      snapshot: name,
      message: `the sandbox's files are in the Snapshot ${name}; deleting its pod`,
    },
  };
}

/**
 * On resume: a pause Snapshot of the running pod that failed is deleted, so the next pause
 * of this pod tries again.
 */
export async function clearFailedPause(
  ctx: SandboxContext,
  pod: k8s.V1Pod | undefined,
): Promise<void> {
  if (!pod) return;
  const name = pauseSnapshotName(ctx.sb, pod);
  const snap = ctx.deps.caches.snapshots?.get(name, ctx.namespace);
  if (snap?.status?.phase !== "Failed") return;
  await ctx.failures.attempt(`delete the failed pause Snapshot ${ctx.namespace}/${name}`, () =>
    ctx.deps.writer.delete({
      apiVersion: SnapshotResource.apiVersion,
      kind: SnapshotResource.kind,
      namespace: ctx.namespace,
      name,
    }),
  );
}

/** Pause Snapshots of this sandbox older than `current`: every file is in `current` too. */
async function deleteOlderPauseSnapshots(ctx: SandboxContext, current: string): Promise<void> {
  const own = (ctx.deps.caches.snapshots?.list(ctx.namespace) ?? []).filter(
    (s) =>
      s.metadata.labels?.[PAUSE_OF_LABEL] === ctx.name &&
      s.metadata.name !== current &&
      !s.metadata.deletionTimestamp,
  );
  for (const s of own)
    await ctx.failures.attempt(
      `delete the earlier pause Snapshot ${ctx.namespace}/${s.metadata.name ?? ""}`,
      () =>
        ctx.deps.writer.delete({
          apiVersion: SnapshotResource.apiVersion,
          kind: SnapshotResource.kind,
          namespace: ctx.namespace,
          name: s.metadata.name ?? "",
        }),
    );
}

/**
 * The view of a pause whose Snapshot `name` failed: a refusal when its mode cannot be taken on
 * the sandbox's runtime (Memory on Kata), else a fault a new pause may get past. Pure.
 */
function failedPauseView(snap: Snapshot, name: string): SnapshotPauseView {
  const why = snapshotMessage(snap);
  if (readyOf(snap)?.reason === SnapshotReadyReason.ModeNotSupported)
    return {
      state: "failed",
      snapshot: name,
      message: `the Snapshot ${name} cannot be taken: ${why}; the sandbox keeps running (pause it with pauseMode Freeze or Filesystem, or set spec.pauseFallback: Filesystem)`,
      unsupported: true,
    };
  return {
    state: "failed",
    snapshot: name,
    message: `the Snapshot ${name} failed: ${why}; the sandbox keeps running (set spec.state Running, then Paused, to try again)`,
  };
}

const readyOf = (snap: Snapshot) => findCondition(snap.status?.conditions, "Ready");

function snapshotMessage(snap: Snapshot): string {
  return readyOf(snap)?.message ?? `phase ${snap.status?.phase ?? "Pending"}`;
}

/**
 * Asks the node agent to restore a pod made from a Snapshot, once its sandbox container runs
 * (its executor waits for the marker). Nothing for a pod that is not restored, or is done: its
 * own pod once Ready; a pool's pod (`taken`, Ready before its files are back) once envd holds
 * the Sandbox's identity, which is given only after them. For a pool's pod a finished restore
 * has no view: the identity follows in the same reconcile.
 */
export async function syncRestore(
  ctx: SandboxContext,
  pod: k8s.V1Pod | undefined,
  taken = false,
): Promise<{ view?: RestoreView; error?: unknown }> {
  const from = pod?.metadata?.annotations?.[RESTORE_FROM_ANNOTATION];
  if (!pod || !from || pod.metadata?.deletionTimestamp) return {};
  const done = taken
    ? pod.metadata?.annotations?.[Annotation.identity] === identityOf(ctx.sb, pod)
    : isPodReady(pod);
  if (done) return {};
  const plan = restorePlan(ctx.deps.caches.snapshots?.get(from, ctx.namespace));
  // The pod's sandbox image says how it was made (a Snapshot may since have changed).
  const sandboxImage = pod.spec?.containers.find((c) => c.name === "sandbox")?.image;
  if (plan?.kind === "memory" && sandboxImage === plan.image)
    return syncMemoryRestore(ctx, pod, from, plan);
  const container = pod.status?.containerStatuses?.find((c) => c.name === "sandbox");
  if (!container?.state?.running || !container.containerID || !pod.status?.hostIP)
    return {
      view: {
        state: "restoring",
        message: `the pod starts; then the Snapshot ${from}'s files are put back`,
      },
    };
  const part = plan?.kind === "filesystem" ? plan : undefined;
  const agent = ctx.deps.agent;
  if (!part || !agent) {
    const why = !agent
      ? "no node agent is configured"
      : `the Snapshot ${from} is not Ready or has no filesystem part`;
    return {
      view: { state: "failed", message: `cannot restore: ${why}` },
      error: new Error(`cannot restore ${from}: ${why}`),
    };
  }
  try {
    const result = await agent.restore(pod.status.hostIP, {
      id: pod.metadata?.uid ?? "",
      containerID: container.containerID,
      podUID: pod.metadata?.uid ?? "",
      volume: SHARED_VOLUME,
      key: part.key,
      sha256: part.sha256,
    });
    if (result.applied)
      ctx.deps.events.record(
        ctx.sb,
        "Normal",
        "Restored",
        `Put back ${result.entries} entries of the Snapshot ${from} in ${result.durationMs} ms.`,
      );
    if (taken) return {};
    return {
      view: {
        state: "restoring",
        message: `the Snapshot ${from}'s files are back; the sandbox starts`,
      },
    };
  } catch (error) {
    return {
      view: {
        state: "failed",
        message: `could not restore the Snapshot ${from}: ${describeError(error)} (retrying)`,
      },
      error,
    };
  }
}
