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
