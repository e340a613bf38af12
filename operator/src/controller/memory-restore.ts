/**
 * A sandbox resumed (or forked) from a Memory Snapshot. The pod is the one the sandbox would get
 * fresh (same volumes and mounts as the checkpointed one, same command), with two changes: its
 * sandbox container's image is the Snapshot's checkpoint image, which containerd restores (the
 * checkpointed processes come back instead of a fresh start), and it must run on the node the
 * checkpoint was taken on (that image, and the image it layers on, are there). While it starts,
 * the node agent makes sure the checkpoint image is on the node and is the archive the Snapshot
 * recorded (else it puts it back from the store, checking its sha256), and once the container
 * runs it wakes the restored executor, which was checkpointed with its link closed.
 */
import type * as k8s from "@kubernetes/client-node";
import type { SandboxTemplate } from "../../../api/gen/crd-types.js";
import {
  HOSTNAME_ANNOTATION,
  RESTORE_FROM_ANNOTATION,
  podHostname,
  restorePlan,
  type RestorePlan,
} from "../../../api/snapshot.js";
import { Annotation } from "../../../api/labels.js";
import { DNS_LABEL } from "../../../lib/flags.js";
import { describeError } from "../kube/errors.js";
import { desiredPod, podSpecHash } from "../sandbox/desired-pod.js";
import type { RestoreView } from "../sandbox/status.js";
import type { SandboxContext } from "./sandbox-children.js";
import { NodeAgentCallError, type NodeAgentClient } from "./node-agent-client.js";

/** The sandbox pod's container that a Memory Snapshot checkpoints and restores. */
export const CHECKPOINTED_CONTAINER = "sandbox";

type MemoryPlan = Extract<RestorePlan, { kind: "memory" }>;

/**
 * `pod` (a fresh sandbox pod) made into the restore of `plan`, from the Snapshot `from`: the
 * sandbox container runs the checkpoint image, the pod is bound to the checkpoint's node by
 * name (the scheduler says so when that node is gone), and its spec hash is the new spec's. Pure.
 */
export function memoryRestorePod(pod: k8s.V1Pod, from: string, plan: MemoryPlan): k8s.V1Pod {
  const spec = pod.spec;
  if (!spec) throw new Error("a sandbox pod without a spec");
  const containers = spec.containers.map((c) =>
    c.name === CHECKPOINTED_CONTAINER
      ? { ...c, image: plan.image, imagePullPolicy: "IfNotPresent" }
      : c,
  );
  const restored: k8s.V1PodSpec = {
    ...spec,
    containers,
    affinity: {
      ...spec.affinity,
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            { matchFields: [{ key: "metadata.name", operator: "In", values: [plan.node] }] },
          ],
        },
      },
    },
  };
  return {
    ...pod,
    metadata: {
      ...pod.metadata,
      annotations: {
        ...pod.metadata?.annotations,
        [Annotation.podSpecHash]: podSpecHash(restored),
        [RESTORE_FROM_ANNOTATION]: from,
      },
    },
    spec: restored,
  };
}

/**
 * The pod of `ctx.sb` made from the Snapshot `from` (none: a fresh pod). A Filesystem Snapshot
 * gives the pod whose executor waits for its files; a Memory one the restore pod above.
 */
export function podFromSnapshot(
  ctx: Pick<SandboxContext, "sb" | "namespace" | "deps">,
  template: SandboxTemplate,
  from: string | undefined,
): k8s.V1Pod {
  const { sb, deps } = ctx;
  const snapshot = from ? deps.caches.snapshots?.get(from, ctx.namespace) : undefined;
  const plan = restorePlan(snapshot);
  const pod =
    from && plan?.kind === "memory"
      ? memoryRestorePod(desiredPod(sb, template, deps.settings), from, plan)
      : desiredPod(sb, template, deps.settings, from);
  // A resume keeps the paused pod's hostname; a fork is a sandbox of its own.
  const hostname =
    from !== undefined && from === sb.status?.lastSnapshot
      ? snapshot?.metadata.annotations?.[HOSTNAME_ANNOTATION]
      : undefined;
  return hostname ? withHostname(pod, hostname) : pod;
}

/**
 * `pod` with `hostname` (and its spec hash updated), unless the kubelet gives it that hostname
 * anyway (its name) or `hostname` is not a DNS label. Pure.
 */
export function withHostname(pod: k8s.V1Pod, hostname: string): k8s.V1Pod {
  if (hostname === podHostname(pod) || !DNS_LABEL.test(hostname)) return pod;
  const spec = { ...(pod.spec as k8s.V1PodSpec), hostname };
  return {
    ...pod,
    metadata: {
      ...pod.metadata,
      annotations: { ...pod.metadata?.annotations, [Annotation.podSpecHash]: podSpecHash(spec) },
    },
    spec,
  };
}

/**
 * Before the restore pod of `plan` is made: asks the node agent on the checkpoint's node to have
 * the checkpoint image (it may still be importing it after the pause, or have lost it), so the
 * kubelet never tries to pull it and backs off. Undefined: go on and make the pod (also when the
 * agent cannot be reached: the pod's own restore step asks again); a refusal (the stored archive
 * is not the recorded one) is why no pod is made.
 */
export async function prepareCheckpointImage(
  ctx: Pick<SandboxContext, "sb" | "deps" | "log">,
  from: string,
  plan: MemoryPlan,
): Promise<{ reason: string; message: string } | undefined> {
  const agent = ctx.deps.agent;
  if (!agent || !plan.nodeAddress) return undefined;
  try {
    await putCheckpointImage(
      ctx,
      agent,
      plan.nodeAddress,
      `${ctx.sb.metadata?.uid ?? ""}-image`,
      from,
      plan,
    );
    return undefined;
  } catch (error) {
    if (error instanceof NodeAgentCallError && error.code === "IntegrityMismatch")
      return {
        reason: "RestoreFailed",
        message: `refusing to restore the Memory Snapshot ${from}: ${describeError(error)}`,
      };
    ctx.log.warn("the checkpoint image is not ready on its node yet; making the pod anyway", {
      snapshot: from,
      node: plan.node,
      error: describeError(error),
    });
    return undefined;
  }
}

/** Has the agent at `hostIP` put the checkpoint image of `plan` on its node (an event if it imported). */
async function putCheckpointImage(
  ctx: Pick<SandboxContext, "sb" | "deps">,
  agent: NodeAgentClient,
  hostIP: string,
  id: string,
  from: string,
  plan: MemoryPlan,
): Promise<void> {
  const put = await agent.restoreImage(hostIP, {
    id,
    key: plan.key,
    sha256: plan.sha256,
    image: plan.image,
    container: CHECKPOINTED_CONTAINER,
  });
  if (put.imported)
    ctx.deps.events.record(
      ctx.sb,
      "Normal",
      "CheckpointImported",
      `Put the checkpoint image of the Snapshot ${from} back on the node ${plan.node} in ${put.durationMs} ms.`,
    );
}

/** Whether the scheduler cannot place `pod` (PodScheduled False, Unschedulable). Pure. */
export function unschedulable(pod: k8s.V1Pod): string | undefined {
  const c = pod.status?.conditions?.find((x) => x.type === "PodScheduled");
  return c?.status === "False" && c.reason === "Unschedulable"
    ? (c.message ?? "unschedulable")
    : undefined;
}

/**
 * One step of a Memory restore of `pod` (not Ready yet) from the Snapshot `from`: wait for the
 * node to take it, put the checkpoint image there (checked), then wake the restored executor.
 */
export async function syncMemoryRestore(
  ctx: SandboxContext,
  pod: k8s.V1Pod,
  from: string,
  plan: MemoryPlan,
): Promise<{ view?: RestoreView; error?: unknown }> {
  const agent = ctx.deps.agent;
  if (!agent) {
    const message = `cannot restore the Memory Snapshot ${from}: no node agent is configured`;
    return { view: { state: "failed", message }, error: new Error(message) };
  }
  const stuck = unschedulable(pod);
  if (stuck)
    // No retry of ours helps: the scheduler tries again by itself should the node come back.
    return {
      view: {
        state: "failed",
        message: `the Memory Snapshot ${from} can only be restored on the node ${plan.node}, where its checkpoint was taken, and that node cannot take the pod (gone, or full): ${stuck}`,
      },
    };
  const hostIP = pod.status?.hostIP;
  if (!hostIP)
    return {
      view: {
        state: "restoring",
        message: `waiting for the node ${plan.node} to take the pod restored from ${from}`,
      },
    };
  const container = pod.status?.containerStatuses?.find((c) => c.name === CHECKPOINTED_CONTAINER);
  try {
    if (!container?.state?.running || !container.containerID) {
      await putCheckpointImage(ctx, agent, hostIP, pod.metadata?.uid ?? "", from, plan);
      return {
        view: {
          state: "restoring",
          message: `restoring the processes of the Memory Snapshot ${from} on the node ${plan.node}`,
        },
      };
    }
    await agent.wake(hostIP, {
      id: container.containerID,
      containerID: container.containerID,
    });
    return {
      view: {
        state: "restoring",
        message: `the processes of the Memory Snapshot ${from} run again; envd connects to them`,
      },
    };
  } catch (error) {
    const refused = error instanceof NodeAgentCallError && error.code === "IntegrityMismatch";
    return {
      view: {
        state: "failed",
        message: refused
          ? `refusing to restore the Memory Snapshot ${from}: ${describeError(error)}`
          : `could not restore the Memory Snapshot ${from}: ${describeError(error)} (retrying)`,
      },
      error,
    };
  }
}
