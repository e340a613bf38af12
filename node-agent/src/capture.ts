/**
 * A capture: the container's filesystem changes, as a zstd-compressed OCI layer, streamed into
 * the object store while it is read (never whole in memory or on the node's disk). The store
 * commits the object only when every byte is in, so a capture that fails leaves nothing.
 */
import { pipeline } from "node:stream/promises";
import { PassThrough } from "node:stream";
import { constants, createZstdCompress } from "node:zlib";
import tar from "tar-stream";
import type { CaptureRequest, CaptureResult } from "../../api/node-agent.js";
import type { ObjectStore } from "../../lib/storage/index.js";
import { findContainerRootfs } from "./container-rootfs.js";
import { NodeAgentError, toNodeAgentError } from "./errors.js";
import { writeLayer } from "./layer-writer.js";

/** Container paths never captured: the kernel's and the runtime's, whatever the spec mounts. */
export const ALWAYS_EXCLUDED = ["/proc", "/sys", "/dev"];

/** What a capture needs from the agent. */
export interface CaptureDeps {
  store: ObjectStore;
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
  const zstd = createZstdCompress({ params: { [constants.ZSTD_c_compressionLevel]: 1 } });
  const body = new PassThrough();
  const compressed = pipeline(pack, zstd, body);
  const written = writeLayer(pack, rootfs.upper, [...ALWAYS_EXCLUDED, ...rootfs.mountDestinations]);
  try {
    const [info, summary] = await Promise.all([
      deps.store.put(req.key, body, { metadata: { "content-type": "layer-tar-zstd" } }),
      written,
      compressed,
    ]);
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
