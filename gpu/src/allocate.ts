/**
 * Allocate's answer for one container, pure: the device nodes, `NVIDIA_VISIBLE_DEVICES` (what
 * NVIDIA's container runtime reads), CDI device names when the node has CDI specs, and mounts.
 */
import { join } from "node:path";
import type { GpuDevice } from "./inventory.js";

/** How the plugin answers Allocate. */
export interface AllocateOptions {
  /** Where the device nodes are on the host (`/dev`, or a fake inventory's dev/). */
  devRoot: string;
  /** The control nodes present under devRoot (`nvidiactl`, `nvidia-uvm`, …), given to every container. */
  controlDevices: string[];
  /** Also name the devices as CDI devices (`nvidia.com/gpu=<uuid>`): only where CDI specs exist. */
  cdi: boolean;
  /** Read-only host → container mounts for every container (e.g. the driver's libraries). */
  mounts: { hostPath: string; containerPath: string }[];
}

/** One container's response, in the proto's field names (see gpu/proto/api.proto). */
export interface ContainerAllocation {
  envs: Record<string, string>;
  mounts: { container_path: string; host_path: string; read_only: boolean }[];
  devices: { container_path: string; host_path: string; permissions: string }[];
  annotations: Record<string, string>;
  cdi_devices: { name: string }[];
}

/** Ids the inventory does not know: the kubelet asked for something the plugin never advertised. */
export class UnknownDeviceError extends Error {
  override name = "UnknownDeviceError";
}

/** The response for `ids` (device uuids), in index order. */
export function containerAllocation(
  devices: readonly GpuDevice[],
  ids: readonly string[],
  o: AllocateOptions,
): ContainerAllocation {
  const byId = new Map(devices.map((d) => [d.uuid, d]));
  const missing = ids.filter((id) => !byId.has(id));
  if (missing.length) throw new UnknownDeviceError(`unknown device ids: ${missing.join(", ")}`);
  const chosen = ids.map((id) => byId.get(id) as GpuDevice).sort((a, b) => a.index - b.index);
  const node = (file: string) => ({
    container_path: `/dev/${file}`,
    host_path: join(o.devRoot, file),
    permissions: "rw",
  });
  return {
    envs: { NVIDIA_VISIBLE_DEVICES: chosen.map((d) => d.uuid).join(",") },
    mounts: o.mounts.map((m) => ({
      container_path: m.containerPath,
      host_path: m.hostPath,
      read_only: true,
    })),
    devices: [...chosen.map((d) => node(`nvidia${d.index}`)), ...o.controlDevices.map(node)],
    annotations: {},
    cdi_devices: o.cdi ? chosen.map((d) => ({ name: `nvidia.com/gpu=${d.uuid}` })) : [],
  };
}
