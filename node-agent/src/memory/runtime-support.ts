/**
 * Which containers a Memory snapshot can capture. The kubelet checkpoint API reaches CRIU only
 * through a runtime that runs the container's processes on the node's own kernel with runc (or
 * crun): containerd's runc shim (`io.containerd.runc.v2`). A Kata container's processes live in a
 * guest VM's kernel, out of CRIU's reach on the node (its shim has no CRI checkpoint), and gVisor
 * keeps them in its own user-space kernel; those get Filesystem snapshots only. The decision is
 * made on the runtime containerd really runs the container with (`ctr containers info`:
 * `Runtime.Name`), not on the RuntimeClass's name: the local cluster maps `kata` to runc.
 */
import { runCtr, type ContainerdClient } from "./checkpoint-image.js";

/** The containerd shims whose containers CRIU can checkpoint. */
export const MEMORY_RUNTIMES: readonly string[] = [
  "io.containerd.runc.v2",
  "io.containerd.runc.v1",
];

/** The verdict: supported, or why not (for a condition's message). */
export type MemorySupport =
  { supported: true } | { supported: false; reason: "RuntimeNotSupported"; message: string };

/** Pure: whether a container running under containerd runtime `runtime` can be Memory-snapshotted. */
export function memorySupport(runtime: string): MemorySupport {
  if (MEMORY_RUNTIMES.includes(runtime)) return { supported: true };
  const kind = /kata/i.test(runtime)
    ? "a Kata container runs in a virtual machine whose memory CRIU on the node cannot reach"
    : /runsc|gvisor/i.test(runtime)
      ? "a gVisor container's processes live in gVisor's own kernel, which CRIU cannot dump"
      : "only runc-class runtimes (containerd's runc shim) can be checkpointed with CRIU";
  return {
    supported: false,
    reason: "RuntimeNotSupported",
    message: `Memory snapshots need a runc-class runtime; this container runs on ${runtime || "an unknown runtime"}: ${kind}. Use pauseMode Filesystem`,
  };
}

/** The runtime (`Runtime.Name`) out of `ctr containers info <id>`'s JSON. */
export function runtimeOfInfo(infoJson: string): string {
  const info = JSON.parse(infoJson) as { Runtime?: { Name?: unknown } };
  const name = info.Runtime?.Name;
  if (typeof name !== "string" || !name)
    throw new Error("containerd's container info names no runtime");
  return name;
}

/** The runtime containerd runs container `id` with (`ctr containers info`). */
export async function containerRuntime(client: ContainerdClient, id: string): Promise<string> {
  return runtimeOfInfo(await runCtr(client, ["containers", "info", id]));
}
