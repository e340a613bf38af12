/**
 * A Memory snapshot's node-side steps, in order, for the lead's Snapshot flow to call:
 * {@link takeMemoryCheckpoint} (runtime check → executor quiet → kubelet checkpoint → quiet over,
 * the sandbox goes on), {@link buildCheckpointImage} (archive → checkpoint image in containerd) and,
 * once the restored pod's sandbox container runs, {@link wakeRestored}.
 *
 * Restore itself is no call here: a pod whose sandbox container's image is the checkpoint image
 * (same volumes and mounts as the checkpointed pod, on a node with the image and the base image
 * the checkpoint layers on) is restored by containerd when the kubelet creates the container.
 */
import { rm } from "node:fs/promises";
import { checkpointContainer, type ContainerRef, type KubeletEndpoint } from "./checkpoint.js";
import {
  importCheckpointArchive,
  type CheckpointImageInfo,
  type ContainerdClient,
  type WrittenImage,
} from "./checkpoint-image.js";
import { enterQuiet, leaveQuiet } from "./quiet.js";
import { containerRuntime, memorySupport } from "./runtime-support.js";

/** The container cannot be Memory-snapshotted on its runtime; `reason` is for a condition. */
export class MemoryNotSupportedError extends Error {
  override readonly name = "MemoryNotSupportedError";
  readonly reason = "RuntimeNotSupported";
}

/** What {@link takeMemoryCheckpoint} needs to reach the node. */
export interface NodeClients {
  kubelet: KubeletEndpoint;
  containerd: ContainerdClient;
  /** How to learn a container's runtime; default: containerd's container info. */
  runtimeOf?: (client: ContainerdClient, id: string) => Promise<string>;
}

/** The sandbox container to checkpoint. */
export interface SandboxContainer extends ContainerRef {
  /** Its containerd id (the pod status's `containerID` without `containerd://`). */
  containerId: string;
  /** The executor's socket inside it (`/soulbox/run/executor.sock`). */
  executorSocket: string;
}

/** The archive on the node and how long each step took. */
export interface TakenCheckpoint {
  archive: string;
  quietMs: number;
  checkpointMs: number;
}

/**
 * Checkpoints the sandbox container and leaves it running (and serving again). Throws
 * {@link MemoryNotSupportedError} before touching anything when its runtime is not runc-class
 * (Kata, gVisor); a quiet or checkpoint failure is thrown after the executor listens again.
 */
export async function takeMemoryCheckpoint(
  clients: NodeClients,
  sandbox: SandboxContainer,
  timeoutSeconds = 120,
): Promise<TakenCheckpoint> {
  const runtime = await (clients.runtimeOf ?? containerRuntime)(
    clients.containerd,
    sandbox.containerId,
  );
  const support = memorySupport(runtime);
  if (!support.supported) throw new MemoryNotSupportedError(support.message);
  const t0 = Date.now();
  try {
    await enterQuiet(clients.containerd, sandbox.containerId, sandbox.executorSocket);
    const t1 = Date.now();
    const archive = await checkpointContainer(
      clients.kubelet,
      { namespace: sandbox.namespace, pod: sandbox.pod, container: sandbox.container },
      timeoutSeconds,
    );
    return { archive, quietMs: t1 - t0, checkpointMs: Date.now() - t1 };
  } finally {
    // The checkpointed container goes on (a snapshot without a pause, or a failed one), serving
    // again by the time this returns. Best effort: should this fail, the executor's own timer
    // ends the quiet, and the checkpoint's result is what the caller needs to hear about.
    await leaveQuiet(clients.containerd, sandbox.containerId, sandbox.executorSocket).catch(
      () => undefined,
    );
  }
}

/**
 * Turns the archive into the checkpoint image `info.ref` in the node's containerd (its OCI layout
 * streamed into containerd, never written to disk); the archive is removed after unless
 * `keepArchive`. `layer`: the archive's digest when the caller has it.
 */
export async function buildCheckpointImage(
  containerd: ContainerdClient,
  archive: string,
  info: CheckpointImageInfo,
  keepArchive = false,
  layer?: { digest: string; size: number },
): Promise<WrittenImage> {
  try {
    return await importCheckpointArchive(containerd, archive, info, layer);
  } finally {
    if (!keepArchive) await rm(archive, { force: true });
  }
}

/**
 * A restored executor wakes up quiet (it was checkpointed so): tell the one in container
 * `containerId` to listen, so the new pod's sidecar reaches it. Without this it listens by itself
 * once its quiet times out (30 s after the checkpoint, by the node's monotonic clock).
 */
export async function wakeRestored(
  containerd: ContainerdClient,
  containerId: string,
): Promise<void> {
  await leaveQuiet(containerd, containerId);
}
