/**
 * A restore: the stored layer applied to a new container's root filesystem, then the marker
 * that lets the container's executor start the template's command. The layer is read through
 * the node-local cache when there is one, which verifies the whole object's sha256 before a
 * single byte is served: a corrupted or truncated snapshot is refused before anything is
 * written. The recorded sha256 must also be the stored one (a replaced object is refused).
 */
import { access, mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createZstdDecompress } from "node:zlib";
import { RESTORED_MARKER, type RestoreRequest, type RestoreResult } from "../../api/node-agent.js";
import type { NodeCache } from "../../lib/storage/node-cache.js";
import type { ObjectStore } from "../../lib/storage/index.js";
import { findContainerRootfs } from "./container-rootfs.js";
import { NodeAgentError, toNodeAgentError } from "./errors.js";
import { applyLayer } from "./layer-apply.js";
import { LAYER_CHUNK } from "./layer-writer.js";

/** What a restore needs from the agent. */
export interface RestoreDeps {
  store: ObjectStore;
  cache?: NodeCache;
  containerdState: string;
  kubeletRoot: string;
  mountinfoPath?: string;
}

/** The marker's path on this node for a pod's emptyDir volume. Pure. */
export function markerPath(kubeletRoot: string, podUID: string, volume: string): string {
  if (!/^[0-9a-f-]{8,64}$/.test(podUID))
    throw new NodeAgentError("InvalidArgument", `podUID "${podUID}" is not a pod uid`);
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(volume))
    throw new NodeAgentError("InvalidArgument", `volume "${volume}" is not a volume name`);
  return join(
    kubeletRoot,
    "pods",
    podUID,
    "volumes",
    "kubernetes.io~empty-dir",
    volume,
    RESTORED_MARKER,
  );
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function openLayer(req: RestoreRequest, deps: RestoreDeps): Promise<Readable> {
  if (deps.cache) {
    const read = await deps.cache.open(deps.store, req.key);
    if (read.info.sha256 !== req.sha256) {
      read.stream.destroy();
      throw mismatch(req, read.info.sha256);
    }
    return read.stream;
  }
  const info = await deps.store.head(req.key);
  if (info.sha256 !== req.sha256) throw mismatch(req, info.sha256);
  return deps.store.get(req.key);
}

function mismatch(req: RestoreRequest, stored: string): NodeAgentError {
  return new NodeAgentError(
    "IntegrityMismatch",
    `snapshot layer ${req.key} has sha256 ${stored}, but the Snapshot recorded ${req.sha256}: it was replaced or corrupted; refusing to restore it`,
  );
}

/** Restores `req.key` into `req.containerID`; a pod whose marker exists is left as it is. */
export async function restore(req: RestoreRequest, deps: RestoreDeps): Promise<RestoreResult> {
  const started = Date.now();
  const marker = markerPath(deps.kubeletRoot, req.podUID, req.volume);
  if (!/^[0-9a-f]{64}$/.test(req.sha256))
    throw new NodeAgentError(
      "InvalidArgument",
      `sha256 "${req.sha256}" is not 64 lowercase hex digits`,
    );
  if (await exists(marker)) return { applied: false, entries: 0, durationMs: Date.now() - started };
  const rootfs = await findContainerRootfs(req.containerID, {
    containerdState: deps.containerdState,
    ...(deps.mountinfoPath ? { mountinfoPath: deps.mountinfoPath } : {}),
  });
  try {
    const layer = await openLayer(req, deps);
    const decompressed = createZstdDecompress({ chunkSize: LAYER_CHUNK });
    // A store error (a sha256 mismatch at the end) destroys `decompressed`, failing the apply.
    const reading = pipeline(layer, decompressed);
    reading.catch(() => undefined);
    const summary = await applyLayer(decompressed, rootfs.merged);
    await reading;
    await mkdir(dirname(marker), { recursive: true });
    await writeFile(
      marker,
      `${JSON.stringify({ key: req.key, sha256: req.sha256, skipped: summary.skipped })}\n`,
    );
    return { applied: true, entries: summary.entries, durationMs: Date.now() - started };
  } catch (err) {
    throw toNodeAgentError(err, `restoring ${req.key} into container ${rootfs.id}`);
  }
}
