import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { chown, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { EnvdError, errnoOf, fromSystemError } from "../shared/errors.js";
import { ensureDir, type Actor } from "./fs-ops.js";

/** What a finished compose reports back (E2B's EntryInfo of the new file). */
export interface ComposeResult {
  path: string;
  name: string;
  type: "file";
}

/**
 * Concatenates `sources` (absolute paths, in order) into `destination`, then deletes them: the
 * second half of a chunked upload. Like an upload it is atomic: the parts go into a temporary
 * file beside the destination (the upload's own naming, so watchers report the user's write of
 * the destination), renamed over it at the end; a failure leaves the destination and the
 * sources as they were. Messages and kinds follow E2B's envd (`POST /files/compose`).
 */
export async function composeFiles(
  sources: string[],
  destination: string,
  actor: Actor,
): Promise<ComposeResult> {
  for (const src of sources) await checkSource(src, destination);
  await ensureDir(dirname(destination), actor);
  const tmp = join(
    dirname(destination),
    `.${basename(destination)}.upload-${randomBytes(6).toString("hex")}`,
  );
  try {
    const out = createWriteStream(tmp, { mode: 0o644 });
    try {
      for (const src of sources) await pipeline(createReadStream(src), out, { end: false });
    } finally {
      await new Promise<void>((resolve, reject) =>
        out.end((err?: Error | null) => (err ? reject(err) : resolve())),
      );
    }
    if (actor.chown) await chown(tmp, actor.user.uid, actor.user.gid);
    await rename(tmp, destination);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    if (errnoOf(err) === "ENOSPC" || errnoOf(err) === "EDQUOT")
      throw new EnvdError("no_space", "not enough disk space available", { cause: err });
    throw fromSystemError(err, `error composing into '${destination}'`);
  }
  await Promise.all(sources.map((src) => rm(src, { force: true }).catch(() => undefined)));
  return { path: destination, name: basename(destination), type: "file" };
}

async function checkSource(src: string, destination: string): Promise<void> {
  if (src === destination)
    throw new EnvdError(
      "invalid_argument",
      `source path ${JSON.stringify(src)} cannot be the same as destination`,
    );
  const st = await stat(src).catch((err: unknown) => {
    throw new EnvdError("not_found", `source file not found: ${src}`, { cause: err });
  });
  if (!st.isFile())
    throw new EnvdError("invalid_argument", `source path is not a regular file: ${src}`);
}
