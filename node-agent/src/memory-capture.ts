/**
 * The agent's Memory calls (api/node-agent.ts): a capture in Memory mode, the checkpoint image of
 * a stored checkpoint put back on the node, and the wake of a restored executor. The node steps
 * themselves live in memory/; this module checks the request, orders the steps and maps their
 * errors to the agent's codes.
 *
 * A Memory part is the kubelet's checkpoint archive as it is (CRIU's images plus the container's
 * changed files in `rootfs-diff.tar`), stored byte for byte: its sha256 is also the digest of the
 * checkpoint image's one layer, so an image on the node can be checked against the Snapshot
 * without reading the store.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type {
  CaptureRequest,
  CaptureResult,
  ForgetImageRequest,
  ForgetImageResult,
  PodContainerRef,
  RestoreImageRequest,
  RestoreImageResult,
  WakeRequest,
} from "../../api/node-agent.js";
import { CHECKPOINT_IMAGE_PREFIX } from "../../api/snapshot.js";
import type { Logger } from "../../lib/log.js";
import type { NodeCache } from "../../lib/storage/node-cache.js";
import type { ObjectInfo, ObjectStore } from "../../lib/storage/index.js";
import { bareContainerId } from "./container-rootfs.js";
import { NodeAgentError, toNodeAgentError } from "./errors.js";
import type { KubeletEndpoint } from "./memory/checkpoint.js";
import {
  fileDigest,
  parseImageRef,
  removeCheckpointImage,
  runCtr,
  type CheckpointImageInfo,
  type ContainerdClient,
} from "./memory/checkpoint-image.js";
import type { ImageImports } from "./memory/image-imports.js";
import {
  buildCheckpointImage,
  takeMemoryCheckpoint,
  wakeRestored,
} from "./memory/memory-checkpoint.js";

/** What the Memory calls need: absent when the agent was started without them. */
export interface MemoryDeps {
  store: ObjectStore;
  /** The checkpoint-image imports running in the background (one per agent). */
  imports: ImageImports;
  log?: Logger;
  cache?: NodeCache;
  containerd: ContainerdClient;
  kubelet: KubeletEndpoint;
  /** Where OCI layouts and fetched archives are written for a moment. */
  workDir: string;
}

/** The Memory fields of a capture request, checked. Pure; throws InvalidArgument. */
export function memoryTarget(req: CaptureRequest): {
  target: PodContainerRef;
  image: string;
  executorSocket: string;
} {
  const t = req.target;
  if (!t || typeof t !== "object")
    throw new NodeAgentError(
      "InvalidArgument",
      `mode Memory needs "target" (namespace, pod, container)`,
    );
  for (const k of ["namespace", "pod", "container"] as const)
    if (typeof t[k] !== "string" || !t[k])
      throw new NodeAgentError("InvalidArgument", `"target.${k}" is required (a non-empty string)`);
  if (typeof req.image !== "string")
    throw new NodeAgentError("InvalidArgument", `mode Memory needs "image" (repository:tag)`);
  checkRef(req.image);
  if (typeof req.executorSocket !== "string" || !req.executorSocket.startsWith("/"))
    throw new NodeAgentError(
      "InvalidArgument",
      `mode Memory needs "executorSocket" (the executor's socket in the container, an absolute path)`,
    );
  return { target: t, image: req.image, executorSocket: req.executorSocket };
}

function checkRef(ref: string): void {
  try {
    parseImageRef(ref);
  } catch (err) {
    throw new NodeAgentError("InvalidArgument", (err as Error).message, { cause: err });
  }
}

/**
 * Checkpoints the container (it goes on running) and stores the archive at `req.key`; answers
 * once the archive is stored. Making it the checkpoint image `req.image` in the node's containerd
 * starts at the same time and goes on in the background (`deps.imports`): a restore waits for it
 * through {@link restoreImage}. The archive is removed from the node once both are done, in every
 * case; a failure after the store's commit leaves the object (the Snapshot's finalizer deletes
 * its key).
 */
export async function captureMemory(req: CaptureRequest, deps: MemoryDeps): Promise<CaptureResult> {
  const started = Date.now();
  const { target, image, executorSocket } = memoryTarget(req);
  const containerId = bareContainerId(req.containerID);
  let archive: string | undefined;
  try {
    const taken = await takeMemoryCheckpoint(
      { kubelet: deps.kubelet, containerd: deps.containerd },
      { ...target, containerId, executorSocket },
    );
    archive = taken.archive;
    const t0 = Date.now();
    const stored = deps.store.put(req.key, createReadStream(archive, { highWaterMark: 1 << 20 }), {
      metadata: { "content-type": "criu-checkpoint-tar" },
    });
    importInBackground(deps, archive, stored, {
      ref: image,
      container: target.container,
      pod: target.pod,
      namespace: target.namespace,
      ...(req.rootfsImage ? { rootfsImage: req.rootfsImage } : {}),
    });
    archive = undefined; // the background import removes it
    const info = await stored;
    return {
      key: req.key,
      size: info.size,
      sha256: info.sha256,
      entries: 0,
      skipped: [],
      durationMs: Date.now() - started,
      image,
      steps: { quiet: taken.quietMs, checkpoint: taken.checkpointMs, store: Date.now() - t0 },
    };
  } catch (err) {
    throw toNodeAgentError(
      err,
      `checkpointing ${target.namespace}/${target.pod}/${target.container}`,
    );
  } finally {
    if (archive) await rm(archive, { force: true });
  }
}

/**
 * Makes `archive` the checkpoint image `info.ref` while (and after) it is stored, then removes
 * it. An image whose upload failed, or whose layer is not the stored archive, is removed again:
 * a restore then imports it from the store (checked against the Snapshot's sha256).
 */
function importInBackground(
  deps: MemoryDeps,
  archive: string,
  stored: Promise<ObjectInfo>,
  info: CheckpointImageInfo,
): void {
  stored.catch(() => undefined); // the capture reports it
  const started = Date.now();
  deps.imports.start(
    info.ref,
    async () => {
      try {
        const built = await buildCheckpointImage(deps.containerd, archive, info, true);
        const object = await stored.catch(() => undefined);
        if (built.layerDigest !== `sha256:${object?.sha256 ?? "(not stored)"}`) {
          await removeCheckpointImage(deps.containerd, info.ref);
          throw new Error(
            object
              ? `the checkpoint archive changed between its upload (sha256 ${object.sha256}) and its image (${built.layerDigest}); the image was removed`
              : "the checkpoint archive was not stored; its image was removed",
          );
        }
        deps.log?.info("checkpoint image imported", { image: info.ref, ms: Date.now() - started });
      } finally {
        await rm(archive, { force: true });
      }
    },
    (err) =>
      deps.log?.warn("checkpoint image not imported; a restore imports it from the store", {
        image: info.ref,
        error: err instanceof Error ? err.message : String(err),
      }),
  );
}

/** The digest of the one layer of image `ref` in containerd; undefined when it has no such image. */
export async function imageLayerDigest(
  client: ContainerdClient,
  ref: string,
): Promise<string | undefined> {
  const listed = await runCtr(client, ["images", "ls"]);
  const row = listed.split("\n").find((l) => l.split(/\s+/)[0] === ref);
  const manifest = row?.split(/\s+/).find((f) => f.startsWith("sha256:"));
  if (!manifest) return undefined;
  const body = await runCtr(client, ["content", "get", manifest]);
  return layerOfManifest(body);
}

/** The digest of a single-layer manifest's layer; undefined for any other document. Pure. */
export function layerOfManifest(body: string): string | undefined {
  try {
    const m = JSON.parse(body) as { layers?: { digest?: unknown }[] };
    const d = m.layers?.length === 1 ? m.layers[0]?.digest : undefined;
    return typeof d === "string" ? d : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Makes sure containerd has `req.image` made from the archive with `req.sha256`: kept when it is
 * there with that layer, else imported from the store (the archive read through the node cache
 * when there is one, checked against `req.sha256` before anything is imported).
 */
export async function restoreImage(
  req: RestoreImageRequest,
  deps: MemoryDeps,
): Promise<RestoreImageResult> {
  const started = Date.now();
  checkRef(req.image);
  if (!/^[0-9a-f]{64}$/.test(req.sha256))
    throw new NodeAgentError(
      "InvalidArgument",
      `sha256 "${req.sha256}" is not 64 lowercase hex digits`,
    );
  const want = `sha256:${req.sha256}`;
  // The capture's own import of this image may still run: its result is the one to check.
  await deps.imports.settled(req.image);
  const dir = await mkdtemp(join(deps.workDir, "restore-image-"));
  try {
    const have = await imageLayerDigest(deps.containerd, req.image);
    if (have === want) return { imported: false, durationMs: Date.now() - started };
    const archive = join(dir, "checkpoint.tar");
    const read = deps.cache
      ? await deps.cache.open(deps.store, req.key)
      : { stream: await deps.store.get(req.key) };
    await pipeline(read.stream, createWriteStream(archive, { mode: 0o600 }));
    const got = await fileDigest(archive);
    if (got.digest !== want)
      throw new NodeAgentError(
        "IntegrityMismatch",
        `the checkpoint archive ${req.key} has ${got.digest}, but the Snapshot recorded ${want}: it was replaced or corrupted; refusing to restore it`,
      );
    await buildCheckpointImage(
      deps.containerd,
      archive,
      { ref: req.image, container: req.container },
      false,
      got,
    );
    return { imported: true, durationMs: Date.now() - started };
  } catch (err) {
    throw toNodeAgentError(err, `putting the checkpoint image ${req.image} on this node`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Removes the checkpoint image `req.image` from the node's containerd, once any import of it
 * running here has ended (else the import would tag it again afterwards). Only checkpoint images
 * are removed: any other reference is refused, so the agent's token cannot remove the node's
 * other images. An image the node does not have is `removed: false`.
 */
export async function forgetImage(
  req: ForgetImageRequest,
  deps: Pick<MemoryDeps, "containerd" | "imports">,
): Promise<ForgetImageResult> {
  checkRef(req.image);
  if (!req.image.startsWith(CHECKPOINT_IMAGE_PREFIX))
    throw new NodeAgentError(
      "InvalidArgument",
      `"${req.image}" is not a checkpoint image (${CHECKPOINT_IMAGE_PREFIX}...): the node agent removes no other image`,
    );
  await deps.imports.settled(req.image);
  try {
    return { removed: await removeCheckpointImage(deps.containerd, req.image) };
  } catch (err) {
    throw toNodeAgentError(err, `removing the checkpoint image ${req.image} from this node`);
  }
}

/** Tells the executor of a restored container to listen again. */
export async function wake(req: WakeRequest, deps: Pick<MemoryDeps, "containerd">): Promise<void> {
  const id = bareContainerId(req.containerID);
  try {
    await wakeRestored(deps.containerd, id);
  } catch (err) {
    throw toNodeAgentError(err, `waking the executor of container ${id}`);
  }
}
