/**
 * What a storage provider must do for the store layer (../store.ts): keep named blobs, nothing
 * more. Names are relative to the driver's own prefix (the path part of the storage URL) and use
 * `/` as separator. Every method fails with a {@link StorageError} (see ../errors.ts).
 */
import type { Readable } from "node:stream";
import { StorageError } from "../object-store.js";

/** One entry of {@link BlobDriver.listPage}. */
export interface BlobEntry {
  name: string;
  size: number;
  lastModified: Date;
}

/** A page of names and the provider's cursor for the next one (absent on the last page). */
export interface BlobPage {
  entries: BlobEntry[];
  cursor?: string;
}

/** A byte range of a blob: `start` inclusive, `end` exclusive. */
export interface BlobRange {
  start: number;
  end: number;
}

/** A provider's blobs. */
export interface BlobDriver {
  /** The driver's URL without secrets. */
  readonly displayUrl: string;
  /**
   * Streams `body` into `name` with bounded memory (multipart/staged/resumable where the provider
   * has it). Atomic: a failed or aborted upload leaves no blob under `name` (multipart uploads are
   * aborted). An error thrown by `body` rejects the upload.
   */
  upload(name: string, body: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<void>;
  /**
   * Writes a small blob in one request. With `ifNotExists` it fails with `AlreadyExists` when
   * `name` exists, and the existing blob is left as it was.
   */
  putSmall(name: string, bytes: Uint8Array, ifNotExists: boolean): Promise<void>;
  /** A small blob's bytes (at most `limit`); `NotFound` when it is missing. */
  getSmall(name: string, limit: number): Promise<Uint8Array>;
  /** The blob's bytes (or a range of them) as a stream; `NotFound` when it is missing. */
  download(name: string, range?: BlobRange, signal?: AbortSignal): Promise<Readable>;
  /** Deletes `name`; a missing blob is not an error. */
  remove(name: string): Promise<void>;
  /** One page of blobs whose names start with `prefix`, in name order. */
  listPage(prefix: string, pageSize: number, cursor?: string): Promise<BlobPage>;
  /** Releases connections. */
  close(): Promise<void>;
}

/** Joins the driver's prefix and a name with exactly one `/` between non-empty parts. */
export function joinName(prefix: string, name: string): string {
  if (prefix === "") return name;
  return `${prefix.replace(/\/+$/, "")}/${name}`;
}

/** `full` without the driver's prefix and its `/`, as listed names are given back. */
export function stripPrefix(prefix: string, full: string): string {
  if (prefix === "") return full;
  const p = `${prefix.replace(/\/+$/, "")}/`;
  return full.startsWith(p) ? full.slice(p.length) : full;
}

/**
 * A small blob's bytes through the driver's own `download`, for drivers without a cheaper way
 * (the cloud ones): more than `limit` bytes is `IntegrityMismatch`; any failure goes through
 * `fail`, the driver's one error mapping.
 */
export async function readSmallBlob(
  driver: Pick<BlobDriver, "download">,
  name: string,
  limit: number,
  fail: (err: unknown) => Error,
): Promise<Uint8Array> {
  const body = await driver.download(name);
  try {
    return await readLimited(
      body,
      limit,
      () => new StorageError("IntegrityMismatch", `${name} is larger than ${limit} bytes`),
    );
  } catch (err) {
    body.destroy();
    throw fail(err);
  }
}

/** Collects a stream into bytes, failing with `tooLarge()` once more than `limit` arrive. */
export async function readLimited(
  stream: AsyncIterable<Uint8Array>,
  limit: number,
  tooLarge: () => Error,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.byteLength;
    if (size > limit) throw tooLarge();
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}
