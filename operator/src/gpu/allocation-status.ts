/**
 * A GpuAllocation's whole next status from what the reconcile saw, pure: Bound stays Bound (the
 * pod may hold the devices), a gone Sandbox releases the GPUs, and otherwise the placement
 * decides between Bound, Pending (it may fit later) and Failed (it cannot fit as the nodes are).
 */
import type { GpuAllocation, GpuAllocationStatus } from "../../../api/gen/crd-types.js";
import { GpuAllocationConditionType, GpuBoundReason } from "../../../api/gpu.js";
import { setCondition } from "../conditions.js";
import type { GpuRequest, Placement } from "./placement.js";

/** The request a GpuAllocation's spec makes. */
export function requestOf(a: GpuAllocation): GpuRequest {
  return {
    count: a.spec.count,
    product: a.spec.product || undefined,
    minMemoryMiB: a.spec.minMemoryMiB || undefined,
    singleNuma: a.spec.numaPolicy === "SingleNUMA",
    nvlink: a.spec.nvlink ?? false,
  };
}

/** Whether the allocation holds its devices now (Bound). */
export function holdsDevices(a: GpuAllocation): boolean {
  return a.status?.phase === "Bound" && !!a.status.node && !!a.status.deviceIds?.length;
}

/** What the reconcile saw. */
export interface AllocationObserved {
  now: Date;
  /** The Sandbox of spec.sandbox exists and is not being deleted. */
  sandboxExists: boolean;
  /** Where it would go; only computed when it is neither Bound nor released. */
  placement?: Placement;
}

/** The next status. */
export function allocationStatus(a: GpuAllocation, o: AllocationObserved): GpuAllocationStatus {
  const prev = a.status ?? {};
  const cond = (status: "True" | "False", reason: string, message: string) =>
    setCondition(
      prev.conditions ?? [],
      {
        type: GpuAllocationConditionType.Bound,
        status,
        reason,
        message,
        ...(a.metadata.generation !== undefined
          ? { observedGeneration: a.metadata.generation }
          : {}),
      },
      o.now,
    );
  if (!o.sandboxExists) {
    if (prev.phase === "Bound" || prev.phase === "Released")
      return {
        phase: "Released",
        ...(prev.node ? { node: prev.node } : {}),
        conditions: cond(
          "False",
          GpuBoundReason.Released,
          `the Sandbox ${a.spec.sandbox} is gone; its GPUs are free`,
        ),
      };
    return {
      phase: "Pending",
      conditions: cond(
        "False",
        GpuBoundReason.SandboxNotFound,
        `the Sandbox ${a.spec.sandbox} does not exist`,
      ),
    };
  }
  if (holdsDevices(a)) return prev;
  const p = o.placement;
  if (!p) return prev;
  if ("node" in p) {
    const numa = [...new Set(p.devices.map((d) => d.numaNode ?? "none"))].join(", ");
    return {
      phase: "Bound",
      node: p.node,
      deviceIds: p.devices.map((d) => d.uuid),
      devices: p.devices.map((d) => ({
        uuid: d.uuid,
        index: d.index,
        ...(d.numaNode !== undefined ? { numaNode: d.numaNode } : {}),
      })),
      conditions: cond(
        "True",
        GpuBoundReason.Bound,
        `${p.devices.length} GPU${p.devices.length === 1 ? "" : "s"} on node ${p.node} (index ${p.devices.map((d) => d.index).join(", ")}; NUMA node ${numa})`,
      ),
    };
  }
  return {
    phase: p.permanent ? "Failed" : "Pending",
    conditions: cond("False", p.reason, p.message),
  };
}
