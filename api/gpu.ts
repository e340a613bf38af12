/**
 * The contract between the GPU device plugin (`gpu/`) and the operator's GpuAllocation
 * controller: the resource name, the Node annotation the plugin publishes its inventory in, and
 * how a model name becomes a product label.
 */

/** The extended resource the device plugin advertises (NVIDIA's own name, so pods are portable). */
export const GPU_RESOURCE = "nvidia.com/gpu";

/** The Node annotation that carries the plugin's inventory: a JSON array of {@link PublishedDevice}. */
export const INVENTORY_ANNOTATION = "gpu.soulbox.dev/inventory";

/** One device as the plugin publishes it on its Node. */
export interface PublishedDevice {
  /** The device id the kubelet knows it by (the GPU UUID). */
  uuid: string;
  /** The driver's index: /dev/nvidia<index>. */
  index: number;
  /** The model as a label value (see {@link productLabel}). */
  product: string;
  memoryMiB: number;
  /** The NUMA node of its PCI device; absent when the machine reports none. */
  numaNode?: number;
  /** The UUIDs of the GPUs it has NVLinks to. */
  nvlinkPeers?: string[];
  /** False: gone or reporting errors; the plugin tells the kubelet it is Unhealthy. */
  healthy: boolean;
}

/**
 * The label value for a model name, as NVIDIA's feature discovery writes `nvidia.com/gpu.product`:
 * runs of spaces become one dash (`NVIDIA H100 80GB HBM3` → `NVIDIA-H100-80GB-HBM3`).
 */
export function productLabel(name: string): string {
  return name.trim().replace(/\s+/g, "-");
}

/**
 * Parses the annotation's value; devices that are not well-formed are left out, so a bad
 * annotation means "no GPUs here", never a crash.
 */
export function parseInventoryAnnotation(value: string | undefined): PublishedDevice[] {
  if (!value) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  return parsed.filter(
    (d): d is PublishedDevice =>
      typeof d === "object" &&
      d !== null &&
      typeof (d as PublishedDevice).uuid === "string" &&
      Number.isInteger((d as PublishedDevice).index) &&
      typeof (d as PublishedDevice).product === "string" &&
      typeof (d as PublishedDevice).memoryMiB === "number" &&
      typeof (d as PublishedDevice).healthy === "boolean",
  );
}

/** The GpuAllocation's one condition type: the GPUs are reserved on a node (positive polarity). */
export const GpuAllocationConditionType = { Bound: "Bound" } as const;

/** Reasons of a GpuAllocation's `Bound` condition. */
export const GpuBoundReason = {
  /** True: the devices in status are reserved on status.node for the Sandbox. */
  Bound: "Bound",
  /** False (Pending): no node publishes a GPU inventory (no device plugin runs, or no GPU nodes). */
  NoGpuNodes: "NoGpuNodes",
  /** False (Pending): some node could hold the request, but not with the GPUs free now; it waits. */
  InsufficientFreeGpus: "InsufficientFreeGpus",
  /** False (Failed): no node has GPUs of spec.product; the message lists the products there are. */
  UnknownProduct: "UnknownProduct",
  /** False (Failed): no node could hold the request even with all its GPUs free. */
  Unsatisfiable: "Unsatisfiable",
  /** False (Pending): the Sandbox named in spec.sandbox does not exist (yet). */
  SandboxNotFound: "SandboxNotFound",
  /** False (Released): the Sandbox is gone; the GPUs are free for others. */
  Released: "Released",
} as const;

/** The Sandbox's Scheduled/Ready reason while its GpuAllocation is not Bound (the message says why). */
export const WAITING_FOR_GPUS = "WaitingForGpus";
