/**
 * Where a GpuAllocation's GPUs come from, pure: the node and devices, or why there are none.
 * Nodes are read as their device plugin publishes them (the `gpu.soulbox.dev/inventory`
 * annotation); the devices of other Bound allocations are taken. The device choice on a node is
 * the rule shared with the plugin (`api/gpu-choice.ts`); among nodes, the one left with the
 * fewest matching free GPUs wins (best fit), then the name.
 */
import { chooseDevices } from "../../../api/gpu-choice.js";
import { GpuBoundReason, type PublishedDevice } from "../../../api/gpu.js";

/** A node and its published GPUs. */
export interface GpuNode {
  name: string;
  devices: readonly PublishedDevice[];
}

/** What is asked for (a GpuAllocation's spec). */
export interface GpuRequest {
  count: number;
  product?: string | undefined;
  minMemoryMiB?: number | undefined;
  singleNuma: boolean;
  nvlink: boolean;
}

/** The answer. */
export type Placement =
  | { node: string; devices: PublishedDevice[] }
  | {
      reason: string;
      message: string;
      /** True: no node could ever hold it as the nodes are (Failed); false: it may when GPUs free up (Pending). */
      permanent: boolean;
    };

/** "2 GPUs on one NUMA node, NVLinked, of product X, with 40000 MiB or more each". */
export function describeRequest(r: GpuRequest, free = false): string {
  return [
    `${r.count}${free ? " free" : ""} GPU${r.count === 1 ? "" : "s"}`,
    r.singleNuma ? " on one NUMA node" : "",
    r.nvlink ? ", NVLinked" : "",
    r.product ? `, of product ${r.product}` : "",
    r.minMemoryMiB ? `, with ${r.minMemoryMiB} MiB or more each` : "",
  ].join("");
}

/** Places `r` on `nodes`, where `taken` holds each node's devices held by other allocations. */
export function placeGpus(
  r: GpuRequest,
  nodes: readonly GpuNode[],
  taken: ReadonlyMap<string, ReadonlySet<string>>,
): Placement {
  const withGpus = nodes.filter((n) => n.devices.length > 0);
  if (withGpus.length === 0)
    return {
      reason: GpuBoundReason.NoGpuNodes,
      message: "no node publishes GPUs (is the SoulBox device plugin running on the GPU nodes?)",
      permanent: false,
    };
  if (r.product && !withGpus.some((n) => n.devices.some((d) => d.product === r.product))) {
    const products = [...new Set(withGpus.flatMap((n) => n.devices.map((d) => d.product)))].sort();
    return {
      reason: GpuBoundReason.UnknownProduct,
      message: `no node has GPUs of product ${r.product} (the nodes have ${products.join(", ")})`,
      permanent: true,
    };
  }
  const matching = (n: GpuNode) =>
    n.devices.filter(
      (d) =>
        d.healthy &&
        (!r.product || d.product === r.product) &&
        (!r.minMemoryMiB || d.memoryMiB >= r.minMemoryMiB),
    );
  const choose = (devices: readonly PublishedDevice[]) =>
    chooseDevices(devices, {
      available: devices.map((d) => d.uuid),
      size: r.count,
      singleNuma: r.singleNuma,
      nvlink: r.nvlink,
    });
  if (!withGpus.some((n) => choose(matching(n))))
    return {
      reason: GpuBoundReason.Unsatisfiable,
      message: `no node has ${describeRequest(r)}, even with all its GPUs free`,
      permanent: true,
    };

  let best: { node: string; devices: PublishedDevice[]; free: number } | undefined;
  const busy: string[] = [];
  for (const n of [...withGpus].sort((a, b) => a.name.localeCompare(b.name))) {
    const held = taken.get(n.name) ?? new Set<string>();
    const free = matching(n).filter((d) => !held.has(d.uuid));
    const ids = choose(free);
    busy.push(`${n.name}: ${freeByNuma(free)}`);
    if (!ids) continue;
    if (!best || free.length < best.free)
      best = {
        node: n.name,
        devices: ids.map((id) => free.find((d) => d.uuid === id) as PublishedDevice),
        free: free.length,
      };
  }
  if (best) return { node: best.node, devices: best.devices };
  return {
    reason: GpuBoundReason.InsufficientFreeGpus,
    message: `no node has ${describeRequest(r, true)} (${busy.join("; ")})`,
    permanent: false,
  };
}

/** "3 free on NUMA node 0, 1 free on NUMA node 1" (or "none free"). */
function freeByNuma(free: readonly PublishedDevice[]): string {
  if (free.length === 0) return "none free";
  const counts = new Map<string, number>();
  for (const d of free) {
    const k = d.numaNode === undefined ? "no NUMA node" : `NUMA node ${d.numaNode}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${n} free on ${k}`)
    .join(", ");
}
