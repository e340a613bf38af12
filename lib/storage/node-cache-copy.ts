/**
 * A local copy of a stream taken while it flows somewhere else (an upload): the chunks are
 * written to a file in the background, so the upload never waits for the disk unless the copy
 * falls more than {@link MAX_BEHIND} bytes behind. A failed write, or a stream longer than the
 * copy's limit, only abandons the copy; the stream itself goes on.
 */
import { rm, type FileHandle } from "node:fs/promises";

/** How far the copy may lag behind the stream before the stream waits for it. */
export const MAX_BEHIND = 64 << 20;

/** A copy in progress; see {@link startFileCopy}. */
export interface FileCopy {
  /** The file being written. */
  readonly path: string;
  /** Passes `chunks` through unchanged, copying each one to the file. */
  tee(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array>;
  /**
   * Waits for the writes, then syncs and closes the file: true when the copy is whole
   * (`expectedSize` bytes, no write failed). A copy that is not whole is deleted.
   */
  finish(expectedSize: number): Promise<boolean>;
  /** Closes and deletes the file (the stream failed, or the copy is not wanted). */
  discard(): Promise<void>;
}

/**
 * Starts a copy into `path`, already open as `handle` for writing; past `limit` bytes the copy is
 * abandoned (it would not be kept anyway).
 */
export function startFileCopy(
  handle: FileHandle,
  path: string,
  limit = Number.MAX_SAFE_INTEGER,
): FileCopy {
  let writing: Promise<void> = Promise.resolve();
  let failed: unknown;
  let written = 0;
  let behind = 0;
  let closed = false;

  const close = async () => {
    if (closed) return;
    closed = true;
    await handle.close().catch(() => undefined);
  };
  const discard = async () => {
    await writing;
    await close();
    await rm(path, { force: true }).catch(() => undefined);
  };

  return {
    path,
    async *tee(chunks) {
      let seen = 0;
      for await (const chunk of chunks) {
        seen += chunk.byteLength;
        if (failed === undefined && seen > limit)
          failed = new Error(`the stream is longer than the copy's limit of ${limit} bytes`);
        if (failed === undefined) {
          behind += chunk.byteLength;
          writing = writing.then(async () => {
            if (failed !== undefined) return;
            try {
              const { bytesWritten } = await handle.write(chunk, 0, chunk.byteLength);
              written += bytesWritten;
            } catch (err) {
              failed = err;
            } finally {
              behind -= chunk.byteLength;
            }
          });
          if (behind > MAX_BEHIND) await writing;
        }
        yield chunk;
      }
    },
    async finish(expectedSize) {
      await writing;
      if (failed !== undefined || written !== expectedSize) {
        await discard();
        return false;
      }
      try {
        // Synced before it is trusted: a crash must not leave a short file under a good name.
        await handle.datasync();
      } catch {
        await discard();
        return false;
      }
      await close();
      return true;
    },
    discard,
  };
}
