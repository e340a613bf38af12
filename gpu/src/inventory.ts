/**
 * The GPU inventory of one node: what the device plugin advertises and what the operator places
 * against. Plain data, the same whether it came from the NVIDIA driver or from a fake inventory
 * directory (see `discover.ts`).
 */
import { productLabel, type PublishedDevice } from "../../api/gpu.js";

/** One GPU as the driver and sysfs describe it. */
export interface GpuDevice {
  /** The driver's index (`nvidia-smi --query-gpu=index`): the N of /dev/nvidiaN. */
  index: number;
  /** The GPU's UUID (`GPU-…`): the device id the plugin advertises to the kubelet. */
  uuid: string;
  /** The model (`nvidia-smi --query-gpu=name`, e.g. `NVIDIA H100 80GB HBM3`). */
  name: string;
  /** Total memory in MiB. */
  memoryMiB: number;
  /** The PCI bus id in sysfs form (`0000:3b:00.0`). */
  pciBusId: string;
  /** The NUMA node of its PCI device; undefined when sysfs says -1 (no affinity). */
  numaNode: number | undefined;
  /** The UUIDs of the GPUs it has NVLinks to (`nvidia-smi topo -m`: `NV<n>`). */
  nvlinkPeers: string[];
}

/** The node's GPUs, in index order. */
export interface Inventory {
  devices: GpuDevice[];
  /** The device uuids that must not be allocated (gone, or reporting errors), with why. */
  unhealthy: Map<string, string>;
}

/** The inventory as published on the Node (see `api/gpu.ts`). */
export function publishedDevices(inv: Inventory): PublishedDevice[] {
  return inv.devices.map((d) => ({
    uuid: d.uuid,
    index: d.index,
    product: productLabel(d.name),
    memoryMiB: d.memoryMiB,
    ...(d.numaNode !== undefined ? { numaNode: d.numaNode } : {}),
    ...(d.nvlinkPeers.length ? { nvlinkPeers: d.nvlinkPeers } : {}),
    healthy: !inv.unhealthy.has(d.uuid),
  }));
}
