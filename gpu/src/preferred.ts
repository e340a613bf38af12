/**
 * GetPreferredAllocation's choice, pure: which `size` devices of `available` (with all of
 * `mustInclude`) the kubelet should give a container. A device set reserved for this request by
 * a bound GpuAllocation (see `cluster-link.ts`) comes first when one fits; else the shared rule
 * of `api/gpu-choice.ts` (NUMA-local, then NVLink-connected, then least fragmentation).
 */
import { chooseDevices } from "../../api/gpu-choice.js";
import type { GpuDevice } from "./inventory.js";

/** One container's request, as the kubelet sends it. */
export interface PreferredRequest {
  available: string[];
  mustInclude: string[];
  size: number;
}

/**
 * The devices to prefer. Never fewer than `size` when `available` has that many (the kubelet
 * would then fall back to its own choice); ids the inventory does not know are used last.
 */
export function preferredAllocation(
  devices: readonly GpuDevice[],
  req: PreferredRequest,
  pinned: readonly (readonly string[])[] = [],
): string[] {
  const offered = new Set([...req.available, ...req.mustInclude]);
  for (const set of pinned)
    if (
      set.length === req.size &&
      req.mustInclude.every((m) => set.includes(m)) &&
      set.every((id) => offered.has(id))
    )
      return [...set];
  return chooseDevices(devices, req) ?? [...req.mustInclude, ...req.available].slice(0, req.size);
}
