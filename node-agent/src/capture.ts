/**
 * A capture: the container's filesystem changes, as a zstd-compressed OCI layer, streamed into
 * the object store while it is read (never whole in memory). The store commits the object only
 * when every byte is in, so a capture that fails leaves nothing. With a node cache the layer is
 * also written to the node's disk as it streams, so resuming on this node reads it from there.
 */
import { pipeline } from "node:stream/promises";
import { PassThrough } from "node:stream";
import { constants, createZstdCompress } from "node:zlib";
import tar from "tar-stream";
import type { CaptureRequest, CaptureResult } from "../../api/node-agent.js";
import type { ObjectStore } from "../../lib/storage/index.js";
import type { NodeCache } from "../../lib/storage/node-cache.js";
import { findContainerRootfs } from "./container-rootfs.js";
import { NodeAgentError, toNodeAgentError } from "./errors.js";
import { LAYER_CHUNK, writeLayer } from "./layer-writer.js";

/** Container paths never captured: the kernel's and the runtime's, whatever the spec mounts. */
export const ALWAYS_EXCLUDED = ["/proc", "/sys", "/dev"];

/** What a capture needs from the agent. */
export interface CaptureDeps {
  store: ObjectStore;
  /** The node cache: with one, the layer is also kept on this node, for a restore here. */
  cache?: NodeCache;
  containerdState: string;
  mountinfoPath?: string;
}

/** Captures `req.containerID`'s changes into `req.key`. */
export async function capture(req: CaptureRequest, deps: CaptureDeps): Promise<CaptureResult> {
  const started = Date.now();
  const rootfs = await findContainerRootfs(req.containerID, {
    containerdState: deps.containerdState,
    ...(deps.mountinfoPath ? { mountinfoPath: deps.mountinfoPath } : {}),
  });
  if (!rootfs.upper)
    throw new NodeAgentError(
      "InvalidArgument",
      `container ${rootfs.id}'s root filesystem is not an overlay mount: only containerd's overlayfs snapshotter is supported`,
    );
  const pack = tar.pack();
  const zstd = createZstdCompress({
    chunkSize: LAYER_CHUNK,
    params: { [constants.ZSTD_c_compressionLevel]: 1 },
  });
  const body = new PassThrough({ highWaterMark: LAYER_CHUNK });
  const compressed = pipeline(pack, zstd, body);
  const written = writeLayer(pack, rootfs.upper, [...ALWAYS_EXCLUDED, ...rootfs.mountDestinations]);
  try {
    const [info, summary] = await Promise.all([put(deps, req.key, body), written, compressed]);
    return {
      key: req.key,
      size: info.size,
      sha256: info.sha256,
      entries: summary.entries,
      skipped: summary.skipped,
      durationMs: Date.now() - started,
    };
  } catch (err) {
    body.destroy();
    await Promise.allSettled([written, compressed]);
    throw toNodeAgentError(err, `capturing container ${rootfs.id} into ${req.key}`);
  }
}

/** Stores the layer, keeping a copy in the node cache when there is one. */
function put(deps: CaptureDeps, key: string, body: PassThrough) {
  const options = { metadata: { "content-type": "layer-tar-zstd" } };
  return deps.cache
    ? deps.cache.putThrough(deps.store, key, body, options)
    : deps.store.put(key, body, options);
}
