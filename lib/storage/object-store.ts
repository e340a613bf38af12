/**
 * The one storage interface of SoulBox: snapshots, templates, audit archives and volumes all keep
 * their bytes through an {@link ObjectStore}, whatever the provider behind it (S3, R2, GCS, Azure
 * Blob, a mounted PVC). Bodies stream both ways, so a 10 GiB object never sits in memory; every
 * object carries its sha256, and a body whose bytes do not match it is refused, never handed on.
 */
import type { Readable } from "node:stream";

/** What a stored object is, without its bytes. */
export interface ObjectInfo {
  /** The key, relative to the store's own prefix. */
  key: string;
  /** The plaintext size in bytes (what `get` yields), not the encrypted size. */
  size: number;
  /** The hex sha256 of the plaintext bytes. */
  sha256: string;
  /** The caller's metadata, as given to `put`. */
  metadata: Record<string, string>;
  /** When the object was committed. */
  committedAt: Date;
  /** The id of the key that encrypts it; absent when it is stored in the clear. */
  keyId?: string;
}

/** What a `put` may take as its body: a stream, an async iterable of chunks, or bytes. */
export type PutBody = Readable | AsyncIterable<Uint8Array> | Uint8Array;

/** Options of {@link ObjectStore.put}. */
export interface PutOptions {
  /** Stored with the object and given back by `head`/`list` (keys: lower-case, [a-z0-9-]). */
  metadata?: Record<string, string>;
  /**
   * Commit only when no object is committed under the key yet; otherwise fail with
   * `AlreadyExists` and leave the existing object as it was. Snapshots are written this way.
   */
  ifNotExists?: boolean;
  /** The sha256 the caller expects; a body that does not match fails with `IntegrityMismatch`. */
  expectedSha256?: string;
  /** Called as bytes are sent (the plaintext count so far), for progress on long uploads. */
  onProgress?: (bytesSent: number) => void;
  /** Aborts the upload: nothing becomes visible under the key. */
  signal?: AbortSignal;
}

/** A byte range: `start` inclusive, `end` exclusive (to the end of the object when absent). */
export interface ByteRange {
  start: number;
  end?: number;
}

/** Options of {@link ObjectStore.get}. */
export interface GetOptions {
  /** Only these bytes. Their sha256 cannot be checked alone; a whole-object get checks it. */
  range?: ByteRange;
  /** Aborts the download; the stream ends with an error. */
  signal?: AbortSignal;
}

/** One page of {@link ObjectStore.list}. */
export interface ListPage {
  objects: ObjectInfo[];
  /** Give back as `cursor` for the next page; absent on the last page. */
  cursor?: string;
}

/** Options of {@link ObjectStore.list}. */
export interface ListOptions {
  /** At most this many objects per page (the backend may give fewer). Default 1000. */
  pageSize?: number;
  /** The `cursor` of the page before. */
  cursor?: string;
}

/**
 * An object store. An object is visible only when it is whole: an interrupted or aborted `put`
 * leaves nothing under its key, and a committed object is never seen half-written.
 */
export interface ObjectStore {
  /** The store's URL with any secret left out: safe to log and to show. */
  readonly displayUrl: string;
  /** Streams `body` into the object `key` and commits it when every byte is stored. */
  put(key: string, body: PutBody, options?: PutOptions): Promise<ObjectInfo>;
  /**
   * The object's bytes as a stream. A whole-object stream that does not match the stored sha256
   * ends with an `IntegrityMismatch` error instead of its last chunk.
   */
  get(key: string, options?: GetOptions): Promise<Readable>;
  /** The object's description; `NotFound` when no object is committed under `key`. */
  head(key: string): Promise<ObjectInfo>;
  /** Deletes the object; deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** One page of the objects whose keys start with `prefix`, in key order. */
  list(prefix: string, options?: ListOptions): Promise<ListPage>;
  /** Releases the clients' connections. */
  close(): Promise<void>;
}

/** Why a storage call failed; each maps to one HTTP status / gRPC code in one place. */
export type StorageErrorCode =
  /** No object is committed under the key. */
  | "NotFound"
  /** A conditional create found a committed object. */
  | "AlreadyExists"
  /** The bytes read or written do not match their sha256. */
  | "IntegrityMismatch"
  /** The provider refused the credentials. */
  | "Unauthorized"
  /** The provider could not be reached or failed; the call may be retried. */
  | "Unavailable"
  /** The storage URL or its options are wrong. */
  | "InvalidConfig"
  /** The object is encrypted with a key this store does not have. */
  | "KeyUnavailable"
  /** The call was aborted by its signal. */
  | "Aborted"
  /** The caller's input is wrong: a bad key or metadata, a range outside the object. */
  | "InvalidArgument";

/** A storage failure, typed, with the provider's error kept as its cause. */
export class StorageError extends Error {
  override readonly name = "StorageError";
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True when `err` is a {@link StorageError} with `code`. */
export function isStorageError(err: unknown, code?: StorageErrorCode): err is StorageError {
  return err instanceof StorageError && (code === undefined || err.code === code);
}
