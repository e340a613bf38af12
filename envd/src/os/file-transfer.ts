import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { chmod, chown, open, rename, rm, stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { basename, dirname, join } from "node:path";
import { EnvdError, fromSystemError } from "../shared/errors.js";
import { ensureDir, type Actor } from "./fs-ops.js";
import { writeMetadata } from "./xattr-metadata.js";

/**
 * Opens a regular file for download; refuses directories with a clear error. The stream carries
 * exactly `size` bytes, the size when the file was opened: a file that grows meanwhile (a log
 * being appended to) would otherwise send more than the Content-Length it was announced with,
 * and the response would never complete.
 */
export async function openForDownload(path: string): Promise<{ size: number; stream: Readable }> {
  const fh = await open(path, "r").catch((err: unknown) => {
    throw fromSystemError(err, `cannot read '${path}'`);
  });
  try {
    const st = await fh.stat();
    if (st.isDirectory())
      throw new EnvdError("invalid_argument", `'${path}' is a directory, not a file`);
    if (st.size === 0) {
      await fh.close();
      return { size: 0, stream: Readable.from([]) };
    }
    return { size: st.size, stream: fh.createReadStream({ start: 0, end: st.size - 1 }) };
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err instanceof EnvdError ? err : fromSystemError(err, `cannot read '${path}'`);
  }
}

/** What a finished upload reports back. */
export interface UploadResult {
  path: string;
  name: string;
  type: "file";
  metadata?: Record<string, string>;
}

/**
 * Writes a stream to `path` atomically: into a temporary file beside it, then
 * renamed over the target. A failed or aborted upload leaves the previous
 * content untouched and no partial file behind. Parents are created and the
 * new file is owned by the actor; an existing file's mode is kept.
 */
export async function writeUpload(
  path: string,
  body: Readable,
  actor: Actor,
  metadata: Record<string, string>,
): Promise<UploadResult> {
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory())
    throw new EnvdError("invalid_argument", `'${path}' is a directory, not a file`);
  await ensureDir(dirname(path), actor);
  const tmp = join(dirname(path), `.${basename(path)}.upload-${randomBytes(6).toString("hex")}`);
  const out = createWriteStream(tmp, { mode: existing ? existing.mode & 0o7777 : 0o644 });
  try {
    await pipeline(body, out);
    if (existing) await chmod(tmp, existing.mode & 0o7777);
    if (actor.chown) await chown(tmp, actor.user.uid, actor.user.gid);
    if (Object.keys(metadata).length > 0) await writeMetadata(tmp, metadata);
    await rename(tmp, path);
  } catch (err) {
    // The file may still be opening when the body fails; remove it only once it is closed.
    if (!out.closed) await new Promise<void>((resolve) => out.once("close", () => resolve()));
    await rm(tmp, { force: true }).catch(() => undefined);
    throw fromSystemError(err, `cannot write '${path}'`);
  }
  const result: UploadResult = { path, name: basename(path), type: "file" };
  if (Object.keys(metadata).length > 0) result.metadata = metadata;
  return result;
}
