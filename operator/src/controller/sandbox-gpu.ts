/**
 * A Sandbox's GPUs, as one step of its reconcile: make its GpuAllocation when there is none,
 * and say whether the pod may be made (the allocation is Bound) or why it waits.
 */
import type { GpuAllocation } from "../../../api/gen/crd-types.js";
import { GpuAllocationConditionType, WAITING_FOR_GPUS } from "../../../api/gpu.js";
import { statusOf } from "../kube/errors.js";
import { desiredGpuAllocation } from "../gpu/desired-gpu-allocation.js";
import type { SandboxContext } from "./sandbox-children.js";

/** What the pod step needs to know. */
export interface GpuOutcome {
  /** The Bound allocation the pod is made for. */
  allocation?: GpuAllocation;
  /** Set while no pod may be made; `failed`: the allocation can never be placed as things are. */
  wait?: { reason: string; message: string; failed: boolean };
}

/** Ensures the allocation exists and reads where it stands (from the cache). */
export async function syncGpuAllocation(ctx: SandboxContext): Promise<GpuOutcome> {
  const desired = desiredGpuAllocation(ctx.sb);
  const cache = ctx.deps.caches.gpuAllocations;
  if (!desired || !cache) return {};
  const live = cache.get(ctx.name, ctx.namespace);
  const waiting = (message: string, failed = false): GpuOutcome => ({
    wait: { reason: WAITING_FOR_GPUS, message, failed },
  });
  if (!live) {
    await ctx.failures.attempt(
      `create the GpuAllocation ${ctx.namespace}/${ctx.name}`,
      async () => {
        try {
          await ctx.deps.writer.create(desired);
          ctx.deps.events.record(
            ctx.sb,
            "Normal",
            "GpuAllocationCreated",
            `Asked for ${desired.spec.count} GPU(s) (GpuAllocation ${ctx.name}).`,
          );
        } catch (err) {
          if (statusOf(err) !== 409) throw err; // made a moment ago: the cache will show it
        }
      },
    );
    return waiting(`waiting for the GpuAllocation ${ctx.name} to be placed`);
  }
  const mine = live.metadata.ownerReferences?.some((o) => o.uid === ctx.sb.metadata.uid);
  if (!mine)
    return waiting(
      `the GpuAllocation ${ctx.name} belongs to an earlier Sandbox of this name; waiting for it to go`,
    );
  const bound = live.status?.conditions?.find((c) => c.type === GpuAllocationConditionType.Bound);
  if (live.status?.phase === "Bound") return { allocation: live };
  const why = bound?.message ?? "not placed yet";
  return waiting(
    `the GpuAllocation ${ctx.name} is ${live.status?.phase ?? "Pending"}: ${why}`,
    live.status?.phase === "Failed",
  );
}
